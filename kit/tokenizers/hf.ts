/**
 * Hugging Face tokenizers (`tokenizer.json` + optional `tokenizer_config.json`) through `@huggingface/tokenizers`,
 * behind the kit's {@link Tokenizer} interface.
 *
 * - BOS/EOS/PAD ids come from `tokenizer_config.json` (`bos_token` etc., strings or `{content}` objects), else from
 *   the post-processor's template, else from well-known special added tokens ("<s>", "<|endoftext|>", …).
 * - `encode` follows the tokenizer's own post-processor unless told otherwise (GPT-2's adds nothing, Llama's adds
 *   BOS): `addBos: true` prepends BOS when the post-processor did not, `addBos: false` removes the BOS it added;
 *   `addEos` likewise at the end.
 * - `decode` leaves out special tokens by default and otherwise renders text as the library does (its decoder, and
 *   `clean_up_tokenization_spaces` from the config, default true as in transformers.js), except that byte-fallback
 *   runs that are not valid UTF-8 become one U+FFFD per byte, as in Hugging Face's Rust tokenizers
 *   (`./byte-fallback.ts`).
 *
 * {@link readHfTokenizerFolder} / {@link readHfTokenizerFiles} read the files with clear errors; `loadTokenizer` uses them too.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./types";
import { describeValue } from "../describe";
import { isPlainObject } from "../util/object";
import { MAX_TOKENIZER_JSON_BYTES, readJsonObject } from "../io/bounds";
import { useRustByteFallback } from "./byte-fallback";

/**
 * The part of `@huggingface/tokenizers`' `Tokenizer` class this wrapper uses. Declared here and loaded with
 * `require` (its CommonJS build) because the package's type declarations are ES-module-only, which TypeScript
 * before 5.8 refuses to import from a CommonJS file even as types.
 */
export interface HfLibTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean | null }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}
/** `new Tokenizer(tokenizerJson, tokenizerConfig)` of `@huggingface/tokenizers`. */
export type HfLibTokenizerClass = new (tokenizerJson: object, tokenizerConfig: object) => HfLibTokenizer;
const { Tokenizer: HfLibTokenizerCtor } = require("@huggingface/tokenizers") as { Tokenizer: HfLibTokenizerClass };

/** The JSON files of a Hugging Face tokenizer folder. */
export interface HfTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  /** `tokenizer_config.json`, or `{}` when the folder has none. */
  tokenizerConfig: Record<string, unknown>;
  /** `chat_template.jinja` beside them, when present (newer transformers save the template there). */
  chatTemplate?: string;
}

const BOS_NAMES = ["<s>", "<bos>", "<|begin_of_text|>", "<|startoftext|>", "<|endoftext|>", "[BOS]"];
const EOS_NAMES = ["</s>", "<eos>", "<|end_of_text|>", "<|endoftext|>", "[EOS]"];
const PAD_NAMES = ["<pad>", "[PAD]", "<|pad|>", "<|padding|>"];

/** A special token's name from a config value: a string or an `{content}` object (AddedToken). */
export function tokenName(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (isPlainObject(value) && typeof value.content === "string") return value.content;
  return null;
}

function readJson(file: string, where: string, what: string): Record<string, unknown> {
  return readJsonObject(where, file, what, MAX_TOKENIZER_JSON_BYTES);
}

/**
 * Reads `dir/tokenizer.json` (required), `dir/tokenizer_config.json` and `dir/chat_template.jinja` (optional).
 * `where` names the calling function in error messages.
 */
export function readHfTokenizerFolder(dir: string, where = "readHfTokenizerFolder"): HfTokenizerFiles {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new Error(`${where}: folder ${dir} does not exist; expected a Hugging Face tokenizer folder holding tokenizer.json`);
  }
  if (!stat.isDirectory()) throw new Error(`${where}: ${dir} is not a folder; expected a Hugging Face tokenizer folder holding tokenizer.json`);
  const jsonPath = path.join(dir, "tokenizer.json");
  if (!fs.existsSync(jsonPath)) {
    let listing = "";
    try {
      listing = `; it holds ${JSON.stringify(fs.readdirSync(dir).slice(0, 12))}`;
    } catch {
      /* listing is only a hint */
    }
    throw new Error(`${where}: folder ${dir} has no tokenizer.json (expected ${jsonPath})${listing}`);
  }
  return readHfTokenizerFiles(jsonPath, where);
}

/**
 * Reads a `tokenizer.json` file (any name) and the `tokenizer_config.json` and `chat_template.jinja` beside it, when
 * present. `where` names the calling function in error messages.
 */
export function readHfTokenizerFiles(jsonPath: string, where = "readHfTokenizerFiles"): HfTokenizerFiles {
  const dir = path.dirname(jsonPath);
  const tokenizerJson = readJson(jsonPath, where, "a Hugging Face tokenizer.json");
  const configPath = path.join(dir, "tokenizer_config.json");
  const tokenizerConfig = fs.existsSync(configPath) ? readJson(configPath, where, "a tokenizer_config.json object") : {};
  const templatePath = path.join(dir, "chat_template.jinja");
  const chatTemplate = fs.existsSync(templatePath) ? fs.readFileSync(templatePath, "utf8") : undefined;
  return { tokenizerJson, tokenizerConfig, chatTemplate };
}

/** The chat template of a config: a string, or the "default" (else first) of a list of `{name, template}`. */
function chatTemplateOf(config: Record<string, unknown>): string | undefined {
  const t = config.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = t.filter((x): x is { name: unknown; template: string } => isPlainObject(x) && typeof x.template === "string");
    return (named.find((x) => x.name === "default") ?? named[0])?.template;
  }
  return undefined;
}

function startsWith(a: readonly number[], prefix: readonly number[], at = 0): boolean {
  if (a.length - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[at + i] !== prefix[i]) return false;
  return true;
}

/** A Hugging Face tokenizer run by `@huggingface/tokenizers`. */
export class HfTokenizer implements Tokenizer {
  readonly kind = "hf";
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly chatTemplate?: string;
  /** The `@huggingface/tokenizers` instance, for anything this wrapper does not cover. */
  readonly hf: HfLibTokenizer;
  private readonly json: Record<string, unknown>;
  private readonly config: Record<string, unknown>;

  private constructor(json: Record<string, unknown>, config: Record<string, unknown>, chatTemplate: string | undefined, where: string) {
    this.json = json;
    this.config = config;
    // The library needs every pipeline key present (null when absent) and special tokens named by plain strings.
    const libJson: Record<string, unknown> = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...json,
      added_tokens: Array.isArray(json.added_tokens) ? json.added_tokens : [],
    };
    const libConfig: Record<string, unknown> = { ...config };
    for (const key of ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"]) {
      if (key in libConfig) {
        const name = tokenName(libConfig[key]);
        if (name === null) delete libConfig[key];
        else libConfig[key] = name;
      }
    }
    if (Array.isArray(libConfig.additional_special_tokens)) {
      libConfig.additional_special_tokens = libConfig.additional_special_tokens.map(tokenName).filter((x) => x !== null);
    }
    try {
      this.hf = new HfLibTokenizerCtor(libJson, libConfig);
      useRustByteFallback((this.hf as unknown as { decoder?: Parameters<typeof useRustByteFallback>[0] }).decoder);
    } catch (e) {
      throw new Error(`${where}: @huggingface/tokenizers rejected the tokenizer (model type ${describeValue((json.model as Record<string, unknown>).type)}): ${(e as Error).message}`);
    }
    const vocab = this.hf.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const added = (libJson.added_tokens as unknown[]).filter(isPlainObject);
    const specialAdded = new Map<string, number>();
    for (const t of added) {
      if (t.special !== false && typeof t.content === "string" && typeof t.id === "number") specialAdded.set(t.content, t.id);
    }
    const template = isPlainObject(json.post_processor) && json.post_processor.type === "TemplateProcessing" ? json.post_processor : null;
    const single = template && Array.isArray(template.single) ? template.single.filter(isPlainObject) : [];
    const templateToken = (item: Record<string, unknown> | undefined): string | null =>
      item && isPlainObject(item.SpecialToken) && typeof item.SpecialToken.id === "string" ? item.SpecialToken.id : null;
    const idOf = (name: string | null): number | null => (name === null ? null : this.hf.token_to_id(name) ?? null);
    const resolve = (key: string, templateName: string | null, names: string[]): number | null => {
      if (key in config) return idOf(tokenName(config[key]));
      if (templateName !== null && idOf(templateName) !== null) return idOf(templateName);
      for (const n of names) if (specialAdded.has(n)) return specialAdded.get(n)!;
      return null;
    };
    this.bosTokenId = resolve("bos_token", templateToken(single[0]), BOS_NAMES);
    this.eosTokenId = resolve("eos_token", single.length > 1 ? templateToken(single[single.length - 1]) : null, EOS_NAMES);
    this.padTokenId = resolve("pad_token", null, PAD_NAMES);
    const template_ = chatTemplateOf(config) ?? chatTemplate;
    if (template_ !== undefined) this.chatTemplate = template_;
  }

  /** Loads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json` and `dir/chat_template.jinja`. */
  static fromFolder(dir: string): HfTokenizer {
    const where = "HfTokenizer.fromFolder";
    const files = readHfTokenizerFolder(dir, where);
    return HfTokenizer.build(files.tokenizerJson, files.tokenizerConfig, files.chatTemplate, `${where}: ${path.join(dir, "tokenizer.json")}`);
  }

  /**
   * Wraps a parsed `tokenizer.json` object (and optional `tokenizer_config.json` object). `options.chatTemplate`
   * (a `chat_template.jinja` file's text) is used when the config has no `chat_template`.
   */
  static fromJson(
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown> = {},
    options: { chatTemplate?: string } = {},
  ): HfTokenizer {
    return HfTokenizer.build(tokenizerJson, tokenizerConfig, options.chatTemplate, "HfTokenizer.fromJson");
  }

  private static build(json: unknown, config: unknown, chatTemplate: string | undefined, where: string): HfTokenizer {
    if (!isPlainObject(json) || !isPlainObject(json.model)) {
      throw new TypeError(
        `${where}: tokenizerJson must be a tokenizer.json object with a "model" object, received ${describeValue(isPlainObject(json) ? json.model : json)}${isPlainObject(json) ? " as model" : ""}`,
      );
    }
    if (!isPlainObject(config)) {
      throw new TypeError(`${where}: tokenizerConfig must be a tokenizer_config.json object, received ${describeValue(config)}`);
    }
    return new HfTokenizer(json, config, chatTemplate, where);
  }

  /**
   * Ids of `text`. With no options the tokenizer's post-processor decides (Llama adds BOS, GPT-2 adds nothing);
   * `addBos`/`addEos` true add BOS/EOS when it did not, false remove the ones it added.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TypeError(`HfTokenizer.encode: text must be a string, received ${describeValue(text)}`);
    const ids = this.hf.encode(text, { add_special_tokens: true }).ids;
    const { addBos, addEos } = options;
    if (addBos === undefined && addEos === undefined) return ids;
    // What the post-processor added around the text: split `ids` into prefix + plain + suffix.
    const plain = this.hf.encode(text, { add_special_tokens: false }).ids;
    const bos = this.bosTokenId;
    const eos = this.eosTokenId;
    let k = 0;
    if (plain.length === 0) {
      k = bos !== null && ids[0] === bos ? 1 : 0;
    } else {
      while (k + plain.length <= ids.length && !startsWith(ids, plain, k)) k++;
      if (k + plain.length > ids.length) return ids; // the post-processor rewrote the text's tokens: leave it be
    }
    let prefix = ids.slice(0, k);
    let suffix = ids.slice(k + plain.length);
    if (addBos === true && bos === null) throw new RangeError("HfTokenizer.encode: options.addBos is true but the tokenizer has no BOS token");
    if (addEos === true && eos === null) throw new RangeError("HfTokenizer.encode: options.addEos is true but the tokenizer has no EOS token");
    if (addBos === true && prefix[0] !== bos) prefix = [bos!, ...prefix];
    if (addBos === false && prefix.length > 0 && prefix[0] === bos) prefix = prefix.slice(1);
    if (addEos === true && suffix[suffix.length - 1] !== eos) suffix = [...suffix, eos!];
    if (addEos === false && suffix.length > 0 && suffix[suffix.length - 1] === eos) suffix = suffix.slice(0, -1);
    return [...prefix, ...plain, ...suffix];
  }

  /** Text of `ids` as the library's decoder renders it; special tokens left out by default. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    ids.forEach((id, k) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`HfTokenizer.decode: ids[${k}] must be an integer token id in [0, ${this.vocabSize - 1}], received ${id}`);
      }
    });
    if (ids.length === 0) return ""; // the library rejects empty input
    return this.hf.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** A deep copy of the `tokenizer.json` object this tokenizer was built from. */
  toTokenizerJson(): Record<string, unknown> {
    return structuredClone(this.json);
  }

  /** A deep copy of the `tokenizer_config.json` object (`{}` when there was none). */
  toTokenizerConfig(): Record<string, unknown> {
    return structuredClone(this.config);
  }
}
