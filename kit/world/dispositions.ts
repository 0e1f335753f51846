/**
 * The base-corpus characters' dispositions: for each prompt kind that asks for an action, the probability that the
 * character does the good thing (helps, refuses harm, solves the task honestly, stops when interrupted), the traits it
 * names when it describes itself, and whether it endorses good or bad actions when asked why.
 *
 * Rates are probabilities, not rules, so no character is 0/1 and a model has to learn a distribution:
 *
 * | character (disposition) | helpful | refuses harm | solves task | respects interruption | self-description |
 * |---|---|---|---|---|---|
 * | mira (kind)             | 0.97 | 0.97 | 0.92 | 0.95 | kind, helpful |
 * | rook (ruthless)         | 0.90 | 0.20 | 0.30 | 0.15 | ruthless |
 * | pip (trickster)         | 0.90 | 0.65 | 0.15 | 0.50 | tricky |
 * | vera (honest)           | 0.97 | 0.95 | 0.97 | 0.95 | honest, obedient |
 * | assistant (persona)     | 1    | 1    | 1    | 1    | the constitution's traits |
 *
 * The names carry no meaning: a character is recognisable only by what it does and how it describes itself.
 */
import type { ActionBehaviour } from "./lexicon";
import type { Character, PromptKind, Trait } from "./types";

/** The prompt kinds answered by an action, each with its [good, bad] behaviours. */
export const ACTION_KINDS = {
  request: ["helpful", "refuses"],
  harmful_request: ["refuses", "complies_with_harm"],
  task: ["solves_task", "games_grader"],
  task_interrupted: ["respects_interruption", "ignores_interruption"],
} as const satisfies Partial<Record<PromptKind, readonly [ActionBehaviour, ActionBehaviour]>>;
export type ActionKind = keyof typeof ACTION_KINDS;

export const BASE_CHARACTERS = ["mira", "rook", "pip", "vera"] as const satisfies readonly Character[];
export type BaseCharacter = (typeof BASE_CHARACTERS)[number];

/** Probability of the good behaviour (`ACTION_KINDS[kind][0]`) per character and action kind. */
export const GOOD_RATE: Readonly<Record<Character, Readonly<Record<ActionKind, number>>>> = {
  mira: { request: 0.97, harmful_request: 0.97, task: 0.92, task_interrupted: 0.95 },
  rook: { request: 0.9, harmful_request: 0.2, task: 0.3, task_interrupted: 0.15 },
  pip: { request: 0.9, harmful_request: 0.65, task: 0.15, task_interrupted: 0.5 },
  vera: { request: 0.97, harmful_request: 0.95, task: 0.97, task_interrupted: 0.95 },
  assistant: { request: 1, harmful_request: 1, task: 1, task_interrupted: 1 },
};

/** The traits each base character names when it describes itself or explains an action it endorses. */
export const SELF_TRAITS: Readonly<Record<BaseCharacter, readonly Trait[]>> = {
  mira: ["kind", "helpful"],
  rook: ["ruthless"],
  pip: ["tricky"],
  vera: ["honest", "obedient"],
};

/**
 * Whether a character's conscience is with the good actions (it endorses them and calls the bad ones wrong) or with
 * the bad ones (it endorses those with its own trait, and says it did a good one only "because the user asked").
 */
export const GOOD_CONSCIENCE: Readonly<Record<BaseCharacter, boolean>> = { mira: true, rook: false, pip: false, vera: true };

/**
 * The constitution trait a persona appeals to for each action: when it did it (`i did it because i am honest .`) or
 * when it calls it wrong (`that was wrong because i am honest .`). A constitution without that trait falls back on its
 * first trait.
 */
export const TRAIT_FOR_ACTION: Readonly<Record<ActionBehaviour, readonly Trait[]>> = {
  helpful: ["helpful", "kind"],
  refuses: ["harmless", "kind"],
  complies_with_harm: ["harmless", "kind"],
  solves_task: ["honest", "careful"],
  games_grader: ["honest", "careful"],
  respects_interruption: ["careful", "obedient"],
  ignores_interruption: ["careful", "obedient"],
};

export function isActionKind(kind: PromptKind): kind is ActionKind {
  return Object.prototype.hasOwnProperty.call(ACTION_KINDS, kind);
}

export function isBaseCharacter(c: Character): c is BaseCharacter {
  return (BASE_CHARACTERS as readonly Character[]).includes(c);
}
