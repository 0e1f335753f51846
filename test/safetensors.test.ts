/**
 * Tests for kit/io/safetensors: float16/bfloat16 bit-exact conversions, writer/reader round trips, sharded indexes,
 * and one test per malformed input the reader must reject before reading tensor data.
 */
import { describe, it, expect, beforeEach, afterEach } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  readSafetensors,
  readSafetensorsHeader,
  readShardedSafetensors,
  writeSafetensors,
  type TensorToWrite,
} from "../kit/io/safetensors";

let dir = "";
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "safetensors-test-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const f32 = (...xs: number[]): Float32Array => Float32Array.from(xs);
const bitsOf = (x: number): number => new Uint32Array(f32(x).buffer)[0];
const fromBits = (u: number): number => new Float32Array(Uint32Array.from([u]).buffer)[0];

/** Writes a hand-made file: u64 length (default: the JSON's length) + header text + data bytes. */
function rawFile(name: string, header: string | object, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): string {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(json.length), 0);
  const p = path.join(dir, name);
  fs.writeFileSync(p, Buffer.concat([prefix, json, data]));
  return p;
}

const bytes = (n: number): Uint8Array => new Uint8Array(n);

/** Asserts `fn` throws an instance of `type` whose message contains every fragment. */
function expectThrow(fn: () => unknown, type: new (...args: never[]) => Error, ...fragments: string[]): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  const err = caught as Error;
  for (const f of fragments) expect(err.message).toContain(f);
  return err;
}

describe("float16 conversions", () => {
  it("float32ToFloat16(x) gives the known bit patterns", () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [0, 0x0000],
      [-0, 0x8000],
      [65504, 0x7bff], // largest finite
      [65519.99, 0x7bff], // below the rounding boundary
      [65520, 0x7c00], // halfway to 2^16: rounds to even, i.e. overflows to +Inf
      [1e6, 0x7c00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [2 ** -25, 0x0000], // tie between 0 and 2^-24: even is 0
      [3 * 2 ** -26, 0x0001], // above the tie
      [1.5 * 2 ** -24, 0x0002], // subnormal tie: 1 and 2, even is 2
      [2.5 * 2 ** -24, 0x0002], // subnormal tie: 2 and 3, even is 2
      [1023.5 * 2 ** -24, 0x0400], // tie between largest subnormal and smallest normal: even is the normal
      [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: even
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
      [1e-10, 0x0000],
      [-1e-10, 0x8000],
    ];
    for (const [x, bits] of cases) expect([x, float32ToFloat16(x).toString(16)]).toEqual([x, bits.toString(16)]);
    const nan = float32ToFloat16(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
  });

  it("float16ToFloat32(bits) decodes normals, subnormals, signed zeros, infinities and NaN", () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(float16ToFloat32(0x0400)).toBe(2 ** -14);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(Object.is(float16ToFloat32(0x8000), -0)).toBe(true);
    expect(float16ToFloat32(0x7c00)).toBe(Infinity);
    expect(float16ToFloat32(0xfc00)).toBe(-Infinity);
    expect(float16ToFloat32(0x7e00)).toBeNaN();
    expect(float16ToFloat32(0xfc01)).toBeNaN();
  });

  it("float32ToFloat16(float16ToFloat32(bits)) === bits for every non-NaN half", () => {
    for (let b = 0; b < 0x10000; b++) {
      if ((b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0) continue;
      if (float32ToFloat16(float16ToFloat32(b)) !== b) throw new Error(`round trip failed for 0x${b.toString(16)}`);
    }
  });
});

describe("bfloat16 conversions", () => {
  it("float32ToBfloat16(x) gives the known bit patterns, rounding to nearest even", () => {
    const cases: Array<[number, number]> = [
      [1, 0x3f80],
      [-2, 0xc000],
      [0, 0x0000],
      [-0, 0x8000],
      [Infinity, 0x7f80],
      [-Infinity, 0xff80],
      [fromBits(0x3f808000), 0x3f80], // tie: even
      [fromBits(0x3f818000), 0x3f82], // tie: even
      [fromBits(0x3f808001), 0x3f81], // above the tie
      [fromBits(0x3f807fff), 0x3f80], // below the tie
      [fromBits(0x7f7fffff), 0x7f80], // float32 max rounds to +Inf
      [fromBits(0x00010000), 0x0001], // float32 subnormal
    ];
    for (const [x, bits] of cases) expect([x, float32ToBfloat16(x).toString(16)]).toEqual([x, bits.toString(16)]);
    const nan = float32ToBfloat16(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x007f).not.toBe(0);
  });

  it("bfloat16ToFloat32(bits) decodes, and round trips every non-NaN pattern", () => {
    expect(bfloat16ToFloat32(0x3f80)).toBe(1);
    expect(bfloat16ToFloat32(0xc000)).toBe(-2);
    expect(bfloat16ToFloat32(0x7f80)).toBe(Infinity);
    expect(bfloat16ToFloat32(0xff80)).toBe(-Infinity);
    expect(bfloat16ToFloat32(0x7fc0)).toBeNaN();
    expect(Object.is(bfloat16ToFloat32(0x8000), -0)).toBe(true);
    for (let b = 0; b < 0x10000; b++) {
      if ((b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0) continue;
      if (float32ToBfloat16(bfloat16ToFloat32(b)) !== b) throw new Error(`round trip failed for 0x${b.toString(16)}`);
    }
  });
});

describe("writeSafetensors / readSafetensors round trips", () => {
  it("writeSafetensors(path, tensors) then readSafetensors(path) round trips F32 bit-exactly, including NaN, ±Inf, -0 and subnormals", () => {
    const data = f32(1, -2.5, NaN, Infinity, -Infinity, -0, fromBits(0x00000001), 3.4028234663852886e38);
    const p = path.join(dir, "a.safetensors");
    writeSafetensors(p, { x: { shape: [2, 4], data }, empty: { shape: [0, 3], data: f32() }, scalar: { shape: [], data: f32(7) } });
    const got = readSafetensors(p);
    expect([...got.keys()].sort()).toEqual(["empty", "scalar", "x"]);
    expect(got.get("x")!.dtype).toBe("F32");
    expect(got.get("x")!.shape).toEqual([2, 4]);
    expect(Array.from(new Uint32Array(got.get("x")!.data.buffer))).toEqual(Array.from(new Uint32Array(data.buffer)));
    expect(got.get("empty")!.shape).toEqual([0, 3]);
    expect(got.get("empty")!.data.length).toBe(0);
    expect(got.get("scalar")!.shape).toEqual([]);
    expect(Array.from(got.get("scalar")!.data)).toEqual([7]);
  });

  it("writeSafetensors(path, tensors) with dtype F16 / BF16 stores round-to-nearest-even bits and reads back exactly representable values", () => {
    const exactF16 = f32(1, -2, 0.5, 65504, 2 ** -24, 1023 * 2 ** -24, -0, Infinity);
    const exactBF16 = f32(1, -2, 3.140625, 2 ** -126, -Infinity, bfloat16ToFloat32(0x7f00));
    const p = path.join(dir, "half.safetensors");
    writeSafetensors(p, new Map<string, TensorToWrite>([
      ["h", { shape: [8], data: exactF16, dtype: "F16" }],
      ["b", { shape: [2, 3], data: exactBF16, dtype: "BF16" }],
      ["r", { shape: [2], data: f32(1 + 2 ** -11, 1 + 3 * 2 ** -11), dtype: "F16" }],
    ]));
    const header = readSafetensorsHeader(p);
    expect(header.tensors.get("h")).toEqual({ dtype: "F16", shape: [8], data_offsets: [12, 28] });
    expect(header.tensors.get("b")).toEqual({ dtype: "BF16", shape: [2, 3], data_offsets: [0, 12] });
    const raw = fs.readFileSync(p);
    expect(raw.readUInt16LE(header.dataStart + 12)).toBe(0x3c00); // h[0] = 1.0
    expect(raw.readUInt16LE(header.dataStart)).toBe(0x3f80); // b[0] = 1.0
    const got = readSafetensors(p);
    expect(Array.from(got.get("h")!.data)).toEqual(Array.from(exactF16));
    expect(Object.is(got.get("h")!.data[6], -0)).toBe(true);
    expect(Array.from(got.get("b")!.data)).toEqual(Array.from(exactBF16));
    expect(Array.from(got.get("r")!.data)).toEqual([1, 1 + 2 * 2 ** -10]);
  });

  it("writeSafetensors(path, tensors) pads the header with spaces to a multiple of 8 and lays tensors out contiguously in sorted-name order", () => {
    const p = path.join(dir, "layout.safetensors");
    writeSafetensors(p, { zeta: { shape: [1], data: f32(3) }, alpha: { shape: [2], data: f32(1, 2) }, "mid.w": { shape: [1], data: f32(9) } });
    const raw = fs.readFileSync(p);
    const n = Number(raw.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = raw.subarray(8, 8 + n).toString("utf8");
    expect(text).toMatch(/^\{.*\} *$/);
    expect(raw.length).toBe(8 + n + 16);
    const header = readSafetensorsHeader(p);
    expect(header.dataStart).toBe(8 + n);
    expect(header.fileSize).toBe(raw.length);
    expect(header.tensors.get("alpha")!.data_offsets).toEqual([0, 8]);
    expect(header.tensors.get("mid.w")!.data_offsets).toEqual([8, 12]);
    expect(header.tensors.get("zeta")!.data_offsets).toEqual([12, 16]);
    expect(Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset + 8 + n, raw.byteOffset + raw.length)))).toEqual([1, 2, 9, 3]);
  });

  it("writeSafetensors(path, tensors, metadata) round trips __metadata__ and overwrites atomically without leaving temp files", () => {
    const p = path.join(dir, "meta.safetensors");
    writeSafetensors(p, { a: { shape: [1], data: f32(1) } }, { format: "pt", note: "x" });
    const metadata = JSON.parse('{"format": "tfjs", "ünïcödé": "✓", "__proto__": "own key"}') as Record<string, string>;
    writeSafetensors(p, { a: { shape: [1], data: f32(2) } }, metadata);
    expect(fs.readdirSync(dir)).toEqual(["meta.safetensors"]);
    const header = readSafetensorsHeader(p);
    expect(Object.entries(header.metadata)).toEqual([["format", "tfjs"], ["ünïcödé", "✓"], ["__proto__", "own key"]]);
    expect(Object.getPrototypeOf(header.metadata)).toBe(Object.prototype);
    expect(readSafetensors(p).get("a")!.data[0]).toBe(2);
  });

  it("writeSafetensors(path, tensors) rejects a shape disagreeing with data.length, writing nothing", () => {
    const p = path.join(dir, "bad.safetensors");
    expectThrow(() => writeSafetensors(p, { w: { shape: [2, 3], data: f32(1, 2) } }), RangeError, "writeSafetensors", '"w"', "[2, 3]", "6 elements", "data has 2");
    expectThrow(() => writeSafetensors(p, { w: { shape: [1], data: [1] as unknown as Float32Array } }), TypeError, "writeSafetensors", "Float32Array");
    expectThrow(() => writeSafetensors(p, { w: { shape: [1], data: f32(1), dtype: "F64" as "F32" } }), TypeError, "writeSafetensors", "F32, F16, BF16", '"F64"');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("readSafetensors(path, { names }) returns only the requested tensors, in the requested order", () => {
    const p = path.join(dir, "subset.safetensors");
    writeSafetensors(p, { a: { shape: [1], data: f32(1) }, b: { shape: [2], data: f32(2, 3) }, c: { shape: [1], data: f32(4) } });
    const got = readSafetensors(p, { names: ["c", "a"] });
    expect([...got.keys()]).toEqual(["c", "a"]);
    expect(Array.from(got.get("c")!.data)).toEqual([4]);
    expect(Array.from(got.get("a")!.data)).toEqual([1]);
  });

  it("readSafetensors(path, { expectedShapes }) accepts matching shapes", () => {
    const p = path.join(dir, "shapes.safetensors");
    writeSafetensors(p, { a: { shape: [2, 1], data: f32(1, 2) } });
    const got = readSafetensors(p, { expectedShapes: new Map([["a", [2, 1]], ["not.in.file", [3]]]) });
    expect(got.get("a")!.shape).toEqual([2, 1]);
  });

  it("readSafetensors(path) converts F64 and integer dtypes (I64, I32, I16, I8, U8, BOOL) to Float32Array", () => {
    const buf = Buffer.alloc(8 * 2 + 8 * 2 + 4 * 2 + 2 * 2 + 2 + 2 + 2);
    let o = 0;
    const header: Record<string, object> = {};
    const put = (name: string, dtype: string, n: number, size: number, write: (i: number, at: number) => void): void => {
      header[name] = { dtype, shape: [n], data_offsets: [o, o + n * size] };
      for (let i = 0; i < n; i++) write(i, o + i * size);
      o += n * size;
    };
    put("f64", "F64", 2, 8, (i, at) => buf.writeDoubleLE([0.1, -3][i], at));
    put("i64", "I64", 2, 8, (i, at) => buf.writeBigInt64LE([-5n, 1n << 40n][i], at));
    put("i32", "I32", 2, 4, (i, at) => buf.writeInt32LE([-7, 123456][i], at));
    put("i16", "I16", 2, 2, (i, at) => buf.writeInt16LE([-300, 300][i], at));
    put("i8", "I8", 2, 1, (i, at) => buf.writeInt8([-128, 127][i], at));
    put("u8", "U8", 2, 1, (i, at) => buf.writeUInt8([0, 255][i], at));
    put("bool", "BOOL", 2, 1, (i, at) => buf.writeUInt8([0, 1][i], at));
    const got = readSafetensors(rawFile("ints.safetensors", header, buf));
    expect(got.get("f64")!.data).toEqual(f32(0.1, -3));
    expect(Array.from(got.get("i64")!.data)).toEqual([-5, 2 ** 40]);
    expect(Array.from(got.get("i32")!.data)).toEqual([-7, 123456]);
    expect(Array.from(got.get("i16")!.data)).toEqual([-300, 300]);
    expect(Array.from(got.get("i8")!.data)).toEqual([-128, 127]);
    expect(Array.from(got.get("u8")!.data)).toEqual([0, 255]);
    expect(Array.from(got.get("bool")!.data)).toEqual([0, 1]);
    expect(got.get("i16")!.dtype).toBe("I16");
  });

  it("readSafetensors(path, { names }) reads a tensor at an offset past 4 GiB in a sparse file", () => {
    const big = 2 ** 32 + 64;
    const header = { big: { dtype: "U8", shape: [big], data_offsets: [0, big] }, tail: { dtype: "F32", shape: [2], data_offsets: [big, big + 8] } };
    const p = rawFile("sparse.safetensors", header);
    const dataStart = fs.statSync(p).size;
    const fd = fs.openSync(p, "r+");
    fs.writeSync(fd, Buffer.from(f32(1.5, -4).buffer), 0, 8, dataStart + big);
    fs.closeSync(fd);
    expect(readSafetensorsHeader(p).fileSize).toBe(dataStart + big + 8);
    const got = readSafetensors(p, { names: ["tail"] });
    expect([...got.keys()]).toEqual(["tail"]);
    expect(Array.from(got.get("tail")!.data)).toEqual([1.5, -4]);
  });
});

describe("readShardedSafetensors", () => {
  function twoShards(): string {
    writeSafetensors(path.join(dir, "model-00001-of-00002.safetensors"), { "embed.W_E": { shape: [2, 2], data: f32(1, 2, 3, 4) }, "ln.w": { shape: [2], data: f32(5, 6) } });
    writeSafetensors(path.join(dir, "model-00002-of-00002.safetensors"), { "unembed.W_U": { shape: [2, 1], data: f32(7, 8) } });
    const index = {
      metadata: { total_size: 40 },
      weight_map: {
        "embed.W_E": "model-00001-of-00002.safetensors",
        "unembed.W_U": "model-00002-of-00002.safetensors",
        "ln.w": "model-00001-of-00002.safetensors",
      },
    };
    const p = path.join(dir, "model.safetensors.index.json");
    fs.writeFileSync(p, JSON.stringify(index));
    return p;
  }

  it("readShardedSafetensors(indexPath) reads every tensor of a two-shard checkpoint in weight_map order", () => {
    const got = readShardedSafetensors(twoShards());
    expect([...got.keys()]).toEqual(["embed.W_E", "unembed.W_U", "ln.w"]);
    expect(Array.from(got.get("embed.W_E")!.data)).toEqual([1, 2, 3, 4]);
    expect(got.get("unembed.W_U")!.shape).toEqual([2, 1]);
    expect(Array.from(got.get("unembed.W_U")!.data)).toEqual([7, 8]);
    expect(Array.from(got.get("ln.w")!.data)).toEqual([5, 6]);
  });

  it("readShardedSafetensors(indexPath, { names }) opens only the shards it needs", () => {
    const p = twoShards();
    fs.rmSync(path.join(dir, "model-00001-of-00002.safetensors"));
    const got = readShardedSafetensors(p, { names: ["unembed.W_U"] });
    expect([...got.keys()]).toEqual(["unembed.W_U"]);
  });

  it("readShardedSafetensors(indexPath) rejects a missing shard file, naming the shard and the index", () => {
    const p = twoShards();
    const shard = path.join(dir, "model-00002-of-00002.safetensors");
    fs.rmSync(shard);
    const err = expectThrow(() => readShardedSafetensors(p), Error, "readShardedSafetensors: shard file not found: ", shard, p, '"unembed.W_U"');
    expect((err as NodeJS.ErrnoException).code).toBe("ENOENT");
  });

  it("readShardedSafetensors(indexPath) rejects a tensor listed in the index but absent from its shard", () => {
    const p = twoShards();
    const index = JSON.parse(fs.readFileSync(p, "utf8"));
    index.weight_map["ln.b"] = "model-00001-of-00002.safetensors";
    fs.writeFileSync(p, JSON.stringify(index));
    expectThrow(() => readShardedSafetensors(p), Error, "readShardedSafetensors", '"ln.b"', "model-00001-of-00002.safetensors", p, "absent from the shard", '"ln.w"');
  });

  it("readShardedSafetensors(indexPath, { expectedShapes }) rejects a shape mismatch inside a shard", () => {
    const p = twoShards();
    expectThrow(
      () => readShardedSafetensors(p, { expectedShapes: new Map([["unembed.W_U", [1, 2]]]) }),
      RangeError, "readShardedSafetensors", '"unembed.W_U"', "model-00002-of-00002.safetensors", "[2, 1]", "[1, 2]",
    );
  });

  it("readShardedSafetensors(indexPath) rejects a missing index, a malformed weight_map and shard paths outside the index directory", () => {
    const missing = path.join(dir, "nope.index.json");
    expectThrow(() => readShardedSafetensors(missing), Error, `readShardedSafetensors: index file not found: ${missing}`);
    const p = path.join(dir, "bad.index.json");
    fs.writeFileSync(p, JSON.stringify({ weight_map: ["a"] }));
    expectThrow(() => readShardedSafetensors(p), TypeError, "readShardedSafetensors", p, '"weight_map" must be an object');
    fs.writeFileSync(p, JSON.stringify({ weight_map: { a: "../../etc/passwd" } }));
    expectThrow(() => readShardedSafetensors(p), TypeError, "readShardedSafetensors", '"../../etc/passwd"', "inside");
  });

  it("readShardedSafetensors(indexPath, { names }) rejects names absent from the weight_map, listing near names", () => {
    expectThrow(() => readShardedSafetensors(twoShards(), { names: ["ln.W"] }), Error, "readShardedSafetensors", '"ln.W"', "nearest names", '"ln.w"');
  });
});

describe("readSafetensors rejects malformed files before reading tensor data", () => {
  const okEntry = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

  it("readSafetensors(path) rejects a missing file with an ENOENT error", () => {
    const p = path.join(dir, "missing.safetensors");
    const err = expectThrow(() => readSafetensors(p), Error, `readSafetensors: file not found: ${p}`);
    expect((err as NodeJS.ErrnoException).code).toBe("ENOENT");
    expectThrow(() => readSafetensorsHeader(p), Error, `readSafetensorsHeader: file not found: ${p}`);
  });

  it("readSafetensors(path) rejects a file shorter than 8 bytes", () => {
    const p = path.join(dir, "short.safetensors");
    fs.writeFileSync(p, Buffer.from([1, 2, 3, 4, 5]));
    expectThrow(() => readSafetensors(p), RangeError, "readSafetensors", p, "file is 5 bytes, expected at least 8");
  });

  it("readSafetensors(path) rejects a header length of 0 and one over 100,000,000", () => {
    expectThrow(() => readSafetensors(rawFile("zero.safetensors", "", bytes(0), 0n)), RangeError, "readSafetensors", "header length is 0");
    expectThrow(() => readSafetensors(rawFile("huge.safetensors", "{}", bytes(0), 2n ** 63n)), RangeError, "readSafetensors", `header length ${2n ** 63n}`, "limit of 100000000");
  });

  it("readSafetensors(path) rejects a header length past the end of the file", () => {
    const p = rawFile("trunc.safetensors", "{}", bytes(10), 1000n);
    expectThrow(() => readSafetensors(p), RangeError, "readSafetensors", p, "header length 1000 exceeds file size 20");
  });

  it("readSafetensors(path) rejects malformed JSON, invalid UTF-8 and a non-object header", () => {
    const p = rawFile("json.safetensors", '{"a": {"dtype": "F32",');
    expectThrow(() => readSafetensors(p), TypeError, "readSafetensors", p, "not valid JSON");
    const bad = path.join(dir, "utf8.safetensors");
    fs.writeFileSync(bad, Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]));
    expectThrow(() => readSafetensors(bad), TypeError, "readSafetensors", bad, "not valid UTF-8");
    expectThrow(() => readSafetensors(rawFile("arr.safetensors", "[1, 2]")), TypeError, "readSafetensors", "must be a JSON object, received an array");
  });

  it("readSafetensors(path) rejects entries with missing fields or wrong types, naming the tensor", () => {
    const p1 = rawFile("nooff.safetensors", { w: { dtype: "F32", shape: [2] } }, bytes(8));
    expectThrow(() => readSafetensors(p1), TypeError, "readSafetensors", '"w"', p1, 'missing "data_offsets"');
    const p2 = rawFile("strshape.safetensors", { w: { dtype: "F32", shape: ["2"], data_offsets: [0, 8] } }, bytes(8));
    expectThrow(() => readSafetensors(p2), TypeError, "readSafetensors", '"w"', '"shape"[0] must be an integer, received "2"');
    const p3 = rawFile("negshape.safetensors", { w: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, bytes(8));
    expectThrow(() => readSafetensors(p3), RangeError, "readSafetensors", '"w"', "non-negative integer, received -2");
    const p4 = rawFile("meta.safetensors", { __metadata__: { a: 1 } });
    expectThrow(() => readSafetensors(p4), TypeError, "readSafetensors", "__metadata__", '"a"', "must be a string, received 1");
    const p5 = rawFile("offs3.safetensors", { w: { dtype: "F32", shape: [2], data_offsets: [0, 4, 8] } }, bytes(8));
    expectThrow(() => readSafetensors(p5), TypeError, "readSafetensors", '"w"', "[begin, end]", "[0,4,8]");
  });

  it("readSafetensors(path) rejects an unknown dtype, listing the known ones", () => {
    const p = rawFile("dtype.safetensors", { w: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, bytes(2));
    expectThrow(() => readSafetensors(p), TypeError, "readSafetensors", '"w"', p, 'unknown dtype "F8_E4M3"', "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL");
  });

  it("readSafetensors(path) rejects data_offsets with begin > end", () => {
    const p = rawFile("rev.safetensors", { w: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, bytes(8));
    expectThrow(() => readSafetensors(p), RangeError, "readSafetensors", '"w"', "[8, 0]", "begin > end");
  });

  it("readSafetensors(path) rejects out-of-range data_offsets, naming the tensor and the file size", () => {
    const p = rawFile("oob.safetensors", { w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, bytes(8));
    const size = fs.statSync(p).size;
    expectThrow(() => readSafetensors(p), RangeError, "readSafetensors", '"w"', p, "[0, 16] out of range", "buffer is 8 bytes", `file size ${size}`);
  });

  it("readSafetensors(path) rejects a byte length disagreeing with product(shape) × dtype size", () => {
    const p = rawFile("len.safetensors", { w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 12] } }, bytes(12));
    expectThrow(() => readSafetensors(p), RangeError, "readSafetensors", '"w"', p, "span 12 bytes, expected 16", "[2, 2]", "F32");
  });

  it("readSafetensors(path) rejects overlapping data_offsets, naming both tensors", () => {
    const p = rawFile("overlap.safetensors", { a: okEntry, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, bytes(12));
    expectThrow(() => readSafetensors(p), RangeError, "readSafetensors", p, '"a"', '"b"', "overlap", "[0, 8]", "[4, 12]");
  });

  it("readSafetensors(path) rejects a hole between tensors and unclaimed trailing bytes", () => {
    const gap = rawFile("gap.safetensors", { a: okEntry, b: { dtype: "F32", shape: [1], data_offsets: [12, 16] } }, bytes(16));
    expectThrow(() => readSafetensors(gap), RangeError, "readSafetensors", gap, "hole", "[8, 12)", '"b"');
    const tail = rawFile("tail.safetensors", { a: okEntry }, bytes(12));
    expectThrow(() => readSafetensors(tail), RangeError, "readSafetensors", tail, "hole", "end at byte 8, expected 12");
  });

  it("readSafetensors(path, { expectedShapes }) rejects a shape disagreeing with the expected one, naming the tensor, both shapes and the file", () => {
    const p = path.join(dir, "exp.safetensors");
    writeSafetensors(p, { "blocks.0.attn.W_Q": { shape: [4, 2], data: new Float32Array(8) } });
    expectThrow(
      () => readSafetensors(p, { expectedShapes: new Map([["blocks.0.attn.W_Q", [2, 4]]]) }),
      RangeError, "readSafetensors", '"blocks.0.attn.W_Q"', p, "shape [4, 2]", "expected shape [2, 4]",
    );
  });

  it("readSafetensors(path, { names }) rejects requested names absent from the file, listing near names", () => {
    const p = path.join(dir, "names.safetensors");
    writeSafetensors(p, { "blocks.0.attn.W_Q": { shape: [1], data: f32(1) }, "blocks.0.attn.W_K": { shape: [1], data: f32(1) }, "embed.W_E": { shape: [1], data: f32(1) } });
    expectThrow(() => readSafetensors(p, { names: ["embed.W_E", "blocks.0.attn.w_q"] }), Error, "readSafetensors", p, '"blocks.0.attn.w_q"', "nearest names", '"blocks.0.attn.W_Q"');
  });

  it("readSafetensorsHeader(path) validates the same way and names itself", () => {
    const p = rawFile("hdr.safetensors", { a: okEntry, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, bytes(12));
    expectThrow(() => readSafetensorsHeader(p), RangeError, "readSafetensorsHeader:", "overlap");
  });
});
