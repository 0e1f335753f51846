/**
 * Steering on the ONNX path: a steering vector is a graph input added at a hook point, so steering needs no JS hook.
 *
 * `steeringHook(v, { layer, hook, coefficient })` (kit/vectors/steer.ts) returns a `[name, fn]` forward hook that works
 * on the TensorFlow.js path, and also records here, for that hook function, the hook point and the scaled vector: the
 * ONNX path (and automatic routing) recognises such hooks and feeds the vector to the graph instead of running the
 * function. Arbitrary hook functions cannot be compiled and keep the TensorFlow.js path.
 */
import type { FwdHook, HookFn, HookName } from "../model/hooks";

/** An additive vector at a hook point: `act + values` at every position. */
export interface OnnxSteer {
  hook: HookName;
  values: Float32Array;
}

const registry = new WeakMap<HookFn, OnnxSteer>();

/** Mark a hook function as "adds `values` at `hook`" so the ONNX path can compile it into a graph input. */
export function registerSteeringFn(fn: HookFn, steer: OnnxSteer): void {
  registry.set(fn, steer);
}

/** The steering a forward hook stands for, or null when it is an arbitrary function (or a filter other than one name). */
export function steeringOf(hook: FwdHook): OnnxSteer | null {
  const s = registry.get(hook[1]);
  if (!s || typeof hook[0] !== "string" || hook[0] !== s.hook) return null;
  return s;
}

/** Sum the steering vectors per hook point. */
export function mergeSteers(steers: readonly OnnxSteer[]): Map<HookName, Float32Array> {
  const out = new Map<HookName, Float32Array>();
  for (const s of steers) {
    const prev = out.get(s.hook);
    if (!prev) out.set(s.hook, Float32Array.from(s.values));
    else {
      if (prev.length !== s.values.length) throw new RangeError(`mergeSteers: vectors at ${s.hook} have ${prev.length} and ${s.values.length} values`);
      for (let i = 0; i < prev.length; i++) prev[i] += s.values[i];
    }
  }
  return out;
}
