/**
 * Hugging Face model folders: `config.json` + `model.safetensors` (or a sharded index) + `tokenizer.json`.
 *
 * Reads GPT-2 (`GPT2LMHeadModel`: fused `c_attn` Conv1D weights stored [in, out]) and Llama-family checkpoints
 * (`LlamaForCausalLM`, Qwen2, SmolLM, TinyLlama, Mistral without sliding windows: Linear weights stored [out, in],
 * rotate-half RoPE) in F32, F16 or BF16; writes any kit model back as a folder that reloads to identical logits
 * and that other tools load. A kit model whose RoPE pairs interleaved dimensions (llama2.c) is written with its
 * Q/K output dimensions permuted into the rotate-half order, as Hugging Face's own conversion script does.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isSlidingLayer, resolveConfig, validateConfig, type ActFn, type ModelConfig } from "../model/config";
import { paramShapes } from "../model/params";
import { HookedTransformer } from "../model/transformer";
import { loadTokenizer } from "../tokenizers/load";
import type { Tokenizer } from "../tokenizers/types";
import { checkConfigFitsWeights, checkVocabulary, readJsonObject } from "./bounds";
import { readSafetensors, readShardedSafetensors, writeSafetensors } from "./safetensors";
import { checkTensorsFinite, checkWeightsMatchConfig, weightsInventory } from "./weights";

type Json = Record<string, unknown>;

const GPT2_TYPES = new Set(["gpt2"]);
const LLAMA_TYPES = new Set(["llama", "qwen2", "mistral", "smollm", "smollm2", "qwen3", "olmo2", "phi3", "gemma2"]);

/**
 * The architecture-variant fields of a Llama-like `model_type` (kit/model/config.ts): q/k norms (Qwen3, OLMo 2),
 * norm placement (OLMo 2 post-norms, Gemma 2 pre and post), Gemma 2's (1 + w) norms, √d embedding scale, attention
 * scale and soft-caps, and sliding windows (Mistral, Qwen2/3 `use_sliding_window`, Phi-3, Gemma 2's even layers).
 */
function variantFromHf(type: string, hf: Json, d: number, problems: string[]): Partial<ModelConfig> {
  const out: Partial<ModelConfig> = {};
  if (!["llama", "qwen2", "smollm", "smollm2"].includes(type)) out.hfModelType = type;
  if (type === "qwen3") out.qkNorm = "head";
  if (type === "olmo2") Object.assign(out, { qkNorm: "full", normPlacement: "post" });
  if (type === "gemma2") {
    const scalar = hf.query_pre_attn_scalar;
    Object.assign(out, { normPlacement: "both", normOffset: 1, embedScale: Math.sqrt(d), attnSoftcap: hf.attn_logit_softcapping ?? null, finalSoftcap: hf.final_logit_softcapping ?? null });
    if (typeof scalar === "number") out.attnScale = 1 / Math.sqrt(scalar);
  }
  const sliding = slidingFromHf(type, hf, problems);
  if (sliding) Object.assign(out, sliding);
  return out;
}

/** The sliding window and the layers it applies to, as Hugging Face's config classes derive them (null: none). */
function slidingFromHf(type: string, hf: Json, problems: string[]): Pick<ModelConfig, "slidingWindow" | "slidingLayers"> | null {
  const window = hf.sliding_window;
  const n = hf.num_hidden_layers as number;
  if (window === undefined || window === null) return null;
  if (type === "qwen2" || type === "qwen3") {
    if (hf.use_sliding_window !== true) return null;
  } else if (!["mistral", "phi3", "gemma2"].includes(type)) return null;
  if (!(typeof window === "number" && Number.isInteger(window) && window > 0)) {
    problems.push(`field "sliding_window" must be null or a positive integer, received ${JSON.stringify(window)}`);
    return null;
  }
  const types = hf.layer_types;
  if (Array.isArray(types)) {
    if (types.length !== n || !types.every((t) => t === "sliding_attention" || t === "full_attention")) {
      problems.push(`layer_types must list num_hidden_layers (${n}) entries "sliding_attention" or "full_attention", received ${JSON.stringify(types)}`);
      return null;
    }
    return { slidingWindow: window, slidingLayers: types.map((t) => t === "sliding_attention") };
  }
  const layers = Array.from({ length: Number.isInteger(n) ? n : 0 }, (_, i) => i);
  if (type === "gemma2") return { slidingWindow: window, slidingLayers: layers.map((i) => i % 2 === 0) };
  if (type === "qwen2" || type === "qwen3") {
    const from = typeof hf.max_window_layers === "number" ? hf.max_window_layers : 28; // the config class default
    const slidingLayers = layers.map((i) => i >= from);
    return slidingLayers.some(Boolean) ? { slidingWindow: window, slidingLayers } : null;
  }
  return { slidingWindow: window, slidingLayers: null };
}

/** Read and map a Hugging Face `config.json` to a kit config; every missing or unsupported field is reported at once. */
export function configFromHf(hf: Json, where = "configFromHf"): ModelConfig {
  const type = String(hf.model_type ?? "");
  const problems: string[] = [];
  const num = (key: string, fallback?: number): number => {
    const v = hf[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      problems.push(`missing field "${key}"`);
      return NaN;
    }
    if (typeof v !== "number") problems.push(`field "${key}" must be a number, received ${JSON.stringify(v)}`);
    return v as number;
  };
  const tokenId = (key: string): number | null => {
    const v = hf[key];
    if (Array.isArray(v)) return typeof v[0] === "number" ? v[0] : null;
    return typeof v === "number" ? v : null;
  };
  let input: ModelConfig;
  if (GPT2_TYPES.has(type)) {
    const d = num("n_embd");
    const act = String(hf.activation_function ?? "gelu_new");
    const actFn = ({ gelu_new: "gelu_new", gelu: "gelu", relu: "relu", gelu_pytorch_tanh: "gelu_new" } as Record<string, ActFn>)[act];
    if (!actFn) problems.push(`activation_function ${JSON.stringify(act)} is not supported (gelu_new, gelu, relu)`);
    input = resolveConfig({
      family: "gpt2",
      d_model: d,
      n_layers: num("n_layer"),
      n_heads: num("n_head"),
      d_mlp: (hf.n_inner as number | null | undefined) ?? 4 * d,
      d_vocab: num("vocab_size"),
      n_ctx: num("n_positions", (hf.n_ctx as number | undefined) ?? 1024),
      normEps: num("layer_norm_epsilon", 1e-5),
      actFn: actFn ?? "gelu_new",
      tiedEmbeddings: (hf.tie_word_embeddings as boolean | undefined) ?? true,
      bosTokenId: tokenId("bos_token_id"),
      eosTokenId: tokenId("eos_token_id"),
      padTokenId: tokenId("pad_token_id"),
    });
  } else if (LLAMA_TYPES.has(type)) {
    const d = num("hidden_size");
    const heads = num("num_attention_heads");
    const act = String(hf.hidden_activation ?? hf.hidden_act ?? "silu"); // Gemma names it hidden_activation
    const actFn = ({ silu: "silu", gelu: "gelu", gelu_pytorch_tanh: "gelu_new", relu: "relu" } as Record<string, ActFn>)[act];
    if (!actFn) problems.push(`hidden_act ${JSON.stringify(act)} is not supported (silu, gelu, relu)`);
    const scaling = hf.rope_scaling as Json | null | undefined;
    if (scaling && scaling.rope_type !== "default" && scaling.type !== "default") {
      problems.push(`rope_scaling ${JSON.stringify(scaling)} is not supported (only unscaled RoPE)`);
    }
    if (typeof hf.partial_rotary_factor === "number" && hf.partial_rotary_factor !== 1) {
      problems.push(`partial_rotary_factor ${hf.partial_rotary_factor} is not supported (RoPE over the whole head only)`);
    }
    const qwen = type === "qwen2";
    input = resolveConfig({
      family: "llama",
      d_model: d,
      n_layers: num("num_hidden_layers"),
      n_heads: heads,
      n_key_value_heads: num("num_key_value_heads", heads),
      d_head: num("head_dim", Math.floor(d / heads)),
      d_mlp: num("intermediate_size"),
      d_vocab: num("vocab_size"),
      n_ctx: num("max_position_embeddings", 2048),
      normEps: num("rms_norm_eps", 1e-6),
      ropeTheta: num("rope_theta", 10000),
      ropeStyle: "halves",
      actFn: actFn ?? "silu",
      attnBias: qwen ? true : Boolean(hf.attention_bias),
      attnOutBias: qwen ? false : Boolean(hf.attention_bias),
      mlpBias: Boolean(hf.mlp_bias),
      tiedEmbeddings: (hf.tie_word_embeddings as boolean | undefined) ?? type.startsWith("gemma"),
      bosTokenId: tokenId("bos_token_id"),
      eosTokenId: tokenId("eos_token_id"),
      padTokenId: tokenId("pad_token_id"),
      ...variantFromHf(type, hf, d, problems),
    });
  } else {
    throw new RangeError(`${where}: model_type ${JSON.stringify(hf.model_type)} is not supported; expected one of ${[...GPT2_TYPES, ...LLAMA_TYPES].join(", ")}`);
  }
  if (problems.length) throw new RangeError(`${where}: config.json (model_type "${type}") has ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`);
  // Token ids outside the vocabulary (some configs carry stale ids) are dropped rather than rejected.
  for (const k of ["bosTokenId", "eosTokenId", "padTokenId"] as const) {
    const v = input[k];
    if (v !== null && (v < 0 || v >= input.d_vocab)) input[k] = null;
  }
  return validateConfig(input, where);
}

/** A kit config as a Hugging Face `config.json` object. */
export function configToHf(cfg: ModelConfig): Json {
  const common = { torch_dtype: "float32", bos_token_id: cfg.bosTokenId, eos_token_id: cfg.eosTokenId, pad_token_id: cfg.padTokenId, tie_word_embeddings: cfg.tiedEmbeddings };
  if (cfg.family === "gpt2") {
    if (cfg.n_key_value_heads !== cfg.n_heads) throw new RangeError(`configToHf: a GPT-2 config needs n_key_value_heads = n_heads, received ${cfg.n_key_value_heads} and ${cfg.n_heads}`);
    return {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      n_embd: cfg.d_model,
      n_layer: cfg.n_layers,
      n_head: cfg.n_heads,
      n_inner: cfg.d_mlp,
      n_positions: cfg.n_ctx,
      n_ctx: cfg.n_ctx,
      vocab_size: cfg.d_vocab,
      layer_norm_epsilon: cfg.normEps,
      activation_function: cfg.actFn,
      ...common,
    };
  }
  const qwen = cfg.attnBias && !cfg.attnOutBias;
  const type = cfg.hfModelType ?? (qwen ? "qwen2" : cfg.slidingWindow != null ? "mistral" : "llama");
  const json: Json = {
    architectures: [ARCHITECTURES[type] ?? "LlamaForCausalLM"],
    model_type: type,
    hidden_size: cfg.d_model,
    intermediate_size: cfg.d_mlp,
    num_hidden_layers: cfg.n_layers,
    num_attention_heads: cfg.n_heads,
    num_key_value_heads: cfg.n_key_value_heads,
    head_dim: cfg.d_head,
    max_position_embeddings: cfg.n_ctx,
    vocab_size: cfg.d_vocab,
    rms_norm_eps: cfg.normEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: null,
    hidden_act: cfg.actFn === "gelu_new" ? "gelu_pytorch_tanh" : cfg.actFn,
    attention_bias: type === "qwen2" ? undefined : cfg.attnBias || cfg.attnOutBias,
    mlp_bias: cfg.mlpBias,
    ...common,
    ...variantToHf(cfg, type),
  };
  checkVariantRoundTrip(cfg, json);
  return json;
}

const VARIANT_FIELDS = ["qkNorm", "normPlacement", "normOffset", "embedScale", "attnScale", "attnSoftcap", "finalSoftcap", "slidingWindow", "slidingLayers"] as const;

/** Refuse to write a config.json that would load back as a different architecture (a variant no model_type expresses). */
function checkVariantRoundTrip(cfg: ModelConfig, json: Json): void {
  const back = configFromHf(json, "configToHf");
  const norm = (c: ModelConfig, k: (typeof VARIANT_FIELDS)[number]): unknown => {
    const v = c[k];
    if (k === "slidingLayers") return c.slidingWindow == null ? null : Array.from({ length: c.n_layers }, (_, l) => isSlidingLayer(c, l)).join();
    if (typeof v === "number") return Number(v.toPrecision(12));
    return v ?? { qkNorm: "none", normPlacement: "pre", normOffset: 0, embedScale: 1 }[k as string] ?? null;
  };
  const differ = VARIANT_FIELDS.filter((k) => norm(cfg, k) !== norm(back, k));
  if (differ.length) {
    throw new RangeError(`configToHf: model_type ${JSON.stringify(json.model_type)} cannot express this config's ${differ.join(", ")}; set cfg.hfModelType to the Hugging Face model_type that has them (${Object.keys(ARCHITECTURES).join(", ")})`);
  }
}

const ARCHITECTURES: Record<string, string> = {
  llama: "LlamaForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  qwen3: "Qwen3ForCausalLM",
  mistral: "MistralForCausalLM",
  olmo2: "Olmo2ForCausalLM",
  phi3: "Phi3ForCausalLM",
  gemma2: "Gemma2ForCausalLM",
};

/** The config.json keys of a variant's features (the inverse of `variantFromHf`). */
function variantToHf(cfg: ModelConfig, type: string): Json {
  const out: Json = {};
  const sliding = cfg.slidingWindow ?? null;
  const layers = Array.from({ length: cfg.n_layers }, (_, l) => isSlidingLayer(cfg, l));
  if (type === "gemma2") {
    Object.assign(out, { hidden_activation: "gelu_pytorch_tanh", query_pre_attn_scalar: cfg.attnScale ? Number((1 / cfg.attnScale ** 2).toPrecision(12)) : cfg.d_head });
    Object.assign(out, { attn_logit_softcapping: cfg.attnSoftcap ?? null, final_logit_softcapping: cfg.finalSoftcap ?? null });
  }
  if (type === "qwen3" || ((type === "qwen2") && sliding !== null)) {
    const first = layers.indexOf(true);
    Object.assign(out, { use_sliding_window: sliding !== null, max_window_layers: first < 0 ? cfg.n_layers : first });
  }
  if (sliding !== null || cfg.hfModelType) out.sliding_window = sliding;
  if (sliding !== null) out.layer_types = layers.map((b) => (b ? "sliding_attention" : "full_attention"));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Weight name mapping. Each entry: HF name, its stored shape, and how it becomes kit parameters.

interface HfTensorSpec {
  name: string;
  shape: number[];
  /** Write the kit parameters into `out` from the HF tensor data. */
  toKit: (data: Float32Array, out: Map<string, Float32Array>) => void;
  /** Build the HF tensor from kit parameters. */
  fromKit: (params: ReadonlyMap<string, Float32Array>) => Float32Array;
}

/** Transpose a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Columns [start, start+width) of a row-major [rows, cols] matrix. */
export function sliceCols(data: Float32Array, rows: number, cols: number, start: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + start, r * cols + start + width), r * width);
  return out;
}

/** Concatenate row-major matrices with equal row counts along columns. */
export function concatCols(parts: { data: Float32Array; cols: number }[], rows: number): Float32Array {
  const total = parts.reduce((a, p) => a + p.cols, 0);
  const out = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let off = 0;
    for (const p of parts) {
      out.set(p.data.subarray(r * p.cols, (r + 1) * p.cols), r * total + off);
      off += p.cols;
    }
  }
  return out;
}

/**
 * The permutation of a head's dimensions from interleaved RoPE pairs (2i, 2i+1) to rotate-half pairs (i, i+dh/2):
 * new index i takes old 2i, new index i + dh/2 takes old 2i+1.
 */
export function interleavedToHalvesOrder(dHead: number): number[] {
  const half = dHead / 2;
  const order = new Array<number>(dHead);
  for (let i = 0; i < half; i++) {
    order[i] = 2 * i;
    order[i + half] = 2 * i + 1;
  }
  return order;
}

/** Permute the output columns of an [in, nHeads·dh] matrix (or an [nHeads·dh] bias, rows = 1), head by head. */
export function permuteHeadCols(data: Float32Array, rows: number, nHeads: number, order: number[]): Float32Array {
  const dh = order.length;
  const cols = nHeads * dh;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let h = 0; h < nHeads; h++) for (let i = 0; i < dh; i++) out[r * cols + h * dh + i] = data[r * cols + h * dh + order[i]];
  return out;
}

function hfSpecs(cfg: ModelConfig, prefix: string): HfTensorSpec[] {
  const shapes = paramShapes(cfg);
  const specs: HfTensorSpec[] = [];
  const same = (hf: string, kit: string) => {
    const shape = shapes.get(kit)!;
    specs.push({ name: hf, shape, toKit: (d, out) => out.set(kit, d), fromKit: (p) => p.get(kit)! });
  };
  const transposed = (hf: string, kit: string, permute?: { nHeads: number; order: number[] }) => {
    const [inDim, outDim] = shapes.get(kit)!;
    specs.push({
      name: hf,
      shape: [outDim, inDim],
      toKit: (d, out) => out.set(kit, transpose2d(d, outDim, inDim)),
      fromKit: (p) => {
        let w = p.get(kit)!;
        if (permute) w = permuteHeadCols(w, inDim, permute.nHeads, permute.order);
        return transpose2d(w, inDim, outDim);
      },
    });
  };
  const bias = (hf: string, kit: string, permute?: { nHeads: number; order: number[] }) => {
    const shape = shapes.get(kit)!;
    specs.push({
      name: hf,
      shape,
      toKit: (d, out) => out.set(kit, d),
      fromKit: (p) => (permute ? permuteHeadCols(p.get(kit)!, 1, permute.nHeads, permute.order) : p.get(kit)!),
    });
  };
  const d = cfg.d_model;
  if (cfg.family === "gpt2") {
    const t = prefix;
    same(`${t}wte.weight`, "embed.W_E");
    same(`${t}wpe.weight`, "pos_embed.W_pos");
    for (let l = 0; l < cfg.n_layers; l++) {
      const h = `${t}h.${l}.`;
      const k = `blocks.${l}.`;
      same(h + "ln_1.weight", k + "ln1.w");
      same(h + "ln_1.bias", k + "ln1.b");
      const qkv = cfg.n_heads * cfg.d_head;
      specs.push({
        name: h + "attn.c_attn.weight",
        shape: [d, 3 * qkv],
        toKit: (data, out) => {
          out.set(k + "attn.W_Q", sliceCols(data, d, 3 * qkv, 0, qkv));
          out.set(k + "attn.W_K", sliceCols(data, d, 3 * qkv, qkv, qkv));
          out.set(k + "attn.W_V", sliceCols(data, d, 3 * qkv, 2 * qkv, qkv));
        },
        fromKit: (p) => concatCols(["W_Q", "W_K", "W_V"].map((n) => ({ data: p.get(k + "attn." + n)!, cols: qkv })), d),
      });
      specs.push({
        name: h + "attn.c_attn.bias",
        shape: [3 * qkv],
        toKit: (data, out) => {
          if (!cfg.attnBias) return;
          out.set(k + "attn.b_Q", data.slice(0, qkv));
          out.set(k + "attn.b_K", data.slice(qkv, 2 * qkv));
          out.set(k + "attn.b_V", data.slice(2 * qkv));
        },
        fromKit: (p) => (cfg.attnBias ? concatCols(["b_Q", "b_K", "b_V"].map((n) => ({ data: p.get(k + "attn." + n)!, cols: qkv })), 1) : new Float32Array(3 * qkv)),
      });
      same(h + "attn.c_proj.weight", k + "attn.W_O");
      optionalBias(specs, h + "attn.c_proj.bias", k + "attn.b_O", d, cfg.attnOutBias);
      same(h + "ln_2.weight", k + "ln2.w");
      same(h + "ln_2.bias", k + "ln2.b");
      same(h + "mlp.c_fc.weight", k + "mlp.W_in");
      optionalBias(specs, h + "mlp.c_fc.bias", k + "mlp.b_in", cfg.d_mlp, cfg.mlpBias);
      same(h + "mlp.c_proj.weight", k + "mlp.W_out");
      optionalBias(specs, h + "mlp.c_proj.bias", k + "mlp.b_out", d, cfg.mlpBias);
    }
    same(`${t}ln_f.weight`, "ln_final.w");
    same(`${t}ln_f.bias`, "ln_final.b");
    if (!cfg.tiedEmbeddings) transposed("lm_head.weight", "unembed.W_U");
    return specs;
  }
  const permute = cfg.ropeStyle === "interleaved" ? { nHeads: 0, order: interleavedToHalvesOrder(cfg.d_head) } : undefined;
  const qPerm = permute && { ...permute, nHeads: cfg.n_heads };
  const kPerm = permute && { ...permute, nHeads: cfg.n_key_value_heads };
  same("model.embed_tokens.weight", "embed.W_E");
  const type = cfg.hfModelType ?? "llama";
  for (let l = 0; l < cfg.n_layers; l++) {
    const h = `model.layers.${l}.`;
    const k = `blocks.${l}.`;
    for (const [hf, kit] of normNames(cfg)) same(h + hf, k + kit);
    if (type === "phi3") fusedSpecs(specs, cfg, h, k);
    else {
      transposed(h + "self_attn.q_proj.weight", k + "attn.W_Q", qPerm);
      transposed(h + "self_attn.k_proj.weight", k + "attn.W_K", kPerm);
      transposed(h + "self_attn.v_proj.weight", k + "attn.W_V");
    }
    if (cfg.attnBias) {
      bias(h + "self_attn.q_proj.bias", k + "attn.b_Q", qPerm);
      bias(h + "self_attn.k_proj.bias", k + "attn.b_K", kPerm);
      bias(h + "self_attn.v_proj.bias", k + "attn.b_V");
    }
    transposed(h + "self_attn.o_proj.weight", k + "attn.W_O");
    if (cfg.attnOutBias) bias(h + "self_attn.o_proj.bias", k + "attn.b_O");
    if (type !== "phi3") {
      transposed(h + "mlp.gate_proj.weight", k + "mlp.W_gate");
      transposed(h + "mlp.up_proj.weight", k + "mlp.W_in");
    }
    if (cfg.mlpBias) bias(h + "mlp.up_proj.bias", k + "mlp.b_in");
    transposed(h + "mlp.down_proj.weight", k + "mlp.W_out");
    if (cfg.mlpBias) bias(h + "mlp.down_proj.bias", k + "mlp.b_out");
  }
  same("model.norm.weight", "ln_final.w");
  if (!cfg.tiedEmbeddings) transposed("lm_head.weight", "unembed.W_U");
  return specs;
}

/**
 * A Llama-like layer's norm tensors (Hugging Face name under `model.layers.L.` → kit name under `blocks.L.`). The
 * names mean different things per model type: Llama's post_attention_layernorm is the MLP's pre-norm (ln2); OLMo 2's
 * and Gemma 2's is the attention output's post-norm (ln1_post).
 */
function normNames(cfg: ModelConfig): [string, string][] {
  const placement = cfg.normPlacement ?? "pre";
  const names: [string, string][] =
    placement === "pre"
      ? [["input_layernorm.weight", "ln1.w"], ["post_attention_layernorm.weight", "ln2.w"]]
      : placement === "post"
        ? [["post_attention_layernorm.weight", "ln1_post.w"], ["post_feedforward_layernorm.weight", "ln2_post.w"]]
        : [["input_layernorm.weight", "ln1.w"], ["post_attention_layernorm.weight", "ln1_post.w"], ["pre_feedforward_layernorm.weight", "ln2.w"], ["post_feedforward_layernorm.weight", "ln2_post.w"]];
  if (cfg.qkNorm === "head" || cfg.qkNorm === "full") names.push(["self_attn.q_norm.weight", "attn.q_norm.w"], ["self_attn.k_norm.weight", "attn.k_norm.w"]);
  return names;
}

/** Phi-3's fused projections: qkv_proj [(H + 2K)·dh, d] (rows Q, K, V) and gate_up_proj [2m, d] (rows gate, up), split at load. */
function fusedSpecs(specs: HfTensorSpec[], cfg: ModelConfig, h: string, k: string): void {
  const { d_model: d, d_mlp: m } = cfg;
  const q = cfg.n_heads * cfg.d_head;
  const kv = cfg.n_key_value_heads * cfg.d_head;
  const fused = (name: string, parts: [string, number][]) => {
    const cols = parts.reduce((a, [, w]) => a + w, 0);
    specs.push({
      name,
      shape: [cols, d],
      toKit: (data, out) => {
        const t = transpose2d(data, cols, d); // [d, cols]
        let start = 0;
        for (const [kit, width] of parts) {
          out.set(k + kit, sliceCols(t, d, cols, start, width));
          start += width;
        }
      },
      fromKit: (p) => transpose2d(concatCols(parts.map(([kit, width]) => ({ data: p.get(k + kit)!, cols: width })), d), d, cols),
    });
  };
  fused(h + "self_attn.qkv_proj.weight", [["attn.W_Q", q], ["attn.W_K", kv], ["attn.W_V", kv]]);
  fused(h + "mlp.gate_up_proj.weight", [["mlp.W_gate", m], ["mlp.W_in", m]]);
}

/** GPT-2 checkpoints always store biases; a kit config without them reads them as absent (must be zero) and writes zeros. */
function optionalBias(specs: HfTensorSpec[], hf: string, kit: string, size: number, present: boolean): void {
  specs.push({
    name: hf,
    shape: [size],
    toKit: (d, out) => {
      if (present) out.set(kit, d);
    },
    fromKit: (p) => (present ? p.get(kit)! : new Float32Array(size)),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Folders

export interface LoadHfOptions {
  /** Load without a tokenizer even if the folder has none (default: a missing tokenizer.json is an error). */
  tokenizer?: Tokenizer | null | "auto";
}

/**
 * Load a Hugging Face model folder into a HookedTransformer. Before any tensor byte is read, the config is checked
 * against the sane maxima and the weight files' headers (`checkConfigFitsWeights`, `checkWeightsMatchConfig`), and the
 * tokenizer's vocabulary against d_vocab; every weight is then checked to be finite.
 */
export function loadHfFolder(dir: string, { tokenizer = "auto" }: LoadHfOptions = {}): HookedTransformer {
  const where = "loadHfFolder";
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${where}: folder not found: ${dir}`);
  const configPath = path.join(dir, "config.json");
  if (!fs.existsSync(configPath)) throw new Error(`${where}: ${dir} has no config.json (expected a Hugging Face model folder)`);
  const hf = readJsonObject(where, configPath, "a Hugging Face config.json object");
  const cfg = configFromHf(hf, `${where}(${configPath})`);
  const inv = weightsInventory(where, dir);
  checkConfigFitsWeights(where, cfg, { file: inv.source, elements: inv.elements, bytes: inv.bytes }, configPath);
  // GPT-2 checkpoints exist with and without the "transformer." prefix.
  const prefix = cfg.family === "gpt2" && [...inv.tensors.keys()].some((n) => n.startsWith("transformer.")) ? "transformer." : "";
  const specs = hfSpecs(cfg, prefix);
  checkWeightsMatchConfig(where, inv, specs.map((s) => s.name), configPath, { tied: cfg.tiedEmbeddings });

  let tok: Tokenizer | null = null;
  if (tokenizer === "auto") {
    if (!fs.existsSync(path.join(dir, "tokenizer.json"))) {
      throw new Error(`${where}: ${dir} has no tokenizer.json; pass { tokenizer: null } to load the weights without one`);
    }
    tok = loadTokenizer(dir);
  } else tok = tokenizer;
  if (tok) checkVocabulary(where, tok, cfg, tokenizer === "auto" ? path.join(dir, "tokenizer.json") : "the tokenizer passed in");
  if (tok && cfg.bosTokenId === null && tok.bosTokenId !== null) cfg.bosTokenId = tok.bosTokenId;
  if (tok && cfg.eosTokenId === null && tok.eosTokenId !== null) cfg.eosTokenId = tok.eosTokenId;

  const read = { names: specs.map((s) => s.name), expectedShapes: new Map(specs.map((s) => [s.name, s.shape])) };
  const tensors = inv.source.endsWith(".index.json") ? readShardedSafetensors(inv.source, read) : readSafetensors(inv.source, read);
  checkTensorsFinite(where, inv, tensors);
  const params = new Map<string, Float32Array>();
  for (const spec of specs) spec.toKit(tensors.get(spec.name)!.data, params);
  return new HookedTransformer(cfg, params, { tokenizer: tok });
}

export interface SaveHfOptions {
  /** Stored dtype of the weights (default "F32"; F16/BF16 round to nearest even). */
  dtype?: "F32" | "F16" | "BF16";
  /** Split the weights into shards of at most this many bytes, with a `model.safetensors.index.json` (default: one file). */
  maxShardBytes?: number;
  /** Extra safetensors `__metadata__` entries. */
  metadata?: Record<string, string>;
}

/** Write a model as a Hugging Face folder: config.json, model.safetensors (or shards + index), tokenizer.json, tokenizer_config.json. */
export function saveHfFolder(model: HookedTransformer, dir: string, { dtype = "F32", maxShardBytes, metadata = {} }: SaveHfOptions = {}): void {
  if (maxShardBytes !== undefined && !(Number.isInteger(maxShardBytes) && maxShardBytes > 0)) {
    throw new RangeError(`saveHfFolder: maxShardBytes must be a positive integer, received ${maxShardBytes}`);
  }
  fs.mkdirSync(dir, { recursive: true });
  const cfg = model.cfg;
  const params = model.weightsToArrays();
  const bytesPer = dtype === "F32" ? 4 : 2;
  const tensors = hfSpecs(cfg, "").map((spec) => ({ name: spec.name, shape: spec.shape, data: spec.fromKit(params), dtype }));
  const meta = { format: "pt", ...metadata };
  for (const stale of ["model.safetensors", "model.safetensors.index.json"]) fs.rmSync(path.join(dir, stale), { force: true });
  if (maxShardBytes === undefined) {
    writeSafetensors(path.join(dir, "model.safetensors"), new Map(tensors.map((t) => [t.name, t])), meta);
  } else {
    const shards: (typeof tensors)[] = [[]];
    let size = 0;
    for (const t of tensors) {
      const bytes = t.data.length * bytesPer;
      if (size > 0 && size + bytes > maxShardBytes) {
        shards.push([]);
        size = 0;
      }
      shards[shards.length - 1].push(t);
      size += bytes;
    }
    const weightMap: Record<string, string> = {};
    const pad = (i: number) => String(i).padStart(5, "0");
    shards.forEach((shard, i) => {
      const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
      writeSafetensors(path.join(dir, file), new Map(shard.map((t) => [t.name, t])), meta);
      for (const t of shard) weightMap[t.name] = file;
    });
    const totalSize = tensors.reduce((a, t) => a + t.data.length * bytesPer, 0);
    writeJson(path.join(dir, "model.safetensors.index.json"), { metadata: { total_size: totalSize }, weight_map: weightMap });
  }
  const hfCfg = configToHf(cfg);
  hfCfg.torch_dtype = { F32: "float32", F16: "float16", BF16: "bfloat16" }[dtype];
  writeJson(path.join(dir, "config.json"), hfCfg);
  if (model.tokenizer) {
    writeJson(path.join(dir, "tokenizer.json"), model.tokenizer.toTokenizerJson());
    writeJson(path.join(dir, "tokenizer_config.json"), model.tokenizer.toTokenizerConfig());
  }
  writeJson(path.join(dir, "generation_config.json"), { bos_token_id: cfg.bosTokenId, eos_token_id: cfg.eosTokenId, pad_token_id: cfg.padTokenId });
}

/** config.json keys that transformers' strict config classes type as float: an integral value is written as `50.0`. */
const FLOAT_KEYS = ["attn_logit_softcapping", "final_logit_softcapping"];

function writeJson(file: string, obj: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const text = JSON.stringify(obj, (_k, v) => (v === undefined ? undefined : v), 2).replace(new RegExp(`^(  "(?:${FLOAT_KEYS.join("|")})": -?\\d+)(,?)$`, "gm"), "$1.0$2");
  fs.writeFileSync(tmp, text + "\n");
  fs.renameSync(tmp, file);
}
