/**
 * Synchronous ONNX Runtime sessions, cached per model, graph kind, hook set and steering set.
 *
 * Why synchronous: the kit's `runWithCache` and `generate` are synchronous. onnxruntime-node's public
 * `InferenceSession.run` is async, but only because its backend wraps the native binding's `run` — which is
 * synchronous — in `setImmediate` (node_modules/onnxruntime-node/dist/backend.js). `SyncSession` is a small adapter
 * over that native binding (`onnxruntime-node/dist/binding`): the same `loadModel` / `run` calls the public
 * session makes, minus the promise. Inputs and outputs are onnxruntime-common `Tensor`s.
 *
 * Caching: `onnxSession(model, opts)` compiles the graph once per (model, kv, hooks, steer) and reuses it while the
 * model's weights are unchanged; a weight update (training, `setWeights`) gives the variables new data, which the
 * cache notices and recompiles.
 */
import { Tensor } from "onnxruntime-node";
import { binding, initOrt, type Binding } from "onnxruntime-node/dist/binding";
import { filterToPredicate, hookNames, type HookFilter, type HookName } from "../model/hooks";
import type { HookedTransformer } from "../model/transformer";
import { buildGraph } from "./graph";

export { Tensor as OrtTensor };

export interface SyncSessionOptions {
  /** Threads inside one op (ONNX Runtime's intraOpNumThreads); 0 = ONNX Runtime's default (all physical cores). */
  threads?: number;
}

let runs = 0;

/** How many ONNX forward passes this process has run (all sessions): lets a caller check which path served a call. */
export function onnxRunCount(): number {
  return runs;
}

/** A loaded ONNX model whose `run` is synchronous. */
export class SyncSession {
  private readonly handle: Binding.InferenceSession;
  readonly inputNames: string[];
  readonly outputNames: string[];
  private disposed = false;

  constructor(bytes: Uint8Array, { threads = 0 }: SyncSessionOptions = {}) {
    initOrt();
    this.handle = new binding.InferenceSession();
    const options: Record<string, unknown> = { executionProviders: ["cpu"], graphOptimizationLevel: "all", logSeverityLevel: 3 };
    if (threads > 0) options.intraOpNumThreads = threads;
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    this.handle.loadModel(buf, 0, buf.byteLength, options);
    this.inputNames = this.handle.inputMetadata.map((m) => m.name);
    this.outputNames = this.handle.outputMetadata.map((m) => m.name);
  }

  /** Run with every input fed; returns the outputs asked for (default: all). */
  run(feeds: Record<string, Tensor>, fetch: readonly string[] = this.outputNames): Record<string, Tensor> {
    return this.execute("SyncSession.run", feeds, Object.fromEntries(fetch.map((name) => [name, null])));
  }

  /**
   * Run with preallocated outputs: `fetches` maps each output to fetch to a tensor ONNX Runtime writes into (its shape
   * must be the output's), or null to let ONNX Runtime allocate it.
   */
  runInto(feeds: Record<string, Tensor>, fetches: Record<string, Tensor | null>): Record<string, Tensor> {
    return this.execute("SyncSession.runInto", feeds, fetches);
  }

  private execute(where: string, feeds: Record<string, Tensor>, fetches: Record<string, Tensor | null>): Record<string, Tensor> {
    if (this.disposed) throw new Error(`${where}: this session has been disposed`);
    for (const name of this.inputNames) {
      if (feeds[name] === undefined) throw new RangeError(`${where}: input ${JSON.stringify(name)} is missing; the graph takes ${this.inputNames.join(", ")}`);
    }
    const out = this.handle.run(feeds, fetches, {}) as Record<string, Tensor>;
    runs++;
    const result: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) result[k] = v instanceof Tensor ? v : new Tensor(v.type as "float32", v.data as Float32Array, v.dims);
    return result;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.handle.dispose();
  }
}

export interface OnnxSessionOptions {
  /** Hook points returned as outputs: a name, a list, or a predicate over the model's hook names. Default none. */
  hooks?: HookFilter;
  /** Hook points that take an additive steering vector input (`steer.{hook}`). Default none. */
  steer?: readonly HookName[];
  /**
   * Compile every layer's instance of each requested hook kind (asking for blocks.3.hook_resid_post compiles
   * hook_resid_post at all layers), so that layer sweeps and steering at different layers share one session. The
   * session's `hooks` / `steer` then list the widened sets; callers fetch only what they need and feed zero vectors
   * to the steering inputs they do not use (x + 0 = x exactly). Default false.
   */
  widen?: boolean;
  /** The KV-cache decoding graph (generation) rather than the plain forward graph. Default false. */
  kv?: boolean;
  /**
   * intraOpNumThreads. 0 (default) = automatic: 1 thread for models under 5 M parameters (their ops are too small to
   * split, and ONNX Runtime's spinning worker threads cost more than they save, badly so on shared cores), ONNX
   * Runtime's default (one per physical core) otherwise.
   */
  threads?: number;
}

/** A compiled model: its session and what its graph exposes. */
export interface OnnxModelSession {
  session: SyncSession;
  hooks: HookName[];
  steer: HookName[];
  kv: boolean;
}

interface CacheEntry {
  weightsKey: object[];
  sessions: Map<string, OnnxModelSession>;
}

const cache = new WeakMap<HookedTransformer, CacheEntry>();
const MAX_SESSIONS_PER_MODEL = 16;
const SMALL_MODEL_PARAMS = 5e6;

function weightIds(model: HookedTransformer): object[] {
  return [...[...model.params.values()].map((v) => (v as unknown as { dataId: object }).dataId), ...model.adapters.weightIds()];
}

/** Resolve a hook filter to the model's hook names, in forward order. */
export function resolveHooks(model: HookedTransformer, filter: HookFilter | undefined, where: string): HookName[] {
  if (filter === undefined) return [];
  const all = hookNames(model.cfg);
  const pred = filterToPredicate(filter, new Set(all), where);
  return all.filter((n) => pred(n));
}

/**
 * The session for a model and a hook set, compiled on first use and cached (per model, while its weights are
 * unchanged; at most 16 hook sets per model, least recently used dropped).
 */
export function onnxSession(model: HookedTransformer, { hooks, steer = [], kv = false, threads = 0, widen = false }: OnnxSessionOptions = {}): OnnxModelSession {
  let hookList = resolveHooks(model, hooks, "onnxSession");
  const all = hookNames(model.cfg);
  for (const s of steer) if (!all.includes(s)) resolveHooks(model, [s], "onnxSession"); // throws with near matches
  let steerList = all.filter((n) => steer.includes(n));
  if (widen) {
    hookList = widenToKinds(model, hookList);
    steerList = widenToKinds(model, steerList);
  }
  const nThreads = threads > 0 ? threads : model.numParams < SMALL_MODEL_PARAMS ? 1 : 0;
  const key = JSON.stringify([kv, nThreads, hookList, steerList, model.cfg.useAttnResult === true]);
  const ids = weightIds(model);
  let entry = cache.get(model);
  if (!entry || entry.weightsKey.length !== ids.length || entry.weightsKey.some((id, i) => id !== ids[i])) {
    if (entry) for (const s of entry.sessions.values()) s.session.dispose();
    entry = { weightsKey: ids, sessions: new Map() };
    cache.set(model, entry);
  }
  const hit = entry.sessions.get(key);
  if (hit) {
    entry.sessions.delete(key);
    entry.sessions.set(key, hit);
    return hit;
  }
  const built = buildGraph(model, { hooks: hookList, steer: steerList, kv });
  const s: OnnxModelSession = { session: new SyncSession(built.bytes, { threads: nThreads }), hooks: hookList, steer: steerList, kv };
  entry.sessions.set(key, s);
  // Each session holds its own copy of the weights: keep at most ~2 GB of them per model (and at most 16 sessions).
  const maxSessions = Math.max(1, Math.min(MAX_SESSIONS_PER_MODEL, Math.floor(2e9 / (4 * model.numParams))));
  while (entry.sessions.size > maxSessions) {
    const oldest = entry.sessions.keys().next().value as string;
    entry.sessions.get(oldest)!.session.dispose();
    entry.sessions.delete(oldest);
  }
  return s;
}

function kindOf(name: string): string {
  return name.startsWith("blocks.") ? name.slice(name.indexOf(".", 7) + 1) : name;
}

/** Every hook point of the model whose kind (the name without `blocks.L.`) is among those of `names`, in forward order. */
export function widenToKinds(model: HookedTransformer, names: readonly HookName[]): HookName[] {
  const kinds = new Set(names.map(kindOf));
  return hookNames(model.cfg).filter((n) => kinds.has(kindOf(n)));
}

/** Drop (and free) every cached session of a model. */
export function clearOnnxSessions(model: HookedTransformer): void {
  const entry = cache.get(model);
  if (!entry) return;
  for (const s of entry.sessions.values()) s.session.dispose();
  cache.delete(model);
}

/** int64 tensor from rows of ids. */
export function int64Tensor(rows: readonly (readonly number[])[]): Tensor {
  const B = rows.length;
  const T = B ? rows[0].length : 0;
  const data = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) data[b * T + t] = BigInt(rows[b][t]);
  return new Tensor("int64", data, [B, T]);
}
