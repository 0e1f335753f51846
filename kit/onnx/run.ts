/**
 * Forward passes on ONNX Runtime with the TensorFlow.js path's API: `runOnnx` (logits) and `runWithCacheOnnx`
 * (`{ logits, cache }` as tf tensors in an ActivationCache, so code reading a cache does not change).
 */
import { tf } from "../backend";
import { ActivationCache } from "../model/cache";
import type { HookFilter, HookName } from "../model/hooks";
import { hookLastDim, hookRank, steeringByHook, steeringDelta, type Steering } from "../model/steering";
import type { HookedTransformer, TokensInput } from "../model/transformer";
import { padBatch, type PaddedBatch } from "../model/batch";
import { int64Tensor, onnxSession, OrtTensor, resolveHooks } from "./session";

export interface OnnxRunOptions {
  /** Additive steering values at hook points (graph inputs, not JS hooks). */
  steer?: readonly Steering[];
  /** intraOpNumThreads for the session (0: automatic, see OnnxSessionOptions.threads). */
  threads?: number;
  /** The function named in error messages (default the ONNX function's own name). */
  where?: string;
}

/** Raw ONNX outputs of one forward pass: Float32Arrays with their shapes, by output name. */
export interface OnnxOutputs {
  [name: string]: { data: Float32Array; dims: number[] };
}

/**
 * The `steer.{hook}` feeds of a session: each compiled steering input gets the sum of the call's steering values at
 * that hook (positions resolved against this step's `positions`), or zeros (x + 0 = x exactly).
 */
export function steeringFeeds(model: HookedTransformer, compiled: readonly HookName[], steer: readonly Steering[], positions: readonly (readonly number[])[], where: string): Record<string, OrtTensor> {
  const byHook = steeringByHook(steer);
  const feeds: Record<string, OrtTensor> = {};
  for (const name of compiled) {
    const d = hookLastDim(model.cfg, name);
    const here = byHook.get(name) ?? [];
    for (const s of here) if (s.vector.length !== d) throw new RangeError(`${where}: steering vector at ${name} has ${s.vector.length} values, expected ${d}`);
    const delta = steeringDelta(here, hookRank(name), d, positions);
    feeds[`steer.${name}`] = new OrtTensor("float32", delta.data, delta.dims);
  }
  return feeds;
}

/**
 * One forward pass on ONNX Runtime; returns the raw outputs (logits and the hook points asked for). A left-padded
 * batch (`keyMask`, from padBatch) runs on the KV-cache graph with an empty past, which takes the attention mask.
 */
export function forwardOnnx(
  model: HookedTransformer,
  rows: readonly (readonly number[])[],
  { hooks, steer = [], threads = 0, where = "forwardOnnx", keyMask = null, positions }: { hooks?: HookFilter; steer?: readonly Steering[]; threads?: number; where?: string; keyMask?: PaddedBatch["keyMask"]; positions?: PaddedBatch["positions"] },
): OnnxOutputs {
  const T = rows[0].length;
  if (T > model.cfg.n_ctx) throw new RangeError(`forward: sequence length ${T} exceeds n_ctx ${model.cfg.n_ctx} (${where})`);
  for (const s of steer) resolveHooks(model, [s.hook], where);
  const wanted = resolveHooks(model, hooks, where);
  const kv = keyMask !== null;
  // Widened: the session serves every layer of the requested hook kinds (layer sweeps share it); fetch only `wanted`.
  const s = onnxSession(model, { hooks: wanted, steer: [...new Set(steer.map((x) => x.hook))], threads, widen: true, kv });
  const pos = positions ?? [Array.from({ length: T }, (_, i) => i)];
  const feeds: Record<string, OrtTensor> = { input_ids: int64Tensor(rows), position_ids: int64Tensor(pos), ...steeringFeeds(model, s.steer, steer, pos, where) };
  if (kv) Object.assign(feeds, { attention_mask: int64Tensor(keyMask) }, emptyPast(model, rows.length));
  const out = s.session.run(feeds, ["logits", ...wanted]);
  const result: OnnxOutputs = {};
  for (const [k, v] of Object.entries(out)) result[k] = { data: v.data as Float32Array, dims: v.dims.map(Number) };
  return result;
}

/** Zero-length `past_key_values` feeds of the KV-cache graph. */
function emptyPast(model: HookedTransformer, B: number): Record<string, OrtTensor> {
  const { n_layers, n_key_value_heads: K, d_head } = model.cfg;
  const empty = new OrtTensor("float32", new Float32Array(0), [B, K, 0, d_head]);
  const feeds: Record<string, OrtTensor> = {};
  for (let l = 0; l < n_layers; l++) feeds[`past_key_values.${l}.key`] = feeds[`past_key_values.${l}.value`] = empty;
  return feeds;
}

/** Logits [B, T, V] (a tf tensor; the caller disposes it), computed on ONNX Runtime; ragged rows are left-padded. */
export function runOnnx(model: HookedTransformer, input: TokensInput, { steer = [], threads = 0, where = "runOnnx" }: OnnxRunOptions = {}): tf.Tensor3D {
  const b = padBatch(model, input, where);
  const out = forwardOnnx(model, b.rows, { steer, threads, where, keyMask: b.keyMask, positions: b.positions });
  return tf.tensor3d(out.logits.data, out.logits.dims as [number, number, number]);
}

/**
 * `model.runWithCache` on ONNX Runtime: `{ logits, cache }`, both tf tensors (dispose both). `namesFilter` picks
 * hook points (default: all); `steer` adds vectors at hook points, as steering values in `fwdHooks` would.
 */
export function runWithCacheOnnx(
  model: HookedTransformer,
  input: TokensInput,
  { namesFilter, steer = [], threads = 0, where = "runWithCacheOnnx" }: OnnxRunOptions & { namesFilter?: HookFilter } = {},
): { logits: tf.Tensor3D; cache: ActivationCache } {
  const b = padBatch(model, input, where);
  const out = forwardOnnx(model, b.rows, { hooks: namesFilter ?? (() => true), steer, threads, where, keyMask: b.keyMask, positions: b.positions });
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
  return { logits, cache: new ActivationCache(store, model.cfg.n_layers, model) };
}
