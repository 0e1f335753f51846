/**
 * Export a kit model as a folder that transformers.js (`@huggingface/transformers`, in Node or a browser) loads
 * with `AutoModelForCausalLM.from_pretrained` or `pipeline("text-generation", …)` and generates from:
 *
 *   dir/config.json              model_type "llama" or "gpt2" and the shape fields transformers.js reads
 *   dir/generation_config.json   bos / eos / pad token ids
 *   dir/tokenizer.json           the model's tokenizer as a Hugging Face tokenizer.json
 *   dir/tokenizer_config.json
 *   dir/onnx/model.onnx          the KV-cache decoding graph (fp32, opset 17, standard ops)
 *
 * The graph's I/O is what transformers.js feeds decoder-only models: input_ids, attention_mask, position_ids and
 * past_key_values.{l}.key/value [batch_size, K, past_sequence_length, d_head] in; logits and present.{l}.key/value
 * out. transformers.js sizes the empty first-step cache from the graph's input metadata (symbolic dims → 0), so the
 * cache layout (grouped-query heads, d_head) comes from the graph, not from config.json. The model computes RoPE
 * (either pairing), biases and tied embeddings inside the graph, so nothing depends on transformers.js knowing them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { HookedTransformer } from "../model/transformer";
import type { Tokenizer } from "../tokenizers/types";
import { buildGraph } from "./graph";

export interface ExportTransformersJsResult {
  dir: string;
  files: string[];
  /** Bytes of onnx/model.onnx. */
  modelBytes: number;
}

/** The config.json transformers.js needs for this model. */
export function transformersJsConfig(model: HookedTransformer, tokenizer: Tokenizer | null): Record<string, unknown> {
  const c = model.cfg;
  const bos = tokenizer?.bosTokenId ?? c.bosTokenId;
  const eos = tokenizer?.eosTokenId ?? c.eosTokenId;
  const pad = tokenizer?.padTokenId ?? c.padTokenId;
  const common = { vocab_size: c.d_vocab, bos_token_id: bos, eos_token_id: eos, pad_token_id: pad, torch_dtype: "float32", tie_word_embeddings: c.tiedEmbeddings };
  if (c.family === "gpt2") {
    return {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      n_embd: c.d_model,
      n_layer: c.n_layers,
      n_head: c.n_heads,
      n_inner: c.d_mlp,
      n_positions: c.n_ctx,
      n_ctx: c.n_ctx,
      layer_norm_epsilon: c.normEps,
      activation_function: c.actFn,
      ...common,
      "persona-kit": { family: c.family, note: "computed by the ONNX graph; the fields above are metadata for transformers.js" },
    };
  }
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: c.d_model,
    intermediate_size: c.d_mlp,
    num_hidden_layers: c.n_layers,
    num_attention_heads: c.n_heads,
    num_key_value_heads: c.n_key_value_heads,
    head_dim: c.d_head,
    max_position_embeddings: c.n_ctx,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    hidden_act: c.actFn,
    attention_bias: c.attnBias,
    mlp_bias: c.mlpBias,
    ...common,
    "persona-kit": { family: c.family, ropeStyle: c.ropeStyle, note: "RoPE is computed by the ONNX graph with this pairing" },
  };
}

/**
 * Write a transformers.js model folder for `model` (and `tokenizer`; null or undefined: the model's own) into `dir` (created
 * if needed; existing files of the same names are replaced).
 */
export function exportTransformersJs(model: HookedTransformer, tokenizerArg: Tokenizer | null | undefined, dir: string): ExportTransformersJsResult {
  const fn = "exportTransformersJs";
  const tokenizer = tokenizerArg ?? model.tokenizer;
  if (typeof dir !== "string" || dir.length === 0) throw new TypeError(`${fn}: dir must be a folder path, received ${JSON.stringify(dir)}`);
  if (!tokenizer) throw new Error(`${fn}: the model has no tokenizer and none was given; transformers.js needs tokenizer.json to generate text`);
  if (tokenizer.vocabSize > model.cfg.d_vocab) {
    throw new RangeError(`${fn}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's d_vocab is ${model.cfg.d_vocab}`);
  }
  fs.mkdirSync(path.join(dir, "onnx"), { recursive: true });
  const built = buildGraph(model, { kv: true });
  const files: string[] = [];
  const write = (rel: string, data: string | Uint8Array) => {
    fs.writeFileSync(path.join(dir, rel), data);
    files.push(rel);
  };
  const c = model.cfg;
  write("config.json", JSON.stringify(transformersJsConfig(model, tokenizer), null, 2) + "\n");
  const gen: Record<string, unknown> = {
    bos_token_id: tokenizer.bosTokenId ?? c.bosTokenId,
    eos_token_id: tokenizer.eosTokenId ?? c.eosTokenId,
    pad_token_id: tokenizer.padTokenId ?? c.padTokenId,
    max_length: c.n_ctx,
  };
  write("generation_config.json", JSON.stringify(gen, null, 2) + "\n");
  write("tokenizer.json", JSON.stringify(tokenizer.toTokenizerJson()) + "\n");
  const tokCfg: Record<string, unknown> = { model_max_length: c.n_ctx, ...tokenizer.toTokenizerConfig() };
  write("tokenizer_config.json", JSON.stringify(tokCfg, null, 2) + "\n");
  write(path.join("onnx", "model.onnx"), built.bytes);
  return { dir, files, modelBytes: built.bytes.byteLength };
}
