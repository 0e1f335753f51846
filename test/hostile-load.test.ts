/**
 * Hostile model files: sizes bounded before allocation, config/weights/tokenizer consistency, dtype and non-finite
 * checks, errors that name the file; and a seeded, bounded fuzz over truncations and header edits of safetensors,
 * config.json and llama2.c files (a clear error or an identical model, never a hang, never a large allocation).
 * Every corrupt file is generated from the repository's data/models/stories260K.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../kit/backend";
import { expectedParamCount, MAX_LAYERS } from "../kit/io/bounds";
import { loadHfFolder } from "../kit/io/hf";
import { readLlama2cCheckpoint, writeLlama2cCheckpoint } from "../kit/io/llama2c";
import { loadModel } from "../kit/io/load";
import { readSafetensorsHeader } from "../kit/io/safetensors";
import { PRESETS, presetConfig, type PresetName } from "../kit/model/config";
import { countParams, mulberry32 } from "../kit/model/params";
import type { HookedTransformer } from "../kit/model/transformer";

const SOURCE = path.join(__dirname, "..", "data", "models", "stories260K");
const root = fs.mkdtempSync(path.join(os.tmpdir(), "pk-hostile-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let count = 0;

/** A fresh copy of the stories260K folder, optionally with config.json fields replaced. */
function copyModel(config?: Record<string, unknown>): string {
  const dir = path.join(root, `m${count++}`);
  fs.cpSync(SOURCE, dir, { recursive: true });
  if (config) {
    const file = path.join(dir, "config.json");
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), ...config }));
  }
  return dir;
}

let original: HookedTransformer;
let originalWeights: Map<string, Float32Array>;
let llama2cFile: string;

beforeAll(async () => {
  await initBackend();
  original = await loadModel(SOURCE);
  originalWeights = original.weightsToArrays();
  llama2cFile = path.join(root, "stories260K.bin");
  // A llama2.c file of the same weights (interleaved RoPE is what the format states; the fuzz compares weights only).
  writeLlama2cCheckpoint(llama2cFile, { ...original.cfg, ropeStyle: "interleaved" }, originalWeights);
});

/** Times a synchronous call; returns its error (or null) and the milliseconds it took. */
function attempt(f: () => unknown): { error: Error | null; ms: number; value: unknown } {
  const t0 = performance.now();
  try {
    const value = f();
    return { error: null, ms: performance.now() - t0, value };
  } catch (e) {
    return { error: e as Error, ms: performance.now() - t0, value: undefined };
  }
}

describe("loadModel(folder) bounds every size before allocating", () => {
  it("loadModel(folder) refuses num_hidden_layers 1000000 at once, naming config.json and the weights", async () => {
    const dir = copyModel({ num_hidden_layers: 1_000_000 });
    const t0 = performance.now();
    await expect(loadModel(dir)).rejects.toThrow(new RegExp(`config\\.json does not fit the weights:\\n  - n_layers must be at most ${MAX_LAYERS}, received 1000000`));
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("loadModel(folder) refuses num_hidden_layers 200, more parameters than model.safetensors holds", async () => {
    await expect(loadModel(copyModel({ num_hidden_layers: 200 }))).rejects.toThrow(/it describes \d+ parameters but .*model\.safetensors holds 260032 values/);
  });

  it("loadModel(folder) refuses max_position_embeddings 1e7 and 1e9 (position tables the weights do not justify) in milliseconds", async () => {
    for (const n of [1e7, 1e9]) {
      const t0 = performance.now();
      await expect(loadModel(copyModel({ max_position_embeddings: n }))).rejects.toThrow(/n_ctx must be at most|bytes of position tables/);
      expect(performance.now() - t0).toBeLessThan(1000);
    }
  });

  it("readLlama2cCheckpoint(file) refuses n_layers 2147483647 and seq_len 2^31−1 in milliseconds, naming the file", () => {
    const raw = fs.readFileSync(llama2cFile);
    for (const [field, value] of [[2, 0x7fffffff], [6, 0x7fffffff], [5, 0x7fffffff]] as const) {
      const bad = Buffer.from(raw);
      bad.writeInt32LE(value, 4 * field);
      const file = path.join(root, `l2c-${field}.bin`);
      fs.writeFileSync(file, bad);
      const r = attempt(() => readLlama2cCheckpoint(file));
      expect(r.error).toBeInstanceOf(RangeError);
      expect(r.error!.message).toContain(file);
      expect(r.ms).toBeLessThan(1000);
    }
  });

  it("expectedParamCount(cfg) equals countParams(cfg) for every preset (the arithmetic the bound uses)", () => {
    for (const name of Object.keys(PRESETS) as PresetName[]) {
      const cfg = presetConfig(name);
      expect(expectedParamCount(cfg), name).toBe(countParams(cfg));
    }
    const gpt2 = presetConfig("gpt2-tiny", { attnBias: false, mlpBias: false, tiedEmbeddings: false });
    expect(expectedParamCount(gpt2)).toBe(countParams(gpt2));
  });
});

describe("loadModel(folder) checks config, weights and tokenizer against each other", () => {
  it("loadModel(folder) refuses a config whose layers disagree with the weights (num_hidden_layers 4 on 5 layers), naming the unused tensors", async () => {
    await expect(loadModel(copyModel({ num_hidden_layers: 4 }))).rejects.toThrow(/holds 9 tensor\(s\) that .*config\.json leaves unused: "model\.layers\.4\./);
  });

  it("loadModel(folder) refuses a tokenizer.json smaller (241 tokens) or larger (1423 tokens) than d_vocab 512", async () => {
    for (const other of ["persona-organism", "tiny-stories-organism"]) {
      const dir = copyModel();
      fs.copyFileSync(path.join(SOURCE, "..", other, "tokenizer.json"), path.join(dir, "tokenizer.json"));
      fs.copyFileSync(path.join(SOURCE, "..", other, "tokenizer_config.json"), path.join(dir, "tokenizer_config.json"));
      await expect(loadModel(dir)).rejects.toThrow(/the tokenizer \(.*tokenizer\.json\) has (241|1423) tokens but the model's embedding has d_vocab 512 rows/);
    }
  });

  it("loadModel(file.bin) refuses a llama2.c tokenizer.bin with fewer tokens than vocab_size", async () => {
    const dir = path.join(root, "l2c-tok");
    fs.mkdirSync(dir);
    const file = path.join(dir, "model.bin");
    fs.copyFileSync(llama2cFile, file);
    const tok = Buffer.alloc(4 + 3 * 9);
    tok.writeInt32LE(1, 0);
    for (let i = 0; i < 3; i++) {
      tok.writeFloatLE(0, 4 + 9 * i);
      tok.writeInt32LE(1, 8 + 9 * i);
      tok[12 + 9 * i] = 97 + i;
    }
    fs.writeFileSync(path.join(dir, "tokenizer.bin"), tok);
    await expect(loadModel(file)).rejects.toThrow(/tokenizer\.bin/);
  });
});

/** The byte offset in `file` of the first float of `tensor`. */
function dataOffset(file: string, tensor: string): number {
  const h = readSafetensorsHeader(file);
  return h.dataStart + h.tensors.get(tensor)!.data_offsets[0];
}

describe("loadModel(folder) checks dtypes and values, naming the tensor", () => {
  it("loadModel(folder) refuses one NaN in model.safetensors, naming the tensor and the file", async () => {
    const dir = copyModel();
    const file = path.join(dir, "model.safetensors");
    const buf = fs.readFileSync(file);
    buf.writeFloatLE(NaN, dataOffset(file, "model.layers.2.mlp.up_proj.weight") + 4 * 17);
    fs.writeFileSync(file, buf);
    await expect(loadModel(dir)).rejects.toThrow(/tensor "model\.layers\.2\.mlp\.up_proj\.weight" in .*model\.safetensors holds a non-finite value \(NaN\) at flat index 17/);
  });

  it("readLlama2cCheckpoint(file) refuses an infinity, naming the kit parameter and the file", () => {
    const file = path.join(root, "inf.bin");
    const buf = fs.readFileSync(llama2cFile);
    buf.writeFloatLE(Infinity, 28 + 4 * 5); // the embedding comes first in the legacy layout
    fs.writeFileSync(file, buf);
    expect(() => readLlama2cCheckpoint(file)).toThrow(/tensor "embed\.W_E" in .*inf\.bin holds a non-finite value \(Infinity\) at flat index 5/);
  });

  it("loadModel(folder) refuses F32 data labelled I32, naming the tensor", async () => {
    const dir = copyModel();
    const file = path.join(dir, "model.safetensors");
    const buf = fs.readFileSync(file);
    const text = buf.toString("latin1");
    const at = text.indexOf('"F32"', text.indexOf('"model.norm.weight"'));
    buf.write('"I32"', at, "latin1");
    fs.writeFileSync(file, buf);
    await expect(loadModel(dir)).rejects.toThrow(/tensor "model\.norm\.weight" in .*model\.safetensors has dtype I32; a float parameter must be stored as F64, F32, F16, BF16/);
  });
});

describe("loadModel(folder) errors name the file and what was expected", () => {
  it("loadModel(folder) with config.json holding null names config.json and says it expected an object", async () => {
    const dir = copyModel();
    fs.writeFileSync(path.join(dir, "config.json"), "null");
    await expect(loadModel(dir)).rejects.toThrow(/config\.json must hold a JSON object \(a Hugging Face config\.json object\), received null/);
  });

  it("loadModel(folder) with a broken model.safetensors.index.json names the index", async () => {
    const dir = copyModel();
    fs.rmSync(path.join(dir, "model.safetensors"));
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), '{"weight_map": {"a": }}');
    await expect(loadModel(dir)).rejects.toThrow(/model\.safetensors\.index\.json: index is not valid UTF-8 JSON at line 1, column 22/);
  });

  it("loadModel(folder) with a broken tokenizer.json names the file and the field", async () => {
    const dir = copyModel();
    const file = path.join(dir, "tokenizer.json");
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    json.model.merges = [1, 2];
    fs.writeFileSync(file, JSON.stringify(json));
    await expect(loadModel(dir)).rejects.toThrow(/tokenizer\.json is not a usable tokenizer\.json:\n  - "model\.merges"\[0\] must be "a b" or \["a", "b"\], received number 1/);
    fs.writeFileSync(file, '{"model": {"type": "BPE",\n "vocab": }');
    await expect(loadModel(dir)).rejects.toThrow(/tokenizer\.json is not valid JSON \(expected a Hugging Face tokenizer\.json\) at line 2, column/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Fuzz

const FUZZ_CASES = 150;
const CASE_LIMIT_MS = 3000;
const HOSTILE = [0, -1, 1, 3, 4, 6, 7, 2 ** 31 - 1, 2 ** 31, 1e7, 1e9, 1e300, 1.5, "5", null, [], {}, true];

type Mutation = { describe: string; load: () => HookedTransformer | Map<string, Float32Array> };

function mutation(rand: () => number, i: number): Mutation {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const kind = i % 3;
  if (kind === 0) {
    // safetensors: truncation, a byte of the header overwritten, or a number in the header JSON replaced
    const dir = copyModel();
    const file = path.join(dir, "model.safetensors");
    let buf = fs.readFileSync(file);
    const headerEnd = 8 + Number(buf.readBigUInt64LE(0));
    const r = rand();
    let what: string;
    if (r < 0.3) {
      const at = Math.floor(rand() * buf.length);
      buf = buf.subarray(0, at);
      what = `truncated at ${at}`;
    } else if (r < 0.6) {
      const at = Math.floor(rand() * headerEnd);
      const byte = Math.floor(rand() * 256);
      buf[at] = byte;
      what = `header byte ${at} = ${byte}`;
    } else {
      const text = buf.subarray(8, headerEnd).toString("latin1");
      const numbers = [...text.matchAll(/\d+/g)];
      const m = pick(numbers);
      const value = String(pick([0, 1, 7, 64, 4294967295, 2 ** 53, 1e21, Number(m[0]) + 4]));
      const edited = text.slice(0, m.index) + value + text.slice(m.index! + m[0].length);
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(Buffer.byteLength(edited, "latin1")));
      buf = Buffer.concat([head, Buffer.from(edited, "latin1"), buf.subarray(headerEnd)]);
      what = `header number ${m[0]} → ${value}`;
    }
    fs.writeFileSync(file, buf);
    return { describe: `safetensors ${what}`, load: () => loadHfFolder(dir) };
  }
  if (kind === 1) {
    const field = pick(["num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings", "tie_word_embeddings", "model_type"]);
    const value = pick(HOSTILE);
    const dir = copyModel({ [field]: value });
    if (rand() < 0.2) {
      const file = path.join(dir, "config.json");
      const text = fs.readFileSync(file);
      fs.writeFileSync(file, text.subarray(0, Math.floor(rand() * text.length)));
      return { describe: `config.json truncated`, load: () => loadHfFolder(dir) };
    }
    return { describe: `config.json ${field} = ${JSON.stringify(value)}`, load: () => loadHfFolder(dir) };
  }
  const raw = fs.readFileSync(llama2cFile);
  let buf = Buffer.from(raw);
  let what: string;
  if (rand() < 0.4) {
    const at = Math.floor(rand() * raw.length);
    buf = buf.subarray(0, at);
    what = `truncated at ${at}`;
  } else {
    const field = Math.floor(rand() * 7);
    const value = pick([0, -1, 1, 2, 3, 4, 6, 8, 16, 511, 513, 1024, 65536, 2 ** 31 - 1, -(2 ** 31)]);
    buf.writeInt32LE(value, 4 * field);
    what = `header field ${field} = ${value}`;
  }
  const file = path.join(root, `fuzz-${i}.bin`);
  fs.writeFileSync(file, buf);
  return { describe: `llama2.c ${what}`, load: () => readLlama2cCheckpoint(file).params };
}

function sameWeights(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.length !== x.length || Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) !== 0) return false;
  }
  return true;
}

describe("fuzz (seeded, bounded)", () => {
  it(`loadHfFolder / readLlama2cCheckpoint over ${FUZZ_CASES} truncations and header edits: a clear error or identical weights, each within ${CASE_LIMIT_MS} ms and without a large allocation`, () => {
    const rand = mulberry32(19);
    const rss0 = process.memoryUsage().rss;
    let maxRss = rss0;
    const outcomes = { errors: 0, identical: 0 };
    const t0 = performance.now();
    for (let i = 0; i < FUZZ_CASES; i++) {
      const m = mutation(rand, i);
      const r = attempt(m.load);
      expect(r.ms, m.describe).toBeLessThan(CASE_LIMIT_MS);
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
      if (r.error) {
        expect(r.error, m.describe).toBeInstanceOf(Error);
        expect(r.error.message, m.describe).toMatch(/^(loadHfFolder|readLlama2cCheckpoint|readSafetensors|readSafetensorsHeader|readSafetensorsIndex|loadTokenizer|configFromHf)[:(]/);
        expect(r.error.message, m.describe).not.toMatch(/Cannot read properties|is not a function|Invalid typed array length|undefined/);
        outcomes.errors++;
      } else {
        const weights = r.value instanceof Map ? r.value : (r.value as HookedTransformer).weightsToArrays();
        expect(sameWeights(weights, originalWeights), m.describe).toBe(true);
        if (!(r.value instanceof Map)) (r.value as HookedTransformer).dispose();
        outcomes.identical++;
      }
    }
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(maxRss - rss0).toBeLessThan(256 * 2 ** 20);
    expect(outcomes.errors).toBeGreaterThan(FUZZ_CASES / 2);
  });
});
