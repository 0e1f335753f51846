/**
 * Random checkpoints of the Llama-like families in their exact Hugging Face format: config.json in the hub's spelling
 * and model.safetensors with the tensor names of transformers' modeling_*.py, seeded (the same bytes on every machine).
 * Used by test/families.test.ts and by test/fixtures/families/make-hf-logits.ts, which records transformers' logits.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeSafetensors } from "../../kit/io/safetensors";
import { mulberry32, normalSampler } from "../../kit/util/rng";

type Json = Record<string, unknown>;

const COMMON = { hidden_size: 32, intermediate_size: 48, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, vocab_size: 61, bos_token_id: 1, eos_token_id: 2, torch_dtype: "float32" };

/** Config files in the hub's spelling (the keys Qwen/Qwen3-0.6B, allenai/OLMo-2-1124-7B, microsoft/Phi-3-mini-4k-instruct, google/gemma-2-2b, … carry). */
export const CHECKPOINTS: Record<string, Json> = {
  qwen3: { ...COMMON, architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", num_hidden_layers: 2, head_dim: 16, hidden_act: "silu", rms_norm_eps: 1e-6, rope_theta: 1000000, rope_scaling: null, attention_bias: false, attention_dropout: 0, use_sliding_window: false, sliding_window: null, max_window_layers: 2, tie_word_embeddings: true },
  olmo2: { ...COMMON, architectures: ["Olmo2ForCausalLM"], model_type: "olmo2", num_hidden_layers: 2, hidden_act: "silu", rms_norm_eps: 1e-6, rope_theta: 500000, rope_scaling: null, attention_bias: false, attention_dropout: 0, tie_word_embeddings: false, pad_token_id: 0 },
  phi3: { ...COMMON, architectures: ["Phi3ForCausalLM"], model_type: "phi3", num_hidden_layers: 2, hidden_act: "silu", rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null, original_max_position_embeddings: 64, sliding_window: 5, pad_token_id: 0, attention_bias: false, resid_pdrop: 0, tie_word_embeddings: false },
  gemma2: { ...COMMON, architectures: ["Gemma2ForCausalLM"], model_type: "gemma2", num_hidden_layers: 3, head_dim: 16, hidden_act: "gelu_pytorch_tanh", hidden_activation: "gelu_pytorch_tanh", rms_norm_eps: 1e-6, rope_theta: 10000, query_pre_attn_scalar: 12, attn_logit_softcapping: 4.5, final_logit_softcapping: 3.5, sliding_window: 4, attention_bias: false, pad_token_id: 0 },
  mistral: { ...COMMON, architectures: ["MistralForCausalLM"], model_type: "mistral", num_hidden_layers: 2, hidden_act: "silu", rms_norm_eps: 1e-5, rope_theta: 10000, sliding_window: 3, tie_word_embeddings: false },
  qwen2: { ...COMMON, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", num_hidden_layers: 2, hidden_act: "silu", rms_norm_eps: 1e-6, rope_theta: 10000, use_sliding_window: true, sliding_window: 4, max_window_layers: 1, tie_word_embeddings: false },
};

/** The Hugging Face tensor names and shapes of a checkpoint, as its modeling_*.py names them. */
export function tensorShapes(hf: Json): Map<string, number[]> {
  const type = hf.model_type as string;
  const [d, m, V, H, K, L] = ["hidden_size", "intermediate_size", "vocab_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers"].map((k) => hf[k] as number);
  const dh = (hf.head_dim as number | undefined) ?? d / H;
  const s = new Map<string, number[]>([["model.embed_tokens.weight", [V, d]]]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const norms = { olmo2: ["post_attention_layernorm", "post_feedforward_layernorm"], gemma2: ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"] }[type] ?? ["input_layernorm", "post_attention_layernorm"];
    for (const n of norms) s.set(`${p}${n}.weight`, [d]);
    if (type === "phi3") s.set(p + "self_attn.qkv_proj.weight", [(H + 2 * K) * dh, d]);
    else for (const [n, rows] of [["q", H], ["k", K], ["v", K]] as const) s.set(`${p}self_attn.${n}_proj.weight`, [rows * dh, d]);
    if (type === "qwen2") for (const [n, rows] of [["q", H], ["k", K], ["v", K]] as const) s.set(`${p}self_attn.${n}_proj.bias`, [rows * dh]);
    if (type === "qwen3") for (const n of ["q_norm", "k_norm"]) s.set(`${p}self_attn.${n}.weight`, [dh]);
    if (type === "olmo2") for (const [n, rows] of [["q_norm", H], ["k_norm", K]] as const) s.set(`${p}self_attn.${n}.weight`, [rows * dh]);
    s.set(p + "self_attn.o_proj.weight", [d, H * dh]);
    if (type === "phi3") s.set(p + "mlp.gate_up_proj.weight", [2 * m, d]);
    else for (const n of ["gate_proj", "up_proj"]) s.set(`${p}mlp.${n}.weight`, [m, d]);
    s.set(p + "mlp.down_proj.weight", [d, m]);
  }
  s.set("model.norm.weight", [d]);
  const tied = (hf.tie_word_embeddings as boolean | undefined) ?? type === "gemma2";
  if (!tied) s.set("lm_head.weight", [V, d]);
  return s;
}

/** Random weights: matrices N(0, (1.5/√in)²) (Gemma's embeddings N(0, (1.5/d)²)), biases N(0, 0.3²), norm weights 1 ± 0.3 (Gemma: 0 ± 0.3, read as 1 + w). */
export function randomWeights(hf: Json, seed: number): Map<string, Float32Array> {
  const normal = normalSampler(mulberry32(seed));
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of tensorShapes(hf)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const isNorm = shape.length === 1 && !name.endsWith(".bias");
    const center = isNorm && hf.model_type !== "gemma2" ? 1 : 0;
    // Gemma multiplies the embeddings by √d: a smaller table keeps them from drowning the blocks (and greedy ids from repeating).
    const std = name === "model.embed_tokens.weight" && hf.model_type === "gemma2" ? 1.5 / shape[1] : shape.length === 2 ? 1.5 / Math.sqrt(shape[1]) : 0.3;
    out.set(name, Float32Array.from({ length: size }, () => center + std * normal()));
  }
  return out;
}

/** A checkpoint folder in `dir`: config.json and model.safetensors, nothing else (no tokenizer). */
export function writeCheckpoint(dir: string, hf: Json, weights: Map<string, Float32Array>): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(hf, null, 2));
  const shapes = tensorShapes(hf);
  writeSafetensors(path.join(dir, "model.safetensors"), new Map([...weights].map(([n, data]) => [n, { shape: shapes.get(n)!, data }])), { format: "pt" });
  return dir;
}


/** The tokens, greedy prompt and per-family seeds the tests and the transformers fixture share. */
export const FIXTURE_TOKENS = [5, 17, 3, 44, 60, 9, 9, 21, 33, 2, 58, 12];
export const FIXTURE_PROMPT = FIXTURE_TOKENS.slice(0, 5);
export const FIXTURE_SEED: Record<string, number> = { qwen3: 7 };
