/**
 * Forward passes on ONNX Runtime with the TensorFlow.js path's API: `runOnnx` (logits) and `runWithCacheOnnx`
 * (`{ logits, cache }` as tf tensors in an ActivationCache, so code reading a cache does not change).
 */
import { tf } from "../backend";
import { ActivationCache } from "../model/cache";
import type { HookFilter, HookName } from "../model/hooks";
import type { HookedTransformer, TokensInput } from "../model/transformer";
import { hookLastDim } from "./graph";
import { int64Tensor, onnxSession, OrtTensor, resolveHooks } from "./session";
import { mergeSteers, type OnnxSteer } from "./steer";

export interface OnnxRunOptions {
  /** Additive steering vectors at hook points (graph inputs, not JS hooks). */
  steer?: readonly OnnxSteer[];
  /** intraOpNumThreads for the session (0: automatic, see OnnxSessionOptions.threads). */
  threads?: number;
  /** The function named in error messages (default the ONNX function's own name). */
  where?: string;
}

/** Raw ONNX outputs of one forward pass: Float32Arrays with their shapes, by output name. */
export interface OnnxOutputs {
  [name: string]: { data: Float32Array; dims: number[] };
}

/** Token rows of any accepted input, validated as the tfjs path validates them. */
export function tokenRows(model: HookedTransformer, input: TokensInput, where: string): number[][] {
  const t = model.toTokens(input, where);
  try {
    return t.arraySync() as number[][];
  } finally {
    t.dispose();
  }
}

/** One forward pass on ONNX Runtime; returns the raw outputs (logits and the hook points asked for). */
export function forwardOnnx(
  model: HookedTransformer,
  rows: readonly (readonly number[])[],
  { hooks, steer = [], threads = 0, where = "forwardOnnx" }: { hooks?: HookFilter; steer?: readonly OnnxSteer[]; threads?: number; where?: string },
): OnnxOutputs {
  const T = rows[0].length;
  if (T > model.cfg.n_ctx) throw new RangeError(`forward: sequence length ${T} exceeds n_ctx ${model.cfg.n_ctx} (${where})`);
  const merged = mergeSteers(steer);
  const wanted = resolveHooks(model, hooks, where);
  // Widened: the session serves every layer of the requested hook kinds (layer sweeps share it); fetch only `wanted`.
  const s = onnxSession(model, { hooks: wanted, steer: [...merged.keys()], threads, widen: true });
  const feeds: Record<string, OrtTensor> = {
    input_ids: int64Tensor(rows),
    position_ids: int64Tensor([Array.from({ length: T }, (_, i) => i)]),
  };
  for (const name of s.steer) feeds[`steer.${name}`] = steerTensor(model, name, merged.get(name) ?? new Float32Array(hookLastDim(model, name)), where);
  const out = s.session.run(feeds, ["logits", ...wanted]);
  const result: OnnxOutputs = {};
  for (const [k, v] of Object.entries(out)) result[k] = { data: v.data as Float32Array, dims: v.dims.map(Number) };
  return result;
}

export function steerTensor(model: HookedTransformer, name: HookName, values: Float32Array, where: string): OrtTensor {
  const d = hookLastDim(model, name);
  if (values.length !== d) throw new RangeError(`${where}: steering vector at ${name} has ${values.length} values, expected ${d}`);
  return new OrtTensor("float32", values, [d]);
}

/** Logits [B, T, V] (a tf tensor; the caller disposes it), computed on ONNX Runtime. */
export function runOnnx(model: HookedTransformer, input: TokensInput, { steer = [], threads = 0, where = "runOnnx" }: OnnxRunOptions = {}): tf.Tensor3D {
  const rows = tokenRows(model, input, where);
  const out = forwardOnnx(model, rows, { steer, threads, where });
  return tf.tensor3d(out.logits.data, out.logits.dims as [number, number, number]);
}

/**
 * `model.runWithCache` on ONNX Runtime: `{ logits, cache }`, both tf tensors (dispose both). `namesFilter` picks
 * hook points (default: all); `steer` adds vectors at hook points, as `steeringHook`s would.
 */
export function runWithCacheOnnx(
  model: HookedTransformer,
  input: TokensInput,
  { namesFilter, steer = [], threads = 0, where = "runWithCacheOnnx" }: OnnxRunOptions & { namesFilter?: HookFilter } = {},
): { logits: tf.Tensor3D; cache: ActivationCache } {
  const rows = tokenRows(model, input, where);
  const out = forwardOnnx(model, rows, { hooks: namesFilter ?? (() => true), steer, threads, where });
  const store = new Map<HookName, tf.Tensor>();
  let logits: tf.Tensor3D | null = null;
  try {
    logits = tf.tensor3d(out.logits.data, out.logits.dims as [number, number, number]);
    for (const [name, v] of Object.entries(out)) if (name !== "logits") store.set(name as HookName, tf.tensor(v.data, v.dims));
  } catch (e) {
    logits?.dispose();
    for (const t of store.values()) t.dispose();
    throw e;
  }
  return { logits, cache: new ActivationCache(store, model.cfg.n_layers) };
}
