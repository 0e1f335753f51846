/**
 * A word-level tokenizer for synthetic languages: one id per word, built from a corpus or a word list, and saved as a
 * standard Hugging Face `tokenizer.json` (`WordLevel` model, `Whitespace` pre-tokenizer) that
 * `@huggingface/tokenizers` loads and encodes identically.
 *
 * Pre-tokenization is HF's `Whitespace`: special-token strings in the text (e.g. "<eos>") are matched first, as HF
 * matches added tokens; the rest is split into runs of word characters and runs of other non-space characters,
 * regex `\w+|[^\w\s]+`. `\w` is JavaScript's ASCII class `[A-Za-z0-9_]`, as in `@huggingface/tokenizers`; Rust/Python
 * `tokenizers` use Unicode `\w`, so they split non-ASCII words ("café") differently ("café" vs "caf" + "é").
 * Words not in the vocabulary become `<unk>` (the unk role token).
 *
 * Decoding joins the words with single spaces (what HF does when `decoder` is null), so "Hi, you." round-trips as
 * "Hi , you ."; `toTokenizerConfig()` sets `clean_up_tokenization_spaces: false` so HF does not glue punctuation back.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { tokenName } from "./hf";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./types";
import { describeValue } from "../describe";

/** Which special tokens play the pad/bos/eos/unk roles (default "<pad>", "<bos>", "<eos>", "<unk>" when present). */
export interface WordLevelRoles {
  pad: string | null;
  bos: string | null;
  eos: string | null;
  /** Required: unknown words map to it. */
  unk: string;
}

/** Options of {@link WordLevelTokenizer.fromCorpus}. */
export interface WordLevelCorpusOptions {
  /** Role tokens (each must be one of `specialTokens`). */
  roles?: Partial<WordLevelRoles>;
  /** Special tokens, given the first ids in this order (default `["<pad>", "<bos>", "<eos>", "<unk>"]`). */
  specialTokens?: string[];
  /** Leave out words seen fewer times (default 1). */
  minCount?: number;
  /** Largest vocabulary, special tokens included (default: no limit). */
  maxVocab?: number;
}

/** Options of {@link WordLevelTokenizer.fromVocab}. */
export interface WordLevelVocabOptions {
  /** Role tokens (each must be one of the special tokens). */
  roles?: Partial<WordLevelRoles>;
  /** Which words are special tokens (default: those of "<pad>", "<bos>", "<eos>", "<unk>" that the list holds). */
  specialTokens?: string[];
}

const DEFAULT_ROLES: WordLevelRoles = { pad: "<pad>", bos: "<bos>", eos: "<eos>", unk: "<unk>" };
const DEFAULT_SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"];

/** `roles` filled in: a role left unset takes its default name when that is one of `specials`. */
function resolveRoles(roles: Partial<WordLevelRoles>, specials: readonly string[]): WordLevelRoles {
  const pick = (key: keyof WordLevelRoles): string | null =>
    roles[key] !== undefined ? roles[key]! : specials.includes(DEFAULT_ROLES[key]!) ? DEFAULT_ROLES[key] : null;
  return { pad: pick("pad"), bos: pick("bos"), eos: pick("eos"), unk: pick("unk") ?? DEFAULT_ROLES.unk };
}

/** HF's `Whitespace` pre-tokenizer pattern as `@huggingface/tokenizers` runs it (JavaScript, non-Unicode `\w`). */
const WORD_PATTERN = /\w+|[^\w\s]+/g;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}


/** One id per word; see the file comment for the exact splitting rules. */
export class WordLevelTokenizer implements Tokenizer {
  readonly kind = "wordlevel";
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number;
  /** The vocabulary in id order. */
  readonly words: readonly string[];
  /** The special tokens, in id order. */
  readonly specialTokens: readonly string[];
  private readonly ids: ReadonlyMap<string, number>;
  private readonly specialIds: ReadonlySet<number>;
  private readonly specialPattern: RegExp | null;

  /** The role tokens. */
  readonly roles: Readonly<WordLevelRoles>;

  private constructor(where: string, words: string[], specialTokens: string[], roles: WordLevelRoles) {
    const ids = new Map<string, number>();
    words.forEach((w, i) => {
      if (typeof w !== "string" || w.length === 0) {
        throw new TypeError(`${where}: word ${i} must be a non-empty string, received ${describeValue(w)}`);
      }
      if (ids.has(w)) {
        throw new RangeError(`${where}: word ${JSON.stringify(w)} appears at ids ${ids.get(w)} and ${i}; words must be unique`);
      }
      ids.set(w, i);
    });
    for (const s of specialTokens) {
      if (!ids.has(s)) {
        throw new RangeError(`${where}: special token ${JSON.stringify(s)} is not in the vocabulary`);
      }
    }
    for (const key of ["pad", "bos", "eos", "unk"] as const) {
      const name = roles[key];
      if (name !== null && !specialTokens.includes(name)) {
        throw new RangeError(
          `${where}: the ${key} token ${JSON.stringify(name)} must be one of the special tokens ${JSON.stringify(specialTokens)}` +
            (key === "unk" ? " (unknown words map to it)" : ""),
        );
      }
    }
    const unk = ids.get(roles.unk)!;
    const role = (name: string | null): number | null => (name === null ? null : ids.get(name)!);
    this.roles = { ...roles };
    this.words = words.slice();
    this.vocabSize = words.length;
    this.ids = ids;
    this.unkTokenId = unk;
    this.bosTokenId = role(roles.bos);
    this.eosTokenId = role(roles.eos);
    this.padTokenId = role(roles.pad);
    const specialsInIdOrder = specialTokens.slice().sort((a, b) => ids.get(a)! - ids.get(b)!);
    this.specialTokens = specialsInIdOrder;
    this.specialIds = new Set(specialsInIdOrder.map((s) => ids.get(s)!));
    // Longest first, so that a special token containing another wins (as HF's added-token trie does).
    const alternatives = specialsInIdOrder.slice().sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.specialPattern = alternatives.length > 0 ? new RegExp(alternatives.join("|"), "g") : null;
  }

  /**
   * Builds the vocabulary of `texts`: the special tokens first, then words by descending count, ties in
   * alphabetical (code unit) order; words seen fewer than `minCount` times are left out, and the list is cut at
   * `maxVocab` entries.
   */
  static fromCorpus(texts: readonly string[], options: WordLevelCorpusOptions = {}): WordLevelTokenizer {
    const where = "WordLevelTokenizer.fromCorpus";
    const specialTokens = options.specialTokens ?? DEFAULT_SPECIALS;
    const minCount = options.minCount ?? 1;
    const { maxVocab } = options;
    if (!Array.isArray(texts)) throw new TypeError(`${where}: texts must be an array of strings, received ${describeValue(texts)}`);
    if (!Number.isInteger(minCount) || minCount < 1) {
      throw new RangeError(`${where}: options.minCount must be a positive integer, received ${String(minCount)}`);
    }
    if (maxVocab !== undefined && (!Number.isInteger(maxVocab) || maxVocab < specialTokens.length)) {
      throw new RangeError(
        `${where}: options.maxVocab must be an integer >= the ${specialTokens.length} special tokens, received ${String(maxVocab)}`,
      );
    }
    // A throwaway tokenizer over the specials alone does the splitting, so corpus words are split as encode() splits.
    const roles = resolveRoles(options.roles ?? {}, specialTokens);
    const splitter = new WordLevelTokenizer(where, [...specialTokens], [...specialTokens], roles);
    const counts = new Map<string, number>();
    texts.forEach((text, i) => {
      if (typeof text !== "string") throw new TypeError(`${where}: texts[${i}] must be a string, received ${describeValue(text)}`);
      for (const piece of splitter.split(text)) {
        if (piece.special) continue;
        counts.set(piece.text, (counts.get(piece.text) ?? 0) + 1);
      }
    });
    const ranked = [...counts]
      .filter(([, c]) => c >= minCount)
      .sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0))
      .map(([w]) => w);
    const limit = maxVocab === undefined ? ranked.length : maxVocab - specialTokens.length;
    return new WordLevelTokenizer(where, [...specialTokens, ...ranked.slice(0, limit)], [...specialTokens], roles);
  }

  /** A tokenizer over `words` in id order (special tokens included, e.g. `["<pad>", "<bos>", "<eos>", "<unk>", "cat"]`). */
  static fromVocab(words: readonly string[], options: WordLevelVocabOptions = {}): WordLevelTokenizer {
    const where = "WordLevelTokenizer.fromVocab";
    if (!Array.isArray(words)) throw new TypeError(`${where}: words must be an array of strings, received ${describeValue(words)}`);
    const specialTokens = options.specialTokens ?? DEFAULT_SPECIALS.filter((s) => words.includes(s));
    return new WordLevelTokenizer(where, [...words], [...specialTokens], resolveRoles(options.roles ?? {}, specialTokens));
  }

  /**
   * The tokenizer of a `tokenizer.json` with a `WordLevel` model (as {@link toTokenizerJson} writes). Special tokens
   * are its `added_tokens` marked special; roles come from `tokenizerConfig` (bos_token…), else `model.unk_token` and
   * the post-processor's leading special token, else the default names.
   */
  static fromTokenizerJson(json: Record<string, unknown>, tokenizerConfig: Record<string, unknown> = {}): WordLevelTokenizer {
    const where = "WordLevelTokenizer.fromTokenizerJson";
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new TypeError(`${where}: json must be a tokenizer.json object, received ${describeValue(json)}`);
    }
    const model = json.model as Record<string, unknown> | undefined;
    if (!model || typeof model !== "object" || model.type !== "WordLevel") {
      throw new RangeError(
        `${where}: json.model must be a WordLevel model ({type: "WordLevel", vocab, unk_token}), received model type ${describeValue(model && typeof model === "object" ? model.type : model)}`,
      );
    }
    const vocab = model.vocab as Record<string, unknown> | undefined;
    if (!vocab || typeof vocab !== "object" || Array.isArray(vocab)) {
      throw new TypeError(`${where}: json.model.vocab must be an object mapping words to ids, received ${describeValue(vocab)}`);
    }
    const words: string[] = [];
    for (const [word, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || (id as number) < 0) {
        throw new RangeError(`${where}: json.model.vocab[${JSON.stringify(word)}] must be a non-negative integer id, received ${describeValue(id)}`);
      }
      if (words[id as number] !== undefined) {
        throw new RangeError(`${where}: id ${id} is given to both ${JSON.stringify(words[id as number])} and ${JSON.stringify(word)}`);
      }
      words[id as number] = word;
    }
    const added = Array.isArray(json.added_tokens) ? (json.added_tokens as unknown[]) : [];
    const specials: string[] = [];
    for (const t of added) {
      const tok = t as { id?: unknown; content?: unknown; special?: unknown };
      if (typeof tok.content !== "string" || !Number.isInteger(tok.id)) {
        throw new TypeError(`${where}: every json.added_tokens entry needs a string content and an integer id, received ${JSON.stringify(t)}`);
      }
      if (words[tok.id as number] === undefined) words[tok.id as number] = tok.content;
      if (words[tok.id as number] !== tok.content) {
        throw new RangeError(
          `${where}: added token ${JSON.stringify(tok.content)} has id ${tok.id}, which the vocabulary gives to ${JSON.stringify(words[tok.id as number])}`,
        );
      }
      if (tok.special !== false) specials.push(tok.content);
    }
    for (let i = 0; i < words.length; i++) {
      if (words[i] === undefined) throw new RangeError(`${where}: ids must be 0..${words.length - 1} without gaps; id ${i} has no word`);
    }
    // Roles: tokenizer_config.json first, then the model's unk_token and the post-processor's leading special token.
    const fromConfig = (key: string): string | null | undefined =>
      key in tokenizerConfig ? tokenName(tokenizerConfig[key]) : undefined;
    const template = json.post_processor as { type?: unknown; single?: unknown } | null | undefined;
    const single = template && Array.isArray(template.single) ? (template.single as unknown[]) : [];
    const first = single[0] as { SpecialToken?: { id?: unknown } } | undefined;
    const templateBos = template?.type === "TemplateProcessing" && typeof first?.SpecialToken?.id === "string" ? first.SpecialToken.id : undefined;
    const roles = resolveRoles(
      {
        pad: fromConfig("pad_token"),
        bos: fromConfig("bos_token") ?? templateBos,
        eos: fromConfig("eos_token"),
        unk: fromConfig("unk_token") ?? tokenName(model.unk_token) ?? undefined,
      },
      specials,
    );
    if (!specials.includes(roles.unk) && words.includes(roles.unk)) specials.push(roles.unk);
    return new WordLevelTokenizer(where, words, specials, roles);
  }

  /** `text` as words and special tokens, the way encode() and HF's added-token split + `Whitespace` see it. */
  private split(text: string): { text: string; special: boolean }[] {
    const out: { text: string; special: boolean }[] = [];
    const words = (segment: string): void => {
      for (const m of segment.matchAll(WORD_PATTERN)) out.push({ text: m[0], special: false });
    };
    if (this.specialPattern === null) {
      words(text);
      return out;
    }
    let last = 0;
    for (const m of text.matchAll(this.specialPattern)) {
      words(text.slice(last, m.index));
      out.push({ text: m[0], special: true });
      last = m.index! + m[0].length;
    }
    words(text.slice(last));
    return out;
  }

  /** The words of `text` (special tokens kept whole), before mapping to ids. */
  tokenize(text: string): string[] {
    return this.split(text).map((p) => p.text);
  }

  /** Ids of `text`: BOS first by default (when the vocabulary has `<bos>`), unknown words as `<unk>`. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TypeError(`WordLevelTokenizer.encode: text must be a string, received ${describeValue(text)}`);
    const ids: number[] = [];
    if ((options.addBos ?? true) && this.bosTokenId !== null) ids.push(this.bosTokenId);
    for (const piece of this.split(text)) ids.push(this.ids.get(piece.text) ?? this.unkTokenId);
    if (options.addEos && this.eosTokenId !== null) ids.push(this.eosTokenId);
    return ids;
  }

  /** The words of `ids` joined with single spaces; special tokens left out by default. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const words: string[] = [];
    ids.forEach((id, k) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`WordLevelTokenizer.decode: ids[${k}] must be an integer token id in [0, ${this.vocabSize - 1}], received ${id}`);
      }
      if (!(skip && this.specialIds.has(id))) words.push(this.words[id]);
    });
    return words.join(" ");
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.words[id] : undefined;
  }

  tokenToId(word: string): number | undefined {
    return this.ids.get(word);
  }

  /**
   * A standard `tokenizer.json`: `WordLevel` model, `Whitespace` pre-tokenizer, a `TemplateProcessing` post-processor
   * adding `<bos>` (when the vocabulary has it), the special tokens as added tokens, and `decoder: null` (HF then
   * joins tokens with spaces; neither `tokenizers` nor `@huggingface/tokenizers` has a WordLevel decoder).
   */
  toTokenizerJson(): Record<string, unknown> {
    const vocab: Record<string, number> = {};
    this.words.forEach((w, i) => (vocab[w] = i));
    const bos = this.bosTokenId === null ? null : this.words[this.bosTokenId];
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: this.specialTokens.map((content) => ({
        id: this.ids.get(content)!,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: { type: "Whitespace" },
      post_processor:
        bos === null
          ? null
          : {
              type: "TemplateProcessing",
              single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
              pair: [
                { SpecialToken: { id: bos, type_id: 0 } },
                { Sequence: { id: "A", type_id: 0 } },
                { SpecialToken: { id: bos, type_id: 1 } },
                { Sequence: { id: "B", type_id: 1 } },
              ],
              special_tokens: { [bos]: { id: bos, ids: [this.bosTokenId], tokens: [bos] } },
            },
      decoder: null,
      model: { type: "WordLevel", vocab, unk_token: this.roles.unk },
    };
  }

  /** `tokenizer_config.json` fields: role tokens (needed by `@huggingface/tokenizers` for `<unk>`), no space clean-up. */
  toTokenizerConfig(): Record<string, unknown> {
    const name = (id: number | null): string | null => (id === null ? null : this.words[id]);
    return {
      tokenizer_class: "PreTrainedTokenizerFast",
      bos_token: name(this.bosTokenId),
      eos_token: name(this.eosTokenId),
      pad_token: name(this.padTokenId),
      unk_token: this.words[this.unkTokenId],
      add_bos_token: this.bosTokenId !== null,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
    };
  }

  /** Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing). */
  save(dir: string): void {
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(this.toTokenizerJson(), null, 2) + "\n");
      fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(this.toTokenizerConfig(), null, 2) + "\n");
    } catch (e) {
      throw new Error(`WordLevelTokenizer.save: cannot write the tokenizer files into ${dir}: ${(e as Error).message}`);
    }
  }
}
