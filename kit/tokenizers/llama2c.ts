/**
 * llama2.c's tokenizer: the `.bin` vocabulary written by llama2.c's `tokenizer.py` (int32 `max_token_length`, then
 * per token: float32 score, int32 byte length, the piece's bytes), with `encode`/`decode` reproducing `run.c`
 * exactly:
 *
 * - encode: optional BOS (id 1); when the text is non-empty, the dummy-prefix token (the piece " "); one token per
 *   UTF-8 code point that is a piece, else one byte-fallback token per byte (id = byte + 3); then, while any
 *   adjacent pair's concatenation is a piece, merge the pair whose piece has the highest score (leftmost on ties);
 *   optional EOS (id 2).
 * - decode: a piece right after BOS loses its leading space; pieces `<0xHH>` stand for the raw byte; the bytes are
 *   joined and read as UTF-8 (invalid sequences become U+FFFD).
 *
 * Pieces store sentencepiece's "▁" as a plain space (" Once"). Ids 0, 1, 2 are `<unk>`, BOS and EOS; their pieces in
 * the file are "<unk>", "\n<s>\n" and "\n</s>\n". `toTokenizerJson()` converts to the Hugging Face `tokenizer.json`
 * that `transformers`' `LlamaConverter` writes for a sentencepiece BPE model, so the same vocabulary can be used by
 * `@huggingface/tokenizers` or Python `tokenizers`.
 *
 * Two deliberate departures from the C code, both for inputs C cannot express: a JavaScript string is encoded whole
 * (C stops at a NUL byte), and lone UTF-16 surrogates are encoded as U+FFFD (as `TextEncoder` does).
 */
import * as fs from "node:fs";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./types";

/** Options of {@link Llama2cTokenizer.fromFile} and {@link Llama2cTokenizer.fromBuffer}. */
export interface Llama2cTokenizerOptions {
  /**
   * Number of tokens the file must hold (the model's `vocab_size`). When given, a file with fewer tokens or with
   * bytes left after them is an error; when omitted, tokens are read to the end of the file.
   */
  vocabSize?: number;
}

const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
/** llama2.c's merge loop starts from `best_score = -1e10` and only accepts strictly higher scores. */
const MIN_MERGE_SCORE = -1e10;
/** Hugging Face names of ids 0, 1, 2 (the llama2.c file stores BOS/EOS as "\n<s>\n" and "\n</s>\n"). */
const HF_SPECIALS = ["<unk>", "<s>", "</s>"] as const;
const SPM_SPACE = "\u2581";

const utf8 = new TextDecoder("utf-8");
const utf8Fatal = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** A byte string as a JavaScript string of code units 0–255 (a lossless key for C-style byte comparisons). */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** `sscanf(piece, "<0x%02hhX>", &b) == 1` as run.c's decode() tests it: "<0x" then one or two hex digits. */
function byteOfPiece(piece: Uint8Array): number | null {
  const m = /^<0x([0-9A-Fa-f]{1,2})/.exec(latin1(piece));
  return m ? parseInt(m[1], 16) : null;
}

/** A min-heap of merge candidates ordered by (score descending, position ascending), as run.c picks them. */
class MergeQueue {
  private readonly items: { score: number; left: number; right: number; leftId: number; rightId: number; merged: number }[] = [];

  get size(): number {
    return this.items.length;
  }

  private before(a: number, b: number): boolean {
    const x = this.items[a];
    const y = this.items[b];
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }

  push(item: { score: number; left: number; right: number; leftId: number; rightId: number; merged: number }): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): { score: number; left: number; right: number; leftId: number; rightId: number; merged: number } {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(l, best)) best = l;
        if (r < items.length && this.before(r, best)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

/** llama2.c's `.bin` tokenizer with `run.c`'s encode/decode. Build with {@link Llama2cTokenizer.fromFile}. */
export class Llama2cTokenizer implements Tokenizer {
  readonly kind = "llama2c";
  readonly vocabSize: number;
  readonly bosTokenId: number | null = BOS_ID;
  readonly eosTokenId: number | null = EOS_ID;
  readonly padTokenId: number | null = null;
  /** The file's `max_token_length` header (longest piece in bytes). */
  readonly maxTokenLength: number;
  /** Score of each piece (higher merges first). */
  readonly scores: readonly number[];
  /** Raw bytes of each piece, as stored in the file. */
  private readonly pieceBytes: readonly Uint8Array[];
  /** Piece of each id as text (UTF-8 decoded; " " where sentencepiece has "▁"). */
  private readonly pieces: readonly string[];
  /** Piece bytes as latin1 keys, for byte-exact lookups like C's `strcmp`. */
  private readonly keys: readonly string[];
  private readonly lookup: ReadonlyMap<string, number>;
  /** Bytes each id contributes to decode(), without and with the after-BOS space stripping. */
  private readonly decodeBytes: readonly Uint8Array[];
  private readonly decodeBytesAfterBos: readonly Uint8Array[];
  private readonly dummyPrefixId: number | null;

  private constructor(maxTokenLength: number, scores: number[], pieceBytes: Uint8Array[]) {
    this.maxTokenLength = maxTokenLength;
    this.vocabSize = pieceBytes.length;
    this.scores = scores;
    this.pieceBytes = pieceBytes;
    this.pieces = pieceBytes.map((b) => utf8.decode(b));
    this.keys = pieceBytes.map(latin1);
    const lookup = new Map<string, number>();
    // C's bsearch over a sorted vocabulary picks an arbitrary one of duplicate pieces; we keep the lowest id.
    this.keys.forEach((k, id) => {
      if (!lookup.has(k)) lookup.set(k, id);
    });
    this.lookup = lookup;
    const bytesOf = (piece: Uint8Array): Uint8Array => {
      const b = byteOfPiece(piece);
      return b === null ? piece : Uint8Array.of(b);
    };
    this.decodeBytes = pieceBytes.map(bytesOf);
    this.decodeBytesAfterBos = pieceBytes.map((p) => bytesOf(p.length > 0 && p[0] === 0x20 ? p.subarray(1) : p));
    this.dummyPrefixId = lookup.get(" ") ?? null;
  }

  /** Reads a llama2.c tokenizer `.bin` file (e.g. `tok512.bin`, `tokenizer.bin`). */
  static fromFile(path: string, options: Llama2cTokenizerOptions = {}): Llama2cTokenizer {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(path);
    } catch (e) {
      throw new Error(
        `Llama2cTokenizer.fromFile: cannot read ${path} (expected a llama2.c tokenizer .bin file): ${(e as Error).message}`,
      );
    }
    return Llama2cTokenizer.parse(buf, "Llama2cTokenizer.fromFile", path, options);
  }

  /** Parses the bytes of a llama2.c tokenizer `.bin` file; `source` names it in error messages. */
  static fromBuffer(
    bytes: Uint8Array | ArrayBuffer,
    options: Llama2cTokenizerOptions & { source?: string } = {},
  ): Llama2cTokenizer {
    const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    return Llama2cTokenizer.parse(view, "Llama2cTokenizer.fromBuffer", options.source ?? "the buffer", options);
  }

  private static parse(bytes: Uint8Array, where: string, source: string, options: Llama2cTokenizerOptions): Llama2cTokenizer {
    const { vocabSize } = options;
    if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize < 1)) {
      throw new RangeError(`${where}: options.vocabSize must be a positive integer, received ${String(vocabSize)}`);
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.byteLength;
    if (n < 4) {
      throw new RangeError(`${where}: ${source} is truncated: the int32 max_token_length header needs 4 bytes, file has ${n}`);
    }
    const maxTokenLength = dv.getInt32(0, true);
    if (maxTokenLength <= 0) {
      throw new RangeError(
        `${where}: ${source} is not a llama2.c tokenizer: max_token_length header must be a positive int32, received ${maxTokenLength}`,
      );
    }
    const scores: number[] = [];
    const pieces: Uint8Array[] = [];
    let offset = 4;
    while (vocabSize === undefined ? offset < n : pieces.length < vocabSize) {
      const i = pieces.length;
      if (offset + 8 > n) {
        const expected = vocabSize === undefined ? "" : ` (expected ${vocabSize} tokens, read ${i})`;
        throw new RangeError(
          `${where}: ${source} is truncated: token ${i} needs 8 bytes (float32 score, int32 length) at offset ${offset}, file has ${n}${expected}`,
        );
      }
      const score = dv.getFloat32(offset, true);
      const len = dv.getInt32(offset + 4, true);
      if (Number.isNaN(score)) {
        throw new RangeError(`${where}: ${source}: token ${i} at offset ${offset} has score NaN; expected a number`);
      }
      if (len < 0 || len > maxTokenLength) {
        throw new RangeError(
          `${where}: ${source}: token ${i} at offset ${offset} has length ${len}; expected 0..${maxTokenLength} (the max_token_length header)`,
        );
      }
      if (offset + 8 + len > n) {
        throw new RangeError(
          `${where}: ${source} is truncated: token ${i} needs ${8 + len} bytes at offset ${offset}, file has ${n}`,
        );
      }
      scores.push(score);
      pieces.push(new Uint8Array(bytes.subarray(offset + 8, offset + 8 + len))); // a copy, not a view of the caller's buffer
      offset += 8 + len;
    }
    if (vocabSize !== undefined && offset < n) {
      throw new RangeError(
        `${where}: ${source} holds more than the expected ${vocabSize} tokens: ${n - offset} bytes remain at offset ${offset}`,
      );
    }
    if (pieces.length <= EOS_ID) {
      throw new RangeError(
        `${where}: ${source} holds ${pieces.length} tokens; expected at least 3 (<unk>, BOS, EOS at ids 0, 1, 2)`,
      );
    }
    return new Llama2cTokenizer(maxTokenLength, scores, pieces);
  }

  /** Token ids of `text` exactly as run.c's `encode()` gives them (BOS by default, no EOS). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") {
      throw new TypeError(`Llama2cTokenizer.encode: text must be a string, received ${typeof text}`);
    }
    const addBos = options.addBos ?? true;
    const addEos = options.addEos ?? false;
    const ids: number[] = [];
    if (addBos) ids.push(BOS_ID);
    if (text.length > 0 && this.dummyPrefixId !== null) ids.push(this.dummyPrefixId);

    // One token per UTF-8 code point, or its bytes (run.c groups a lead byte with up to 3 continuation bytes).
    const bytes = utf8Encoder.encode(text);
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i] & 0xc0) !== 0x80) start = i;
      const next = i + 1 < bytes.length ? bytes[i + 1] : 0;
      if ((next & 0xc0) === 0x80 && i + 1 - start < 4) continue;
      const id = this.lookup.get(latin1(bytes.subarray(start, i + 1)));
      if (id !== undefined) {
        ids.push(id);
      } else {
        for (let j = start; j <= i; j++) {
          const byteId = bytes[j] + 3;
          if (byteId >= this.vocabSize) {
            throw new RangeError(
              `Llama2cTokenizer.encode: byte 0x${bytes[j].toString(16).padStart(2, "0")} of ${JSON.stringify(text.slice(0, 40))} needs byte-fallback token ${byteId}, but the vocabulary has ${this.vocabSize} tokens`,
            );
          }
          ids.push(byteId);
        }
      }
      start = i + 1;
    }

    const merged = this.merge(ids);
    if (addEos) merged.push(EOS_ID);
    return merged;
  }

  /**
   * run.c's merge loop (repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece, the
   * leftmost on ties) in O(n log n) with a linked list and a priority queue instead of C's O(n²) rescans.
   */
  private merge(ids: number[]): number[] {
    const n = ids.length;
    if (n < 2) return ids;
    const tok = Int32Array.from(ids);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const queue = new MergeQueue();
    const consider = (left: number): void => {
      if (left < 0) return;
      const right = next[left];
      if (right < 0) return;
      const merged = this.lookup.get(this.keys[tok[left]] + this.keys[tok[right]]);
      if (merged === undefined) return;
      const score = this.scores[merged];
      if (!(score > MIN_MERGE_SCORE)) return;
      queue.push({ score, left, right, leftId: tok[left], rightId: tok[right], merged });
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (queue.size > 0) {
      const c = queue.pop();
      if (!alive[c.left] || !alive[c.right] || next[c.left] !== c.right) continue;
      if (tok[c.left] !== c.leftId || tok[c.right] !== c.rightId) continue;
      tok[c.left] = c.merged;
      alive[c.right] = 0;
      const after = next[c.right];
      next[c.left] = after;
      if (after >= 0) prev[after] = c.left;
      consider(prev[c.left]);
      consider(c.left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(tok[i]);
    return out;
  }

  /**
   * Text of `ids` as run.c's `decode()` renders them: a piece right after BOS loses its leading space, `<0xHH>`
   * pieces are raw bytes, and the bytes are read as UTF-8. Special tokens (ids 0, 1, 2) are left out by default;
   * with `skipSpecialTokens: false` they appear as the file's pieces ("<unk>", "\n<s>\n", "\n</s>\n").
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const parts: Uint8Array[] = [];
    let total = 0;
    let prev = -1;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(
          `Llama2cTokenizer.decode: ids[${k}] must be an integer token id in [0, ${this.vocabSize - 1}], received ${id}`,
        );
      }
      if (!(skip && id <= EOS_ID)) {
        const piece = prev === BOS_ID ? this.decodeBytesAfterBos[id] : this.decodeBytes[id];
        parts.push(piece);
        total += piece.length;
      }
      prev = id;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return utf8.decode(out);
  }

  /** The piece of `id` as stored in the file (" Once", "<0x0A>", "\n<s>\n"), or undefined when out of range. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.pieces[id] : undefined;
  }

  /** The id of a piece as stored in the file (" Once"), or undefined. */
  tokenToId(piece: string): number | undefined {
    return this.lookup.get(latin1(utf8Encoder.encode(piece)));
  }

  /** The Hugging Face name of each piece: "▁" for space, "<unk>", "<s>", "</s>" for ids 0–2. */
  private hfPieces(where: string): string[] {
    return this.pieceBytes.map((bytes, id) => {
      if (id <= EOS_ID) return HF_SPECIALS[id];
      let text: string;
      try {
        text = utf8Fatal.decode(bytes);
      } catch {
        throw new RangeError(`${where}: piece ${id} is not valid UTF-8, so it cannot be a tokenizer.json vocabulary entry`);
      }
      return text.replaceAll(" ", SPM_SPACE);
    });
  }

  /**
   * The Hugging Face `tokenizer.json` that `transformers`' `LlamaConverter` writes for this vocabulary as a
   * sentencepiece BPE model (legacy layout: `Prepend("▁")` + `Replace(" ", "▁")` normalizer, no pre-tokenizer).
   * Merges are derived from the vocabulary and scores as `SentencePieceExtractor` does: every split of a piece into
   * two pieces is a merge; merges are ordered by the merged piece's score (descending, then piece id), splits of
   * one piece by (left id, right id). A split is taken when its two halves are pieces in the `.bin` file, so the
   * merges are exactly the ones run.c's loop can make.
   */
  toTokenizerJson(): Record<string, unknown> {
    const where = "Llama2cTokenizer.toTokenizerJson";
    const names = this.hfPieces(where);
    const vocab: Record<string, number> = {};
    names.forEach((name, id) => {
      if (Object.prototype.hasOwnProperty.call(vocab, name)) {
        throw new RangeError(
          `${where}: piece ${JSON.stringify(name)} appears at ids ${vocab[name]} and ${id}; a tokenizer.json vocabulary needs unique pieces`,
        );
      }
      vocab[name] = id;
    });

    const merges: { left: number; right: number; merged: number }[] = [];
    for (let id = 0; id < this.vocabSize; id++) {
      const chars = Array.from(this.pieces[id]);
      const local: { left: number; right: number; merged: number }[] = [];
      for (let cut = 1; cut < chars.length; cut++) {
        const left = this.tokenToId(chars.slice(0, cut).join(""));
        const right = this.tokenToId(chars.slice(cut).join(""));
        if (left === undefined || right === undefined) continue;
        // HF's BPE names a merge's result by concatenation; skip splits where that is not this piece's HF name.
        if (names[left] + names[right] !== names[id]) continue;
        if (!(this.scores[id] > MIN_MERGE_SCORE)) continue;
        local.push({ left, right, merged: id });
      }
      local.sort((a, b) => a.left - b.left || a.right - b.right);
      merges.push(...local);
    }
    // Array.prototype.sort is stable: equal scores keep piece-id order, as Python's sorted() does.
    merges.sort((a, b) => this.scores[b.merged] - this.scores[a.merged]);

    const specialToken = (id: number) => ({
      id,
      content: HF_SPECIALS[id],
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [UNK_ID, BOS_ID, EOS_ID].map(specialToken),
      normalizer: {
        type: "Sequence",
        normalizers: [
          { type: "Prepend", prepend: SPM_SPACE },
          { type: "Replace", pattern: { String: " " }, content: SPM_SPACE },
        ],
      },
      pre_tokenizer: null,
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [
          { SpecialToken: { id: "<s>", type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: "<s>", type_id: 1 } },
          { Sequence: { id: "B", type_id: 1 } },
        ],
        special_tokens: { "<s>": { id: "<s>", ids: [BOS_ID], tokens: ["<s>"] } },
      },
      decoder: {
        type: "Sequence",
        decoders: [
          { type: "Replace", pattern: { String: SPM_SPACE }, content: " " },
          { type: "ByteFallback" },
          { type: "Fuse" },
          { type: "Strip", content: " ", start: 1, stop: 0 },
        ],
      },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: "<unk>",
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges: merges.map((m) => [names[m.left], names[m.right]]),
      },
    };
  }

  /**
   * `tokenizer_config.json` fields that make Hugging Face tokenizers behave like run.c: BOS added, no EOS, no
   * clean-up of spaces around punctuation on decode. `legacy: true` describes the normalizer layout of
   * {@link toTokenizerJson}; with no special-token strings in the text, legacy and non-legacy Llama tokenizers agree.
   */
  toTokenizerConfig(): Record<string, unknown> {
    return {
      tokenizer_class: "LlamaTokenizer",
      bos_token: "<s>",
      eos_token: "</s>",
      unk_token: "<unk>",
      pad_token: null,
      add_bos_token: true,
      add_eos_token: false,
      legacy: true,
      clean_up_tokenization_spaces: false,
      spaces_between_special_tokens: false,
    };
  }
}
