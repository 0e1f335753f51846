/**
 * Model configuration: one typed interface for both families, defaults, named presets, and one validator that
 * reports every problem at once.
 *
 * Shape fields keep TransformerLens's spelling (`d_model`, `n_layers`, `n_heads`, `d_head`, `d_mlp`, `d_vocab`,
 * `n_ctx`, `n_key_value_heads`): they are research vocabulary. Everything else is camelCase.
 */
import { problemsError } from "../describe";
import { fields, isNonNegativeInt, showValue } from "../util/validate";

export type ModelFamily = "gpt2" | "llama";
export type ActFn = "gelu_new" | "gelu" | "silu" | "relu";
/**
 * How RoPE pairs the dimensions of a head: `interleaved` rotates pairs (2i, 2i+1) as llama2.c and Meta's original
 * code do; `halves` rotates (i, i + d_head/2), the "rotate_half" convention of Hugging Face's Llama.
 */
export type RopeStyle = "interleaved" | "halves";

export interface ModelConfig {
  family: ModelFamily;
  d_model: number;
  n_layers: number;
  n_heads: number;
  /** Key/value heads (grouped-query attention); equals `n_heads` for multi-head attention. */
  n_key_value_heads: number;
  d_head: number;
  d_mlp: number;
  d_vocab: number;
  n_ctx: number;
  actFn: ActFn;
  /** LayerNorm (gpt2) or RMSNorm (llama) epsilon. */
  normEps: number;
  /** Bias on the Q, K, V projections (GPT-2, Qwen2). */
  attnBias: boolean;
  /** Bias on the attention output projection (GPT-2). */
  attnOutBias: boolean;
  /** Biases on the MLP projections (GPT-2). */
  mlpBias: boolean;
  /** The unembedding is the transposed embedding (GPT-2; llama2.c "shared"; SmolLM). */
  tiedEmbeddings: boolean;
  ropeTheta: number;
  ropeStyle: RopeStyle;
  /** Standard deviation of the normal initialisation of fresh weights. */
  initStd: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
  /** Compute attention per head and expose `blocks.L.attn.hook_result` [B, T, H, d] (TransformerLens's use_attn_result). */
  useAttnResult?: boolean;

  // Architecture variants (docs/families.md). Absent means the GPT-2 / Llama behaviour; every field below is optional
  // so that existing configs, and the models built from them, stay bit-identical.
  /** Where the norms sit around each sublayer: "pre" (default: `x + f(ln(x))`), "post" (OLMo 2: `x + ln(f(x))`), "both" (Gemma 2/3: `x + ln_post(f(ln(x)))`). */
  normPlacement?: NormPlacement;
  /** RMSNorm of queries and keys before RoPE: "head" (Qwen3, Gemma 3: each head, weight [d_head]) or "full" (OLMo 2: the whole projection, weight [heads·d_head]). Default "none". */
  qkNorm?: QkNorm;
  /** Norm weights act as `normOffset + w` (Gemma: 1, weights stored around 0). Default 0. */
  normOffset?: number;
  /** Token embeddings are multiplied by this (Gemma: √d_model). Default 1. */
  embedScale?: number;
  /** Attention scores are `q·k × attnScale`. Default 1/√d_head (Gemma 2: query_pre_attn_scalar^-½). */
  attnScale?: number;
  /** Soft-capping of attention scores, `cap·tanh(s/cap)` before the mask (Gemma 2). Default none. */
  attnSoftcap?: number | null;
  /** Soft-capping of the final logits, `cap·tanh(z/cap)` (Gemma 2). Default none. */
  finalSoftcap?: number | null;
  /** Sliding-window attention: a query at position i sees keys j with i − window < j ≤ i (Mistral, Qwen2/3, Phi-3, Gemma local layers). Default none. */
  slidingWindow?: number | null;
  /** Which layers use the sliding window (one boolean per layer); default every layer when `slidingWindow` is set. */
  slidingLayers?: boolean[] | null;
  /** The Hugging Face `model_type` a config came from (qwen3, olmo2, phi3, gemma2, …): the format `saveHfFolder` writes. */
  hfModelType?: string;
}

export type NormPlacement = "pre" | "post" | "both";
export type QkNorm = "none" | "head" | "full";

/** Whether layer `l` attends through the sliding window. */
export function isSlidingLayer(cfg: Pick<ModelConfig, "slidingWindow" | "slidingLayers">, l: number): boolean {
  return cfg.slidingWindow != null && (cfg.slidingLayers?.[l] ?? true);
}

export type ModelConfigInput = Partial<ModelConfig> & { family: ModelFamily };

const FAMILY_DEFAULTS: Record<ModelFamily, Omit<ModelConfig, "d_head" | "d_mlp" | "n_key_value_heads">> = {
  gpt2: {
    family: "gpt2",
    d_model: 128,
    n_layers: 2,
    n_heads: 4,
    d_vocab: 512,
    n_ctx: 128,
    actFn: "gelu_new",
    normEps: 1e-5,
    attnBias: true,
    attnOutBias: true,
    mlpBias: true,
    tiedEmbeddings: true,
    ropeTheta: 10000,
    ropeStyle: "halves",
    initStd: 0.02,
    bosTokenId: null,
    eosTokenId: null,
    padTokenId: null,
  },
  llama: {
    family: "llama",
    d_model: 128,
    n_layers: 2,
    n_heads: 4,
    d_vocab: 512,
    n_ctx: 128,
    actFn: "silu",
    normEps: 1e-5,
    attnBias: false,
    attnOutBias: false,
    mlpBias: false,
    tiedEmbeddings: false,
    ropeTheta: 10000,
    ropeStyle: "halves",
    initStd: 0.02,
    bosTokenId: null,
    eosTokenId: null,
    padTokenId: null,
  },
};

/** Fill every missing field with the family default; derived fields (`d_head`, `d_mlp`, …) follow the given ones. */
export function resolveConfig(input: ModelConfigInput): ModelConfig {
  if (input === null || typeof input !== "object" || !(input.family in FAMILY_DEFAULTS)) {
    throw new TypeError(
      `resolveConfig: config.family must be "gpt2" or "llama", received ${JSON.stringify((input as { family?: unknown })?.family)}`,
    );
  }
  const base = FAMILY_DEFAULTS[input.family];
  const merged = { ...base, ...stripUndefined(input) } as Partial<ModelConfig> & typeof base;
  const d_head = merged.d_head ?? Math.floor(merged.d_model / merged.n_heads);
  const d_mlp = merged.d_mlp ?? (input.family === "gpt2" ? 4 * merged.d_model : llamaHidden(merged.d_model));
  const n_key_value_heads = merged.n_key_value_heads ?? merged.n_heads;
  return { ...merged, d_head, d_mlp, n_key_value_heads };
}

/** Llama's default hidden size: 2/3 of 4·d, rounded up to a multiple of 32 (llama2.c's `multiple_of`). */
function llamaHidden(d: number): number {
  const h = Math.floor((2 * 4 * d) / 3);
  return 32 * Math.ceil(h / 32);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Every problem with a config, as messages naming the field, what was expected and what was received. */
export function configProblems(cfg: Partial<ModelConfig>): string[] {
  const problems: string[] = [];
  const c = cfg as Record<string, unknown>;
  const f = fields(problems, c);
  const tokenId = (k: keyof ModelConfig) => {
    const v = c[k];
    if (v === null || v === undefined) return;
    if (!isNonNegativeInt(v)) problems.push(`${k} must be null or a non-negative integer, received ${showValue(v)}`);
    else if (typeof c.d_vocab === "number" && v >= c.d_vocab) problems.push(`${k} must be < d_vocab (${c.d_vocab}), received ${v}`);
  };

  f.oneOf("family", ["gpt2", "llama"], { quote: true });
  const okModel = f.posInt("d_model");
  f.posInt("n_layers");
  const okHeads = f.posInt("n_heads");
  const okKv = f.posInt("n_key_value_heads");
  const okHead = f.posInt("d_head");
  f.posInt("d_mlp");
  f.posInt("d_vocab");
  f.posInt("n_ctx");
  f.oneOf("actFn", ["gelu_new", "gelu", "silu", "relu"], { quote: true });
  f.posNum("normEps", "a positive number");
  f.bool("attnBias");
  f.bool("attnOutBias");
  f.bool("mlpBias");
  f.bool("tiedEmbeddings");
  f.posNum("ropeTheta", "a positive number");
  f.oneOf("ropeStyle", ["interleaved", "halves"], { quote: true });
  f.posNum("initStd", "a positive number");
  tokenId("bosTokenId");
  tokenId("eosTokenId");
  tokenId("padTokenId");
  variantProblems(c, problems);

  if (okHeads && okKv && (c.n_heads as number) % (c.n_key_value_heads as number) !== 0) {
    problems.push(`n_heads (${c.n_heads}) must be a multiple of n_key_value_heads (${c.n_key_value_heads})`);
  }
  if (c.family === "llama" && okHead && (c.d_head as number) % 2 !== 0) {
    problems.push(`d_head must be even for RoPE (family "llama"), received ${c.d_head}`);
  }
  if (okModel && okHeads && okHead && c.family === "gpt2" && (c.d_head as number) * (c.n_heads as number) !== c.d_model) {
    problems.push(`d_head × n_heads must equal d_model for family "gpt2": ${c.d_head} × ${c.n_heads} ≠ ${c.d_model}`);
  }
  return problems;
}

/** Problems with the optional architecture-variant fields (only those present are checked). */
function variantProblems(c: Record<string, unknown>, problems: string[]): void {
  const has = (k: string) => c[k] !== undefined && c[k] !== null;
  const f = fields(problems, c);
  if (has("normPlacement")) f.oneOf("normPlacement", ["pre", "post", "both"], { quote: true });
  if (has("qkNorm")) f.oneOf("qkNorm", ["none", "head", "full"], { quote: true });
  for (const k of ["embedScale", "attnScale", "attnSoftcap", "finalSoftcap"]) if (has(k)) f.posNum(k, "a positive number");
  if (has("normOffset") && !(typeof c.normOffset === "number" && Number.isFinite(c.normOffset))) problems.push(`normOffset must be a finite number, received ${showValue(c.normOffset)}`);
  if (has("slidingWindow")) f.posInt("slidingWindow");
  if (has("slidingLayers")) {
    const v = c.slidingLayers;
    if (!Array.isArray(v) || v.length !== c.n_layers || !v.every((b) => typeof b === "boolean")) {
      problems.push(`slidingLayers must be null or n_layers (${c.n_layers}) booleans, received ${showValue(v)}`);
    }
  }
  if ((has("qkNorm") && c.qkNorm !== "none") || (has("normPlacement") && c.normPlacement !== "pre")) {
    if (c.family !== "llama") problems.push(`qkNorm and normPlacement other than "pre" need family "llama", received ${showValue(c.family)}`);
  }
}

/** Throw one error listing every problem (or return the config unchanged when it is valid). */
export function validateConfig(cfg: ModelConfig, where = "validateConfig"): ModelConfig {
  const problems = configProblems(cfg);
  if (problems.length > 0) {
    throw problemsError(`${where}: invalid model config`, problems);
  }
  return cfg;
}

/** Named presets. Tiny ones are for model organisms and tests; the others mirror real checkpoints' shapes. */
export const PRESETS = {
  /** 2 layers, d_model 64: the smallest organism; trains in seconds. */
  "organism-tiny": { family: "llama", d_model: 64, n_layers: 2, n_heads: 4, d_mlp: 192, d_vocab: 512, n_ctx: 64, tiedEmbeddings: true },
  /** d_model 128, 4 layers, 4 heads, context 64: the training-throughput benchmark preset. */
  "organism-small": { family: "gpt2", d_model: 128, n_layers: 4, n_heads: 4, d_vocab: 512, n_ctx: 64 },
  /** A Llama organism with grouped-query attention. */
  "organism-llama": { family: "llama", d_model: 128, n_layers: 4, n_heads: 4, n_key_value_heads: 2, d_mlp: 384, d_vocab: 512, n_ctx: 64, tiedEmbeddings: true },
  "gpt2-tiny": { family: "gpt2", d_model: 64, n_layers: 2, n_heads: 4, d_vocab: 256, n_ctx: 64 },
  "llama-tiny": { family: "llama", d_model: 64, n_layers: 2, n_heads: 4, n_key_value_heads: 2, d_mlp: 172, d_vocab: 256, n_ctx: 64 },
  /** The shape of llama2.c's stories260K. */
  stories260K: { family: "llama", d_model: 64, n_layers: 5, n_heads: 8, n_key_value_heads: 4, d_mlp: 172, d_vocab: 512, n_ctx: 512, ropeStyle: "interleaved", tiedEmbeddings: true, bosTokenId: 1, eosTokenId: 2 },
  /** GPT-2 small (124M): the shape the forward-pass benchmark uses. */
  "gpt2-small": { family: "gpt2", d_model: 768, n_layers: 12, n_heads: 12, d_vocab: 50257, n_ctx: 1024, bosTokenId: 50256, eosTokenId: 50256 },
  "smollm-135m": { family: "llama", d_model: 576, n_layers: 30, n_heads: 9, n_key_value_heads: 3, d_mlp: 1536, d_vocab: 49152, n_ctx: 2048, tiedEmbeddings: true, bosTokenId: 1, eosTokenId: 2 },
  "tinyllama-1.1b": { family: "llama", d_model: 2048, n_layers: 22, n_heads: 32, n_key_value_heads: 4, d_mlp: 5632, d_vocab: 32000, n_ctx: 2048, bosTokenId: 1, eosTokenId: 2 },
} as const satisfies Record<string, ModelConfigInput>;

export type PresetName = keyof typeof PRESETS;

/** A preset, optionally overridden field by field, resolved and validated. */
export function presetConfig(name: PresetName, overrides: Partial<ModelConfig> = {}): ModelConfig {
  const preset = (PRESETS as Record<string, ModelConfigInput>)[name];
  if (!preset) {
    throw new RangeError(`presetConfig: unknown preset ${JSON.stringify(name)}; known presets: ${Object.keys(PRESETS).join(", ")}`);
  }
  return validateConfig(resolveConfig({ ...preset, ...overrides } as ModelConfigInput), "presetConfig");
}

/** Resolve defaults then validate: the usual way to turn user input into a config. */
export function makeConfig(input: ModelConfigInput): ModelConfig {
  return validateConfig(resolveConfig(input), "makeConfig");
}
