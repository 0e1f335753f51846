/**
 * The model: one decoder-only transformer for the GPT-2 and Llama families (and the Llama variants Qwen3, OLMo 2,
 * Phi-3, Gemma 2 through the optional config fields of kit/model/config.ts), written once against a small op
 * interface (`ForwardOps`). Every runtime derives from this definition and none restates it:
 * - `kit/model/tfjs-ops.ts` runs it eagerly on TensorFlow.js (autograd, JS hooks): the reference path;
 * - `kit/onnx/graph.ts` records it into an ONNX graph (hook points as outputs, steering vectors as inputs, a KV-cache
 *   decoding graph), which ONNX Runtime runs, and `kit/onnx/autodiff.ts` differentiates for training.
 *
 * Read `forward` top to bottom: it is the whole model. Shapes use B = batch, T = new positions, Tk = key positions
 * (past + new), H = n_heads, K = n_key_value_heads, G = H / K, dh = d_head, d = d_model, m = d_mlp, V = d_vocab.
 * `reshape` follows ONNX: a 0 keeps the input's size on that axis, -1 infers it, so the definition holds for any B, T.
 */
import { isSlidingLayer, type ModelConfig } from "./config";
import type { BlockHookName, HookName } from "./hooks";

export type Activation = ModelConfig["actFn"];

/** The operations the model is written with. `V` is the runtime's value (a tf.Tensor, an ONNX value name). */
export interface ForwardOps<V> {
  /** A parameter by name (`blocks.0.attn.W_Q`); `unembed.W_U` of a tied model is `embed.W_E`ᵀ; `rope.cos|sin|R`. */
  param(name: string): V;
  /** Rows of `table` [n, d] at integer `ids` [...] → [..., d]. */
  embed(table: V, ids: V): V;
  /** `x @ W (+ b)` over the last axis: [..., in] × [in, out] → [..., out]. */
  linear(x: V, W: V, b?: V): V;
  add(a: V, b: V): V;
  mul(a: V, b: V): V;
  scale(a: V, s: number): V;
  tanh(x: V): V;
  /** `hook(normalize(x)) · (offset + w) (+ b)` over the last axis, LayerNorm ("layer") or RMSNorm ("rms"); no hook point when `hook` is absent. */
  norm(x: V, o: { kind: "layer" | "rms"; w: V; b?: V; eps: number; hook?: HookName; offset?: number }): V;
  activation(name: Activation, x: V): V;
  reshape(x: V, shape: readonly number[]): V;
  transpose(x: V, perm: readonly number[]): V;
  /** Batched product over leading axes: [..., M, K] @ [..., K, P] (or [..., P, K]ᵀ with transposeB) → [..., M, P]. */
  bmm(a: V, b: V, o?: { transposeB?: boolean }): V;
  /** Sum over one axis (dropped): [..., n, ...] → [..., ...]. */
  sum(x: V, axis: number): V;
  /** Each head through its own rows of W: z [B, T, H, dh] × W [H·dh, d] → [B, T, H, d] (per-head outputs). */
  perHead(z: V, W: V, heads: number): V;
  /** Softmax over the last axis. */
  softmax(x: V): V;
  /** RoPE: `x·cos + (x @ R)·sin`, x: [B, T, heads, dh], cos/sin: [B|1, T, 1, dh]. */
  rope(x: V, cos: V, sin: V): V;
  /** A hook point: hooks, steering and caching happen here; returns the (possibly replaced) activation. */
  hook(name: HookName, x: V): V;
  /** Append this step's keys and values ([B, K, T, dh]) to layer l's cache; returns all of them ([B, K, Tk, dh]). */
  kv(layer: number, k: V, v: V): { k: V; v: V };
  /** Run one block's worth of ops (a runtime may free its intermediates when it returns). */
  block(fn: () => V): V;
  /**
   * The LoRA adapter on weight `name` (kit/model/lora.ts), or null: `key` names its A (shared by a fused module's
   * weights), `input` applies its dropout (training only). Optional: a runtime without adapters leaves it out.
   */
  lora?(name: string): { key: string; A: V; B: V; scale: number; input?: (x: V) => V } | null;
}

/** What a runtime prepares before the model runs: token ids, their positions and the attention mask. */
export interface ForwardInputs<V> {
  /** int [B, T]. */
  tokens: V;
  /** int [B|1, T]: each token's position (shifted past left padding). */
  positions: V;
  /** Additive [B|1, 1, T, Tk]: 0 where query i may see key j, -∞ elsewhere; null when nothing is masked. */
  mask: V | null;
  /** The same for sliding-window layers (keys older than `cfg.slidingWindow` hidden too); absent without a window. */
  windowMask?: V | null;
}

const blockHook = (l: number, h: BlockHookName): HookName => `blocks.${l}.${h}`;

/** The model. Returns logits [B, T, V]. */
export function forward<V>(cfg: ModelConfig, ops: ForwardOps<V>, { tokens, positions, mask, windowMask = null }: ForwardInputs<V>): V {
  const { n_heads: H, n_key_value_heads: K, d_head: dh } = cfg;
  const llama = cfg.family === "llama";
  const placement = cfg.normPlacement ?? "pre";
  const [preNorm, postNorm] = [placement !== "post", placement !== "pre"];
  const p = (name: string) => ops.param(name);
  const bias = (on: boolean, name: string) => (on ? p(name) : undefined);
  // `x @ W (+ b)`, plus the LoRA update scale · (dropout(x) @ A) @ B when an adapter targets W; x @ A is computed once
  // per input for the weights of a fused module (GPT-2's c_attn) that share A.
  const down = new Map<string, { x: V; u: V }>();
  const withLora = (y: V, x: V, W: string): V => {
    const a = ops.lora?.(W);
    if (!a) return y;
    let hit = down.get(a.key);
    if (!hit || hit.x !== x) down.set(a.key, (hit = { x, u: ops.linear(a.input ? a.input(x) : x, a.A) })); // [B, T, r]
    return ops.add(y, ops.scale(ops.linear(hit.u, a.B), a.scale));
  };
  const linear = (x: V, W: string, b?: V): V => withLora(ops.linear(x, p(W), b), x, W);
  const offset = cfg.normOffset || undefined;
  const norm = (x: V, prefix: string, hook?: HookName) =>
    ops.norm(x, { kind: llama ? "rms" : "layer", w: p(`${prefix}.w`), b: llama ? undefined : p(`${prefix}.b`), eps: cfg.normEps, hook, offset });
  const softcap = (x: V, cap: number | null | undefined) => (cap ? ops.scale(ops.tanh(ops.scale(x, 1 / cap)), cap) : x);

  // Embedding (Gemma scales it by √d).
  const emb = ops.embed(p("embed.W_E"), tokens);
  let x = ops.hook("hook_embed", cfg.embedScale ? ops.scale(emb, cfg.embedScale) : emb); // [B, T, d]
  if (!llama) x = ops.add(x, ops.hook("hook_pos_embed", ops.embed(p("pos_embed.W_pos"), positions))); // [B, T, d]

  // RoPE cos/sin at each token's position.
  const cos = llama ? ops.reshape(ops.embed(p("rope.cos"), positions), [0, 0, 1, dh]) : null; // [B|1, T, 1, dh]
  const sin = llama ? ops.reshape(ops.embed(p("rope.sin"), positions), [0, 0, 1, dh]) : null; // [B|1, T, 1, dh]

  // Opt-in per-head outputs (TransformerLens's use_attn_result): the output projection head by head, then summed.
  const attnFromResult = (l: number, z: V): V => {
    const pre = `blocks.${l}.`;
    const result = ops.hook(blockHook(l, "attn.hook_result"), ops.perHead(z, p(pre + "attn.W_O"), H)); // [B, T, H, d]
    const summed = ops.sum(result, 2); // [B, T, d]
    const out = cfg.attnOutBias ? ops.add(summed, p(pre + "attn.b_O")) : summed;
    return withLora(out, ops.reshape(z, [0, 0, H * dh]), pre + "attn.W_O"); // an adapter on W_O adds after the per-head sum
  };

  const block = (l: number, x: V): V => {
    const pre = `blocks.${l}.`;
    const hk = (h: BlockHookName, v: V) => ops.hook(blockHook(l, h), v);
    x = hk("hook_resid_pre", x); // [B, T, d]

    // --- Attention ---
    const a = preNorm ? norm(x, pre + "ln1", blockHook(l, "ln1.hook_normalized")) : x; // [B, T, d]
    // Queries and keys, optionally RMS-normed over the whole projection (OLMo 2) or head by head (Qwen3, Gemma 3).
    const qk = (W: string, b: string, n: string, heads: number): V => {
      let y = linear(a, pre + W, bias(cfg.attnBias, pre + b)); // [B, T, heads·dh]
      if (cfg.qkNorm === "full") y = norm(y, pre + n);
      y = ops.reshape(y, [0, 0, heads, dh]); // [B, T, heads, dh]
      return cfg.qkNorm === "head" ? norm(y, pre + n) : y;
    };
    let q = hk("attn.hook_q", qk("attn.W_Q", "attn.b_Q", "attn.q_norm", H)); // [B, T, H, dh]
    let k = hk("attn.hook_k", qk("attn.W_K", "attn.b_K", "attn.k_norm", K)); // [B, T, K, dh]
    const v = hk("attn.hook_v", ops.reshape(linear(a, pre + "attn.W_V", bias(cfg.attnBias, pre + "attn.b_V")), [0, 0, K, dh])); // [B, T, K, dh]
    if (llama) {
      q = hk("attn.hook_rot_q", ops.rope(q, cos!, sin!)); // [B, T, H, dh]
      k = hk("attn.hook_rot_k", ops.rope(k, cos!, sin!)); // [B, T, K, dh]
    }
    const kv = ops.kv(l, ops.transpose(k, [0, 2, 1, 3]), ops.transpose(v, [0, 2, 1, 3])); // [B, K, Tk, dh] each
    // Query heads sharing a key/value head are laid side by side on the query axis: one batched product per group.
    const qg = ops.reshape(ops.transpose(q, [0, 2, 1, 3]), [0, K, -1, dh]); // [B, K, G·T, dh]
    const raw = ops.reshape(ops.bmm(qg, kv.k, { transposeB: true }), [0, H, -1, 0]); // [B, H, T, Tk]
    const scaled = softcap(ops.scale(raw, cfg.attnScale ?? 1 / Math.sqrt(dh)), cfg.attnSoftcap);
    const m = isSlidingLayer(cfg, l) ? windowMask : mask;
    const scores = hk("attn.hook_attn_scores", m ? ops.add(scaled, m) : scaled); // [B, H, T, Tk]
    const pattern = hk("attn.hook_pattern", ops.softmax(scores)); // [B, H, T, Tk]
    const zg = ops.bmm(ops.reshape(pattern, [0, K, -1, 0]), kv.v); // [B, K, G·T, dh]
    const z = hk("attn.hook_z", ops.transpose(ops.reshape(zg, [0, H, -1, dh]), [0, 2, 1, 3])); // [B, T, H, dh]
    const attnRaw = cfg.useAttnResult ? attnFromResult(l, z) : linear(ops.reshape(z, [0, 0, H * dh]), pre + "attn.W_O", bias(cfg.attnOutBias, pre + "attn.b_O")); // [B, T, d]
    const attnOut = hk("hook_attn_out", postNorm ? norm(attnRaw, pre + "ln1_post", blockHook(l, "ln1_post.hook_normalized")) : attnRaw); // [B, T, d]
    x = hk("hook_resid_mid", ops.add(x, attnOut)); // [B, T, d]

    // --- MLP ---
    const mIn = preNorm ? norm(x, pre + "ln2", blockHook(l, "ln2.hook_normalized")) : x; // [B, T, d]
    let post: V; // [B, T, m]
    if (llama) {
      const gate = hk("mlp.hook_pre", linear(mIn, pre + "mlp.W_gate")); // [B, T, m]
      const up = hk("mlp.hook_pre_linear", linear(mIn, pre + "mlp.W_in", bias(cfg.mlpBias, pre + "mlp.b_in"))); // [B, T, m]
      post = hk("mlp.hook_post", ops.mul(ops.activation(cfg.actFn, gate), up));
    } else {
      const preAct = hk("mlp.hook_pre", linear(mIn, pre + "mlp.W_in", bias(cfg.mlpBias, pre + "mlp.b_in"))); // [B, T, m]
      post = hk("mlp.hook_post", ops.activation(cfg.actFn, preAct));
    }
    const mlpRaw = linear(post, pre + "mlp.W_out", bias(cfg.mlpBias, pre + "mlp.b_out")); // [B, T, d]
    const mlpOut = hk("hook_mlp_out", postNorm ? norm(mlpRaw, pre + "ln2_post", blockHook(l, "ln2_post.hook_normalized")) : mlpRaw); // [B, T, d]
    return hk("hook_resid_post", ops.add(x, mlpOut)); // [B, T, d]
  };

  for (let l = 0; l < cfg.n_layers; l++) {
    const xIn = x;
    x = ops.block(() => block(l, xIn));
  }

  // Final norm and unembedding.
  const xf = norm(x, "ln_final", "ln_final.hook_normalized"); // [B, T, d]
  return softcap(ops.linear(xf, p("unembed.W_U")), cfg.finalSoftcap); // [B, T, V]
}
