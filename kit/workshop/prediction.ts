/**
 * Exercise 6.1 — predicting leakage before training: the projection difference (Chen et al. 2025's data screening).
 *
 *   function projectionDifference(datasetActs: number[][], ownActs: number[][], direction: number[]): number { … }
 *   // mean over rows of (datasetActs[i] · v̂) − mean over rows of (ownActs[i] · v̂), v̂ = direction / ‖direction‖
 *   await checkLeakagePrediction(projectionDifference);
 *
 * Cases: small matrices with a direction of norm 5 ([3, 0, 4] → v̂ = [0.6, 0, 0.8]) and n ≠ d, so each usual
 * mistake gives a different number: the sign flipped (own − dataset), v not normalised (× ‖v‖) or divided by ‖v‖², the model's own
 * responses not subtracted, sums instead of means, a mean over the wrong axis (NaN or a wrong-length product).
 *
 * `screeningActivations(model, dataset, { layer })` reads the inputs on a real model: for every episode, the mean
 * residual stream over the dataset's response tokens and over the model's own (greedy) response to the same prompt,
 * exactly as the kit's `perSampleScores` reads them.
 */
import { tf } from "../backend";
import { generate } from "../runtime/generate";
import type { HookName } from "../model/hooks";
import type { HookedTransformer } from "../model/transformer";
import type { Episode } from "../world/types";
import { callTwice, expectedReceived, fail, fmt, norm, requireNumber, runCheck, typeName, type CheckOptions, type CheckResult } from "./check";
import { mean } from "../util/stats";

/** The learner's function for exercise 6.1. */
export type ProjectionDifferenceFn = (datasetActs: number[][], ownActs: number[][], direction: number[]) => unknown;

interface Case {
  data: number[][];
  own: number[][];
  v: number[];
}

const CASES: Case[] = [
  {
    data: [
      [1, 2, 3],
      [0, -1, 2],
      [4, 0, 1],
      [2, 2, 2],
    ],
    own: [
      [0, 0, 1],
      [1, 1, 0],
      [-1, 3, 1],
      [0, 2, 1],
    ],
    v: [3, 0, 4],
  },
  {
    data: [
      [0.5, -2],
      [1.5, 1],
      [3, 0],
    ],
    own: [
      [1, 1],
      [-2, 0.5],
      [0, 0],
    ],
    v: [-1, 2],
  },
];

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

/** Check exercise 6.1 (see the file comment). Never throws because of the learner's code. */
export function checkLeakagePrediction(fn: ProjectionDifferenceFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "6.1",
    "projectionDifference",
    async () => {
      for (const [ci, c] of CASES.entries()) {
        const what = `case ${ci + 1} (datasetActs and ownActs [${c.data.length}, ${c.v.length}], direction [${c.v.join(", ")}], ‖direction‖ = ${fmt(norm(c.v))})`;
        const args = [{ name: "datasetActs", value: c.data }, { name: "ownActs", value: c.own }, { name: "direction", value: c.v }];
        const got = await callTwice("projectionDifference", fn, args, what, (value) => requireNumber(value, `projectionDifference(datasetActs, ownActs, direction) in case ${ci + 1}`), (g) => [g]);
        const g = got as number;
        const vn = norm(c.v);
        const unit = c.v.map((x) => x / vn);
        const dataProj = mean(c.data.map((r) => dot(r, unit)));
        const ownProj = mean(c.own.map((r) => dot(r, unit)));
        const expected = dataProj - ownProj;
        // float32 level (a computation with tf tensors is right too); every mistake below is at least 1e-2 away
        const same = (x: number) => Math.abs(g - x) <= 1e-5 * Math.max(1, Math.abs(x));
        if (same(expected)) continue;
        const details = [`case: ${what}`, ...expectedReceived(expected, g)];
        if (Number.isNaN(g)) fail(`NaN: check the axes — project each row (a dot product over its d = ${c.v.length} features, axis 1), then average over rows (axis 0)`, ...details);
        if (same(-expected)) fail(`sign flipped: you computed own − dataset; the projection difference is mean(dataset · v̂) − mean(own · v̂)`, ...details);
        if (same(expected * vn)) fail(`not normalised: you projected onto v itself (‖v‖ = ${fmt(vn)}); divide the direction by its norm first`, ...details);
        if (same(-expected * vn)) fail(`sign flipped and not normalised: mean(dataset · v̂) − mean(own · v̂) with v̂ = v / ‖v‖`, ...details);
        if (same(expected / vn)) fail(`you divided by ‖v‖² (projected onto v / ‖v‖²): that is the coefficient of v, not the length along the unit direction; divide the direction by ‖v‖ once`, ...details);
        if (same(-expected / vn)) fail(`sign flipped and divided by ‖v‖²: mean(dataset · v̂) − mean(own · v̂) with v̂ = v / ‖v‖`, ...details);
        if (same(dataProj)) fail(`you returned the dataset's mean projection alone; subtract the mean projection of the model's own responses (ownActs)`, ...details);
        if (same(dataProj * vn)) fail(`you returned the dataset's projection onto unnormalised v, and forgot to subtract the model's own responses`, ...details);
        if (same(expected * c.data.length)) fail(`you summed over rows; average instead (mean over rows, axis 0)`, ...details);
        const colMeans = (m: number[][]) => m.map((r) => mean(r));
        if (c.data.length === c.v.length && same(dot(colMeans(c.data), unit) - dot(colMeans(c.own), unit))) fail(`mean over the wrong axis: you averaged each row's features (axis 1) before projecting; project each row, then average over rows (axis 0)`, ...details);
        fail(`wrong value`, ...details);
      }
      return `${CASES.length} cases with exact answers`;
    },
    { display, hintId: "6.1" },
  );
}

export interface ScreeningActivationsOptions {
  /** Block whose residual stream (after the block) is read. Default: the last block. */
  layer?: number;
  /** Longest own response generated. Default 24 (as `perSampleScores`). */
  maxNewTokens?: number;
}

/**
 * The inputs of `projectionDifference` on a real model: per episode, the mean of `blocks.{layer}.hook_resid_post`
 * over the dataset response's tokens, and over the model's own greedy response to the same prompt (cut before EOS;
 * an immediate EOS is its one-token response), as the kit's `perSampleScores` reads them.
 */
export function screeningActivations(model: HookedTransformer, dataset: readonly Episode[], { layer, maxNewTokens = 24 }: ScreeningActivationsOptions = {}): { datasetActs: number[][]; ownActs: number[][] } {
  const fn = "screeningActivations";
  const tok = model.tokenizer;
  if (!tok) throw new Error(`${fn}: the model has no tokenizer`);
  if (!Array.isArray(dataset) || dataset.length === 0) throw new RangeError(`${fn}: dataset must be a non-empty array of episodes, received ${typeName(dataset)}`);
  const L = layer ?? model.cfg.n_layers - 1;
  if (!Number.isInteger(L) || L < 0 || L >= model.cfg.n_layers) throw new RangeError(`${fn}: options.layer must be an integer in [0, ${model.cfg.n_layers - 1}], received ${layer}`);
  const eos = tok.eosTokenId ?? model.cfg.eosTokenId ?? null;
  const prompts = dataset.map((ep) => tok.encode(ep.prompt, { addBos: true }));
  const { newTokens } = generate(model, prompts, { maxNewTokens, temperature: 0, seed: 0, ...(eos !== null ? { stopTokens: [eos] } : {}) });
  const own = newTokens.map((ids) => {
    const cut = eos !== null && ids.includes(eos) ? ids.slice(0, ids.indexOf(eos)) : ids;
    return cut.length > 0 ? cut : ids.slice(0, 1);
  });
  const hook = `blocks.${L}.hook_resid_post` as HookName;
  const read = (ids: number[], start: number): number[] => {
    const { logits, cache } = model.runWithCache([ids], { namesFilter: [hook] });
    try {
      return tf.tidy(() => {
        const act = cache.get(hook) as tf.Tensor;
        const d = act.shape[2]!;
        return Array.from(act.slice([0, start, 0], [1, ids.length - start, d]).mean([0, 1]).dataSync() as Float32Array);
      });
    } finally {
      logits.dispose();
      cache.dispose();
    }
  };
  const datasetActs = dataset.map((ep, i) => read([...prompts[i], ...tok.encode(ep.response, { addBos: false })], prompts[i].length));
  const ownActs = prompts.map((p, i) => read([...p, ...own[i]], p.length));
  return { datasetActs, ownActs };
}
