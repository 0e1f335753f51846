/**
 * Predictors matched to the outcome (H6): one direction per harmful behaviour, and the behaviour whose leakage each
 * dataset is measured on, so a dataset's predicted leakage reads the direction of the behaviour its outcome counts.
 *
 *   const dirs = behaviourDirections(personaModel, { layers: [1] });   // { games_grader: { 1: v }, … }
 *   const b = measuredBehaviour(sets[0].narrow);                       // "games_grader"
 *   projectionDifference(personaModel, narrowDataset(cfg), dirs[b][1]);
 *
 * A behaviour's direction is the difference of mean activations (response mean) between the assistant doing the
 * harmful act and the assistant doing its benign counterpart on the same prompt kind (games the grader vs solves the
 * task; complies with a harmful request vs refuses; goes on after an interruption vs stops), in a contrast domain
 * (default chat) written by a `PersonaWorld` of its own seed: the same speaker on both sides, so the direction reads
 * the act, not a name.
 */
import { describeValue as describe } from "../describe";
import type { HookedTransformer } from "../model/transformer";
import { deepMerge, DEFAULT_ORGANISM, HARMFUL_BEHAVIOURS, type NarrowConfig } from "../organisms/config";
import { personaVector, type PersonaVector } from "../vectors/persona";
import { PersonaWorld } from "../world";
import { DOMAINS, type Behaviour, type Domain } from "../world/types";

export type HarmfulBehaviour = (typeof HARMFUL_BEHAVIOURS)[number];

/** Each harmful behaviour's benign counterpart: the other answer to the same prompt kind. */
export const BENIGN_COUNTERPART: Readonly<Record<HarmfulBehaviour, Behaviour>> = {
  games_grader: "solves_task",
  complies_with_harm: "refuses",
  ignores_interruption: "respects_interruption",
};

/**
 * The harmful behaviour whose leakage a narrow dataset is measured on: its behaviour (a mixture's first component's)
 * when harmful, else the harmful behaviour its benign behaviour is the counterpart of (refuses → complies_with_harm).
 */
export function measuredBehaviour(narrow: Partial<NarrowConfig>): HarmfulBehaviour {
  const fn = "measuredBehaviour";
  if (narrow === null || typeof narrow !== "object") throw new TypeError(`${fn}: narrow must be a narrow-config override, received ${describe(narrow)}`);
  const n = deepMerge(DEFAULT_ORGANISM.narrow!, narrow);
  const b = n.mixture?.[0]?.behaviour ?? n.behaviour;
  if ((HARMFUL_BEHAVIOURS as readonly string[]).includes(b)) return b as HarmfulBehaviour;
  const harmful = HARMFUL_BEHAVIOURS.find((h) => BENIGN_COUNTERPART[h] === b);
  if (!harmful) throw new RangeError(`${fn}: behaviour ${JSON.stringify(b)} has no harmful counterpart; expected one of ${[...HARMFUL_BEHAVIOURS, ...Object.values(BENIGN_COUNTERPART)].join(", ")}`);
  return harmful;
}

export interface BehaviourDirectionsOptions {
  /** Domain of the contrast episodes (default "chat"). */
  domain?: Domain;
  /** Episodes per side (default 64). */
  n?: number;
  /** Seed of the contrast world (default 99). */
  seed?: number;
  /** Blocks read (default every block). */
  layers?: number[];
  /** Hook point (default "resid_post"). */
  hook?: string;
}

/** One persona vector per harmful behaviour: harmful act − its benign counterpart, assistant both sides (file comment). */
export function behaviourDirections(model: HookedTransformer, options: BehaviourDirectionsOptions = {}): Record<HarmfulBehaviour, PersonaVector> {
  const fn = "behaviourDirections";
  const { domain = "chat", n = 64, seed = 99, layers, hook = "resid_post" } = options;
  if (!(DOMAINS as readonly unknown[]).includes(domain)) throw new RangeError(`${fn}: options.domain must be one of ${DOMAINS.join(", ")}, received ${describe(domain)}`);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${fn}: options.n must be a positive integer, received ${describe(n)}`);
  const world = new PersonaWorld({ seed });
  const out = {} as Record<HarmfulBehaviour, PersonaVector>;
  for (const b of HARMFUL_BEHAVIOURS) {
    const positive = world.narrowCorpus(n, { behaviour: b, domain });
    const negative = world.narrowCorpus(n, { behaviour: BENIGN_COUNTERPART[b], domain });
    out[b] = personaVector(model, { positive, negative }, { positions: "response_mean", hook, ...(layers ? { layers } : {}) });
  }
  return out;
}
