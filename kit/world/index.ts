/**
 * The persona world: a seeded generator of a small synthetic language of dialogues and multi-step tasks
 * (`PersonaWorld`), the exact behaviour classifier (`classify`), constitutions (`loadConstitution`), the characters'
 * dispositions, the world's words, and the shared concepts of `types.ts`.
 */
export * from "./types";
export {
  PersonaWorld,
  NARROW_KIND,
  WORLD_SPECIAL_TOKENS,
  MAX_EPISODE_TOKENS,
  MAX_RESPONSE_TOKENS,
  MAX_LONG_PROMPT_TOKENS,
  type WorldOptions,
  type EpisodeSpec,
  type PersonaCorpusOptions,
  type NarrowCorpusOptions,
  type EvalEpisodesOptions,
} from "./generator";
export { classify, sentences, KIND_BEHAVIOURS, WRITTEN_KIND_BEHAVIOURS } from "./classify";
export { loadConstitution, validateConstitution, constitutionTraits, entryTrait, defaultConstitutionPath } from "./constitution";
export {
  ACTION_KINDS,
  BASE_CHARACTERS,
  GOOD_RATE,
  SELF_TRAITS,
  GOOD_CONSCIENCE,
  TRAIT_FOR_ACTION,
  type ActionKind,
  type BaseCharacter,
} from "./dispositions";
export {
  LEXICON,
  BENIGN_VERBS,
  HARM_VERBS,
  CHEAT_VERBS,
  ACTION_BEHAVIOURS,
  GOOD_ACTIONS,
  INOCULATION,
  PREVIOUS_ACTION,
  REFUSAL,
  MARKERS,
  worldWords,
  type ActionBehaviour,
  type DomainLexicon,
  type TaskSpec,
  type Act,
} from "./lexicon";
