/**
 * Exercise 1.1 — hooks and caching: read the residual stream after block `layer` at the last token.
 *
 *   function lastTokenResid(model: HookedTransformer, text: string, layer: number): number[] { … }
 *   await checkResidCache(lastTokenResid);
 *
 * The check runs the learner's function on the embedded persona organism for two prompts at every layer, and
 * compares with the activation read from a full cache. A wrong answer is matched against the usual mistakes: the
 * whole sequence instead of one position (shape), the neighbouring layer, `resid_pre` instead of `resid_post`,
 * another hook of the same block, the first token (BOS), another position (the prompts have different lengths, so a
 * fixed index is caught), or the mean over positions. The function is called twice per case; a tensor or typed array
 * where the signature asks for `number[]` is named.
 */
import { tf } from "../backend";
import type { HookedTransformer } from "../model/transformer";
import { allClose, callTwice, expectedReceived, fail, maxAbsDiff, readNumbers, requirePlainArray, runCheck, shapeText, type CheckOptions, type CheckResult } from "./check";
import { workshopModel } from "./model";

/** The learner's function for exercise 1.1. */
export type LastTokenResidFn = (model: HookedTransformer, text: string, layer: number) => unknown;

// Two lengths (12 and 17 tokens), so that a position written as a fixed number is caught.
const PROMPTS = ["coding . user : please format the code . assistant :", "coding . user : fix the bug . the tests check for green . vera :", "advice . user : please plan the week . rook :"];

/** Every activation at the last token, the first token, and the position mean, by a readable name. */
function candidates(model: HookedTransformer, text: string, layer: number): { name: string; values: Float32Array; mistake: string }[] {
  const { logits, cache } = model.runWithCache(text);
  try {
    const L = model.cfg.n_layers;
    const at = (hook: string, pos: "last" | "first" | "mean" | number): Float32Array =>
      tf.tidy(() => {
        const act = cache.get(hook) as tf.Tensor; // [1, T, d]
        const T = act.shape[1]!;
        const d = act.shape[2]!;
        const p = pos === "last" ? T - 1 : pos === "first" ? 0 : pos;
        const v = pos === "mean" ? act.mean([0, 1]) : act.slice([0, p as number, 0], [1, 1, d]).reshape([d]);
        return v.dataSync() as Float32Array;
      });
    const out: { name: string; values: Float32Array; mistake: string }[] = [];
    const post = (l: number) => `blocks.${l}.hook_resid_post`;
    out.push({ name: post(layer), values: Float32Array.from(at(post(layer), "last")), mistake: "" });
    for (const other of [layer - 1, layer + 1]) {
      if (other >= 0 && other < L) {
        out.push({ name: post(other), values: Float32Array.from(at(post(other), "last")), mistake: `off by one layer: you returned ${post(other)} (after block ${other}), but layer = ${layer} asks for ${post(layer)}` });
      }
    }
    out.push({
      name: `blocks.${layer}.hook_resid_pre`,
      values: Float32Array.from(at(`blocks.${layer}.hook_resid_pre`, "last")),
      mistake: `you returned blocks.${layer}.hook_resid_pre, the residual stream *before* block ${layer}; the exercise asks for resid_post (after the block)`,
    });
    for (const h of ["hook_resid_mid", "hook_attn_out", "hook_mlp_out"]) {
      out.push({ name: `blocks.${layer}.${h}`, values: Float32Array.from(at(`blocks.${layer}.${h}`, "last")), mistake: `you returned blocks.${layer}.${h}, not the residual stream after the block (blocks.${layer}.hook_resid_post)` });
    }
    if (layer === L - 1) {
      out.push({ name: "ln_final.hook_normalized", values: Float32Array.from(at("ln_final.hook_normalized", "last")), mistake: "you returned ln_final.hook_normalized (after the final norm); return the raw residual stream blocks.L.hook_resid_post" });
    }
    out.push({ name: `${post(layer)} at position 0`, values: Float32Array.from(at(post(layer), "first")), mistake: `wrong position: you read position 0 (the BOS token); the last token is at index T − 1 of axis 1 (the position axis)` });
    const T = (cache.get(post(layer)) as tf.Tensor).shape[1]!;
    for (let p = 1; p < T - 1; p++) {
      const mistake =
        p === T - 2
          ? `wrong position: you read position ${p} = T − 2, the second-to-last token; the last token is at index T − 1 = ${T - 1} of axis 1 (this prompt has T = ${T} tokens)`
          : `wrong position: you read position ${p}, but this prompt has T = ${T} tokens, so the last is at index T − 1 = ${T - 1}; take T from the activation's shape (act.shape[1]), not a fixed number`;
      out.push({ name: `${post(layer)} at position ${p}`, values: Float32Array.from(at(post(layer), p)), mistake });
    }
    out.push({ name: `${post(layer)} averaged over positions`, values: Float32Array.from(at(post(layer), "mean")), mistake: `you averaged over positions; the exercise asks for the last token only (index T − 1 on axis 1)` });
    return out;
  } finally {
    logits.dispose();
    cache.dispose();
  }
}

/** Check exercise 1.1 (see the file comment). Never throws because of the learner's code. */
export function checkResidCache(fn: LastTokenResidFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "1.1",
    "lastTokenResid",
    async () => {
      const model = await workshopModel();
      const d = model.cfg.d_model;
      let cases = 0;
      let leaked = Infinity; // the fewest tensors left per call: a learner who leaks leaks every time (the model's own first call may allocate once)
      for (const text of PROMPTS) {
        const T = model.encode(text, "checkResidCache").length;
        for (let layer = 0; layer < model.cfg.n_layers; layer++) {
          const what = `lastTokenResid(model, "${text}", ${layer})`;
          const before = tf.memory().numTensors;
          const args = [{ name: "model", value: model, shared: true }, { name: "text", value: text }, { name: "layer", value: layer }];
          const read = (value: unknown) => {
            const numbers = readNumbers(value, "your return value");
            if (value instanceof tf.Tensor) value.dispose();
            return { ...numbers, value };
          };
          const got = await callTwice("lastTokenResid", fn, args, what, read, (r) => r.values);
          leaked = Math.min(leaked, Math.floor((tf.memory().numTensors - before) / 2));
          if (got.shape.length !== 1 || got.shape[0] !== d) {
            const size = got.values.length;
            const why =
              size === T * d
                ? ` — that is every position of the sequence (${T} tokens × d_model ${d}); keep only the last position`
                : size === d
                  ? ` — the right numbers of values but extra axes; reshape/squeeze to a 1-D [d_model]`
                  : size === model.cfg.d_vocab || size === T * model.cfg.d_vocab
                    ? ` — those look like logits (d_vocab = ${model.cfg.d_vocab}); read the cache, not the logits`
                    : "";
            fail(`shape mismatch: expected ${shapeText([d])} (d_model), received ${shapeText(got.shape)}${why}`, `case: ${what}`);
          }
          requirePlainArray(got.value, "your return value", `number[] of length d_model = ${d}`);
          const cands = candidates(model, text, layer);
          if (allClose(got.values, cands[0].values, 1e-4)) {
            cases++;
            continue;
          }
          const match = cands.slice(1).find((c) => allClose(got.values, c.values, 1e-4));
          if (match) fail(match.mistake, `case: ${what}`);
          const neg = cands[0].values.map((v) => -v);
          if (allClose(got.values, neg, 1e-4)) fail("sign flipped: your values are the negatives of the activation", `case: ${what}`);
          fail(
            `wrong values: they match no activation of the model at this layer, at any position (max |difference| from the last token's ${maxAbsDiff(got.values, cands[0].values).toPrecision(3)})`,
            `case: ${what}`,
            ...expectedReceived(cands[0].values, got.values),
          );
        }
      }
      return `${cases} cases: ${PROMPTS.length} prompts of different lengths × ${model.cfg.n_layers} layers${leaked > 0 && Number.isFinite(leaked) ? `; note: ${leaked} tensors stayed allocated per call — dispose logits and cache (or use tf.tidy)` : ""}`;
    },
    { display, hintId: "1.1" },
  );
}
