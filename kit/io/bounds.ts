/**
 * Load-time limits and checks shared by the model loaders: every size a file declares is checked against the file's
 * actual size (and a sane maximum) before anything is allocated, the config is checked against the weights and the
 * tokenizer, and the weights are checked for dtype and non-finite values. See docs/loading.md.
 *
 * Limits (documented constants):
 * - JSON files read whole (config.json, tokenizer.json): `MAX_CONFIG_JSON_BYTES`, `MAX_TOKENIZER_JSON_BYTES`;
 * - layers `MAX_LAYERS`, context `MAX_N_CTX`, vocabulary `MAX_VOCAB`;
 * - the position tables a config implies (RoPE cos/sin, built at load) may take at most
 *   max(`MIN_POSITION_TABLE_BUDGET_BYTES`, the weight files' bytes): memory the files do not justify is refused.
 */
import * as fs from "node:fs";
import { describeValue } from "../describe";
import { jsonErrorPlace } from "./json-position";
import type { ModelConfig } from "../model/config";
import type { Tokenizer } from "../tokenizers/types";

/** Largest config.json (or generation/tokenizer_config.json) read: 16 MiB. */
export const MAX_CONFIG_JSON_BYTES = 16 * 2 ** 20;
/** Largest tokenizer.json read: 256 MiB (the largest public ones are ~35 MB). */
export const MAX_TOKENIZER_JSON_BYTES = 256 * 2 ** 20;
/** Most transformer layers a config may declare. */
export const MAX_LAYERS = 1024;
/** Longest context (n_ctx, max_position_embeddings, seq_len) a config may declare. */
export const MAX_N_CTX = 2 ** 20;
/** Largest vocabulary a config may declare. */
export const MAX_VOCAB = 2 ** 22;
/** Position tables are always allowed this many bytes, even for a tiny checkpoint: 64 MiB. */
export const MIN_POSITION_TABLE_BUDGET_BYTES = 64 * 2 ** 20;
/**
 * Embedding rows beyond the tokenizer's vocabulary (padding, as Qwen2 pads 151 665 tokens to 151 936) allowed:
 * at most this fraction of d_vocab, and at least `MIN_PADDING_ROWS`.
 */
export const MAX_PADDING_FRACTION = 0.01;
export const MIN_PADDING_ROWS = 64;

/** Reads `file` as strict UTF-8 JSON after checking its size; every error names `fn`, the file and what was expected. */
export function readJsonFile(fn: string, file: string, expected: string, maxBytes = MAX_CONFIG_JSON_BYTES): unknown {
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch (e) {
    throw new Error(`${fn}: cannot read ${file} (expected ${expected}): ${(e as Error).message}`);
  }
  if (size > maxBytes) throw new RangeError(`${fn}: ${file} is ${size} bytes, more than the limit of ${maxBytes} for ${expected}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fs.readFileSync(file));
  } catch (e) {
    throw new TypeError(`${fn}: ${file} is not valid UTF-8 (expected ${expected}): ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const place = jsonErrorPlace(text, e);
    throw new SyntaxError(`${fn}: ${file} is not valid JSON (expected ${expected})${place ? ` at ${place}` : ""}: ${(e as Error).message}`);
  }
}

/** Reads `file` as a JSON object (`{ … }`); anything else (null, an array, a number) is a TypeError naming the file. */
export function readJsonObject(fn: string, file: string, expected: string, maxBytes = MAX_CONFIG_JSON_BYTES): Record<string, unknown> {
  const value = readJsonFile(fn, file, expected, maxBytes);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${fn}: ${file} must hold a JSON object (${expected}), received ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

/** The number of scalar parameters of `cfg`, by arithmetic (no per-layer allocation, so safe for any layer count). */
export function expectedParamCount(cfg: ModelConfig): number {
  const { d_model: d, d_head: dh, n_heads: h, n_key_value_heads: kv, d_mlp: m, d_vocab: v, n_ctx, n_layers: L } = cfg;
  const gpt2 = cfg.family === "gpt2";
  let layer = 2 * d * h * dh + 2 * d * kv * dh + (gpt2 ? 2 : 3) * d * m + (gpt2 ? 4 : 2) * d;
  if (cfg.attnBias) layer += h * dh + 2 * kv * dh;
  if (cfg.attnOutBias) layer += d;
  if (cfg.mlpBias) layer += m + d;
  if ((cfg.normPlacement ?? "pre") === "both") layer += 2 * d;
  if (cfg.qkNorm === "head") layer += 2 * dh;
  if (cfg.qkNorm === "full") layer += h * dh + kv * dh;
  return v * d + (gpt2 ? n_ctx * d : 0) + L * layer + (gpt2 ? 2 : 1) * d + (cfg.tiedEmbeddings ? 0 : d * v);
}

/** What the weight files hold, for {@link checkConfigFitsWeights}. */
export interface WeightsExtent {
  /** The file(s), for messages. */
  file: string;
  /** Scalars stored (sum of product(shape) over every tensor). */
  elements: number;
  /** Bytes of the file(s). */
  bytes: number;
}

/**
 * Refuses a config whose sizes exceed the sane maxima, describe more parameters than the weight files hold, or
 * imply position tables larger than the files justify. Runs before any weight-sized allocation.
 */
export function checkConfigFitsWeights(fn: string, cfg: ModelConfig, weights: WeightsExtent, configFile: string): void {
  const problems = configLimitProblems(cfg);
  const need = expectedParamCount(cfg);
  if (problems.length === 0 && need > weights.elements) {
    problems.push(`it describes ${need} parameters but ${weights.file} holds ${weights.elements} values (${describeShape(cfg)})`);
  }
  const tableBytes = positionTableBytes(cfg);
  const budget = Math.max(MIN_POSITION_TABLE_BUDGET_BYTES, weights.bytes);
  if (problems.length === 0 && tableBytes > budget) {
    problems.push(`n_ctx ${cfg.n_ctx} × d_head ${cfg.d_head} needs ${tableBytes} bytes of position tables, more than the ${budget} bytes the weights (${weights.bytes} bytes) justify`);
  }
  if (problems.length > 0) throw new RangeError(`${fn}: ${configFile} does not fit the weights:\n  - ${problems.join("\n  - ")}`);
}

/** The sane maxima, as problem messages naming the field. */
export function configLimitProblems(cfg: Pick<ModelConfig, "n_layers" | "n_ctx" | "d_vocab">): string[] {
  const out: string[] = [];
  if (cfg.n_layers > MAX_LAYERS) out.push(`n_layers must be at most ${MAX_LAYERS}, received ${cfg.n_layers}`);
  if (cfg.n_ctx > MAX_N_CTX) out.push(`n_ctx must be at most ${MAX_N_CTX}, received ${cfg.n_ctx}`);
  if (cfg.d_vocab > MAX_VOCAB) out.push(`d_vocab must be at most ${MAX_VOCAB}, received ${cfg.d_vocab}`);
  return out;
}

/** Bytes of the RoPE cos/sin tables a llama config builds at load (0 for gpt2, whose positions are weights). */
export function positionTableBytes(cfg: Pick<ModelConfig, "family" | "n_ctx" | "d_head">): number {
  return cfg.family === "llama" ? 2 * 4 * cfg.n_ctx * cfg.d_head : 0;
}

function describeShape(cfg: ModelConfig): string {
  return `n_layers ${cfg.n_layers}, d_model ${cfg.d_model}, d_mlp ${cfg.d_mlp}, d_vocab ${cfg.d_vocab}, n_heads ${cfg.n_heads}, n_key_value_heads ${cfg.n_key_value_heads}, d_head ${cfg.d_head}`;
}

/** Throws naming the tensor and file when `data` holds a NaN or an infinity (one pass, no allocation). */
export function checkFinite(fn: string, file: string, tensor: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (x - x !== 0) {
      throw new RangeError(`${fn}: tensor ${JSON.stringify(tensor)} in ${file} holds a non-finite value (${x}) at flat index ${i}; expected finite weights`);
    }
  }
}

/** Float dtypes a float parameter may be stored in. */
export const FLOAT_DTYPES: ReadonlySet<string> = new Set(["F64", "F32", "F16", "BF16"]);

/**
 * Refuses a tokenizer whose vocabulary does not match the embedding: larger than d_vocab (ids the model cannot
 * embed), or smaller by more than the padding allowed (`MAX_PADDING_FRACTION`, `MIN_PADDING_ROWS`; `exact` allows none).
 */
export function checkVocabulary(fn: string, tokenizer: Tokenizer, cfg: Pick<ModelConfig, "d_vocab">, where: string, { exact = false }: { exact?: boolean } = {}): void {
  const tok = tokenizer.vocabSize;
  const v = cfg.d_vocab;
  if (tok > v) {
    throw new RangeError(`${fn}: the tokenizer (${where}) has ${tok} tokens but the model's embedding has d_vocab ${v} rows; ids ≥ ${v} could not be embedded`);
  }
  const slack = exact ? 0 : Math.max(MIN_PADDING_ROWS, Math.floor(v * MAX_PADDING_FRACTION));
  if (v - tok > slack) {
    throw new RangeError(
      `${fn}: the tokenizer (${where}) has ${tok} tokens but the model's embedding has d_vocab ${v} rows; expected ${exact ? "exactly d_vocab" : `at most ${slack} padding rows`} (is this the model's own tokenizer?)`,
    );
  }
}
