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
import { resolveConfig, validateConfig, type ActFn, type ModelConfig } from "../model/config";
import { paramShapes } from "../model/params";
import { HookedTransformer } from "../model/transformer";
import { loadTokenizer } from "../tokenizers/load";
import type { Tokenizer } from "../tokenizers/types";
import { checkConfigFitsWeights, checkVocabulary, readJsonObject } from "./bounds";
import { readSafetensors, readShardedSafetensors, writeSafetensors } from "./safetensors";
import { checkTensorsFinite, checkWeightsMatchConfig, weightsInventory } from "./weights";

type Json = Record<string, unknown>;

const GPT2_TYPES = new Set(["gpt2"]);
const LLAMA_TYPES = new Set(["llama", "qwen2", "mistral", "smollm", "smollm2"]);

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
    const act = String(hf.hidden_act ?? "silu");
    const actFn = ({ silu: "silu", gelu: "gelu", gelu_pytorch_tanh: "gelu_new", relu: "relu" } as Record<string, ActFn>)[act];
    if (!actFn) problems.push(`hidden_act ${JSON.stringify(act)} is not supported (silu, gelu, relu)`);
    const scaling = hf.rope_scaling as Json | null | undefined;
    if (scaling && scaling.rope_type !== "default" && scaling.type !== "default") {
      problems.push(`rope_scaling ${JSON.stringify(scaling)} is not supported (only unscaled RoPE)`);
    }
    if (type === "mistral" && typeof hf.sliding_window === "number" && hf.sliding_window < num("max_position_embeddings", 0)) {
      problems.push(`sliding_window attention (${hf.sliding_window}) is not supported`);
    }
    if (type === "qwen2" && hf.use_sliding_window === true && typeof hf.sliding_window === "number" && hf.sliding_window < num("max_position_embeddings", 0)) {
      problems.push(`use_sliding_window with sliding_window ${hf.sliding_window} < max_position_embeddings is not supported (the model would attend beyond its window); set use_sliding_window false only if every input is shorter than the window`);
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
      tiedEmbeddings: (hf.tie_word_embeddings as boolean | undefined) ?? false,
      bosTokenId: tokenId("bos_token_id"),
      eosTokenId: tokenId("eos_token_id"),
      padTokenId: tokenId("pad_token_id"),
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
  return {
    architectures: [qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
    model_type: qwen ? "qwen2" : "llama",
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
    attention_bias: qwen ? undefined : cfg.attnBias || cfg.attnOutBias,
    mlp_bias: cfg.mlpBias,
    ...common,
  };
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
  for (let l = 0; l < cfg.n_layers; l++) {
    const h = `model.layers.${l}.`;
    const k = `blocks.${l}.`;
    same(h + "input_layernorm.weight", k + "ln1.w");
    transposed(h + "self_attn.q_proj.weight", k + "attn.W_Q", qPerm);
    transposed(h + "self_attn.k_proj.weight", k + "attn.W_K", kPerm);
    transposed(h + "self_attn.v_proj.weight", k + "attn.W_V");
    if (cfg.attnBias) {
      bias(h + "self_attn.q_proj.bias", k + "attn.b_Q", qPerm);
      bias(h + "self_attn.k_proj.bias", k + "attn.b_K", kPerm);
      bias(h + "self_attn.v_proj.bias", k + "attn.b_V");
    }
    transposed(h + "self_attn.o_proj.weight", k + "attn.W_O");
    if (cfg.attnOutBias) bias(h + "self_attn.o_proj.bias", k + "attn.b_O");
    same(h + "post_attention_layernorm.weight", k + "ln2.w");
    transposed(h + "mlp.gate_proj.weight", k + "mlp.W_gate");
    transposed(h + "mlp.up_proj.weight", k + "mlp.W_in");
    if (cfg.mlpBias) bias(h + "mlp.up_proj.bias", k + "mlp.b_in");
    transposed(h + "mlp.down_proj.weight", k + "mlp.W_out");
    if (cfg.mlpBias) bias(h + "mlp.down_proj.bias", k + "mlp.b_out");
  }
  same("model.norm.weight", "ln_final.w");
  if (!cfg.tiedEmbeddings) transposed("lm_head.weight", "unembed.W_U");
  return specs;
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

function writeJson(file: string, obj: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(obj, (_k, v) => (v === undefined ? undefined : v), 2) + "\n");
  fs.renameSync(tmp, file);
}
