/**
 * Tests for kit/io/llama2c.ts: reading the real stories260K checkpoint (legacy format) into the kit's [in, out]
 * layout, writing it back (legacy, v1, v2/Q8_0), untied checkpoints, the byte layout of each format checked
 * independently of the reader, and every malformed input with its message.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readLlama2cCheckpoint, writeLlama2cCheckpoint, llama2cFreqTables, quantizeQ80, LLAMA2C_MAGIC } from "../kit/io/llama2c";
import { makeConfig, presetConfig, type ModelConfig } from "../kit/model/config";
import { initParams, paramShapes } from "../kit/model/params";

const dir = path.resolve(__dirname, "../data/models/stories260K-llama2c");
const BIN = path.join(dir, "stories260K.bin");

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llama2c-test-"));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
const tmpFile = (name: string) => path.join(tmp, name);

/** Little-endian float32 view of a file's bytes from `byteOffset`. */
function floatsAt(buf: Buffer, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = buf.readFloatLE(byteOffset + 4 * i);
  return out;
}

/** Distance in units in the last place between two finite float32 values of the same sign. */
function ulps(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const u = new Int32Array(f.buffer);
  return Math.abs(u[0] - u[1]);
}

/** A small untied config with grouped-query attention, dims divisible by 8. */
const untiedConfig = (): ModelConfig =>
  makeConfig({
    family: "llama",
    d_model: 16,
    n_layers: 2,
    n_heads: 4,
    n_key_value_heads: 2,
    d_mlp: 32,
    d_vocab: 24,
    n_ctx: 8,
    ropeStyle: "interleaved",
    tiedEmbeddings: false,
    bosTokenId: 1,
    eosTokenId: 2,
  });

function expectParamsEqual(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, v] of a) {
    const w = b.get(name) as Float32Array;
    expect(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(w.buffer, w.byteOffset, w.byteLength)), name).toBe(true);
  }
}

// stories260K: 64 172 5 8 4 512 512, shared classifier; head_size 8, kv_dim 32.
const D = 64, H = 172, L = 5, V = 512, S = 512, HS = 8, KV = 32;
const OFF = (() => {
  // float offsets (after the 28-byte header) of each legacy array
  const emb = 0;
  const rmsAtt = emb + V * D;
  const wq = rmsAtt + L * D;
  const wk = wq + L * D * D;
  const wv = wk + L * KV * D;
  const wo = wv + L * KV * D;
  const rmsFfn = wo + L * D * D;
  const w1 = rmsFfn + L * D;
  const w2 = w1 + L * H * D;
  const w3 = w2 + L * D * H;
  const rmsFinal = w3 + L * H * D;
  const freq = rmsFinal + D;
  const end = freq + S * HS;
  return { emb, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, freq, end };
})();

describe("stories260K.bin (data/models/stories260K-llama2c)", () => {
  let raw: Buffer;
  /** file element [o][i] of the stacked [L, out, in] array starting at float offset `base`. */
  const fileAt = (base: number, l: number, out: number, inn: number, o: number, i: number) =>
    raw.readFloatLE(28 + 4 * (base + l * out * inn + o * inn + i));
  beforeAll(() => {
    raw = fs.readFileSync(BIN);
  });

  it("readLlama2cCheckpoint(stories260K.bin) reads the header 64 172 5 8 4 512 512 as a shared-classifier legacy llama", () => {
    expect([...new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + 28))]).toEqual([64, 172, 5, 8, 4, 512, 512]);
    const ck = readLlama2cCheckpoint(BIN);
    expect(ck.format).toBe("legacy");
    const c = ck.config;
    expect([c.d_model, c.d_mlp, c.n_layers, c.n_heads, c.n_key_value_heads, c.d_vocab, c.n_ctx]).toEqual([64, 172, 5, 8, 4, 512, 512]);
    expect(c).toMatchObject({ family: "llama", d_head: 8, tiedEmbeddings: true, ropeStyle: "interleaved", normEps: 1e-5, ropeTheta: 10000, bosTokenId: 1, eosTokenId: 2, actFn: "silu" });
    expect(c).toEqual(presetConfig("stories260K"));
  });

  it("readLlama2cCheckpoint(stories260K.bin) returns exactly paramShapes(config), in order, with the right sizes", () => {
    const { config, params } = readLlama2cCheckpoint(BIN);
    const shapes = paramShapes(config);
    expect([...params.keys()]).toEqual([...shapes.keys()]);
    for (const [name, shape] of shapes) expect(params.get(name)!.length, name).toBe(shape.reduce((a, b) => a * b, 1));
    expect(params.has("unembed.W_U")).toBe(false);
    let n = 0;
    for (const p of params.values()) n += p.length;
    expect(n).toBe(OFF.freq); // every float before the RoPE tables, nothing else
  });

  it("readLlama2cCheckpoint(stories260K.bin) maps wq [out,in] to attn.W_Q [in,out]", () => {
    const { params } = readLlama2cCheckpoint(BIN);
    for (let l = 0; l < L; l++) {
      const WQ = params.get(`blocks.${l}.attn.W_Q`)!;
      for (let o = 0; o < D; o++) for (let i = 0; i < D; i++) expect(WQ[i * D + o]).toBe(fileAt(OFF.wq, l, D, D, o, i));
    }
    // a hand-picked element, by absolute byte offset: layer 3, out 5, in 17
    const byte = 28 + 4 * (OFF.wq + 3 * D * D + 5 * D + 17);
    expect(params.get("blocks.3.attn.W_Q")![17 * D + 5]).toBe(raw.readFloatLE(byte));
    expect(raw.readFloatLE(byte)).not.toBe(0);
  });

  it("readLlama2cCheckpoint(stories260K.bin) maps wk/wv/wo, w1→W_gate, w3→W_in, w2→W_out (transposed) and the embedding and norms as is", () => {
    const { params } = readLlama2cCheckpoint(BIN);
    const l = 4;
    const g = (k: string) => params.get(`blocks.${l}.${k}`)!;
    for (const [o, i] of [[0, 0], [31, 63], [7, 40]]) {
      expect(g("attn.W_K")[i * KV + o]).toBe(fileAt(OFF.wk, l, KV, D, o, i));
      expect(g("attn.W_V")[i * KV + o]).toBe(fileAt(OFF.wv, l, KV, D, o, i));
    }
    for (const [o, i] of [[0, 0], [63, 63], [5, 60]]) expect(g("attn.W_O")[i * D + o]).toBe(fileAt(OFF.wo, l, D, D, o, i));
    for (const [o, i] of [[0, 0], [171, 63], [100, 3]]) {
      expect(g("mlp.W_gate")[i * H + o]).toBe(fileAt(OFF.w1, l, H, D, o, i));
      expect(g("mlp.W_in")[i * H + o]).toBe(fileAt(OFF.w3, l, H, D, o, i));
    }
    for (const [o, i] of [[0, 0], [63, 171], [9, 150]]) expect(g("mlp.W_out")[i * D + o]).toBe(fileAt(OFF.w2, l, D, H, o, i));
    expect(params.get("embed.W_E")).toEqual(floatsAt(raw, 28, V * D));
    expect(g("ln1.w")).toEqual(floatsAt(raw, 28 + 4 * (OFF.rmsAtt + l * D), D));
    expect(g("ln2.w")).toEqual(floatsAt(raw, 28 + 4 * (OFF.rmsFfn + l * D), D));
    expect(params.get("ln_final.w")).toEqual(floatsAt(raw, 28 + 4 * OFF.rmsFinal, D));
  });

  it("writeLlama2cCheckpoint(path, config, params) legacy reproduces stories260K.bin byte for byte outside the RoPE tables, and the tables within 1 ulp", () => {
    const { config, params } = readLlama2cCheckpoint(BIN);
    const out = tmpFile("stories-v0.bin");
    writeLlama2cCheckpoint(out, config, params);
    const written = fs.readFileSync(out);
    expect(written.length).toBe(raw.length);
    const tablesStart = 28 + 4 * OFF.freq;
    // everything but the RoPE tables is identical
    expect(written.subarray(0, tablesStart).equals(raw.subarray(0, tablesStart))).toBe(true);
    expect(written.subarray(28 + 4 * OFF.end).equals(raw.subarray(28 + 4 * OFF.end))).toBe(true);
    // The original tables came from PyTorch's float32 cos/sin, which are not correctly rounded: ~200 of the 4096
    // entries differ from a correctly rounded cos/sin in the last bit. Nothing reads the tables.
    let differing = 0;
    for (let k = 0; k < S * HS; k++) {
      const a = written.readFloatLE(tablesStart + 4 * k);
      const b = raw.readFloatLE(tablesStart + 4 * k);
      if (a !== b) differing++;
      expect(ulps(a, b)).toBeLessThanOrEqual(1);
    }
    expect(differing).toBeLessThan(S * HS * 0.1);
    // and the rewritten file reads back to the same parameters
    expectParamsEqual(readLlama2cCheckpoint(out).params, params);
  });

  it("llama2cFreqTables(512, 8) has cos/sin of t·10000^(-2i/8) with rows t = 0 (1, 0) and t = 1 (cos 1, sin 1)", () => {
    const { cos, sin } = llama2cFreqTables(S, HS);
    expect(cos.length).toBe(S * HS / 2);
    expect([...cos.subarray(0, 4)]).toEqual([1, 1, 1, 1]);
    expect([...sin.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    expect(cos[4]).toBeCloseTo(Math.cos(1), 7);
    expect(sin[5]).toBeCloseTo(Math.sin(0.1), 7);
  });

  it("writeLlama2cCheckpoint(path, config, params, { version: 1 }) → readLlama2cCheckpoint round-trips exactly, in export.py's version1 layout", () => {
    const { config, params } = readLlama2cCheckpoint(BIN);
    const out = tmpFile("stories-v1.bin");
    writeLlama2cCheckpoint(out, config, params, { version: 1 });
    const b = fs.readFileSync(out);
    expect(b.length).toBe(256 + 4 * OFF.freq);
    expect(b.subarray(0, 4).toString("latin1")).toBe("24ka"); // uint32 0x616b3432, little-endian
    expect(b.readUInt32LE(0)).toBe(LLAMA2C_MAGIC);
    expect(b.readInt32LE(4)).toBe(1);
    expect([0, 1, 2, 3, 4, 5, 6].map((k) => b.readInt32LE(8 + 4 * k))).toEqual([64, 172, 5, 8, 4, 512, 512]);
    expect(b[36]).toBe(1);
    expect(b.subarray(37, 256).every((x) => x === 0)).toBe(true);
    // independent layout check: norms first, then the embedding, then wq of layer 0 as [out, in]
    const n = 256;
    expect(floatsAt(b, n, L * D)).toEqual(floatsAt(raw, 28 + 4 * OFF.rmsAtt, L * D));
    expect(floatsAt(b, n + 4 * L * D, L * D)).toEqual(floatsAt(raw, 28 + 4 * OFF.rmsFfn, L * D));
    expect(floatsAt(b, n + 8 * L * D, D)).toEqual(floatsAt(raw, 28 + 4 * OFF.rmsFinal, D));
    const embAt = n + 4 * (2 * L * D + D);
    expect(floatsAt(b, embAt, V * D)).toEqual(floatsAt(raw, 28, V * D));
    expect(floatsAt(b, embAt + 4 * V * D, L * D * D)).toEqual(floatsAt(raw, 28 + 4 * OFF.wq, L * D * D));
    expect(floatsAt(b, b.length - 4 * L * H * D, L * H * D)).toEqual(floatsAt(raw, 28 + 4 * OFF.w3, L * H * D));

    const back = readLlama2cCheckpoint(out);
    expect(back.format).toBe("v1");
    expect(back.config).toEqual(config);
    expectParamsEqual(back.params, params);
  });

  it("writeLlama2cCheckpoint(path, stories260K, params, { version: 2 }) rejects the default group size 64, which does not divide d_mlp 172", () => {
    const { config, params } = readLlama2cCheckpoint(BIN);
    const out = tmpFile("stories-v2-64.bin");
    expect(() => writeLlama2cCheckpoint(out, config, params, { version: 2 })).toThrow(
      "groupSize 64 must divide d_model (64) and d_mlp (172) for Q8_0",
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  it("writeLlama2cCheckpoint(path, config, params, { version: 2, groupSize: 4 }) → readLlama2cCheckpoint is within the Q8_0 bound (|err| ≤ scale/2 per group)", () => {
    const { config, params } = readLlama2cCheckpoint(BIN);
    const gs = 4;
    const out = tmpFile("stories-v2.bin");
    writeLlama2cCheckpoint(out, config, params, { version: 2, groupSize: gs });
    const b = fs.readFileSync(out);
    expect(b.readInt32LE(4)).toBe(2);
    expect(b[36]).toBe(1);
    expect(b.readInt32LE(37)).toBe(gs);
    const quantCount = OFF.freq - (2 * L * D + D);
    expect(b.length).toBe(256 + 4 * (2 * L * D + D) + quantCount + 4 * (quantCount / gs));

    const back = readLlama2cCheckpoint(out);
    expect(back.format).toBe("v2");
    expect(back.config).toEqual(config);
    expect([...back.params.keys()]).toEqual([...params.keys()]);
    for (const [name, orig] of params) {
      const got = back.params.get(name)!;
      if (name.endsWith(".w")) {
        expect(got, name).toEqual(orig); // norms stay float32
        continue;
      }
      // groups run along the file's [out, in] rows; compare in that layout
      const shape = paramShapes(config).get(name)!;
      const transposed = name !== "embed.W_E";
      const toFile = (p: Float32Array) => {
        if (!transposed) return p;
        const [rows, cols] = shape; // kit [in, out]
        const t = new Float32Array(p.length);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = p[r * cols + c];
        return t;
      };
      const o = toFile(orig), g = toFile(got);
      let worst = 0;
      let violations = 0;
      for (let s = 0; s < o.length; s += gs) {
        let max = 0;
        for (let i = s; i < s + gs; i++) max = Math.max(max, Math.abs(o[i]));
        const scale = max / 127;
        for (let i = s; i < s + gs; i++) {
          const err = Math.abs(g[i] - o[i]);
          worst = Math.max(worst, err / (scale || 1));
          if (err > scale / 2 + 1e-6 * max + 1e-30) violations++;
        }
      }
      expect(violations, name).toBe(0);
      expect(worst, name).toBeGreaterThan(0); // it really was quantized
    }
  });

  it("writeLlama2cCheckpoint({ version: 2 }) lays tensors out as runq.c reads them: norms, then per layer int8 values followed by their scales", () => {
    const { config, params } = readLlama2cCheckpoint(BIN);
    const gs = 4;
    const out = tmpFile("stories-v2-layout.bin");
    writeLlama2cCheckpoint(out, config, params, { version: 2, groupSize: gs });
    const b = fs.readFileSync(out);
    let pos = 256;
    expect(floatsAt(b, pos, L * D)).toEqual(floatsAt(raw, 28 + 4 * OFF.rmsAtt, L * D));
    pos += 4 * (2 * L * D + D);
    const check = (fileFloats: Float32Array) => {
      const { q, s } = quantizeQ80(fileFloats, gs);
      const n = fileFloats.length;
      expect(new Int8Array(b.buffer.slice(b.byteOffset + pos, b.byteOffset + pos + n))).toEqual(q);
      pos += n;
      expect(floatsAt(b, pos, n / gs)).toEqual(s);
      pos += 4 * (n / gs);
    };
    check(floatsAt(raw, 28, V * D)); // token embedding
    for (let l = 0; l < L; l++) check(floatsAt(raw, 28 + 4 * (OFF.wq + l * D * D), D * D)); // wq[0], wq[1], …
    for (let l = 0; l < L; l++) check(floatsAt(raw, 28 + 4 * (OFF.wk + l * KV * D), KV * D)); // then wk[0], …
  });

  it("readLlama2cCheckpoint(stories260K.bin cut after rms_final) accepts a shared-classifier legacy file without the RoPE tables", () => {
    const out = tmpFile("stories-notables.bin");
    fs.writeFileSync(out, raw.subarray(0, 28 + 4 * OFF.freq));
    const ck = readLlama2cCheckpoint(out);
    expectParamsEqual(ck.params, readLlama2cCheckpoint(BIN).params);
  });

  it("readLlama2cCheckpoint(truncated stories260K.bin) throws RangeError naming the header, the bytes needed and the bytes present", () => {
    const out = tmpFile("stories-truncated.bin");
    fs.writeFileSync(out, raw.subarray(0, raw.length - 1000));
    const err = (() => {
      try {
        readLlama2cCheckpoint(out);
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected a throw");
    })();
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe(
      `readLlama2cCheckpoint: ${out} is truncated: header (dim 64, hidden_dim 172, n_layers 5, n_heads 8, n_kv_heads 4, vocab_size 512, seq_len 512) needs 1056540 bytes, file has 1055540`,
    );
    fs.writeFileSync(out, raw.subarray(0, 5000));
    expect(() => readLlama2cCheckpoint(out)).toThrow(`needs ${28 + 4 * OFF.freq} bytes, file has 5000`);
  });
});

describe("untied (negative vocab_size) checkpoints", () => {
  const config = untiedConfig();
  const params = initParams(config, 7);

  it("writeLlama2cCheckpoint(path, untied, params) writes vocab_size -24, RoPE tables, then wcls = W_U transposed; readLlama2cCheckpoint round-trips exactly", () => {
    const out = tmpFile("untied-v0.bin");
    writeLlama2cCheckpoint(out, config, params);
    const b = fs.readFileSync(out);
    expect(b.readInt32LE(20)).toBe(-24);
    const d = 16, h = 32, l = 2, v = 24, kv = 8, s = 8, hs = 4;
    const weights = v * d + l * d + l * d * d + 2 * l * kv * d + l * d * d + l * d + 3 * l * h * d + d;
    expect(b.length).toBe(28 + 4 * (weights + s * hs + v * d));
    const wcls = floatsAt(b, 28 + 4 * (weights + s * hs), v * d);
    const WU = params.get("unembed.W_U")!; // [d, v]
    for (let o = 0; o < v; o++) for (let i = 0; i < d; i++) expect(wcls[o * d + i]).toBe(WU[i * v + o]);
    const back = readLlama2cCheckpoint(out);
    expect(back.format).toBe("legacy");
    expect(back.config).toEqual(config);
    expect(back.config.tiedEmbeddings).toBe(false);
    expectParamsEqual(back.params, params);
  });

  it("writeLlama2cCheckpoint(path, untied, params, { version: 1 }) sets shared_classifier 0, appends wcls, and round-trips exactly", () => {
    const out = tmpFile("untied-v1.bin");
    writeLlama2cCheckpoint(out, config, params, { version: 1 });
    const b = fs.readFileSync(out);
    expect(b.readInt32LE(8 + 20)).toBe(24);
    expect(b[36]).toBe(0);
    const back = readLlama2cCheckpoint(out);
    expect(back.config).toEqual(config);
    expectParamsEqual(back.params, params);
  });

  it("writeLlama2cCheckpoint(path, untied, params, { version: 2, groupSize: 8 }) round-trips within the Q8_0 bound, W_U included", () => {
    const out = tmpFile("untied-v2.bin");
    writeLlama2cCheckpoint(out, config, params, { version: 2, groupSize: 8 });
    const back = readLlama2cCheckpoint(out);
    expect(back.format).toBe("v2");
    expect(back.config).toEqual(config);
    expect([...back.params.keys()]).toEqual([...params.keys()]);
    for (const [name, orig] of params) {
      const got = back.params.get(name)!;
      let max = 0;
      for (const x of orig) max = Math.max(max, Math.abs(x));
      for (let i = 0; i < orig.length; i++) expect(Math.abs(got[i] - orig[i])).toBeLessThanOrEqual(max / 127 / 2 + 1e-9);
    }
    expect(back.params.get("unembed.W_U")).not.toEqual(params.get("unembed.W_U")); // quantized, not copied
  });

  it("writeLlama2cCheckpoint leaves no temporary file behind, and replaces an existing file", () => {
    const sub = fs.mkdtempSync(path.join(tmp, "atomic-"));
    const out = path.join(sub, "m.bin");
    fs.writeFileSync(out, "old");
    writeLlama2cCheckpoint(out, config, params, { version: 1 });
    expect(fs.readdirSync(sub)).toEqual(["m.bin"]);
    expect(readLlama2cCheckpoint(out).format).toBe("v1");
  });
});

describe("readLlama2cCheckpoint(bad input)", () => {
  const config = untiedConfig();
  const params = initParams(config, 3);
  let good: Buffer; // legacy, untied
  let goodV1: Buffer;
  let goodV2: Buffer;
  beforeAll(() => {
    writeLlama2cCheckpoint(tmpFile("bad-base.bin"), config, params);
    good = fs.readFileSync(tmpFile("bad-base.bin"));
    writeLlama2cCheckpoint(tmpFile("bad-base-v1.bin"), config, params, { version: 1 });
    goodV1 = fs.readFileSync(tmpFile("bad-base-v1.bin"));
    writeLlama2cCheckpoint(tmpFile("bad-base-v2.bin"), config, params, { version: 2, groupSize: 8 });
    goodV2 = fs.readFileSync(tmpFile("bad-base-v2.bin"));
  });
  let k = 0;
  const fileWith = (bytes: Buffer | Uint8Array): string => {
    const p = tmpFile(`bad-${k++}.bin`);
    fs.writeFileSync(p, bytes);
    return p;
  };
  const withInts = (base: Buffer, at: number, values: number[]): string => {
    const b = Buffer.from(base);
    values.forEach((v, i) => b.writeInt32LE(v, at + 4 * i));
    return fileWith(b);
  };
  const HDR = "dim 16, hidden_dim 32, n_layers 2, n_heads 4, n_kv_heads 2, vocab_size -24, seq_len 8";

  it("readLlama2cCheckpoint(missing path) throws 'no such file'", () => {
    const p = tmpFile("does-not-exist.bin");
    expect(() => readLlama2cCheckpoint(p)).toThrow(`readLlama2cCheckpoint: no such file: ${p}`);
  });

  it("readLlama2cCheckpoint(directory) throws 'is not a regular file'", () => {
    expect(() => readLlama2cCheckpoint(tmp)).toThrow("is not a regular file");
  });

  it("readLlama2cCheckpoint(file shorter than the 28-byte header) throws RangeError truncated", () => {
    const p = fileWith(good.subarray(0, 20));
    expect(() => readLlama2cCheckpoint(p)).toThrow(RangeError);
    expect(() => readLlama2cCheckpoint(p)).toThrow(`${p} is truncated: a llama2.c header needs at least 28 bytes, file has 20`);
  });

  it("readLlama2cCheckpoint(untied legacy missing its wcls) throws RangeError truncated with both sizes", () => {
    const p = fileWith(good.subarray(0, good.length - 4));
    expect(() => readLlama2cCheckpoint(p)).toThrow(
      new RangeError(`readLlama2cCheckpoint: ${p} is truncated: header (${HDR}) needs ${good.length} bytes, file has ${good.length - 4}`),
    );
  });

  it("readLlama2cCheckpoint(file with trailing bytes) throws RangeError naming the surplus", () => {
    const p = fileWith(Buffer.concat([good, Buffer.alloc(8)]));
    expect(() => readLlama2cCheckpoint(p)).toThrow(`${p} has 8 unexpected trailing bytes: header (${HDR}) needs ${good.length} bytes, file has ${good.length + 8}`);
    const q = fileWith(Buffer.concat([goodV1, Buffer.alloc(4)]));
    expect(() => readLlama2cCheckpoint(q)).toThrow("has 4 unexpected trailing bytes");
  });

  it("readLlama2cCheckpoint(truncated v1 / v2) throws RangeError truncated with the versioned header", () => {
    const p = fileWith(goodV1.subarray(0, goodV1.length - 1));
    expect(() => readLlama2cCheckpoint(p)).toThrow(
      `is truncated: header (dim 16, hidden_dim 32, n_layers 2, n_heads 4, n_kv_heads 2, vocab_size 24, seq_len 8, shared_classifier 0) needs ${goodV1.length} bytes, file has ${goodV1.length - 1}`,
    );
    const q = fileWith(goodV2.subarray(0, 300));
    expect(() => readLlama2cCheckpoint(q)).toThrow(`shared_classifier 0, group_size 8) needs ${goodV2.length} bytes, file has 300`);
    const r = fileWith(goodV1.subarray(0, 100));
    expect(() => readLlama2cCheckpoint(r)).toThrow(`${r} is truncated: the version 1 header needs 256 bytes, file has 100`);
  });

  it("readLlama2cCheckpoint(zero dims) throws RangeError listing every non-positive field", () => {
    const p = withInts(good, 0, [0, 32, 0, 4, 2, -24, 8]);
    expect(() => readLlama2cCheckpoint(p)).toThrow(RangeError);
    expect(() => readLlama2cCheckpoint(p)).toThrow(/has an invalid header \(dim 0, .*\) \(no version magic 0x616b3432, so it was read as a legacy header\):\n {2}- dim must be positive, received 0\n {2}- n_layers must be positive, received 0$/);
    const q = withInts(good, 20, [0]);
    expect(() => readLlama2cCheckpoint(q)).toThrow("vocab_size must be non-zero, received 0");
    const r = withInts(good, 24, [-8]);
    expect(() => readLlama2cCheckpoint(r)).toThrow("seq_len must be positive, received -8");
  });

  it("readLlama2cCheckpoint(inconsistent heads) throws for dim % n_heads, n_heads % n_kv_heads and an odd head size", () => {
    expect(() => readLlama2cCheckpoint(withInts(good, 12, [3]))).toThrow("dim (16) must be a multiple of n_heads (3)");
    expect(() => readLlama2cCheckpoint(withInts(good, 16, [3]))).toThrow("n_heads (4) must be a multiple of n_kv_heads (3)");
    expect(() => readLlama2cCheckpoint(withInts(good, 12, [16, 16]))).toThrow("head size dim / n_heads (1) must be even for RoPE");
    expect(() => readLlama2cCheckpoint(withInts(goodV1, 8 + 16, [8]))).toThrow(
      /invalid version 1 header .*\n {2}- n_heads \(4\) must be a multiple of n_kv_heads \(8\)/,
    );
  });

  it("readLlama2cCheckpoint(unknown version) throws RangeError listing the supported versions", () => {
    const p = withInts(goodV1, 4, [3]);
    expect(() => readLlama2cCheckpoint(p)).toThrow(
      new RangeError(
        `readLlama2cCheckpoint: ${p} has unsupported llama2.c version 3; supported versions: 0 (legacy, no magic), 1 (float32, magic 0x616b3432), 2 (Q8_0, magic 0x616b3432)`,
      ),
    );
    expect(() => readLlama2cCheckpoint(withInts(goodV1, 4, [0]))).toThrow("unsupported llama2.c version 0");
  });

  it("readLlama2cCheckpoint(v1 with negative vocab_size, flag byte 7) lists both problems", () => {
    const b = Buffer.from(goodV1);
    b.writeInt32LE(-24, 8 + 20);
    b[36] = 7;
    expect(() => readLlama2cCheckpoint(fileWith(b))).toThrow(
      /vocab_size must be positive, received -24\n {2}- shared_classifier flag must be 0 or 1, received 7/,
    );
  });

  it("readLlama2cCheckpoint(v2 with group_size 0 or one not dividing a tensor) throws RangeError", () => {
    const b = Buffer.from(goodV2);
    b.writeInt32LE(0, 37);
    expect(() => readLlama2cCheckpoint(fileWith(b))).toThrow("group_size must be positive, received 0");
    b.writeInt32LE(7, 37);
    expect(() => readLlama2cCheckpoint(fileWith(b))).toThrow("group_size 7 must divide the size of every quantized tensor: embed.W_E (384)");
  });

  it("readLlama2cCheckpoint(bad magic, plausible legacy header) reads it as legacy", () => {
    // A legacy file is exactly that: its first int32 (dim) is not the magic.
    expect(readLlama2cCheckpoint(fileWith(good)).format).toBe("legacy");
    // The magic byte-swapped ("ak42" big-endian) is not recognised: it is read as a legacy dim, which is too big.
    const b = Buffer.from(goodV1);
    b.writeUInt32BE(LLAMA2C_MAGIC, 0);
    expect(() => readLlama2cCheckpoint(fileWith(b))).toThrow(/no version magic 0x616b3432, so it was read as a legacy header/);
  });
});

describe("writeLlama2cCheckpoint(bad input)", () => {
  const config = untiedConfig();
  const params = initParams(config, 5);
  const out = () => tmpFile("never-written.bin");

  it("writeLlama2cCheckpoint(path, gpt2 config, …) lists every feature llama2.c cannot express", () => {
    const gpt2 = makeConfig({ family: "gpt2", d_model: 16, n_layers: 1, n_heads: 4, d_vocab: 24, n_ctx: 8 });
    expect(() => writeLlama2cCheckpoint(out(), gpt2, initParams(gpt2, 0))).toThrow(/family must be "llama".*\n.*actFn must be "silu"[\s\S]*no biases[\s\S]*ropeStyle must be "interleaved"/);
    expect(fs.existsSync(out())).toBe(false);
  });

  it("writeLlama2cCheckpoint(path, halves-RoPE llama, …) refuses (llama2.c rotates interleaved pairs)", () => {
    const halves = { ...config, ropeStyle: "halves" as const };
    expect(() => writeLlama2cCheckpoint(out(), halves, params)).toThrow('ropeStyle must be "interleaved" (llama2.c rotates pairs (2i, 2i+1)), received "halves"');
    expect(() => writeLlama2cCheckpoint(out(), { ...config, normEps: 1e-6 }, params)).toThrow("normEps must be 1e-5");
  });

  it("writeLlama2cCheckpoint(path, config, params missing/extra/wrong-size) names each parameter", () => {
    const p = new Map(params);
    p.delete("blocks.1.mlp.W_gate");
    p.set("blocks.0.attn.W_Q", new Float32Array(3));
    p.set("extra.W", new Float32Array(1));
    expect(() => writeLlama2cCheckpoint(out(), config, p)).toThrow(
      /parameter blocks.0.attn.W_Q must be a Float32Array of 256 values \(\[16, 16\]\), received 3\n {2}- missing parameter blocks.1.mlp.W_gate \[16, 32\]\n {2}- unexpected parameter extra.W/,
    );
  });

  it("writeLlama2cCheckpoint(path, config, params, { version: 3 | groupSize 5 }) throws RangeError", () => {
    expect(() => writeLlama2cCheckpoint(out(), config, params, { version: 3 as 0 })).toThrow("unsupported version 3; supported versions: 0 (legacy");
    expect(() => writeLlama2cCheckpoint(out(), config, params, { version: 2, groupSize: 5 })).toThrow("groupSize 5 must divide d_model (16) and d_mlp (32) for Q8_0");
    expect(() => writeLlama2cCheckpoint(out(), config, params, { version: 2, groupSize: 0 })).toThrow("groupSize must be a positive integer, received 0");
  });
});

describe("quantizeQ80(w, groupSize)", () => {
  it("quantizeQ80(w, 4) uses scale max|w|/127, rounds half to even, and keeps all-zero groups at zero", () => {
    const { q, s } = quantizeQ80(new Float32Array([127, -63.5, 0.5, 1.5, 0, 0, 0, 0]), 4);
    expect([...s]).toEqual([1, 0]);
    expect([...q]).toEqual([127, -64, 0, 2, 0, 0, 0, 0]);
  });
});
