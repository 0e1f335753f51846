/**
 * Gradients of a scalar metric with respect to activations at hook points, on the TensorFlow.js path: each hook
 * point gets `act + δ` with δ = 0, and tf.valueAndGrads differentiates the metric in δ — the gradient with respect to
 * the activation itself, as a backward hook would see it.
 */
import { tf } from "../backend";
import { padBatch } from "../model/batch";
import { filterToPredicate, type FwdHook, type HookFilter, type HookName } from "../model/hooks";
import type { HookedTransformer, TokensInput } from "../model/transformer";

/** A metric of the logits [B, T, V]: one value per row ([B]) or one scalar. Gradients are of its sum over rows. */
export type Metric = (logits: tf.Tensor3D) => tf.Tensor;

export interface ActivationGrads {
  /** The metric per row ([B] values, or one for a scalar metric). */
  metric: number[];
  /** d(Σ metric)/d(activation) at each hook, shaped like the activation (the caller disposes; see dispose). */
  grads: Map<HookName, tf.Tensor>;
  /** The activations themselves. */
  activations: Map<HookName, tf.Tensor>;
  dispose(): void;
}

/** The logit difference `logits[answer] − logits[wrong]` at `position` (default last), one per row. */
export function logitDiffMetric(answer: number, wrong: number, position = -1): Metric {
  return (logits) => {
    const [B, T] = logits.shape;
    const p = position < 0 ? T + position : position;
    const at = (id: number) => logits.slice([0, p, id], [B, 1, 1]).reshape([B]); // slices: gather has no wasm gradient
    return tf.sub(at(answer), at(wrong));
  };
}

/** Gradients of `metric` with respect to the activations at `hooks` (names, a list, or a predicate) for `input`. */
export function gradOf(model: HookedTransformer, input: TokensInput, { hooks, metric }: { hooks: HookFilter; metric: Metric }): ActivationGrads {
  const where = "gradOf";
  const known = new Set<string>(model.hookNames());
  const pred = filterToPredicate(hooks, known, where);
  const names = model.hookNames().filter((n) => pred(n));
  if (names.length === 0) throw new RangeError(`${where}: hooks matched no hook point of the model`);
  const batch = padBatch(model, input, where);
  const tokens = tf.tensor2d(batch.rows.flat(), [batch.rows.length, batch.rows[0].length], "int32");
  const activations = new Map<HookName, tf.Tensor>();
  try {
    tf.tidy(() => {
      model.forward(tokens, { keyMask: batch.keyMask, cacheFilter: names, cacheOut: activations });
    });
    let perRow: number[] = [];
    const grads = tf.tidy(() => {
      const f = (...deltas: tf.Tensor[]) => {
        const fwdHooks: FwdHook[] = names.map((n, i) => [n, (a: tf.Tensor) => tf.add(a, deltas[i])] as const);
        const m = metric(model.forward(tokens, { keyMask: batch.keyMask, fwdHooks, training: true }));
        perRow = Array.from(m.dataSync());
        return tf.sum(m) as tf.Scalar;
      };
      const { grads } = tf.valueAndGrads(f)(names.map((n) => tf.zerosLike(activations.get(n)!)));
      return grads;
    });
    const gradMap = new Map<HookName, tf.Tensor>(names.map((n, i) => [n, grads[i]]));
    return {
      metric: perRow,
      grads: gradMap,
      activations,
      dispose: () => {
        for (const t of [...gradMap.values(), ...activations.values()]) t.dispose();
      },
    };
  } catch (e) {
    for (const t of activations.values()) t.dispose();
    throw e;
  } finally {
    tokens.dispose();
  }
}
