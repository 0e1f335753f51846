/**
 * `onnxSteeringHook`: `steeringHook` (kit/vectors/steer.ts) plus a registry entry that lets the ONNX path compile it
 * into a graph input (see ./steer.ts). Kept apart from ./steer.ts so that the routing code does not import kit/vectors.
 */
import type { FwdHook, HookName } from "../model/hooks";
import type { Direction } from "../vectors/persona";
import { steeringHook, type SteeringHookOptions } from "../vectors/steer";
import { registerSteeringFn } from "./steer";

/** `steeringHook`, recognised by the ONNX path (same arguments, same result on the TensorFlow.js path). */
export function onnxSteeringHook(vector: Direction, options: SteeringHookOptions): FwdHook {
  const hook = steeringHook(vector, options);
  const probe = hook[1];
  // The scaled vector, computed as steeringHook does (values · coefficient rounded to float32).
  const { values, name } = scaledVector(vector, options, hook[0] as HookName);
  registerSteeringFn(probe, { hook: name, values });
  return hook;
}

function scaledVector(vector: Direction, options: SteeringHookOptions, name: HookName): { values: Float32Array; name: HookName } {
  let raw: ArrayLike<number>;
  if (vector instanceof Float32Array || Array.isArray(vector)) raw = vector as ArrayLike<number>;
  else if (typeof (vector as { dataSync?: unknown }).dataSync === "function") raw = (vector as { dataSync(): ArrayLike<number> }).dataSync();
  else raw = (vector as { vector: Float32Array }).vector;
  return { values: Float32Array.from(raw, (v) => v * options.coefficient), name };
}
