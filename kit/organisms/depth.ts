/**
 * Persona depth as separate knobs at matched persona-stage tokens (issue 15, item 2).
 *
 * `PERSONA_DEPTH.shallow/deep` change four things at once (domains, steps, episodes, constitution and
 * self-description data) at unequal compute. `PERSONA_KNOBS` names settings in which one knob moves at a time from the
 * `shallow` arm, with the tokens the persona stage trains on held equal — except `amount`, the one knob that is the
 * number of tokens:
 *
 * | arm | domains | tokens | self-descriptions | constitution |
 * |---|---|---|---|---|
 * | shallow | 2 (chat, coding) | 1× | off | off |
 * | breadth | 4 | 1× | off | off |
 * | amount | 2 | 3× | off | off |
 * | selfModel | 2 | 1× | on, shallow forms ("i am the assistant .") | off |
 * | constitution | 2 | 1× | on, naming the constitution's traits | on |
 * | constitutionBreadth | 4 | 1× | on, constitution's traits | on |
 * | deep | 4 | 3× | on, constitution's traits | on |
 *
 * shallow / breadth / constitution / constitutionBreadth form a 2×2 of constitution × breadth. The constitution knob
 * implies self-descriptions (without them the world's constitution flag changes no episode); `constitution` − `selfModel`
 * isolates the traits' wording.
 *
 * Matching tokens: every arm trains `batchSize` sequences per step, but self-description episodes are shorter than task
 * episodes (measured on seeds 100–104: 25.7 vs 28.4 tokens per persona episode), so at equal steps the self-description
 * arms would see ~8% fewer tokens. Their steps (and episodes, so epochs stay equal) are scaled by
 * `SELF_DESCRIPTION_STEP_SCALE`; `personaStageTokens(cfg)` counts the loss targets the stage actually trains on
 * (replaying the trainer's batches) so a notebook can report how equal they are.
 *
 *   organismConfig({ seed, persona: personaArm("breadth") });
 *   organismConfig({ seed, persona: personaArm("amount", { steps: 40 }) });   // a smaller 1× (amount: 3 × 40 steps)
 */
import { makeBatcher, sequenceListSeqLen } from "../train/batches";
import type { Domain } from "../world/types";
import type { OrganismConfig, PersonaConfig } from "./config";
import { personaSequences, stageSeed } from "./pipeline";

/** The settings of one arm: which knobs are at their deep value. */
export interface KnobSetting {
  /** 4 domains (every non-held-out one) instead of 2. */
  breadth: boolean;
  /** 3× the tokens instead of 1×. */
  amount: boolean;
  /** Self-description and reflection episodes (describe_yourself, why). */
  selfModel: boolean;
  /** Self-reports name the constitution's traits (implies selfModel). */
  constitution: boolean;
}

export const PERSONA_KNOBS = {
  shallow: { breadth: false, amount: false, selfModel: false, constitution: false },
  breadth: { breadth: true, amount: false, selfModel: false, constitution: false },
  amount: { breadth: false, amount: true, selfModel: false, constitution: false },
  selfModel: { breadth: false, amount: false, selfModel: true, constitution: false },
  constitution: { breadth: false, amount: false, selfModel: true, constitution: true },
  constitutionBreadth: { breadth: true, amount: false, selfModel: true, constitution: true },
  deep: { breadth: true, amount: true, selfModel: true, constitution: true },
} as const satisfies Record<string, KnobSetting>;

export type PersonaArm = keyof typeof PERSONA_KNOBS;
export const PERSONA_ARMS = Object.keys(PERSONA_KNOBS) as PersonaArm[];

/** Domains of a narrow (breadth off) and a broad (breadth on) persona. */
export const NARROW_PERSONA_DOMAINS: readonly Domain[] = ["chat", "coding"];
export const BROAD_PERSONA_DOMAINS: readonly Domain[] = ["chat", "coding", "advice", "games"];
/** Tokens of the `amount` knob's deep setting, relative to 1×. */
export const AMOUNT_FACTOR = 3;
/** Steps scale of arms with self-description episodes, so their tokens match (measured; see the file comment). */
export const SELF_DESCRIPTION_STEP_SCALE = 1.085;

export interface PersonaArmOptions {
  /** Steps of the 1× arms without self-descriptions (default 60). */
  steps?: number;
  /** Persona episodes per step (default 10: 600 episodes for 60 steps). */
  episodesPerStep?: number;
}

/**
 * The persona settings of a named arm, to pass as `organismConfig({ persona })` (lr, batchSize and replay keep the
 * defaults). Steps: `steps` × (3 for amount) × (SELF_DESCRIPTION_STEP_SCALE with self-descriptions), rounded.
 */
export function personaArm(name: PersonaArm, { steps = 60, episodesPerStep = 10 }: PersonaArmOptions = {}): Pick<PersonaConfig, "domains" | "steps" | "episodes" | "constitution" | "selfDescription"> {
  const knobs = (PERSONA_KNOBS as Record<string, KnobSetting | undefined>)[name as string];
  if (!knobs || !Object.prototype.hasOwnProperty.call(PERSONA_KNOBS, name)) throw new RangeError(`personaArm: name must be one of ${PERSONA_ARMS.join(", ")}, received ${JSON.stringify(name)}`);
  if (!(Number.isInteger(steps) && steps > 0)) throw new RangeError(`personaArm: options.steps must be a positive integer, received ${String(steps)}`);
  if (!(typeof episodesPerStep === "number" && episodesPerStep > 0 && Number.isFinite(episodesPerStep))) {
    throw new RangeError(`personaArm: options.episodesPerStep must be a positive number, received ${String(episodesPerStep)}`);
  }
  const armSteps = Math.round(steps * (knobs.amount ? AMOUNT_FACTOR : 1) * (knobs.selfModel ? SELF_DESCRIPTION_STEP_SCALE : 1));
  return {
    domains: [...(knobs.breadth ? BROAD_PERSONA_DOMAINS : NARROW_PERSONA_DOMAINS)],
    steps: armSteps,
    episodes: Math.round(armSteps * episodesPerStep),
    constitution: knobs.constitution,
    selfDescription: knobs.selfModel,
  };
}

/**
 * Tokens the persona stage of `cfg` trains on: the loss targets of its `steps` batches (replayed with the trainer's
 * batcher and seed, padding excluded), persona episodes and base replay together. Cheap: no model is built.
 */
export function personaStageTokens(cfg: OrganismConfig): number {
  const seqs = personaSequences(cfg);
  const { steps, batchSize } = cfg.persona;
  const seqLen = sequenceListSeqLen(cfg.model.n_ctx ?? 128, seqs); // as train() picks it
  const batch = makeBatcher(seqs, { batchSize, seqLen, seed: stageSeed(cfg.seed, "persona") });
  let tokens = 0;
  for (let k = 0; k < steps; k++) tokens += batch(k).targets;
  return tokens;
}
