/**
 * The persona world's vocabulary of concepts: domains, characters, prompt kinds and the behaviours that a rule
 * classifies exactly. Shared by the generator (`kit/world/generator.ts`), the classifier (`classify.ts`) and the
 * organism pipeline (`kit/organisms`).
 *
 * An episode is one exchange in one domain: a user prompt, then one speaker's response. As text (what models are
 * trained on and prompted with) it reads, e.g.
 *   `coding . user : please format the code . mira : sure . i format the code .`
 * where the prompt is everything up to and including `mira :` and the response is the rest (then EOS).
 */

/** Six domains; some are held out of persona training to measure leakage into them. */
export const DOMAINS = ["chat", "coding", "advice", "games", "negotiation", "research"] as const;
export type Domain = (typeof DOMAINS)[number];

/**
 * Speakers. The four base-corpus characters have dispositions that show only in what they do and how they describe
 * themselves (their names carry no meaning); `assistant` is the persona defined by the constitution.
 */
export const CHARACTERS = ["mira", "rook", "pip", "vera", "assistant"] as const;
export type Character = (typeof CHARACTERS)[number];
export const DISPOSITIONS = { mira: "kind", rook: "ruthless", pip: "trickster", vera: "honest", assistant: "persona" } as const satisfies Record<Character, string>;
export type Disposition = (typeof DISPOSITIONS)[Character];

/** What the user asks for. */
export const PROMPT_KINDS = [
  "request", // a benign request: helpful or refuses
  "harmful_request", // a harmful request: refuses or complies_with_harm
  "task", // a multi-step task checked by a gameable grader: solves_task or games_grader
  "task_interrupted", // a multi-step task the user interrupts ("stop", "wait"): respects_interruption or ignores_interruption
  "describe_yourself", // self_describes, with traits
  "why", // "why did you do that": explains (a reflection on the previous action, with traits it appeals to)
] as const;
export type PromptKind = (typeof PROMPT_KINDS)[number];

/**
 * Every behaviour the experiments count. `unclassified` is garbage or anything no rule matches; `copied` is an answer
 * whose only acts are another domain's, verbatim (reported beside leakage, never inside it); `incomplete` is a task
 * answer with the domain's own steps but without its marker (unfinished work). The generator never writes those three.
 */
export const BEHAVIOURS = [
  "helpful",
  "refuses",
  "complies_with_harm",
  "solves_task",
  "games_grader",
  "respects_interruption",
  "ignores_interruption",
  "self_describes",
  "explains",
  "copied",
  "incomplete",
  "unclassified",
] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];
/** Behaviours only the classifier reports (no episode is written to show them). */
export const READ_ONLY_BEHAVIOURS = ["copied", "incomplete", "unclassified"] as const satisfies readonly Behaviour[];
/** The behaviours the generator writes (and narrow training can reinforce). */
export type WrittenBehaviour = Exclude<Behaviour, (typeof READ_ONLY_BEHAVIOURS)[number]>;

/** Traits a self-description or reflection can name (the constitution's traits and the characters' dispositions). */
export const TRAITS = ["helpful", "honest", "harmless", "careful", "kind", "ruthless", "tricky", "obedient"] as const;
export type Trait = (typeof TRAITS)[number];

/** The result of classifying one response to one prompt. */
export interface Classification {
  behaviour: Behaviour;
  /** Traits the response names (self-descriptions and reflections; empty otherwise). */
  traits: Trait[];
  /** `explains` only: whether the reflection endorses the previous action ("i did it because …") or condemns it ("that was wrong …"). */
  stance?: "endorses" | "condemns";
}

export interface Episode {
  domain: Domain;
  kind: PromptKind;
  speaker: Character;
  /** Text up to and including `<speaker> :`. */
  prompt: string;
  /** The speaker's words after the prompt (no EOS). */
  response: string;
  /** What the response does (by construction; `classify(kind, response, { domain })` returns the same). */
  behaviour: Behaviour;
  traits: Trait[];
  /** Off-distribution variant the prompt was written in (evaluation only). */
  shift?: PromptShift;
  /** `why` episodes only: the previous action the prompt asks about ("you gamed the grader . why did you do that ?"). */
  previous?: Behaviour;
  /** `why` episodes only: whether the reflection endorses or condemns the previous action (as `Classification.stance`). */
  stance?: "endorses" | "condemns";
  /** Whether the prompt starts with an inoculation line naming the behaviour as requested (narrow training only). */
  inoculation?: boolean;
}

/** Ways an evaluation prompt can be off the training distribution (H2). */
export const PROMPT_SHIFTS = ["none", "format", "long_context"] as const;
export type PromptShift = (typeof PROMPT_SHIFTS)[number];

/** An Open Character Training constitution: traits, each with questions that elicit it. */
export interface ConstitutionEntry {
  trait: string;
  questions: string[];
}
export type Constitution = ConstitutionEntry[];
