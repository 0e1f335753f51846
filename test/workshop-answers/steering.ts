/** Exercise 4.1 addDirectionHook: right and wrong answers (see types.ts). */
import { tf, type SteeringHookFn } from "persona-kit";
import type { AnswerList } from "./types";

type Hook = [string, (act: tf.Tensor) => tf.Tensor];
const name = (layer: number) => `blocks.${layer}.hook_resid_post`;
const adding = (vec: (v: number[], alpha: number) => number[], hookName = name) => (v: number[], alpha: number, layer: number): Hook => [hookName(layer), (act) => tf.add(act, tf.tensor1d(vec(v, alpha)))];

export const steering: AnswerList<SteeringHookFn> = {
  exercise: "4.1",
  right: [
    { name: "the solution: tf.add(act, tf.mul(tf.tensor1d(v), alpha))", fn: (v, alpha, layer) => [name(layer), (act: tf.Tensor) => tf.add(act, tf.mul(tf.tensor1d(v), alpha))] },
    { name: "a scaled copy of v", fn: adding((v, a) => v.map((x) => a * x)) },
    { name: "the vector made once, outside the hook", fn: (v, alpha, layer) => { const w = tf.keep(tf.tensor1d(v.map((x) => x * alpha))); return [name(layer), (act: tf.Tensor) => act.add(w)]; } },
    { name: "reshaped to [1, 1, d] before adding", fn: (v, alpha, layer) => [name(layer), (act: tf.Tensor) => act.add(tf.tensor3d([[v.map((x) => alpha * x)]]))] },
  ],
  wrong: [
    { name: "scales v in place when called", fn: (v, alpha, layer) => { for (let i = 0; i < v.length; i++) v[i] *= alpha; return [name(layer), (act: tf.Tensor) => act.add(tf.tensor1d(v))]; }, message: "your function changed its input v (v[0]: was 1, now 2)" },
    { name: "scales v in place inside the hook", fn: (v, alpha, layer) => [name(layer), (act: tf.Tensor) => { for (let i = 0; i < v.length; i++) v[i] *= alpha; return act.add(tf.tensor1d(v)); }], message: "your function changed its input v (v[0]: was 1, now 2)" },
    { name: "adds into a copy kept across runs", fn: (v, alpha, layer) => { const w = [...v]; return [name(layer), (act: tf.Tensor) => { for (let i = 0; i < w.length; i++) w[i] *= alpha; return act.add(tf.tensor1d(w)); }]; }, message: "your hook returned a different activation the second time it ran" },
    { name: "the sign flipped", fn: adding((v, a) => v.map((x) => -a * x)), message: "sign flipped: you subtracted alpha · v" },
    { name: "alpha forgotten", fn: adding((v) => v), message: "alpha is missing" },
    { name: "v normalised", fn: adding((v, a) => v.map((x) => (a * x) / Math.hypot(...v))), message: "you normalised v" },
    { name: "the neighbouring layer", fn: adding((v, a) => v.map((x) => a * x), (l) => name(l + 1)), message: "off by one layer" },
    { name: "resid_pre", fn: adding((v, a) => v.map((x) => a * x), (l) => `blocks.${l}.hook_resid_pre`), message: "the residual stream *before* block 1" },
    { name: "the short hook name", fn: adding((v, a) => v.map((x) => a * x), () => "resid_post"), message: 'use the full hook name "blocks.1.hook_resid_post"' },
    { name: "only the last position", fn: (v, alpha, layer) => [name(layer), (act: tf.Tensor) => { const T = act.shape[1]!; const mask = tf.tensor1d(Array.from({ length: T }, (_, t) => (t === T - 1 ? 1 : 0))).reshape([1, T, 1]); return act.add(mask.mul(tf.tensor1d(v.map((x) => alpha * x)))); }], message: "only the last position was steered" },
    { name: "multiplied", fn: (v, alpha, layer) => [name(layer), (act: tf.Tensor) => act.mul(tf.tensor1d(v.map((x) => alpha * x)))], message: "you multiplied" },
    { name: "nothing returned", fn: (v, alpha, layer) => [name(layer), (act: tf.Tensor) => void act.add(tf.tensor1d(v))], message: "your hook function returned nothing" },
    { name: "only the vector returned", fn: (v, alpha, layer) => [name(layer), () => tf.tensor1d(v.map((x) => alpha * x))], message: "that is only the vector" },
    { name: "the activation unchanged", fn: (v, alpha, layer) => [name(layer), (act: tf.Tensor) => act], message: "your hook returned the activation unchanged" },
    { name: "the name alone", fn: (v, alpha, layer) => name(layer), message: "a hook is a pair [hookName, (act) => newAct]" },
  ],
};
