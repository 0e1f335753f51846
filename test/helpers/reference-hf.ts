/**
 * An independent float64 reference of the Llama-like Hugging Face decoders (Llama, Qwen2, Qwen3, OLMo 2, Phi-3,
 * Gemma 2), written in plain JS from the published architectures (the papers and Hugging Face's modeling_*.py), reading
 * the checkpoint's own config keys and tensor names. It shares no code with the kit: one sequence, no cache, every
 * position recomputed, loops over arrays.
 *
 * `faults` break one feature on purpose (negative controls): a test that still passes with a fault could not catch it.
 */

type Json = Record<string, unknown>;
type Vec = Float64Array<ArrayBufferLike>;
/** Tensors by Hugging Face name, row-major, Linear weights [out, in]. */
export type HfWeights = ReadonlyMap<string, Float32Array>;

export interface ReferenceFaults {
  /** Ignore attn_logit_softcapping and final_logit_softcapping. */
  noSoftcap?: boolean;
  /** Put OLMo 2's post-norms before the sublayer instead of after it (the Llama placement). */
  preNormInsteadOfPost?: boolean;
  /** Skip Gemma 2's post-norms (pre-norms only). */
  noPostNorm?: boolean;
  /** Skip the q/k norms. */
  noQkNorm?: boolean;
  /** Full causal attention on every layer. */
  noSlidingWindow?: boolean;
  /** Gemma norms as w instead of (1 + w). */
  noNormOffset?: boolean;
  /** Split Phi-3's fused gate_up_proj as (up, gate) instead of (gate, up). */
  swapGateUp?: boolean;
}

/** y = W x for a [out, in] matrix (optionally a row block [rowStart, rowStart + rows)). */
function matvec(W: Float32Array, x: Vec, rows: number, rowStart = 0): Vec {
  const n = x.length;
  const y = new Float64Array(rows);
  for (let o = 0; o < rows; o++) {
    let s = 0;
    const base = (rowStart + o) * n;
    for (let i = 0; i < n; i++) s += W[base + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rmsNorm(x: Vec, w: Float32Array, eps: number, offset: number): Vec {
  let ms = 0;
  for (const v of x) ms += v * v;
  const r = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * r * (offset + w[i]));
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const add = (a: Vec, b: Vec) => a.map((v, i) => v + b[i]);

/** Rotate-half RoPE of one head vector at position `pos`. */
function rope(x: Vec, pos: number, theta: number): Vec {
  const dh = x.length;
  const half = dh / 2;
  const out = new Float64Array(dh);
  for (let i = 0; i < half; i++) {
    const angle = pos * theta ** (-(2 * i) / dh);
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    out[i] = x[i] * c - x[i + half] * s;
    out[i + half] = x[i + half] * c + x[i] * s;
  }
  return out;
}

/** What the architecture reads from config.json. */
interface Arch {
  type: string;
  d: number;
  L: number;
  H: number;
  K: number;
  dh: number;
  m: number;
  V: number;
  eps: number;
  theta: number;
  act: (x: number) => number;
  tied: boolean;
  offset: number;
  scale: number;
  attnCap: number | null;
  finalCap: number | null;
  window: (l: number) => number;
}

function arch(hf: Json, faults: ReferenceFaults): Arch {
  const type = String(hf.model_type);
  const gemma = type === "gemma2";
  const d = hf.hidden_size as number;
  const H = hf.num_attention_heads as number;
  const dh = (hf.head_dim as number | undefined) ?? d / H;
  const L = hf.num_hidden_layers as number;
  const act = String(hf.hidden_activation ?? hf.hidden_act);
  const win = hf.sliding_window as number | null | undefined;
  const layerTypes = hf.layer_types as string[] | undefined;
  const sliding = (l: number): boolean => {
    if (faults.noSlidingWindow || win == null) return false;
    if (layerTypes) return layerTypes[l] === "sliding_attention";
    if (gemma) return l % 2 === 0;
    if (type === "qwen2" || type === "qwen3") return hf.use_sliding_window === true && l >= ((hf.max_window_layers as number | undefined) ?? 28);
    return type === "mistral" || type === "phi3";
  };
  const cap = (k: string) => (faults.noSoftcap ? null : ((hf[k] as number | null | undefined) ?? null));
  return {
    type,
    d,
    L,
    H,
    K: (hf.num_key_value_heads as number | undefined) ?? H,
    dh,
    m: hf.intermediate_size as number,
    V: hf.vocab_size as number,
    eps: hf.rms_norm_eps as number,
    theta: (hf.rope_theta as number | undefined) ?? 10000,
    act: act === "silu" ? silu : geluTanh,
    tied: (hf.tie_word_embeddings as boolean | undefined) ?? gemma,
    offset: gemma && !faults.noNormOffset ? 1 : 0,
    scale: gemma ? (hf.query_pre_attn_scalar as number) ** -0.5 : dh ** -0.5,
    attnCap: gemma ? cap("attn_logit_softcapping") : null,
    finalCap: gemma ? cap("final_logit_softcapping") : null,
    window: (l) => (sliding(l) ? (win as number) : Infinity),
  };
}

/** Queries, keys and values of one position: [heads][dh] each, q/k normed as the model type does. */
function qkv(a: Arch, w: HfWeights, p: string, x: Vec, faults: ReferenceFaults): { q: Vec[]; k: Vec[]; v: Vec[] } {
  const { H, K, dh } = a;
  let q: Vec, k: Vec, v: Vec;
  if (a.type === "phi3") {
    const Wqkv = w.get(p + "self_attn.qkv_proj.weight")!;
    [q, k, v] = [matvec(Wqkv, x, H * dh, 0), matvec(Wqkv, x, K * dh, H * dh), matvec(Wqkv, x, K * dh, (H + K) * dh)];
  } else {
    const biased = (n: string, rows: number) => {
      const y = matvec(w.get(`${p}self_attn.${n}.weight`)!, x, rows);
      const b = w.get(`${p}self_attn.${n}.bias`);
      return b ? y.map((val, i) => val + b[i]) : y;
    };
    [q, k, v] = [biased("q_proj", H * dh), biased("k_proj", K * dh), biased("v_proj", K * dh)];
  }
  const qn = w.get(p + "self_attn.q_norm.weight");
  const kn = w.get(p + "self_attn.k_norm.weight");
  if (qn && kn && !faults.noQkNorm && a.type === "olmo2") [q, k] = [rmsNorm(q, qn, a.eps, 0), rmsNorm(k, kn, a.eps, 0)];
  const heads = (y: Vec, n: number) => Array.from({ length: n }, (_, h) => y.slice(h * dh, (h + 1) * dh));
  let qh: Vec[] = heads(q, H);
  let kh: Vec[] = heads(k, K);
  if (qn && kn && !faults.noQkNorm && a.type !== "olmo2") [qh, kh] = [qh.map((y) => rmsNorm(y, qn, a.eps, a.offset)), kh.map((y) => rmsNorm(y, kn, a.eps, a.offset))];
  return { q: qh, k: kh, v: heads(v, K) };
}

/** One attention layer over all positions: the o_proj outputs, [T][d]. */
function attention(a: Arch, w: HfWeights, p: string, l: number, xs: Vec[], faults: ReferenceFaults): Vec[] {
  const { H, K, dh } = a;
  const per = xs.map((x, t) => {
    const { q, k, v } = qkv(a, w, p, x, faults);
    return { q: q.map((y) => rope(y, t, a.theta)), k: k.map((y) => rope(y, t, a.theta)), v };
  });
  const Wo = w.get(p + "self_attn.o_proj.weight")!;
  return per.map((cur, i) => {
    const z = new Float64Array(H * dh);
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / K)); // the key/value head this query head shares
      const visible = per.map((_, j) => j).filter((j) => j <= i && i - j < a.window(l));
      const scores = visible.map((j) => {
        let s = 0;
        for (let e = 0; e < dh; e++) s += cur.q[h][e] * per[j].k[g][e];
        s *= a.scale;
        return a.attnCap ? a.attnCap * Math.tanh(s / a.attnCap) : s;
      });
      const mx = Math.max(...scores);
      const ex = scores.map((s) => Math.exp(s - mx));
      const sum = ex.reduce((u, b) => u + b, 0);
      visible.forEach((j, n) => {
        for (let e = 0; e < dh; e++) z[h * dh + e] += (ex[n] / sum) * per[j].v[g][e];
      });
    }
    return matvec(Wo, z, a.d);
  });
}

function mlp(a: Arch, w: HfWeights, p: string, x: Vec, faults: ReferenceFaults): Vec {
  let gate: Vec, up: Vec;
  if (a.type === "phi3") {
    const W = w.get(p + "mlp.gate_up_proj.weight")!;
    [gate, up] = [matvec(W, x, a.m, 0), matvec(W, x, a.m, a.m)];
    if (faults.swapGateUp) [gate, up] = [up, gate];
  } else [gate, up] = [matvec(w.get(p + "mlp.gate_proj.weight")!, x, a.m), matvec(w.get(p + "mlp.up_proj.weight")!, x, a.m)];
  return matvec(w.get(p + "mlp.down_proj.weight")!, gate.map((g, i) => a.act(g) * up[i]), a.d);
}

/** Logits at every position, [T][V], in float64. */
export function referenceLogits(hf: Json, w: HfWeights, tokens: readonly number[], faults: ReferenceFaults = {}): Vec[] {
  const a = arch(hf, faults);
  const norm = (x: Vec, name: string) => rmsNorm(x, w.get(name)!, a.eps, a.offset);
  const E = w.get("model.embed_tokens.weight")!;
  let xs: Vec[] = tokens.map((t) => Float64Array.from(E.subarray(t * a.d, (t + 1) * a.d), (v) => (a.type === "gemma2" ? v * Math.sqrt(a.d) : v)));
  for (let l = 0; l < a.L; l++) {
    const p = `model.layers.${l}.`;
    if (a.type === "olmo2" && !faults.preNormInsteadOfPost) {
      // OLMo 2: x + norm(attn(x)), then h + norm(mlp(h)).
      xs = add2(xs, attention(a, w, p, l, xs, faults).map((y) => norm(y, p + "post_attention_layernorm.weight")));
      xs = xs.map((x) => add(x, norm(mlp(a, w, p, x, faults), p + "post_feedforward_layernorm.weight")));
    } else if (a.type === "olmo2") {
      xs = add2(xs, attention(a, w, p, l, xs.map((x) => norm(x, p + "post_attention_layernorm.weight")), faults));
      xs = xs.map((x) => add(x, mlp(a, w, p, norm(x, p + "post_feedforward_layernorm.weight"), faults)));
    } else if (a.type === "gemma2") {
      // Gemma 2: pre- and post-norms around both sublayers.
      const post = (y: Vec, n: string) => (faults.noPostNorm ? y : norm(y, p + n));
      xs = add2(xs, attention(a, w, p, l, xs.map((x) => norm(x, p + "input_layernorm.weight")), faults).map((y) => post(y, "post_attention_layernorm.weight")));
      xs = xs.map((x) => add(x, post(mlp(a, w, p, norm(x, p + "pre_feedforward_layernorm.weight"), faults), "post_feedforward_layernorm.weight")));
    } else {
      xs = add2(xs, attention(a, w, p, l, xs.map((x) => norm(x, p + "input_layernorm.weight")), faults));
      xs = xs.map((x) => add(x, mlp(a, w, p, norm(x, p + "post_attention_layernorm.weight"), faults)));
    }
  }
  const U = a.tied ? E : w.get("lm_head.weight")!;
  return xs.map((x) => {
    const z = matvec(U, norm(x, "model.norm.weight"), a.V);
    return a.finalCap ? z.map((v) => a.finalCap! * Math.tanh(v / a.finalCap!)) : z;
  });
}

function add2(xs: Vec[], ys: Vec[]): Vec[] {
  return xs.map((x, i) => add(x, ys[i]));
}

/** Greedy continuation of `prompt` by `n` tokens (full recompute each step). */
export function referenceGreedy(hf: Json, w: HfWeights, prompt: readonly number[], n: number, faults: ReferenceFaults = {}): number[] {
  const seq = [...prompt];
  for (let s = 0; s < n; s++) {
    const last = referenceLogits(hf, w, seq, faults).at(-1)!;
    let best = 0;
    for (let i = 1; i < last.length; i++) if (last[i] > last[best]) best = i;
    seq.push(best);
  }
  return seq.slice(prompt.length);
}
