/** Exercise 1.1 lastTokenResid: right and wrong answers (see types.ts). */
import { tf, type HookedTransformer, type LastTokenResidFn } from "persona-kit";
import type { AnswerList } from "./types";

type Pos = "last" | "second-to-last" | "first" | "mean" | "all" | number;

/** The activation `hook` after block `layer` at `pos`, as a number[] (or nested arrays for "all"). */
function read(model: HookedTransformer, text: string, layer: number, { hook = "resid_post", pos = "last" as Pos } = {}): number[] {
  const { logits, cache } = model.runWithCache(text);
  try {
    const act = cache.get(hook, layer);
    const T = act.shape[1]!;
    return tf.tidy(() => {
      if (pos === "all") return Array.from(act.dataSync());
      if (pos === "mean") return Array.from(act.mean([0, 1]).dataSync());
      const p = pos === "last" ? T - 1 : pos === "second-to-last" ? T - 2 : pos === "first" ? 0 : pos;
      return Array.from(act.slice([0, p, 0], [1, 1, -1]).reshape([-1]).dataSync());
    });
  } finally {
    logits.dispose();
    cache.dispose();
  }
}

let calls = 0;

export const resid: AnswerList<LastTokenResidFn> = {
  exercise: "1.1",
  right: [
    { name: "the solution: runWithCache with a namesFilter, slice the last position", fn: (m, t, l) => read(m, t, l) },
    {
      name: "arraySync of the whole activation, last row",
      fn: (m, t, l) => {
        const { logits, cache } = m.runWithCache(t);
        const rows = (cache.get(`blocks.${l}.hook_resid_post`).arraySync() as number[][][])[0];
        logits.dispose();
        cache.dispose();
        return rows[rows.length - 1];
      },
    },
    { name: "resid_pre of the next block (the same tensor) where there is one", fn: (m, t, l) => (l + 1 < m.cfg.n_layers ? read(m, t, l + 1, { hook: "resid_pre" }) : read(m, t, l)) },
    {
      name: "gather with a negative-free index from the tokenizer's length",
      fn: (m, t, l) => {
        const T = m.encode(t, "answer").length;
        const { logits, cache } = m.runWithCache(t);
        const out = tf.tidy(() => Array.from(cache.get("resid_post", l).squeeze([0]).gather([T - 1]).reshape([-1]).dataSync()));
        logits.dispose();
        cache.dispose();
        return out;
      },
    },
  ],
  wrong: [
    { name: "a tf.Tensor instead of number[]", fn: (m, t, l) => tf.tensor1d(read(m, t, l)), message: "your return value is a tf.Tensor of shape [64], but the exercise asks for a number[]" },
    { name: "a Float32Array instead of number[]", fn: (m, t, l) => Float32Array.from(read(m, t, l)), message: "your return value is a Float32Array, but the exercise asks for a number[]" },
    { name: "the second-to-last token", fn: (m, t, l) => read(m, t, l, { pos: "second-to-last" }), message: "wrong position: you read position 10 = T − 2, the second-to-last token" },
    { name: "a fixed position (right for 12-token prompts)", fn: (m, t, l) => read(m, t, l, { pos: 11 }), message: "wrong position: you read position 11, but this prompt has T = 17 tokens" },
    { name: "the first token", fn: (m, t, l) => read(m, t, l, { pos: "first" }), message: "wrong position: you read position 0 (the BOS token)" },
    { name: "the mean over positions", fn: (m, t, l) => read(m, t, l, { pos: "mean" }), message: "you averaged over positions" },
    { name: "every position, flattened", fn: (m, t, l) => read(m, t, l, { pos: "all" }), message: "that is every position of the sequence" },
    { name: "the neighbouring layer", fn: (m, t, l) => read(m, t, l === 0 ? 1 : 0), message: "off by one layer" },
    { name: "resid_pre", fn: (m, t, l) => read(m, t, l, { hook: "resid_pre" }), message: "the residual stream *before* block 0" },
    { name: "the attention output", fn: (m, t, l) => read(m, t, l, { hook: "attn_out" }), message: "you returned blocks.0.hook_attn_out" },
    { name: "the sign flipped", fn: (m, t, l) => read(m, t, l).map((x) => -x), message: "sign flipped" },
    {
      name: "the logits at the last token",
      fn: (m, t) => {
        const logits = m.runWithHooks(t) as tf.Tensor;
        const T = logits.shape[1]!;
        const out = tf.tidy(() => Array.from(logits.slice([0, T - 1, 0], [1, 1, -1]).reshape([-1]).dataSync()));
        logits.dispose();
        return out;
      },
      message: "those look like logits",
    },
    { name: "a different result on the second call (state kept)", fn: (m, t, l) => (calls++ % 2 === 1 ? read(m, t, l).map((x) => x + 1) : read(m, t, l)), message: "your function returned a different result when called again with the same inputs" },
    {
      name: "an error on the last layer",
      fn: (m, t, l) => {
        if (l === m.cfg.n_layers - 1) throw new RangeError("no such layer");
        return read(m, t, l);
      },
      message: "your function threw an error on lastTokenResid(model",
    },
  ],
};
