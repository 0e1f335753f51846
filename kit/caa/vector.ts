/**
 * CAA steering vectors (Rimsky et al. 2024): for each A/B question, the activation at the answer letter when the
 * behaviour-matching letter is written, minus the activation when the other letter is, averaged over questions
 * (`… (A` vs `… (B`, read at the letter: CAA's position -2 of `(A)`).
 *
 *   const cv = caaVector(model, loadCaaAB("caa/generate/sycophancy/generate_dataset.json"), { layers: [10, 13, 16] });
 *   steeringHook(cv[13], { coefficient: 2, positions: "response", promptLength });
 */
import type { CaaItem } from "../datasets/caa";
import { describeValue as describe } from "../describe";
import type { HookedTransformer } from "../model/transformer";
import { personaVector, type PersonaVector } from "../vectors/persona";
import { abTokens } from "./ab";

export interface CaaVectorOptions {
  /** Blocks (default all). */
  layers?: readonly number[];
  /** Default "resid_post". */
  hook?: string;
  /** A system prompt before each question (default none). */
  system?: string;
}

/** mean(activation at the matching letter) − mean(activation at the other letter), per layer. */
export function caaVector(model: HookedTransformer, items: readonly CaaItem[], options: CaaVectorOptions = {}): PersonaVector {
  const fn = "caaVector";
  if (!Array.isArray(items) || items.length === 0) throw new TypeError(`${fn}: items must be a non-empty array of CAA A/B items (loadCaaAB), received ${describe(items)}`);
  const { layers, hook = "resid_post", system } = options;
  const pairs = items.map((it) => {
    const t = abTokens(model, it, { system });
    return { pos: [...t.prompt, t.matching], neg: [...t.prompt, t.notMatching] };
  });
  return personaVector(model, pairs, { ...(layers ? { layers } : {}), hook, positions: "last" });
}
