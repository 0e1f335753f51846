/**
 * Preventative steering during training (Chen et al. 2025, "Persona vectors"): while the model trains, add a persona
 * vector at chosen hook points (so the gradient need not move the model along it), or project a direction out, in
 * the training forward pass only — evaluation, generation and the saved model are unsteered. The projection of the
 * activations on monitored directions (mean over the loss's counted tokens, before any intervention) is logged per
 * step in `StepRecord.projections`.
 *
 *   await train(model, data, { steps, steering: [steeringHook(pv, { layer: 6, coefficient: 4 })], monitor: [{ hook, vector: pv }] });
 *
 * Both runtimes: TensorFlow.js runs them as temporary hooks (monitor, then ablation, then the steering values); the
 * ONNX Runtime gradient graph takes `steer.{hook}`, `ablate.{hook}` and `monitor.{i}` inputs at the same points.
 */
import { Tensor } from "onnxruntime-node";
import { tf } from "../backend";
import type { FwdHook, HookName } from "../model/hooks";
import { hookNames } from "../model/hooks";
import { hookLastDim, type Steering } from "../model/steering";
import type { HookedTransformer } from "../model/transformer";
import type { Batch } from "./batches";

/** A direction at a hook point (a persona vector); its length does not matter (it is normalised). */
export interface Direction {
  hook: HookName;
  vector: ArrayLike<number>;
  /** Label in logs; default the hook name. */
  name?: string;
}

export interface TrainingInterventions {
  /** Steering values added during the training forward only (every position: `positions` is not supported here). */
  steering?: readonly Steering[];
  /** Directions projected out (x − (x·v̂) v̂) during the training forward only. */
  ablate?: readonly Direction[];
  /** Directions whose mean projection is logged per step (`StepRecord.projections`, in this order). */
  monitor?: readonly Direction[];
}

const RANK4 = /attn\.hook_(q|k|v|rot_q|rot_k|z)$/;

/** Problems with the interventions on this model (empty when usable); `label` prefixes each. */
export function interventionProblems(model: HookedTransformer, o: TrainingInterventions): string[] {
  const problems: string[] = [];
  const known = new Set<string>(hookNames(model.cfg));
  const check = (what: string, i: number, hook: unknown, vector: unknown) => {
    if (typeof hook !== "string" || !known.has(hook)) return problems.push(`${what}[${i}].hook must be one of model.hookNames(), received ${JSON.stringify(hook)}`);
    const d = hookLastDim(model.cfg, hook);
    if (d < 0 || RANK4.test(hook)) return problems.push(`${what}[${i}].hook ${hook} is per head or per key; use a [batch, pos, d] hook point (resid, attn_out, mlp_out, mlp.hook_post)`);
    const len = (vector as ArrayLike<number> | null)?.length;
    if (typeof len !== "number" || len !== d) problems.push(`${what}[${i}].vector must have ${d} values (the last dimension of ${hook}), received ${typeof len === "number" ? len : typeof vector}`);
    return 0;
  };
  (o.steering ?? []).forEach((s, i) => {
    check("steering", i, s?.hook, s?.vector);
    if (s?.positions !== undefined) problems.push(`steering[${i}].positions is not supported during training (every position is steered)`);
  });
  (o.ablate ?? []).forEach((a, i) => check("ablate", i, a?.hook, a?.vector));
  (o.monitor ?? []).forEach((a, i) => check("monitor", i, a?.hook, a?.vector));
  const steered = (o.steering ?? []).map((s) => s.hook);
  if (new Set(steered).size !== steered.length) problems.push(`steering has two values at one hook point; add their vectors`);
  const ablated = (o.ablate ?? []).map((a) => a.hook);
  if (new Set(ablated).size !== ablated.length) problems.push(`ablate has two directions at one hook point`);
  return problems;
}

export function hasInterventions(o: TrainingInterventions): boolean {
  return (o.steering?.length ?? 0) + (o.ablate?.length ?? 0) + (o.monitor?.length ?? 0) > 0;
}

function unit(v: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(v);
  const n = Math.hypot(...out);
  if (!(n > 0)) throw new RangeError(`preventative steering: a direction has norm ${n}; expected a non-zero vector`);
  for (let i = 0; i < out.length; i++) out[i] /= n;
  return out;
}

/**
 * The TensorFlow.js hooks for one training batch: monitors write `sink[i]` (Σ mask · x·v̂ / targets), ablations
 * project out, then the steering values add.
 */
export function tfjsInterventionHooks(o: TrainingInterventions, batch: Batch, sink: number[]): FwdHook[] {
  const weights = batch.mask ?? new Float32Array(batch.batchSize * batch.seqLen).fill(1);
  const along = (x: tf.Tensor, v: tf.Tensor) => tf.reshape(tf.matMul(tf.reshape(x, [-1, v.shape[0]!]), v), [...x.shape.slice(0, -1), 1]); // [B, T, 1]
  const monitors: FwdHook[] = (o.monitor ?? []).map((m, i) => {
    const v = unit(m.vector);
    return [m.hook, (x: tf.Tensor) => {
      const s = tf.tidy(() => tf.sum(tf.mul(tf.reshape(along(x, tf.tensor2d(v, [v.length, 1])), [-1]), tf.tensor1d(weights))));
      sink[i] = s.dataSync()[0] / batch.targets;
      s.dispose();
    }] as FwdHook;
  });
  const ablations: FwdHook[] = (o.ablate ?? []).map((a) => {
    const v = unit(a.vector);
    return [a.hook, (x: tf.Tensor) => tf.sub(x, tf.mul(along(x, tf.tensor2d(v, [v.length, 1])), tf.tensor1d(v)))] as FwdHook;
  });
  return [...monitors, ...ablations, ...(o.steering ?? [])];
}

/** The ONNX Runtime gradient graph's hook lists (`lossGradGraph`'s `steer`, `ablate`, `monitor`). */
export function onnxInterventionHooks(o: TrainingInterventions): { steer: HookName[]; ablate: HookName[]; monitor: HookName[] } {
  return { steer: (o.steering ?? []).map((s) => s.hook), ablate: (o.ablate ?? []).map((a) => a.hook), monitor: (o.monitor ?? []).map((m) => m.hook) };
}

/** The graph's intervention inputs: `steer.{hook}` [1, 1, d], `ablate.{hook}` and `monitor.{i}` unit vectors [d, 1]. */
export function onnxInterventionFeeds(o: TrainingInterventions): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const s of o.steering ?? []) feeds[`steer.${s.hook}`] = new Tensor("float32", Float32Array.from(s.vector), [1, 1, s.vector.length]);
  for (const a of o.ablate ?? []) feeds[`ablate.${a.hook}`] = new Tensor("float32", unit(a.vector), [a.vector.length, 1]);
  (o.monitor ?? []).forEach((m, i) => (feeds[`monitor.${i}`] = new Tensor("float32", unit(m.vector), [m.vector.length, 1])));
  return feeds;
}
