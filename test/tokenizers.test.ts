/**
 * Tests of the kit's tokenizers: llama2.c `.bin` (against the real stories260K `tok512.bin`, its sentencepiece
 * `tok512.model` and llama2.c's golden output), its Hugging Face `tokenizer.json` conversion run by
 * `@huggingface/tokenizers`, the word-level tokenizer, the HF wrapper, `loadTokenizer`, and bad input.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Llama2cTokenizer } from "../kit/tokenizers/llama2c";
import { HfTokenizer, type HfLibTokenizer, type HfLibTokenizerClass } from "../kit/tokenizers/hf";
import { WordLevelTokenizer } from "../kit/tokenizers/wordlevel";
import { loadTokenizer } from "../kit/tokenizers/load";

// The library itself (CommonJS build), to show that the JSON we write loads without our wrapper.
const { Tokenizer: HfLib } = require("@huggingface/tokenizers") as { Tokenizer: HfLibTokenizerClass };

const STORIES_DIR = path.resolve(__dirname, "../data/models/stories260K-llama2c");
const TOK_BIN = path.join(STORIES_DIR, "tok512.bin");
const TOK_MODEL = path.join(STORIES_DIR, "tok512.model");

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "persona-kit-tokenizers-"));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let tmpCount = 0;
function tmpDir(): string {
  const d = path.join(tmpRoot, `d${tmpCount++}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function hfEncode(tok: HfLibTokenizer, text: string): number[] {
  return tok.encode(text).ids;
}
function hfDecode(tok: HfLibTokenizer, ids: number[]): string {
  return ids.length === 0 ? "" : tok.decode(ids, { skip_special_tokens: true });
}

/** A direct, O(n²) port of llama2.c run.c's encode(), to check the kit's faster merge loop against. */
function referenceEncode(tok: Llama2cTokenizer, text: string, bos: boolean, eos: boolean): number[] {
  const vocab = Array.from({ length: tok.vocabSize }, (_, i) => tok.idToToken(i)!);
  const lookup = new Map<string, number>();
  vocab.forEach((p, i) => lookup.has(p) || lookup.set(p, i));
  const strLookup = (s: string): number => lookup.get(s) ?? -1;
  const tokens: number[] = [];
  if (bos) tokens.push(1);
  if (text.length > 0) tokens.push(strLookup(" "));
  const bytes = new TextEncoder().encode(text);
  let buf: number[] = [];
  for (let c = 0; c < bytes.length; c++) {
    if ((bytes[c] & 0xc0) !== 0x80) buf = [];
    buf.push(bytes[c]);
    const next = c + 1 < bytes.length ? bytes[c + 1] : 0;
    if ((next & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = strLookup(new TextDecoder().decode(Uint8Array.from(buf)));
    if (id !== -1) tokens.push(id);
    else for (const b of buf) tokens.push(b + 3);
    buf = [];
  }
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = strLookup(vocab[tokens[i]] + vocab[tokens[i + 1]]);
      if (id !== -1 && tok.scores[id] > bestScore) {
        bestScore = tok.scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  if (eos) tokens.push(2);
  return tokens;
}

/** The pieces of a sentencepiece ModelProto (field 1: SentencePiece {1: piece, 2: score, 3: type}). */
function readSentencepieceModel(buf: Buffer): { piece: string; score: number; type: number }[] {
  let o = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    let b: number;
    do {
      b = buf[o++];
      result += (b & 0x7f) * scale;
      scale *= 128;
    } while (b & 0x80);
    return result;
  };
  const skip = (wireType: number): void => {
    if (wireType === 0) varint();
    else if (wireType === 1) o += 8;
    else if (wireType === 2) {
      const n = varint(); // read before adding: `o += varint()` would add to the old offset
      o += n;
    }
    else if (wireType === 5) o += 4;
    else throw new Error(`unexpected protobuf wire type ${wireType} at ${o}`);
  };
  const pieces: { piece: string; score: number; type: number }[] = [];
  while (o < buf.length) {
    const key = varint();
    if (key >>> 3 === 1 && (key & 7) === 2) {
      const end = varint() + o;
      const p = { piece: "", score: 0, type: 1 };
      while (o < end) {
        const k = varint();
        if (k >>> 3 === 1 && (k & 7) === 2) {
          const n = varint();
          p.piece = buf.toString("utf8", o, o + n);
          o += n;
        } else if (k >>> 3 === 2 && (k & 7) === 5) {
          p.score = buf.readFloatLE(o);
          o += 4;
        } else if (k >>> 3 === 3 && (k & 7) === 0) {
          p.type = varint();
        } else skip(k & 7);
      }
      pieces.push(p);
    } else skip(key & 7);
  }
  return pieces;
}

/** Varied text for encoder agreement: golden-story sentences and variants, plus punctuation, digits, non-ASCII. */
function variedStrings(story: string): string[] {
  const sentences = [...new Set(story.split(/(?<=[.!?"])\s+|\n+/).map((s) => s.trim()).filter((s) => s.length > 0))];
  const out: string[] = [];
  for (const s of sentences) {
    out.push(
      s, s.toUpperCase(), s.toLowerCase(), `${s}\n`, `\n${s}`, `  ${s}`, s.replace(/ /g, "  "), `${s} 42`,
      `${s} é 日本 😀`, s.split(" ").reverse().join(" "), s.replace(/[,.!?]/g, " $& "), s.replace(/ /g, "\n"),
    );
  }
  out.push(
    "", " ", "  ", "\n", "\n\n", "\t", "a", "A", "0", "1234567890", "3.14159", "100%", "$5.00", "1,000,000",
    "Hello, World!", "don't", "it's", "e-mail", "(parens)", "[brackets]", "{braces}", "a|b", "~tilde~", "back\\slash",
    'quote "x"', "'single'", "semi;colon: yes", "a/b/c", "#hash @at &amp", "^caret* +plus= _under_",
    "café", "naïve", "é", "ÉCOLE", "über", "日本", "日本語のテキスト", "Привет мир", "Ελληνικά", "한국어",
    "😀", "👍🏽 ok", "🇯🇵", "mixed 日本 and émoji 🎉!", "\u200a hair space", "tab\tseparated\tvalues",
    "line1\nline2\r\nline3", "™ trademark", "€100", "â", "<", ">", "<>", "x<0x41>y", "<unk", "s>",
    "   leading", "trailing   ", "Once", "Once upon a time", "once upon a time", "ONCE UPON A TIME",
    "Lily's mom said, \"Lily, let's go to the park.\"", story,
  );
  // Windows of the story cut mid-word, and its distinct words alone.
  for (let i = 0; i + 37 <= story.length; i += 23) out.push(story.slice(i, i + 37));
  out.push(...new Set(story.split(/\s+/)));
  return [...new Set(out)];
}

describe("Llama2cTokenizer on stories260K tok512.bin", () => {
  const tok = Llama2cTokenizer.fromFile(TOK_BIN);
  const story = fs.readFileSync(path.join(STORIES_DIR, "expected-greedy-200.txt"), "utf8");
  const golden = JSON.parse(fs.readFileSync(path.join(STORIES_DIR, "golden.json"), "utf8")) as { greedy_from_BOS: { token_ids: number[] } };

  it("Llama2cTokenizer.fromFile(tok512.bin) reads 512 pieces: ids 0–2 special, 3–258 bytes, 403 \" Once\"", () => {
    expect(tok.kind).toBe("llama2c");
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    expect([tok.bosTokenId, tok.eosTokenId, tok.padTokenId]).toEqual([1, 2, null]);
    expect(tok.idToToken(0)).toBe("<unk>");
    expect(tok.idToToken(1)).toBe("\n<s>\n");
    expect(tok.idToToken(2)).toBe("\n</s>\n");
    for (let b = 0; b < 256; b++) expect(tok.idToToken(b + 3)).toBe(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    expect(tok.idToToken(403)).toBe(" Once");
    expect(tok.idToToken(512)).toBeUndefined();
    expect(tok.tokenToId(" Once")).toBe(403);
  });

  it('Llama2cTokenizer.encode("Once upon a time") gives [1, 403, 407, 261, 378]', () => {
    expect(tok.encode("Once upon a time")).toEqual([1, 403, 407, 261, 378]);
  });

  it('Llama2cTokenizer.encode("Once upon a time", { addBos: false, addEos: true }) gives [403, 407, 261, 378, 2]', () => {
    expect(tok.encode("Once upon a time", { addBos: false, addEos: true })).toEqual([403, 407, 261, 378, 2]);
  });

  it('Llama2cTokenizer.encode("") gives [1] (no dummy prefix for empty text) and [] without BOS', () => {
    expect(tok.encode("")).toEqual([1]);
    expect(tok.encode("", { addBos: false })).toEqual([]);
    expect(tok.encode(" ")).toEqual([1, 410, 410]);
  });

  it("Llama2cTokenizer.encode(text) uses byte fallback (id = byte + 3) for code points that are not pieces", () => {
    const ids = tok.encode("日本", { addBos: false });
    const bytes = [...Buffer.from("日本", "utf8")];
    expect(ids).toEqual([410, ...bytes.map((b) => b + 3)]);
    expect(tok.decode([1, ...ids])).toBe("日本");
    expect(tok.decode(tok.encode("😀 x"))).toBe("😀 x");
  });

  it("Llama2cTokenizer.decode([1, ...golden greedy ids]) equals expected-greedy-200.txt byte for byte", () => {
    const text = tok.decode([1, ...golden!.greedy_from_BOS.token_ids]);
    expect(Buffer.from(text, "utf8").equals(fs.readFileSync(path.join(STORIES_DIR, "expected-greedy-200.txt")))).toBe(true);
  });

  it("Llama2cTokenizer.decode(ids) strips the leading space only of the piece after BOS; skipSpecialTokens: false shows the file's pieces", () => {
    expect(tok.decode([403])).toBe(" Once");
    expect(tok.decode([1, 403, 407])).toBe("Once upon");
    expect(tok.decode([1, 403, 2, 1, 403])).toBe("OnceOnce");
    expect(tok.decode([1, 403, 2], { skipSpecialTokens: false })).toBe("\n<s>\nOnce\n</s>\n");
    expect(tok.decode([1, 13, 0x0a + 3])).toBe("\n\n"); // <0x0A> pieces are raw newline bytes
    expect(tok.decode([])).toBe("");
  });

  it("Llama2cTokenizer.decode(Llama2cTokenizer.encode(s)) round-trips the golden story and varied text", () => {
    for (const s of variedStrings(story)) expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it("Llama2cTokenizer.encode(s) equals a direct O(n²) port of run.c encode() on varied text", () => {
    for (const s of variedStrings(story)) {
      expect(tok.encode(s)).toEqual(referenceEncode(tok, s, true, false));
      expect(tok.encode(s, { addBos: false, addEos: true })).toEqual(referenceEncode(tok, s, false, true));
    }
  });

  it("tok512.bin agrees with the sentencepiece tok512.model: same pieces (▁ as space) and scores", () => {
    const sp = readSentencepieceModel(fs.readFileSync(TOK_MODEL));
    expect(sp.length).toBe(512);
    sp.forEach((p, id) => {
      expect(tok.scores[id]).toBe(p.score);
      if (id === 1 || id === 2) return; // llama2.c writes BOS/EOS as "\n<s>\n", "\n</s>\n"
      expect(tok.idToToken(id)).toBe(p.piece.replaceAll("\u2581", " "));
    });
  });

  describe("Hugging Face conversion", () => {
    const json = tok.toTokenizerJson();
    const config = tok.toTokenizerConfig();
    const hf = new HfLib(json, config);

    it("Llama2cTokenizer.toTokenizerJson() is a LlamaConverter-style sentencepiece BPE tokenizer.json", () => {
      const model = json.model as Record<string, unknown>;
      expect(model).toMatchObject({ type: "BPE", byte_fallback: true, fuse_unk: true, unk_token: "<unk>", ignore_merges: false });
      const vocab = model.vocab as Record<string, number>;
      expect(Object.keys(vocab).length).toBe(512);
      expect(vocab["▁Once"]).toBe(403);
      expect(vocab["<s>"]).toBe(1);
      expect(vocab["<0x0A>"]).toBe(13);
      const merges = model.merges as [string, string][];
      expect(merges[0]).toEqual(["▁", "t"]); // " t" (id 259) has the highest merge score
      for (const [l, r] of merges) expect(vocab[l + r]).toBeDefined();
      expect(json.pre_tokenizer).toBeNull();
      expect(json.normalizer).toEqual({
        type: "Sequence",
        normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }],
      });
      expect((json.decoder as { decoders: unknown[] }).decoders).toEqual([
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ]);
      expect((json.added_tokens as { id: number; content: string; special: boolean }[]).map((t) => [t.id, t.content, t.special])).toEqual([
        [0, "<unk>", true],
        [1, "<s>", true],
        [2, "</s>", true],
      ]);
      expect(json.post_processor).toMatchObject({ type: "TemplateProcessing", special_tokens: { "<s>": { ids: [1] } } });
    });

    it("Llama2cTokenizer.toTokenizerJson() vocabulary equals the sentencepiece tok512.model pieces in id order", () => {
      const sp = readSentencepieceModel(fs.readFileSync(TOK_MODEL));
      const vocab = (json.model as { vocab: Record<string, number> }).vocab;
      expect(Object.entries(vocab).sort((a, b) => a[1] - b[1]).map(([p]) => p)).toEqual(sp.map((p) => p.piece));
    });

    it("Llama2cTokenizer.toTokenizerConfig() asks for BOS, no EOS, no space clean-up", () => {
      expect(config).toMatchObject({
        tokenizer_class: "LlamaTokenizer",
        bos_token: "<s>",
        eos_token: "</s>",
        unk_token: "<unk>",
        add_bos_token: true,
        add_eos_token: false,
        clean_up_tokenization_spaces: false,
      });
    });

    it('new Tokenizer(toTokenizerJson(), toTokenizerConfig()) of @huggingface/tokenizers encodes "Once upon a time" to [1, 403, 407, 261, 378]', () => {
      expect(hfEncode(hf, "Once upon a time")).toEqual([1, 403, 407, 261, 378]);
    });

    it("@huggingface/tokenizers and Llama2cTokenizer agree on encode and decode of >= 200 varied strings", () => {
      const strings = variedStrings(story);
      expect(strings.length).toBeGreaterThanOrEqual(200);
      for (const s of strings) {
        const ids = tok.encode(s);
        expect(hfEncode(hf, s), JSON.stringify(s)).toEqual(ids);
        expect(hfDecode(hf, ids), JSON.stringify(s)).toBe(tok.decode(ids));
      }
      const greedy = [1, ...golden!.greedy_from_BOS.token_ids];
      expect(hfDecode(hf, greedy)).toBe(tok.decode(greedy));
    });

    it("@huggingface/tokenizers differs from run.c by design on special-token text, \"▁\" in text, and decode without BOS", () => {
      // HF matches added tokens ("<s>") in the text and starts each piece of text after one with a new "▁".
      expect(tok.encode("<s>", { addBos: false })).not.toContain(1);
      expect(hfEncode(hf, "<s>")).toEqual([1, 1]);
      // HF's normalizer turns spaces into "▁", so a literal "▁" in text reads as a space; run.c byte-encodes it.
      expect(hfEncode(hf, "a\u2581b")).toEqual(hfEncode(hf, "a b"));
      expect(tok.encode("a\u2581b")).not.toEqual(tok.encode("a b"));
      // HF's Strip decoder drops the first leading space always; run.c only after BOS.
      expect(tok.decode([403])).toBe(" Once");
      expect(hfDecode(hf, [403])).toBe("Once");
    });

    it("HfTokenizer.fromJson(llama json, config) has BOS 1 / EOS 2, adds BOS by default, and honours addBos / addEos", () => {
      const h = HfTokenizer.fromJson(json, config);
      expect([h.vocabSize, h.bosTokenId, h.eosTokenId, h.padTokenId]).toEqual([512, 1, 2, null]);
      expect(h.encode("Once upon a time")).toEqual([1, 403, 407, 261, 378]);
      expect(h.encode("Once upon a time", { addBos: false })).toEqual([403, 407, 261, 378]);
      expect(h.encode("Once upon a time", { addBos: true, addEos: true })).toEqual([1, 403, 407, 261, 378, 2]);
      expect(h.encode("", { addBos: false })).toEqual([]);
      expect(h.decode([1, 403, 407, 261, 378, 2])).toBe("Once upon a time");
      expect(h.decode([1, 403, 2], { skipSpecialTokens: false })).toBe("<s> Once</s>");
      expect(h.idToToken(403)).toBe("▁Once");
    });
  });

  describe("bad .bin input", () => {
    const bytes = fs.readFileSync(TOK_BIN);

    it("Llama2cTokenizer.fromBuffer(truncated) names the token, the bytes it needs, the offset and the size", () => {
      expect(() => Llama2cTokenizer.fromBuffer(bytes.subarray(0, 2))).toThrow(
        /Llama2cTokenizer\.fromBuffer: the buffer is truncated: the int32 max_token_length header needs 4 bytes, file has 2/,
      );
      // The first token ("<unk>", 5 bytes) starts at offset 4 and needs 8 + 5 bytes.
      expect(() => Llama2cTokenizer.fromBuffer(bytes.subarray(0, 10))).toThrow(
        /Llama2cTokenizer\.fromBuffer: the buffer is truncated: token 0 needs 8 bytes \(float32 score, int32 length\) at offset 4, file has 10/,
      );
      expect(() => Llama2cTokenizer.fromBuffer(bytes.subarray(0, 14), { source: "tok.bin" })).toThrow(
        /Llama2cTokenizer\.fromBuffer: tok\.bin is truncated: token 0 needs 13 bytes at offset 4, file has 14/,
      );
      expect(() => Llama2cTokenizer.fromBuffer(bytes.subarray(0, bytes.length - 1))).toThrow(/token 511 needs \d+ bytes at offset \d+, file has 6226/);
    });

    it("Llama2cTokenizer.fromFile(truncated file) names the file", () => {
      const file = path.join(tmpDir(), "tok.bin");
      fs.writeFileSync(file, bytes.subarray(0, 300));
      expect(() => Llama2cTokenizer.fromFile(file)).toThrow(
        new RegExp(`Llama2cTokenizer\\.fromFile: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is truncated: token 21 needs 8 bytes .*at offset 296, file has 300`),
      );
      fs.writeFileSync(file, bytes.subarray(0, 305)); // token 21's header is whole, its piece is cut
      expect(() => Llama2cTokenizer.fromFile(file)).toThrow(
        new RegExp(`Llama2cTokenizer\\.fromFile: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is truncated: token 21 needs 1\\d bytes at offset 296, file has 305`),
      );
    });

    it("Llama2cTokenizer.fromFile(tok512.bin, { vocabSize }) rejects a size that does not match", () => {
      expect(Llama2cTokenizer.fromFile(TOK_BIN, { vocabSize: 512 }).vocabSize).toBe(512);
      expect(() => Llama2cTokenizer.fromFile(TOK_BIN, { vocabSize: 600 })).toThrow(
        /Llama2cTokenizer\.fromFile: .*tok512\.bin is truncated: token 512 needs 8 bytes .* file has 6227 \(expected 600 tokens, read 512\)/,
      );
      expect(() => Llama2cTokenizer.fromFile(TOK_BIN, { vocabSize: 100 })).toThrow(
        /Llama2cTokenizer\.fromFile: .*tok512\.bin holds more than the expected 100 tokens: \d+ bytes remain at offset \d+/,
      );
      expect(() => Llama2cTokenizer.fromFile(TOK_BIN, { vocabSize: 0 })).toThrow(/options\.vocabSize must be a positive integer, received 0/);
    });

    it("Llama2cTokenizer.fromBuffer(bad header or piece length) says what was expected", () => {
      const bad = Buffer.from(bytes);
      bad.writeInt32LE(-3, 0);
      expect(() => Llama2cTokenizer.fromBuffer(bad)).toThrow(/max_token_length header must be a positive int32, received -3/);
      const long = Buffer.from(bytes);
      long.writeInt32LE(99, 8); // token 0's length
      expect(() => Llama2cTokenizer.fromBuffer(long)).toThrow(/token 0 at offset 4 has length 99; expected 0\.\.7 \(the max_token_length header\)/);
    });
  });
});

describe("Llama2cTokenizer on malformed files", () => {
  it("Llama2cTokenizer.fromFile(missing) names the path and what was expected", () => {
    const file = path.join(tmpRoot, "nope.bin");
    expect(() => Llama2cTokenizer.fromFile(file)).toThrow(/Llama2cTokenizer\.fromFile: cannot read .*nope\.bin \(expected a llama2\.c tokenizer \.bin file\)/);
  });

  it("Llama2cTokenizer.fromBuffer(tiny hand-made vocabulary) merges by score, leftmost on ties", () => {
    // pieces: <unk>, <s>, </s>, " ", "a", "b", "ab", "ba" ; "ab" and "ba" have equal scores → leftmost pair wins.
    const pieces: [string, number][] = [["<unk>", 0], ["\n<s>\n", 0], ["\n</s>\n", 0], [" ", -5], ["a", -3], ["b", -4], ["ab", -1], ["ba", -1]];
    const parts: Buffer[] = [Buffer.from(Int32Array.of(6).buffer)];
    for (const [p, s] of pieces) {
      const head = Buffer.alloc(8);
      head.writeFloatLE(s, 0);
      head.writeInt32LE(Buffer.byteLength(p), 4);
      parts.push(head, Buffer.from(p, "utf8"));
    }
    const t = Llama2cTokenizer.fromBuffer(Buffer.concat(parts));
    expect(t.vocabSize).toBe(8);
    expect(t.encode("aba", { addBos: false })).toEqual([3, 6, 4]); // " " a b a → " " ab a
    expect(t.encode("bab", { addBos: false })).toEqual([3, 7, 5]); // " " b a b → " " ba b
    expect(() => t.encode("é")).toThrow(/Llama2cTokenizer\.encode: byte 0xc3 of "é" needs byte-fallback token 198, but the vocabulary has 8 tokens/);
  });
});

describe("WordLevelTokenizer", () => {
  const corpus = ["the cat sat on the mat.", "The dog sat, the cat ran!", "a cat; a dog; a bird", "<eos> zebra"];
  const tok = WordLevelTokenizer.fromCorpus(corpus);

  it("WordLevelTokenizer.fromCorpus(texts) orders specials first, then by descending count, ties alphabetical", () => {
    expect(tok.words).toEqual([
      "<pad>", "<bos>", "<eos>", "<unk>",
      "a", "cat", "the", ";", "dog", "sat",
      "!", ",", ".", "The", "bird", "mat", "on", "ran", "zebra",
    ]);
    expect([tok.padTokenId, tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.vocabSize]).toEqual([0, 1, 2, 3, 19]);
  });

  it("WordLevelTokenizer.fromCorpus(texts, { minCount: 2, maxVocab: 7 }) drops rare words and caps the size", () => {
    expect(WordLevelTokenizer.fromCorpus(corpus, { minCount: 2 }).words.slice(4)).toEqual(["a", "cat", "the", ";", "dog", "sat"]);
    expect(WordLevelTokenizer.fromCorpus(corpus, { maxVocab: 7 }).words).toEqual(["<pad>", "<bos>", "<eos>", "<unk>", "a", "cat", "the"]);
    expect(() => WordLevelTokenizer.fromCorpus(corpus, { maxVocab: 2 })).toThrow(/options\.maxVocab must be an integer >= the 4 special tokens, received 2/);
  });

  it('WordLevelTokenizer.encode("the cat ate, the zebra.<eos>") isolates punctuation, maps unknown words to <unk>, keeps special tokens', () => {
    expect(tok.tokenize("the cat ate, the zebra.<eos>")).toEqual(["the", "cat", "ate", ",", "the", "zebra", ".", "<eos>"]);
    expect(tok.encode("the cat ate, the zebra.<eos>")).toEqual([1, 6, 5, 3, 11, 6, 18, 12, 2]);
    expect(tok.encode("the cat", { addBos: false, addEos: true })).toEqual([6, 5, 2]);
  });

  it("WordLevelTokenizer.decode(ids) joins words with single spaces and skips special tokens by default", () => {
    expect(tok.decode([1, 6, 5, 3, 11, 6, 18, 12, 2])).toBe("the cat , the zebra ."); // <unk> is special too, as in HF
    expect(tok.decode([1, 6, 5, 3, 2], { skipSpecialTokens: false })).toBe("<bos> the cat <unk> <eos>");
    expect(() => tok.decode([99])).toThrow(/WordLevelTokenizer\.decode: ids\[0\] must be an integer token id in \[0, 18\], received 99/);
  });

  it("WordLevelTokenizer.toTokenizerJson() is a standard WordLevel tokenizer.json", () => {
    const json = tok.toTokenizerJson();
    expect(json.model).toMatchObject({ type: "WordLevel", unk_token: "<unk>" });
    expect(json.pre_tokenizer).toEqual({ type: "Whitespace" });
    expect(json.decoder).toBeNull();
    expect(json.post_processor).toMatchObject({ type: "TemplateProcessing", special_tokens: { "<bos>": { ids: [1] } } });
    expect((json.added_tokens as { content: string }[]).map((t) => t.content)).toEqual(["<pad>", "<bos>", "<eos>", "<unk>"]);
  });

  it("new Tokenizer(toTokenizerJson(), toTokenizerConfig()) of @huggingface/tokenizers encodes and decodes exactly like WordLevelTokenizer", () => {
    const hf = new HfLib(tok.toTokenizerJson(), tok.toTokenizerConfig());
    const texts = [
      ...corpus, "", "   ", "\n", "the cat ate, the zebra.<eos>", "<bos><bos>the", "the<pad>cat", "THE CAT!!", "a.b,c;d",
      "unknown words only", "the  cat\tsat\non the mat", "café zebra", "dog's day", "x_y z-w", "12 cats", "<eos",
    ];
    for (const s of texts) {
      const ids = tok.encode(s);
      expect(hfEncode(hf, s), JSON.stringify(s)).toEqual(ids);
      expect(hfDecode(hf, ids), JSON.stringify(s)).toBe(tok.decode(ids));
    }
  });

  it("WordLevelTokenizer.fromTokenizerJson(toTokenizerJson(), toTokenizerConfig()) round-trips", () => {
    const back = WordLevelTokenizer.fromTokenizerJson(tok.toTokenizerJson(), tok.toTokenizerConfig());
    expect(back.words).toEqual(tok.words);
    expect(back.specialTokens).toEqual(tok.specialTokens);
    expect(back.roles).toEqual(tok.roles);
    expect(back.toTokenizerJson()).toEqual(tok.toTokenizerJson());
    expect(back.toTokenizerConfig()).toEqual(tok.toTokenizerConfig());
  });

  it("WordLevelTokenizer.fromVocab(words) takes ids in order; custom roles work; missing <unk> is an error", () => {
    const v = WordLevelTokenizer.fromVocab(["[UNK]", "[BOS]", "hi", "there"], { specialTokens: ["[UNK]", "[BOS]"], roles: { unk: "[UNK]", bos: "[BOS]" } });
    expect(v.encode("hi you there")).toEqual([1, 2, 0, 3]);
    const back = WordLevelTokenizer.fromTokenizerJson(v.toTokenizerJson(), v.toTokenizerConfig());
    expect(back.encode("hi you there")).toEqual([1, 2, 0, 3]);
    expect(() => WordLevelTokenizer.fromVocab(["<bos>", "hi"])).toThrow(
      /WordLevelTokenizer\.fromVocab: the unk token "<unk>" must be one of the special tokens \["<bos>"\] \(unknown words map to it\)/,
    );
    expect(() => WordLevelTokenizer.fromVocab(["<unk>", "hi", "hi"])).toThrow(/word "hi" appears at ids 1 and 2; words must be unique/);
  });

  it("WordLevelTokenizer.fromTokenizerJson(non-WordLevel json) says what it expected", () => {
    expect(() => WordLevelTokenizer.fromTokenizerJson({ model: { type: "BPE", vocab: {}, merges: [] } })).toThrow(
      /WordLevelTokenizer\.fromTokenizerJson: json\.model must be a WordLevel model .* received model type the string "BPE"/,
    );
  });

  it("WordLevelTokenizer.save(dir) writes tokenizer.json + tokenizer_config.json that loadTokenizer and HfTokenizer read back", () => {
    const dir = path.join(tmpDir(), "wl");
    tok.save(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(["tokenizer.json", "tokenizer_config.json"]);
    const loaded = loadTokenizer(dir);
    expect(loaded).toBeInstanceOf(WordLevelTokenizer);
    expect(loaded.encode("the cat ate")).toEqual(tok.encode("the cat ate"));
    expect(loadTokenizer(path.join(dir, "tokenizer.json"))).toBeInstanceOf(WordLevelTokenizer);
    const viaHf = HfTokenizer.fromFolder(dir);
    expect([viaHf.bosTokenId, viaHf.eosTokenId, viaHf.padTokenId]).toEqual([1, 2, 0]);
    expect(viaHf.encode("the cat ate, the zebra.")).toEqual(tok.encode("the cat ate, the zebra."));
    expect(viaHf.encode("the cat", { addBos: false, addEos: true })).toEqual([6, 5, 2]);
    expect(viaHf.decode(tok.encode("the cat ate, the zebra."))).toBe("the cat , the zebra .");
  });
});

/** GPT-2's byte-to-unicode table (printable stand-ins for the 256 bytes). */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = [];
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
}

/** A tiny GPT-2-style byte-level BPE tokenizer.json: 256 byte symbols, a few merges, <|endoftext|>. */
function tinyGpt2Json(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((c, b) => (vocab[c] = b));
  const merges = [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["Ġ", "c"], ["a", "t"], ["Ġc", "at"]];
  let id = 256;
  for (const [a, b] of merges) vocab[a + b] = id++;
  vocab["<|endoftext|>"] = id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [{ id, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.map((m) => m.join(" ")),
    },
  };
}

describe("HfTokenizer", () => {
  it("HfTokenizer.fromJson(GPT-2-style json) follows its post-processor (adds nothing); addBos: true prepends <|endoftext|>", () => {
    const h = HfTokenizer.fromJson(tinyGpt2Json());
    expect(h.kind).toBe("hf");
    expect([h.vocabSize, h.bosTokenId, h.eosTokenId, h.padTokenId]).toEqual([263, 262, 262, null]);
    const ids = h.encode("the cat");
    expect(ids).toEqual(["t".charCodeAt(0), 257, 261]); // "t" "he" "Ġcat"
    expect(h.encode("the cat", { addBos: false })).toEqual(ids);
    expect(h.encode("the cat", { addBos: true })).toEqual([262, ...ids]);
    expect(h.encode("the cat", { addEos: true })).toEqual([...ids, 262]);
    expect(h.decode([262, ...ids, 262])).toBe("the cat");
    expect(h.decode([262, ...ids], { skipSpecialTokens: false })).toBe("<|endoftext|>the cat");
    expect(h.decode(h.encode("héllo wörld 😀"))).toBe("héllo wörld 😀");
    expect(h.decode([])).toBe("");
    expect(() => h.decode([263])).toThrow(/HfTokenizer\.decode: ids\[0\] must be an integer token id in \[0, 262\], received 263/);
  });

  it("HfTokenizer.fromJson(json, config) takes bos/eos/pad from tokenizer_config strings or {content} objects, and chat_template", () => {
    const config = {
      bos_token: { content: "<|endoftext|>", lstrip: false },
      eos_token: "<|endoftext|>",
      pad_token: null,
      chat_template: "{% for m in messages %}{{ m.content }}{% endfor %}",
    };
    const h = HfTokenizer.fromJson(tinyGpt2Json(), config);
    expect([h.bosTokenId, h.eosTokenId, h.padTokenId]).toEqual([262, 262, null]);
    expect(h.chatTemplate).toBe(config.chat_template);
    expect(h.toTokenizerConfig()).toEqual(config);
    expect(h.toTokenizerJson()).toEqual(tinyGpt2Json());
    const listed = HfTokenizer.fromJson(tinyGpt2Json(), { chat_template: [{ name: "tool_use", template: "T" }, { name: "default", template: "D" }] });
    expect(listed.chatTemplate).toBe("D");
  });

  it("HfTokenizer.fromFolder(dir) reads tokenizer.json, tokenizer_config.json and chat_template.jinja", () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tinyGpt2Json()));
    fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|endoftext|>" }));
    fs.writeFileSync(path.join(dir, "chat_template.jinja"), "{{ x }}");
    const h = HfTokenizer.fromFolder(dir);
    expect(h.eosTokenId).toBe(262);
    expect(h.chatTemplate).toBe("{{ x }}");
    expect(loadTokenizer(dir).chatTemplate).toBe("{{ x }}");
  });

  it("HfTokenizer.fromFolder(dir without tokenizer.json) names the folder and the file", () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "config.json"), "{}");
    expect(() => HfTokenizer.fromFolder(dir)).toThrow(
      new RegExp(`HfTokenizer\\.fromFolder: folder .*${path.basename(dir)} has no tokenizer\\.json \\(expected .*tokenizer\\.json\\); it holds \\["config\\.json"\\]`),
    );
    expect(() => HfTokenizer.fromFolder(path.join(dir, "missing"))).toThrow(/HfTokenizer\.fromFolder: folder .*missing does not exist/);
  });

  it("HfTokenizer.fromFolder(dir with malformed JSON) names the file and says it is not valid JSON", () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "tokenizer.json"), '{"model": {');
    expect(() => HfTokenizer.fromFolder(dir)).toThrow(/HfTokenizer\.fromFolder: .*tokenizer\.json is not valid JSON \(expected a Hugging Face tokenizer\.json\)/);
    fs.writeFileSync(path.join(dir, "tokenizer.json"), "[1, 2]");
    expect(() => HfTokenizer.fromFolder(dir)).toThrow(/tokenizer\.json must hold a JSON object \(a Hugging Face tokenizer\.json\), received an array of length 2/);
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tinyGpt2Json()));
    fs.writeFileSync(path.join(dir, "tokenizer_config.json"), "{oops");
    expect(() => HfTokenizer.fromFolder(dir)).toThrow(/tokenizer_config\.json is not valid JSON/);
  });

  it("HfTokenizer.fromJson(json without a model) says what it expected", () => {
    expect(() => HfTokenizer.fromJson({ version: "1.0" })).toThrow(/HfTokenizer\.fromJson: tokenizerJson must be a tokenizer\.json object with a "model" object, received undefined as model/);
    expect(() => HfTokenizer.fromJson({ model: { type: "Nope" } })).toThrow(/HfTokenizer\.fromJson: @huggingface\/tokenizers rejected the tokenizer/);
  });
});

describe("loadTokenizer", () => {
  it("loadTokenizer(tok512.bin) gives a Llama2cTokenizer", () => {
    const t = loadTokenizer(TOK_BIN);
    expect(t).toBeInstanceOf(Llama2cTokenizer);
    expect(t.encode("Once upon a time")).toEqual([1, 403, 407, 261, 378]);
  });

  it("loadTokenizer(folder of the converted tok512) gives an HfTokenizer that encodes like llama2.c", () => {
    const src = Llama2cTokenizer.fromFile(TOK_BIN);
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(src.toTokenizerJson()));
    fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(src.toTokenizerConfig()));
    for (const t of [loadTokenizer(dir), loadTokenizer(path.join(dir, "tokenizer.json"))]) {
      expect(t).toBeInstanceOf(HfTokenizer);
      expect(t.encode("Once upon a time")).toEqual([1, 403, 407, 261, 378]);
      expect(t.decode([1, 403, 407, 261, 378])).toBe("Once upon a time");
    }
  });

  it("loadTokenizer(bad path) names the function and the path and says what it expected", () => {
    expect(() => loadTokenizer(path.join(tmpRoot, "nothing-here"))).toThrow(
      /loadTokenizer: .*nothing-here does not exist; expected a llama2\.c tokenizer \.bin file, a folder holding tokenizer\.json, or a tokenizer\.json file/,
    );
    const txt = path.join(tmpDir(), "vocab.txt");
    fs.writeFileSync(txt, "a\nb\n");
    expect(() => loadTokenizer(txt)).toThrow(/loadTokenizer: .*vocab\.txt is a file of an unknown kind \(extension "\.txt"\); expected a llama2\.c tokenizer \.bin file/);
    const empty = tmpDir();
    expect(() => loadTokenizer(empty)).toThrow(/loadTokenizer: folder .* has no tokenizer\.json/);
    const bin = path.join(tmpDir(), "short.bin");
    fs.writeFileSync(bin, Buffer.from([1, 0]));
    expect(() => loadTokenizer(bin)).toThrow(/Llama2cTokenizer\.fromFile: .*short\.bin is truncated: the int32 max_token_length header needs 4 bytes, file has 2/);
  });
});

describe("HfTokenizer byte fallback as Hugging Face's Rust tokenizers decode it", () => {
  const tok = loadTokenizer(path.resolve(__dirname, "../data/models/stories260K"));
  // stories260K keeps llama2.c's layout: byte-fallback piece <0xHH> is id HH + 3.
  const byte = (b: number) => {
    expect(tok.idToToken(b + 3)).toBe(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    return b + 3;
  };

  it("decode([<0x36>, <0x87>]) is \"\\uFFFD\\uFFFD\" (an invalid run: one U+FFFD per byte token), not \"6\\uFFFD\"", () => {
    expect(tok.decode([byte(0x36), byte(0x87)])).toBe("\uFFFD\uFFFD");
  });

  it("decode([<0xE2>, <0x82>, <0xAC>]) is \"€\" (a valid run is its UTF-8 text); a cut-off run before a piece gives one U+FFFD per byte", () => {
    expect(tok.decode([byte(0xe2), byte(0x82), byte(0xac)])).toBe("€");
    expect(tok.decode([byte(0xe2), byte(0x82), 403])).toBe("\uFFFD\uFFFD Once");
  });
});
