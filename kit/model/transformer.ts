/**
 * HookedTransformer: a decoder-only transformer of the GPT-2 or Llama family with its weights, TransformerLens hook
 * points at every activation, a KV cache for generation, and tfjs autograd for training.
 *
 * The model itself is written once, in kit/model/forward.ts; `forward` here runs that definition on TensorFlow.js
 * (kit/model/tfjs-ops.ts). `runWithCache` goes to a faster runtime when one is installed (kit/runtime) and no JS hook
 * needs TensorFlow.js.
 */
import { tf } from "../backend";
import type { Tokenizer } from "../tokenizers/types";
import { ActivationCache } from "./cache";
import { makeConfig, validateConfig, type ModelConfig, type ModelConfigInput } from "./config";
import {
  checkHookName,
  filterToPredicate,
  hookNames,
  type FwdHook,
  type HookFilter,
  type HookFn,
  type HookName,
  type HookPoint,
} from "./hooks";
import { forward as modelForward } from "./forward";
import { linear, taping, ropeTables, type RopeTables } from "./ops";
import { padBatch } from "./batch";
import { lnFinal } from "./resid";
import { singleToken, strTokens } from "./tokens";
import { countParams, initParams, paramShapes } from "./params";
import { currentRouter } from "./router";
import { hookLastDim, isSteering, steeringDelta, type Steering } from "./steering";
import { encodeChat, isChatBatch, isChatTurns, type ChatTurn } from "./chat-slot";
import { warnUnknownTokens } from "../tokenizers/unknown";
import { KVCache, tfjsOps } from "./tfjs-ops";
import { AdapterSet } from "./lora";

export { KVCache, type KVLayer } from "./tfjs-ops";

/** Anything that can stand for a batch of token ids. */
export type TokensInput =
  | tf.Tensor
  | readonly number[]
  | readonly (readonly number[])[]
  | string
  | readonly string[]
  | readonly ChatTurn[] // one conversation, rendered by the model's chat template (kit/chat/template.ts)
  | readonly (readonly ChatTurn[])[]; // conversations of equal token length

export interface ForwardOptions {
  /** Past keys/values; the new ones are appended to it (generation). */
  kvCache?: KVCache;
  /** Per-token positions [B][T]; default: consecutive after the cache, shifted past left padding. */
  positions?: readonly (readonly number[])[];
  /** [B][T]: 0 at left padding (ragged batches without a KV cache); default the KV cache's mask, if any. */
  keyMask?: readonly (readonly number[])[] | null;
  /** Generation step, passed to hooks as `hook.step`. */
  step?: number | null;
  /** Set by trainers: computes the tied unembedding inside the gradient tape instead of reusing a cached transpose. */
  training?: boolean;
  /** Temporary hooks for this call, run after the model's permanent hooks. */
  fwdHooks?: readonly FwdHook[];
  /** Record these activations into `cacheOut` (tensors are kept; the caller disposes them). */
  cacheFilter?: HookFilter;
  cacheOut?: Map<HookName, tf.Tensor>;
}

let modelCounter = 0;

interface ActiveHook {
  pred: (name: HookName) => boolean;
  fn: HookFn;
}

export class HookedTransformer {
  readonly cfg: ModelConfig;
  readonly params: Map<string, tf.Variable>;
  tokenizer: Tokenizer | null;
  /** LoRA adapters (kit/lora): the active one, unless merged, is part of every forward pass in every runtime. */
  readonly adapters = new AdapterSet();
  private readonly id = ++modelCounter;
  private readonly rope: RopeTables | null;
  private readonly hookSet: Set<string>;
  private permanentHooks: ActiveHook[] = [];
  private unembedCache: { dataId: object; W_U: tf.Tensor } | null = null;

  constructor(cfg: ModelConfig, weights: ReadonlyMap<string, Float32Array>, { tokenizer = null }: { tokenizer?: Tokenizer | null } = {}) {
    this.cfg = validateConfig({ ...cfg }, "HookedTransformer");
    try {
      tf.backend();
    } catch {
      throw new Error("HookedTransformer: the TensorFlow.js backend is not initialised; `await initBackend()` first (loadModel does it for you)");
    }
    this.tokenizer = tokenizer;
    const shapes = paramShapes(this.cfg);
    const problems: string[] = [];
    for (const [name, shape] of shapes) {
      const w = weights.get(name);
      const size = shape.reduce((a, b) => a * b, 1);
      if (!w) problems.push(`missing parameter ${name} [${shape}]`);
      else if (w.length !== size) problems.push(`parameter ${name} has ${w.length} values, expected [${shape}] = ${size}`);
    }
    for (const name of weights.keys()) if (!shapes.has(name)) problems.push(`unexpected parameter ${name}`);
    if (problems.length) throw new RangeError(`HookedTransformer: weights do not fit the config:\n  - ${problems.join("\n  - ")}`);
    this.params = new Map();
    for (const [name, shape] of shapes) {
      const init = tf.tensor(weights.get(name)!, shape);
      this.params.set(name, tf.variable(init, true, `pk${this.id}/${name}`));
      init.dispose();
    }
    this.rope = this.cfg.family === "llama" ? ropeTables(this.cfg.d_head, this.cfg.n_ctx, this.cfg.ropeTheta, this.cfg.ropeStyle) : null;
    this.hookSet = new Set(hookNames(this.cfg));
  }

  /** A freshly initialised model (seeded). */
  static fromConfig(cfg: ModelConfig | ModelConfigInput, { seed = 0, tokenizer = null }: { seed?: number; tokenizer?: Tokenizer | null } = {}): HookedTransformer {
    const full = "d_head" in cfg && "d_mlp" in cfg && cfg.d_head !== undefined ? validateConfig(cfg as ModelConfig) : makeConfig(cfg);
    return new HookedTransformer(full, initParams(full, seed), { tokenizer });
  }

  /** Every hook point of this model, in forward order. */
  hookNames(): HookName[] {
    return hookNames(this.cfg);
  }

  get numParams(): number {
    return countParams(this.cfg);
  }

  param(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new RangeError(`HookedTransformer.param: no parameter ${JSON.stringify(name)}; see model.params.keys()`);
    return p;
  }

  /** Copies of all weights as Float32Arrays (for saving). */
  weightsToArrays(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.params) out.set(name, new Float32Array(v.dataSync() as Float32Array));
    return out;
  }

  /** Replace weights in place (shapes must match). */
  setWeights(weights: ReadonlyMap<string, Float32Array>): void {
    for (const [name, data] of weights) {
      const v = this.param(name);
      if (data.length !== v.size) throw new RangeError(`HookedTransformer.setWeights: ${name} has ${data.length} values, expected ${v.size}`);
      v.assign(tf.tensor(data, v.shape));
    }
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const a of this.adapters.byName.values()) a.dispose();
    this.unembedCache?.W_U.dispose();
    if (this.rope) for (const t of Object.values(this.rope)) t.dispose();
  }

  /** Compute attention per head and expose `blocks.L.attn.hook_result` [B, T, H, d] (TransformerLens's use_attn_result). */
  setUseAttnResult(on: boolean): void {
    this.cfg.useAttnResult = on;
    this.hookSet.clear();
    for (const n of hookNames(this.cfg)) this.hookSet.add(n);
  }

  /** Logits of residual-stream vectors: `x @ W_U`, x: [..., d] → [..., V] (no final norm; see applyLnFinal). */
  unembed(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => linear(x, this.unembedMatrix(taping())));
  }

  /**
   * The final norm (weight and bias included) applied to residual-stream vectors [..., d]: recomputed from `x`, or,
   * given `scale` ([..., 1], the divisor the norm used on the full residual stream), with that fixed scale — linear in
   * `x`, so the norms of a decomposition's components sum to the norm of the sum.
   */
  applyLnFinal(x: tf.Tensor, { scale }: { scale?: tf.Tensor } = {}): tf.Tensor {
    return tf.tidy(() => lnFinal(this.cfg, x, this.params.get("ln_final.w")!, this.params.get("ln_final.b"), scale));
  }

  /** The token strings of an input, one per id (`model.tokenizer.idToToken`), as TransformerLens's to_str_tokens. */
  toStrTokens(input: string | readonly number[], { addBos }: { addBos?: boolean } = {}): string[] {
    return strTokens(this, input, addBos);
  }

  /** The one id that `text` encodes to (no BOS); a RangeError naming the pieces when it is several tokens. */
  toSingleToken(text: string): number {
    return singleToken(this, text);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Hooks

  /** A hook that stays on every forward pass until removed: call the returned function to remove it. */
  addPermanentHook(filter: HookFilter, fn: HookFn): () => void {
    const h: ActiveHook = { pred: filterToPredicate(filter, this.hookSet, "addPermanentHook"), fn };
    this.permanentHooks.push(h);
    return () => {
      this.permanentHooks = this.permanentHooks.filter((x) => x !== h);
    };
  }

  /** Remove every permanent hook. */
  resetHooks(): void {
    this.permanentHooks = [];
  }

  /** Number of hooks attached to the model (temporary hooks never stay attached). */
  get numHooks(): number {
    return this.permanentHooks.length;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Running

  /** Logits [B, T, V] for a batch of tokens (no hooks beyond permanent ones). The caller disposes the result. */
  run(input: TokensInput): tf.Tensor3D {
    const { tokens, keyMask } = this.batchTokens(input, "run");
    try {
      return tf.tidy(() => this.forward(tokens, { keyMask }));
    } finally {
      tokens.dispose();
    }
  }

  /**
   * Run with temporary hooks: each `[filter, fn]` runs at every matching hook point and may replace the activation.
   * The hooks are gone when this returns, also when a hook throws.
   */
  runWithHooks(input: TokensInput, { fwdHooks = [] }: { fwdHooks?: readonly FwdHook[] } = {}): tf.Tensor3D {
    const { tokens, keyMask } = this.batchTokens(input, "runWithHooks");
    try {
      return tf.tidy(() => this.forward(tokens, { fwdHooks, keyMask }));
    } finally {
      tokens.dispose();
    }
  }

  /**
   * Run and record activations: `{ logits, cache }`. `namesFilter` picks hook points (default: all).
   * Dispose both when done (`logits.dispose(); cache.dispose()`).
   */
  runWithCache(
    input: TokensInput,
    { namesFilter, fwdHooks = [] }: { namesFilter?: HookFilter; fwdHooks?: readonly FwdHook[] } = {},
  ): { logits: tf.Tensor3D; cache: ActivationCache } {
    if (isChatTurns(input) || isChatBatch(input)) input = this.chatRows(input, "runWithCache");
    const routed = currentRouter()?.runWithCache(this, input, { namesFilter, fwdHooks }); // a faster runtime when possible (kit/runtime)
    if (routed) return routed;
    const { tokens, keyMask } = this.batchTokens(input, "runWithCache");
    const store = new Map<HookName, tf.Tensor>();
    try {
      const logits = tf.tidy(() => this.forward(tokens, { fwdHooks, keyMask, cacheFilter: namesFilter ?? (() => true), cacheOut: store }));
      return { logits, cache: new ActivationCache(store, this.cfg.n_layers, this) };
    } catch (e) {
      for (const t of store.values()) t.dispose();
      throw e;
    } finally {
      tokens.dispose();
    }
  }

  /** Mean next-token cross-entropy (nats) of a batch of sequences: predicts tokens[:, 1:] from tokens[:, :-1]. */
  loss(input: TokensInput, { training = false }: { training?: boolean } = {}): tf.Scalar {
    const tokens = this.toTokens(input, "loss") as tf.Tensor2D;
    const [B, T] = tokens.shape;
    if (T < 2) throw new RangeError(`loss: sequences need at least 2 tokens, received length ${T}`);
    const inputs = tokens.slice([0, 0], [B, T - 1]);
    const targets = tokens.slice([0, 1], [B, T - 1]);
    const logits = this.forward(inputs as tf.Tensor2D, { training });
    const logp = tf.logSoftmax(logits.reshape([-1, this.cfg.d_vocab])); // [B·(T-1), V]
    const onehot = tf.oneHot(targets.reshape([-1]) as tf.Tensor1D, this.cfg.d_vocab); // [B·(T-1), V]
    const loss = tf.neg(tf.mean(tf.sum(tf.mul(logp, onehot), -1))) as tf.Scalar;
    tokens.dispose();
    return loss;
  }

  /**
   * The model (kit/model/forward.ts) on TensorFlow.js. tokens: int32 [B, T]. Returns logits [B, T, V]. Not wrapped in
   * `tidy` (trainers call it inside gradient functions); public entry points wrap it.
   */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions): tf.Tensor3D {
    const cfg = this.cfg;
    const [B, T] = tokens.shape;
    const { kvCache, step = null } = opts;
    const keyMask = opts.keyMask ?? kvCache?.keyMask ?? null;
    const past = kvCache?.length ?? 0;
    const Tk = past + T;
    if (Tk > cfg.n_ctx) {
      throw new RangeError(`forward: sequence length ${Tk}${past ? ` (${past} cached + ${T} new)` : ""} exceeds n_ctx ${cfg.n_ctx}`);
    }
    // Positions: consecutive after the cache, or given per row (left-padded batches).
    const positions = opts.positions ?? this.defaultPositions(B, T, past, keyMask);
    const training = opts.training ?? false;
    const ops = tfjsOps({
      param: (name) => this.runtimeParam(name, training),
      rope: this.rope,
      hook: this.hookDispatcher(opts, step, positions),
      kvCache,
      training,
      lora: (name) => this.loraAt(name, training),
    });
    const inputs = {
      tokens,
      positions: tf.tensor2d(positions.flat(), [positions.length, T], "int32"), // [B|1, T]
      mask: this.attentionMask(B, T, past, keyMask), // [B|1, 1, T, Tk], or null: nothing masked
      windowMask: cfg.slidingWindow ? this.attentionMask(B, T, past, keyMask, cfg.slidingWindow) : null, // sliding-window layers
    };
    const logits = modelForward(cfg, ops, inputs) as tf.Tensor3D;
    if (kvCache) kvCache.length = Tk;
    return logits;
  }

  /** The live adapter at weight `name`: its tensors, scale, and (training only) dropout on its input. */
  private loraAt(name: string, training: boolean): ReturnType<NonNullable<ReturnType<typeof tfjsOps>["lora"]>> {
    const t = this.adapters.target(name);
    if (!t) return null;
    const input = training && t.dropout > 0 ? (x: tf.Tensor) => tf.dropout(x, t.dropout) : undefined;
    return { key: t.A, A: this.adapters.variable(t.A)!, B: this.adapters.variable(t.B)!, scale: t.scale, ...(input ? { input } : {}) };
  }

  /** A parameter as the definition names it: stored ones, `unembed.W_U` of a tied model, and the RoPE tables. */
  private runtimeParam(name: string, training: boolean): tf.Tensor {
    const stored = this.params.get(name);
    if (stored) return stored;
    if (name === "unembed.W_U") return this.unembedMatrix(training);
    if (this.rope && (name === "rope.cos" || name === "rope.sin")) return name === "rope.cos" ? this.rope.cos : this.rope.sin;
    throw new Error(`forward: the model has no parameter ${JSON.stringify(name)}`);
  }

  /** W_U [d, V]; for tied embeddings, W_Eᵀ, cached between calls unless a gradient tape records (then inside it). */
  private unembedMatrix(training: boolean): tf.Tensor {
    if (!this.cfg.tiedEmbeddings) return this.params.get("unembed.W_U")!;
    const W_E = this.params.get("embed.W_E")!;
    if (training || taping()) return tf.transpose(W_E);
    const dataId = (W_E as unknown as { dataId: object }).dataId;
    if (this.unembedCache?.dataId !== dataId) {
      this.unembedCache?.W_U.dispose();
      this.unembedCache = { dataId, W_U: tf.keep(tf.tidy(() => tf.transpose(W_E))) };
    }
    return this.unembedCache.W_U;
  }

  private defaultPositions(B: number, T: number, past: number, keyMask: readonly (readonly number[])[] | null): number[][] {
    if (!keyMask) return [Array.from({ length: T }, (_, i) => past + i)];
    return keyMask.map((row) => {
      const pads = row.slice(0, past + T).findIndex((v) => v === 1);
      const shift = pads < 0 ? 0 : pads;
      return Array.from({ length: T }, (_, i) => Math.max(0, past + i - shift));
    });
  }

  /**
   * Additive mask [B|1, 1, T, Tk]: 0 where query i may attend key j (causal, not padding, and within `window` keys of
   * the query when given), -∞ elsewhere; null when nothing is masked (one new token, no padding, no key out of window).
   */
  private attentionMask(B: number, T: number, past: number, keyMask: readonly (readonly number[])[] | null, window = Infinity): tf.Tensor | null {
    const Tk = past + T;
    if (T === 1 && Tk <= window && (!keyMask || keyMask.every((row) => row.every((v) => v === 1)))) return null;
    const rows = keyMask ? B : 1;
    const data = new Float32Array(rows * T * Tk);
    for (let b = 0; b < rows; b++) {
      for (let i = 0; i < T; i++) {
        const qi = past + i;
        for (let j = 0; j < Tk; j++) {
          const visible = j <= qi && j > qi - window && (!keyMask || keyMask[b][j] === 1 || j === qi);
          data[(b * T + i) * Tk + j] = visible ? 0 : -Infinity;
        }
      }
    }
    return tf.tensor4d(data, [rows, 1, T, Tk]);
  }

  /** The function the forward pass calls at each hook point: runs hooks and steering, records the cache. */
  private hookDispatcher(opts: ForwardOptions, step: number | null, positions: readonly (readonly number[])[]): (name: HookName, act: tf.Tensor) => tf.Tensor {
    const steers: Steering[] = [];
    const temp: ActiveHook[] = [];
    for (const h of opts.fwdHooks ?? []) {
      if (isSteering(h)) {
        checkHookName(h.hook, this.hookSet, "runWithHooks");
        steers.push(h);
      } else temp.push({ pred: filterToPredicate(h[0], this.hookSet, "runWithHooks"), fn: h[1] });
    }
    const hooks = [...this.permanentHooks, ...temp];
    const cachePred = opts.cacheFilter !== undefined ? filterToPredicate(opts.cacheFilter, this.hookSet, "runWithCache") : null;
    const cacheOut = opts.cacheOut;
    if (hooks.length === 0 && steers.length === 0 && !cachePred) return (_name, act) => act;
    return (name, act) => {
      let out = act;
      for (const h of hooks) {
        if (!h.pred(name)) continue;
        const point: HookPoint = { name, layer: layerOf(name), step };
        const r = h.fn(out, point);
        if (r !== undefined && r !== null) {
          if (!(r instanceof tf.Tensor)) throw new TypeError(`hook at ${name}: a hook must return a tf.Tensor or nothing, received ${typeof r}`);
          if (!sameShape(r.shape, out.shape)) {
            throw new RangeError(`hook at ${name}: returned shape [${r.shape}] differs from the activation's [${out.shape}]`);
          }
          out = r;
        }
      }
      const here = steers.filter((s) => s.hook === name);
      if (here.length) out = this.applySteering(name, out, here, positions);
      if (cachePred && cacheOut && cachePred(name)) cacheOut.set(name, tf.keep(out.clone()));
      return out;
    };
  }

  /** `act + Σ vectors` at the steered positions. */
  private applySteering(name: HookName, act: tf.Tensor, steers: readonly Steering[], positions: readonly (readonly number[])[]): tf.Tensor {
    const d = hookLastDim(this.cfg, name);
    const last = act.shape[act.rank - 1];
    if (d < 0) throw new RangeError(`steering at ${name}: cannot steer a hook whose last axis is the key position`);
    for (const s of steers) {
      if (s.vector.length !== last) throw new RangeError(`steeringHook: vector has ${s.vector.length} values but ${name} has last dimension ${last} (shape [${act.shape}])`);
    }
    const delta = steeringDelta(steers, act.rank === 4 ? 4 : 3, d, positions);
    return tf.add(act, tf.tensor(delta.data, delta.dims));
  }

  /** Tokens of a possibly ragged batch, left-padded (kit/model/batch.ts), with its key mask (null when unpadded). */
  private batchTokens(input: TokensInput, where: string): { tokens: tf.Tensor2D; keyMask: number[][] | null } {
    if (input instanceof tf.Tensor) return { tokens: this.toTokens(input, where), keyMask: null };
    const b = padBatch(this, input, where);
    return { tokens: tf.tensor2d(b.rows.flat(), [b.rows.length, b.rows[0].length], "int32"), keyMask: b.keyMask };
  }

  /** Normalise any accepted token input into an int32 [B, T] tensor (owned by the caller). */
  toTokens(input: TokensInput, where = "toTokens"): tf.Tensor2D {
    if (input instanceof tf.Tensor) {
      if (input.rank === 1) return tf.cast(input.reshape([1, -1]), "int32") as tf.Tensor2D;
      if (input.rank === 2) return tf.cast(input, "int32") as tf.Tensor2D;
      throw new RangeError(`${where}: tokens tensor must have rank 1 or 2, received shape [${input.shape}]`);
    }
    let rows: (readonly number[])[];
    if (isChatTurns(input) || isChatBatch(input)) rows = this.chatRows(input, where);
    else if (typeof input === "string") rows = [this.encode(input, where)];
    else if (Array.isArray(input) && input.length > 0 && typeof input[0] === "string") rows = this.encodeAll(input as string[], where);
    else if (Array.isArray(input) && input.length > 0 && Array.isArray(input[0])) rows = input as number[][];
    else if (Array.isArray(input)) rows = [input as number[]];
    else throw new TypeError(`${where}: tokens must be a string, string[], number[], number[][] or tf.Tensor, received ${typeof input}`);
    if (rows.length === 0 || rows[0].length === 0) throw new RangeError(`${where}: tokens are empty`);
    const T = rows[0].length;
    for (const [i, r] of rows.entries()) {
      if (r.length !== T) throw new RangeError(`${where}: all sequences must have the same length (row 0 has ${T}, row ${i} has ${r.length}); use generate() for ragged batches`);
      for (const id of r) {
        if (!Number.isInteger(id) || id < 0 || id >= this.cfg.d_vocab) throw new RangeError(`${where}: token id must be an integer in [0, ${this.cfg.d_vocab}), received ${id} in row ${i}`);
      }
    }
    return tf.tensor2d(rows.flat() as number[], [rows.length, T], "int32");
  }

  /** Encode text with the model's tokenizer (BOS prepended when the tokenizer has one); warns when any token is `<unk>`. */
  encode(text: string, where = "encode"): number[] {
    return this.encodeAll([text], where)[0];
  }

  /** Encode several texts, with one `<unk>` warning for all of them. */
  encodeAll(texts: readonly string[], where = "encode"): number[][] {
    if (!this.tokenizer) throw new Error(`${where}: this model has no tokenizer; pass token ids, or load the model with a tokenizer`);
    const rows = texts.map((t) => this.tokenizer!.encode(t));
    warnUnknownTokens(where, this.tokenizer, rows, texts);
    return rows;
  }

  /** Token rows of one conversation or several (the model's chat template), with one `<unk>` warning. */
  private chatRows(input: readonly ChatTurn[] | readonly (readonly ChatTurn[])[], where: string): number[][] {
    const convs = isChatTurns(input) ? [input] : (input as readonly (readonly ChatTurn[])[]);
    const rows = convs.map((c) => encodeChat(this, c, where));
    warnUnknownTokens(where, this.tokenizer, rows, convs.map((c) => c[c.length - 1].content));
    return rows;
  }
}

function layerOf(name: string): number | null {
  if (!name.startsWith("blocks.")) return null;
  return Number(name.slice(7, name.indexOf(".", 7)));
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
