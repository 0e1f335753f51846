/**
 * HookedTransformer: one decoder-only transformer for the GPT-2 and Llama families, with TransformerLens hook
 * points at every activation, a KV cache for generation, and tfjs autograd for training.
 *
 * Read `forward` top to bottom: it is the whole model. Shapes use B = batch, T = new positions, Tk = key positions
 * (past + new), H = n_heads, K = n_key_value_heads, G = H / K, dh = d_head, d = d_model, m = d_mlp, V = d_vocab.
 */
import { tf } from "../backend";
import type { Tokenizer } from "../tokenizers/types";
import { ActivationCache } from "./cache";
import { makeConfig, validateConfig, type ModelConfig, type ModelConfigInput } from "./config";
import {
  blockHookNames,
  filterToPredicate,
  hookNames,
  type BlockHookName,
  type FwdHook,
  type HookFilter,
  type HookFn,
  type HookName,
  type HookPoint,
} from "./hooks";
import { activation, applyRope, batchMatMul, embedLookup, taping, layerNormalize, linear, rmsNormalize, ropeTables, type RopeTables } from "./ops";
import { countParams, initParams, paramShapes } from "./params";
import { routedRunWithCache, routeToOnnx } from "../onnx/route";

/** Keys and values of past positions, per layer. kT: [B, K, dh, Tk] (pre-transposed), v: [B, K, Tk, dh]. */
export interface KVLayer {
  kT: tf.Tensor;
  v: tf.Tensor;
}

/** The KV cache of a generation in progress. `keyMask[b][j]` is 0 for left-padding positions, 1 otherwise. */
export class KVCache {
  layers: KVLayer[] = [];
  length = 0;
  keyMask: number[][] | null;
  constructor(keyMask: number[][] | null = null) {
    this.keyMask = keyMask;
  }
  dispose(): void {
    for (const l of this.layers) {
      l.kT.dispose();
      l.v.dispose();
    }
    this.layers = [];
    this.length = 0;
  }
}

/** Anything that can stand for a batch of token ids. */
export type TokensInput = tf.Tensor | readonly number[] | readonly (readonly number[])[] | string | readonly string[];

export interface ForwardOptions {
  /** Past keys/values; the new ones are appended to it (generation). */
  kvCache?: KVCache;
  /** Per-token positions [B][T]; default: consecutive after the cache, shifted past left padding. */
  positions?: number[][];
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
  private readonly id = ++modelCounter;
  private readonly rope: RopeTables | null;
  private readonly hookSet: Set<string>;
  private readonly blockNames: Record<BlockHookName, HookName>[];
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
    const blockHooks = blockHookNames(this.cfg);
    this.blockNames = Array.from({ length: this.cfg.n_layers }, (_, l) => {
      const rec = {} as Record<BlockHookName, HookName>;
      for (const h of blockHooks) rec[h] = `blocks.${l}.${h}`;
      return rec;
    });
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
    this.unembedCache?.W_U.dispose();
    if (this.rope) for (const t of Object.values(this.rope)) t.dispose();
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
    const tokens = this.toTokens(input, "run");
    try {
      return tf.tidy(() => this.forward(tokens, {}));
    } finally {
      tokens.dispose();
    }
  }

  /**
   * Run with temporary hooks: each `[filter, fn]` runs at every matching hook point and may replace the activation.
   * The hooks are gone when this returns, also when a hook throws.
   */
  runWithHooks(input: TokensInput, { fwdHooks = [] }: { fwdHooks?: readonly FwdHook[] } = {}): tf.Tensor3D {
    const tokens = this.toTokens(input, "runWithHooks");
    try {
      return tf.tidy(() => this.forward(tokens, { fwdHooks }));
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
    if (routeToOnnx(this, fwdHooks, "runWithCache")) return routedRunWithCache(this, input, { namesFilter, fwdHooks }); // ONNX Runtime when possible (kit/onnx/route.ts)
    const tokens = this.toTokens(input, "runWithCache");
    const store = new Map<HookName, tf.Tensor>();
    try {
      const logits = tf.tidy(() => this.forward(tokens, { fwdHooks, cacheFilter: namesFilter ?? (() => true), cacheOut: store }));
      return { logits, cache: new ActivationCache(store, this.cfg.n_layers) };
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
   * The model. tokens: int32 [B, T]. Returns logits [B, T, V]. Not wrapped in `tidy` (trainers call it inside
   * gradient functions); public entry points wrap it.
   */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions): tf.Tensor3D {
    const cfg = this.cfg;
    const [B, T] = tokens.shape;
    const { kvCache, step = null } = opts;
    const past = kvCache?.length ?? 0;
    const Tk = past + T;
    if (Tk > cfg.n_ctx) {
      throw new RangeError(`forward: sequence length ${Tk}${past ? ` (${past} cached + ${T} new)` : ""} exceeds n_ctx ${cfg.n_ctx}`);
    }
    const H = cfg.n_heads;
    const K = cfg.n_key_value_heads;
    const G = H / K;
    const dh = cfg.d_head;
    const hk = this.hookDispatcher(opts, step);
    const p = (name: string) => this.params.get(name)!;
    const norm = (x: tf.Tensor, prefix: string, hookName: HookName): tf.Tensor => {
      const normalized = hk(hookName, cfg.family === "gpt2" ? layerNormalize(x, cfg.normEps) : rmsNormalize(x, cfg.normEps));
      const scaled = tf.mul(normalized, p(prefix + ".w"));
      return cfg.family === "gpt2" ? tf.add(scaled, p(prefix + ".b")) : scaled;
    };

    // Positions: consecutive after the cache, or given per row (left-padded batches).
    const positions = opts.positions ?? this.defaultPositions(B, T, past, kvCache?.keyMask ?? null);
    const posTensor = tf.tensor2d(positions.flat(), [positions.length, T], "int32"); // [B|1, T]

    // Embedding.
    let x = hk("hook_embed", embedLookup(p("embed.W_E"), tokens)); // [B, T, d]
    if (cfg.family === "gpt2") {
      const pos = hk("hook_pos_embed", embedLookup(p("pos_embed.W_pos"), posTensor)); // [B|1, T, d]
      x = tf.add(x, pos); // [B, T, d]
    }

    // RoPE cos/sin at each token's position, and the additive attention mask.
    let cos: tf.Tensor | null = null;
    let sin: tf.Tensor | null = null;
    if (this.rope) {
      const flatPos = posTensor.reshape([-1]);
      cos = tf.gather(this.rope.cos, flatPos).reshape([positions.length, T, 1, dh]); // [B|1, T, 1, dh]
      sin = tf.gather(this.rope.sin, flatPos).reshape([positions.length, T, 1, dh]); // [B|1, T, 1, dh]
    }
    const mask = this.attentionMask(B, T, past, kvCache?.keyMask ?? null); // [B|1, 1, T, Tk], or null: nothing masked
    const scale = 1 / Math.sqrt(dh);

    const block = (l: number, x: tf.Tensor): tf.Tensor => {
      const n = this.blockNames[l];
      const pre = `blocks.${l}.`;
      x = hk(n.hook_resid_pre, x); // [B, T, d]

      // --- Attention ---
      const a = norm(x, pre + "ln1", n["ln1.hook_normalized"]); // [B, T, d]
      let q = hk(n["attn.hook_q"], linear(a, p(pre + "attn.W_Q"), cfg.attnBias ? p(pre + "attn.b_Q") : undefined).reshape([B, T, H, dh]));
      let k = hk(n["attn.hook_k"], linear(a, p(pre + "attn.W_K"), cfg.attnBias ? p(pre + "attn.b_K") : undefined).reshape([B, T, K, dh]));
      const v = hk(n["attn.hook_v"], linear(a, p(pre + "attn.W_V"), cfg.attnBias ? p(pre + "attn.b_V") : undefined).reshape([B, T, K, dh]));
      if (this.rope) {
        q = hk(n["attn.hook_rot_q"], applyRope(q, cos!, sin!, this.rope)); // [B, T, H, dh]
        k = hk(n["attn.hook_rot_k"], applyRope(k, cos!, sin!, this.rope)); // [B, T, K, dh]
      }
      let kT = tf.transpose(k, [0, 2, 3, 1]); // [B, K, dh, T]
      let vh = tf.transpose(v, [0, 2, 1, 3]); // [B, K, T, dh]
      if (kvCache) {
        const prev = kvCache.layers[l];
        if (prev) {
          kT = tf.concat([prev.kT, kT], 3); // [B, K, dh, Tk]
          vh = tf.concat([prev.v, vh], 2); // [B, K, Tk, dh]
          prev.kT.dispose();
          prev.v.dispose();
        }
        kvCache.layers[l] = { kT: tf.keep(kT), v: tf.keep(vh) };
      }
      // Query heads sharing a key/value head are laid side by side on the query axis: one batched matMul per group.
      const qg = tf.transpose(q, [0, 2, 1, 3]).reshape([B, K, G * T, dh]); // [B, K, G·T, dh]
      const rawScores = batchMatMul(qg, kT).reshape([B, H, T, Tk]); // [B, H, T, Tk]
      const scaled = tf.mul(rawScores, scale);
      const scores = hk(n["attn.hook_attn_scores"], mask ? tf.add(scaled, mask) : scaled); // [B, H, T, Tk]
      const pattern = hk(n["attn.hook_pattern"], tf.softmax(scores)); // [B, H, T, Tk]
      const zg = batchMatMul(pattern.reshape([B, K, G * T, Tk]), vh); // [B, K, G·T, dh]
      const z = hk(n["attn.hook_z"], tf.transpose(zg.reshape([B, H, T, dh]), [0, 2, 1, 3])); // [B, T, H, dh]
      const attnOut = hk(n.hook_attn_out, linear(z.reshape([B, T, H * dh]), p(pre + "attn.W_O"), cfg.attnOutBias ? p(pre + "attn.b_O") : undefined)); // [B, T, d]
      x = hk(n.hook_resid_mid, tf.add(x, attnOut)); // [B, T, d]

      // --- MLP ---
      const m = norm(x, pre + "ln2", n["ln2.hook_normalized"]); // [B, T, d]
      let post: tf.Tensor; // [B, T, m]
      if (cfg.family === "llama") {
        const gate = hk(n["mlp.hook_pre"], linear(m, p(pre + "mlp.W_gate"))); // [B, T, m]
        const up = hk(n["mlp.hook_pre_linear"], linear(m, p(pre + "mlp.W_in"), cfg.mlpBias ? p(pre + "mlp.b_in") : undefined)); // [B, T, m]
        post = hk(n["mlp.hook_post"], tf.mul(activation(cfg.actFn, gate), up));
      } else {
        const preAct = hk(n["mlp.hook_pre"], linear(m, p(pre + "mlp.W_in"), cfg.mlpBias ? p(pre + "mlp.b_in") : undefined)); // [B, T, m]
        post = hk(n["mlp.hook_post"], activation(cfg.actFn, preAct));
      }
      const mlpOut = hk(n.hook_mlp_out, linear(post, p(pre + "mlp.W_out"), cfg.mlpBias ? p(pre + "mlp.b_out") : undefined)); // [B, T, d]
      return hk(n.hook_resid_post, tf.add(x, mlpOut)); // [B, T, d]
    };

    for (let l = 0; l < cfg.n_layers; l++) {
      // Outside training, each block's intermediates are freed as soon as the block is done (peak memory).
      x = opts.training ? block(l, x) : tf.tidy(() => block(l, x));
    }
    if (kvCache) kvCache.length = Tk;

    // Final norm and unembedding.
    const xf = norm(x, "ln_final", "ln_final.hook_normalized"); // [B, T, d]
    return linear(xf, this.unembedMatrix(opts.training ?? false)) as tf.Tensor3D; // [B, T, V]
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

  private defaultPositions(B: number, T: number, past: number, keyMask: number[][] | null): number[][] {
    if (!keyMask) return [Array.from({ length: T }, (_, i) => past + i)];
    return keyMask.map((row) => {
      const pads = row.slice(0, past + T).findIndex((v) => v === 1);
      const shift = pads < 0 ? 0 : pads;
      return Array.from({ length: T }, (_, i) => Math.max(0, past + i - shift));
    });
  }

  /**
   * Additive mask [B|1, 1, T, Tk]: 0 where query i may attend key j (causal, not padding), -∞ elsewhere; null when
   * nothing is masked (one new token and no padding).
   */
  private attentionMask(B: number, T: number, past: number, keyMask: number[][] | null): tf.Tensor | null {
    const Tk = past + T;
    if (T === 1 && (!keyMask || keyMask.every((row) => row.every((v) => v === 1)))) return null;
    const rows = keyMask ? B : 1;
    const data = new Float32Array(rows * T * Tk);
    for (let b = 0; b < rows; b++) {
      for (let i = 0; i < T; i++) {
        const qi = past + i;
        for (let j = 0; j < Tk; j++) {
          const visible = j <= qi && (!keyMask || keyMask[b][j] === 1 || j === qi);
          data[(b * T + i) * Tk + j] = visible ? 0 : -Infinity;
        }
      }
    }
    return tf.tensor4d(data, [rows, 1, T, Tk]);
  }

  /** The function the forward pass calls at each hook point: runs hooks, records the cache. */
  private hookDispatcher(opts: ForwardOptions, step: number | null): (name: HookName, act: tf.Tensor) => tf.Tensor {
    const temp: ActiveHook[] = (opts.fwdHooks ?? []).map(([filter, fn]) => ({ pred: filterToPredicate(filter, this.hookSet, "runWithHooks"), fn }));
    const hooks = [...this.permanentHooks, ...temp];
    const cachePred = opts.cacheFilter !== undefined ? filterToPredicate(opts.cacheFilter, this.hookSet, "runWithCache") : null;
    const cacheOut = opts.cacheOut;
    if (hooks.length === 0 && !cachePred) return (_name, act) => act;
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
      if (cachePred && cacheOut && cachePred(name)) cacheOut.set(name, tf.keep(out.clone()));
      return out;
    };
  }

  /** Normalise any accepted token input into an int32 [B, T] tensor (owned by the caller). */
  toTokens(input: TokensInput, where = "toTokens"): tf.Tensor2D {
    if (input instanceof tf.Tensor) {
      if (input.rank === 1) return tf.cast(input.reshape([1, -1]), "int32") as tf.Tensor2D;
      if (input.rank === 2) return tf.cast(input, "int32") as tf.Tensor2D;
      throw new RangeError(`${where}: tokens tensor must have rank 1 or 2, received shape [${input.shape}]`);
    }
    let rows: (readonly number[])[];
    if (typeof input === "string") rows = [this.encode(input, where)];
    else if (Array.isArray(input) && input.length > 0 && typeof input[0] === "string") rows = (input as string[]).map((s) => this.encode(s, where));
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

  /** Encode text with the model's tokenizer (BOS prepended when the tokenizer has one). */
  encode(text: string, where = "encode"): number[] {
    if (!this.tokenizer) throw new Error(`${where}: this model has no tokenizer; pass token ids, or load the model with a tokenizer`);
    return this.tokenizer.encode(text);
  }
}

function layerOf(name: string): number | null {
  if (!name.startsWith("blocks.")) return null;
  return Number(name.slice(7, name.indexOf(".", 7)));
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
