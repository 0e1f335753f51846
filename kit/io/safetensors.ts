/**
 * A safe reader and an atomic writer for the safetensors format (https://github.com/huggingface/safetensors).
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON header
 * `{ "__metadata__"?: {string: string}, name: { "dtype", "shape", "data_offsets": [begin, end] } }`, then the byte
 * buffer; offsets are relative to the buffer start `8 + N`.
 *
 * The reader treats files as untrusted: the header length is bounded (100 MB) before anything is allocated, the JSON
 * is decoded strictly (invalid UTF-8 is an error), every entry is type-checked, each tensor's byte length must equal
 * product(shape) × dtype size, and (like the reference implementation) the sorted data_offsets must tile the buffer
 * exactly — no overlaps, no holes, no trailing bytes. All of this is checked before any tensor byte is read. Tensor
 * data is read by ranges with `fs.readSync`, so `names` selecting a subset reads only those bytes, and offsets past
 * 2 GiB work (positions are plain Numbers, exact up to 2^53).
 *
 * Errors name the function, the file, the tensor where relevant, what was expected and what was received:
 * `RangeError` for size/offset/shape problems, `TypeError` for type/format problems, `Error` (code `ENOENT`) for a
 * missing file, and `Error` for a requested tensor that is absent (with the nearest names).
 *
 * Every dtype is returned as a `Float32Array` (F64 and I64 lose precision beyond float32; BOOL reads as 0/1).
 * The writer emits F32, F16 or BF16 (round-to-nearest-even), tensors in sorted-name order, header padded with spaces
 * to a multiple of 8 bytes, via a temp file and a rename.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as nodePath from "node:path";
import { randomBytes } from "node:crypto";
import { editDistance } from "../util/editDistance";
import { isPlainObject } from "../util/object";
import { jsonErrorPlace } from "./json-position";

export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Absolute file position of the byte buffer (8 + header length). */
  dataStart: number;
  fileSize: number;
}

export interface LoadedTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface ReadSafetensorsOptions {
  /** Only these tensors (others are not read). */
  names?: readonly string[];
  /**
   * Expected shape per tensor name (e.g. from the model config): a mismatch is an error naming the tensor, both
   * shapes and the file. Only tensors being read are checked; a name absent from the file is not an error here
   * (list it in `names` to require it).
   */
  expectedShapes?: ReadonlyMap<string, readonly number[]>;
}

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
  /** Default "F32". F16/BF16 are converted with round-to-nearest-even. */
  dtype?: "F32" | "F16" | "BF16";
}

/** Bytes per element of each dtype. */
export const SAFETENSORS_DTYPE_SIZES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Largest header accepted, as in the reference implementation. */
export const MAX_HEADER_LENGTH = 100_000_000;

const KNOWN_DTYPES = Object.keys(SAFETENSORS_DTYPE_SIZES) as SafetensorsDtype[];
const METADATA_KEY = "__metadata__";
/** Bytes per read/write syscall when converting; a multiple of every dtype size. */
const CHUNK_BYTES = 1 << 24;
const LITTLE_ENDIAN = os.endianness() === "LE";

// ---------------------------------------------------------------------------------------------------------------
// float16 / bfloat16 conversions
// ---------------------------------------------------------------------------------------------------------------

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function float32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

function float32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0];
}

/** IEEE binary16 bit pattern (0..0xFFFF) → number. */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Rounds `value >> shift` to nearest, ties to even (shift ≥ 1). */
function shiftRoundEven(value: number, shift: number): number {
  const q = Math.floor(value / 2 ** shift);
  const rem = value - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** float32 bit pattern → binary16 bit pattern, round-to-nearest-even; NaN stays NaN (quiet), overflow → ±Inf. */
function float32BitsToFloat16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    const shift = 14 - e; // to half-subnormal units of 2^-24
    if (shift > 24) return sign;
    return sign | shiftRoundEven(mant | 0x800000, shift); // a carry to 0x400 is the smallest normal
  }
  return sign | shiftRoundEven((e << 10) * 0x2000 + mant, 13); // a carry may reach 0x7c00 = Inf, as it should
}

/** number → IEEE binary16 bit pattern, round-to-nearest-even (via float32, like the reference casts). */
export function float32ToFloat16(x: number): number {
  return float32BitsToFloat16(float32Bits(x));
}

/** bfloat16 bit pattern (0..0xFFFF) → number. */
export function bfloat16ToFloat32(bits: number): number {
  return float32FromBits((bits & 0xffff) << 16);
}

/** float32 bit pattern → bfloat16 bit pattern, round-to-nearest-even; NaN stays NaN (quiet). */
function float32BitsToBfloat16(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** number → bfloat16 bit pattern, round-to-nearest-even (via float32). */
export function float32ToBfloat16(x: number): number {
  return float32BitsToBfloat16(float32Bits(x));
}

let f16Table: Float32Array | undefined;

function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = float16ToFloat32(i);
  }
  return f16Table;
}

// ---------------------------------------------------------------------------------------------------------------
// message helpers
// ---------------------------------------------------------------------------------------------------------------

/** JSON rendering of an untrusted value, cut to a readable length. */
function show(value: unknown, max = 120): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > max ? s.slice(0, max) + "…" : s;
}

function tensorIn(name: string, path: string): string {
  return `tensor ${show(name)} in ${path}`;
}

function showShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function notFound(fn: string, what: string, path: string, extra = ""): Error {
  const err = new Error(`${fn}: ${what} not found: ${path}${extra}`) as NodeJS.ErrnoException;
  err.code = "ENOENT";
  err.path = path;
  return err;
}

/** Up to `k` candidates closest to `name` by edit distance, rendered for an error message. */
function nearestNames(name: string, candidates: Iterable<string>, k = 5): string {
  const scored: Array<[number, string]> = [];
  for (const c of candidates) scored.push([editDistance(name.slice(0, 200), c.slice(0, 200)), c]);
  if (scored.length === 0) return "the file has no tensors";
  scored.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1));
  return "nearest names: " + scored.slice(0, k).map(([, c]) => show(c)).join(", ");
}

// ---------------------------------------------------------------------------------------------------------------
// file access
// ---------------------------------------------------------------------------------------------------------------

function openForReading(fn: string, path: string, what = "file", extra = ""): number {
  try {
    return fs.openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw notFound(fn, what, path, extra);
    throw new Error(`${fn}: cannot open ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function fileSizeOf(fn: string, path: string, fd: number): number {
  const st = fs.fstatSync(fd);
  if (!st.isFile()) throw new TypeError(`${fn}: ${path} is not a regular file`);
  return st.size;
}

/** Reads exactly `length` bytes at `position` into `target[offset..]`; a short read is an error. */
function readFully(fn: string, path: string, fd: number, target: Uint8Array, offset: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, target, offset + done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) {
      throw new RangeError(`${fn}: ${path}: unexpected end of file at byte ${position + done}, expected ${length - done} more bytes (file truncated while reading?)`);
    }
    done += n;
  }
}

function writeFully(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done);
}

// ---------------------------------------------------------------------------------------------------------------
// header parsing and validation
// ---------------------------------------------------------------------------------------------------------------

/** Reads and bounds the 8-byte header length; returns it as a Number. */
function readHeaderLength(fn: string, path: string, fd: number, fileSize: number): number {
  if (fileSize < 8) {
    throw new RangeError(`${fn}: ${path}: file is ${fileSize} bytes, expected at least 8 (the header length prefix); truncated or not a safetensors file`);
  }
  const prefix = Buffer.alloc(8);
  readFully(fn, path, fd, prefix, 0, 8, 0);
  const big = prefix.readBigUInt64LE(0);
  if (big === 0n) throw new RangeError(`${fn}: ${path}: header length is 0, expected at least 2 (a JSON object)`);
  if (big > BigInt(MAX_HEADER_LENGTH)) {
    throw new RangeError(`${fn}: ${path}: header length ${big} exceeds the limit of ${MAX_HEADER_LENGTH} bytes (file size ${fileSize})`);
  }
  const n = Number(big);
  if (8 + n > fileSize) throw new RangeError(`${fn}: ${path}: header length ${n} exceeds file size ${fileSize}`);
  return n;
}

function decodeHeaderJson(fn: string, path: string, bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new TypeError(`${fn}: ${path}: header is not valid UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new TypeError(`${fn}: ${path}: header is not valid JSON (${(e as Error).message}); starts with ${show(text.slice(0, 60))}`);
  }
  if (!isPlainObject(parsed)) {
    const kind = Array.isArray(parsed) ? "an array" : parsed === null ? "null" : typeof parsed;
    throw new TypeError(`${fn}: ${path}: header must be a JSON object, received ${kind}`);
  }
  return parsed;
}

function parseMetadata(fn: string, path: string, raw: unknown): Record<string, string> {
  if (!isPlainObject(raw)) throw new TypeError(`${fn}: ${path}: "__metadata__" must be an object of strings, received ${show(raw)}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") throw new TypeError(`${fn}: ${path}: "__metadata__" value for ${show(k)} must be a string, received ${show(v)}`);
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true }); // safe for "__proto__"
  }
  return out;
}

/** Checks a JSON array of non-negative safe integers; `what` names the field in messages. */
function parseIntArray(fn: string, where: string, what: string, raw: unknown): number[] {
  if (!Array.isArray(raw)) throw new TypeError(`${fn}: ${where}: "${what}" must be an array of integers, received ${show(raw)}`);
  for (const [i, v] of raw.entries()) {
    if (typeof v !== "number") throw new TypeError(`${fn}: ${where}: "${what}"[${i}] must be an integer, received ${show(v)}`);
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`${fn}: ${where}: "${what}"[${i}] must be a non-negative integer, received ${show(v)} (in ${show(raw)})`);
    }
  }
  return raw as number[];
}

function parseDtype(fn: string, where: string, raw: unknown): SafetensorsDtype {
  if (typeof raw !== "string") throw new TypeError(`${fn}: ${where}: "dtype" must be a string, received ${show(raw)}`);
  if (!(KNOWN_DTYPES as string[]).includes(raw)) {
    throw new TypeError(`${fn}: ${where}: unknown dtype ${show(raw)}, expected one of ${KNOWN_DTYPES.join(", ")}`);
  }
  return raw as SafetensorsDtype;
}

/** Validates one header entry against the buffer length. */
function parseEntry(fn: string, path: string, name: string, raw: unknown, bufferLength: number, fileSize: number): SafetensorsEntry {
  const where = tensorIn(name, path);
  if (!isPlainObject(raw)) throw new TypeError(`${fn}: ${where}: entry must be an object with dtype, shape, data_offsets, received ${show(raw)}`);
  for (const key of ["dtype", "shape", "data_offsets"]) {
    if (!(key in raw)) throw new TypeError(`${fn}: ${where}: entry is missing "${key}" (received keys ${show(Object.keys(raw))})`);
  }
  const dtype = parseDtype(fn, where, raw.dtype);
  const shape = parseIntArray(fn, where, "shape", raw.shape);
  const offsets = parseIntArray(fn, where, "data_offsets", raw.data_offsets);
  if (offsets.length !== 2) throw new TypeError(`${fn}: ${where}: "data_offsets" must be [begin, end], received ${show(offsets)}`);
  const [begin, end] = offsets;
  if (begin > end) throw new RangeError(`${fn}: ${where}: data_offsets [${begin}, ${end}] has begin > end`);
  if (end > bufferLength) {
    throw new RangeError(
      `${fn}: ${where}: data_offsets [${begin}, ${end}] out of range: the data buffer is ${bufferLength} bytes (file size ${fileSize}, data starts at byte ${fileSize - bufferLength})`,
    );
  }
  checkByteLength(fn, where, dtype, shape, begin, end);
  return { dtype, shape, data_offsets: [begin, end] };
}

function checkByteLength(fn: string, where: string, dtype: SafetensorsDtype, shape: number[], begin: number, end: number): void {
  const size = SAFETENSORS_DTYPE_SIZES[dtype];
  const expected = shape.reduce((acc, d) => acc * BigInt(d), 1n) * BigInt(size);
  if (BigInt(end - begin) !== expected) {
    throw new RangeError(
      `${fn}: ${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, expected ${expected} (shape ${showShape(shape)} × ${size} bytes for ${dtype})`,
    );
  }
}

/** Like the reference implementation: sorted by offset, the tensors must tile [0, bufferLength) exactly. */
function checkTiling(fn: string, path: string, tensors: Map<string, SafetensorsEntry>, bufferLength: number): void {
  const sorted = [...tensors].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1]);
  let covered = 0;
  let prev: string | undefined;
  for (const [name, { data_offsets: [begin, end] }] of sorted) {
    if (begin < covered) {
      const other = tensors.get(prev as string)!.data_offsets;
      throw new RangeError(
        `${fn}: ${path}: tensors ${show(prev)} data_offsets [${other[0]}, ${other[1]}] and ${show(name)} data_offsets [${begin}, ${end}] overlap`,
      );
    }
    if (begin > covered) {
      throw new RangeError(`${fn}: ${path}: hole in the data buffer: bytes [${covered}, ${begin}) belong to no tensor (before ${show(name)}); expected tensors to tile the buffer contiguously`);
    }
    covered = end;
    prev = name;
  }
  if (covered !== bufferLength) {
    throw new RangeError(`${fn}: ${path}: hole in the data buffer: tensors end at byte ${covered}, expected ${bufferLength} (the buffer length); bytes [${covered}, ${bufferLength}) belong to no tensor`);
  }
}

function parseHeaderObject(fn: string, path: string, obj: Record<string, unknown>, dataStart: number, fileSize: number): SafetensorsHeader {
  const bufferLength = fileSize - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(obj)) {
    if (name === METADATA_KEY) metadata = parseMetadata(fn, path, raw);
    else tensors.set(name, parseEntry(fn, path, name, raw, bufferLength, fileSize));
  }
  checkTiling(fn, path, tensors, bufferLength);
  return { tensors, metadata, dataStart, fileSize };
}

function readHeaderFromFd(fn: string, path: string, fd: number): SafetensorsHeader {
  const fileSize = fileSizeOf(fn, path, fd);
  const n = readHeaderLength(fn, path, fd, fileSize);
  const bytes = Buffer.alloc(n);
  readFully(fn, path, fd, bytes, 0, n, 8);
  return parseHeaderObject(fn, path, decodeHeaderJson(fn, path, bytes), 8 + n, fileSize);
}

/** Reads and validates only the header of a safetensors file (no tensor bytes are read). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fn = "readSafetensorsHeader";
  const fd = openForReading(fn, path);
  try {
    return readHeaderFromFd(fn, path, fd);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// reading tensor data
// ---------------------------------------------------------------------------------------------------------------

/** Converts `count` little-endian elements of `src` into `out[at..]`. */
type Decoder = (src: Buffer, count: number, out: Float32Array, at: number) => void;

const DECODERS: Readonly<Record<SafetensorsDtype, Decoder>> = {
  F64: (s, n, o, at) => {
    for (let i = 0; i < n; i++) o[at + i] = s.readDoubleLE(8 * i);
  },
  F32: (s, n, o, at) => {
    const bits = new Uint32Array(o.buffer, o.byteOffset, o.length); // bit copy keeps NaN payloads
    for (let i = 0; i < n; i++) bits[at + i] = s.readUInt32LE(4 * i);
  },
  F16: (s, n, o, at) => {
    const table = float16Table();
    for (let i = 0; i < n; i++) o[at + i] = table[s.readUInt16LE(2 * i)];
  },
  BF16: (s, n, o, at) => {
    const bits = new Uint32Array(o.buffer, o.byteOffset, o.length);
    for (let i = 0; i < n; i++) bits[at + i] = s.readUInt16LE(2 * i) << 16;
  },
  I64: (s, n, o, at) => {
    for (let i = 0; i < n; i++) o[at + i] = Number(s.readBigInt64LE(8 * i));
  },
  I32: (s, n, o, at) => {
    for (let i = 0; i < n; i++) o[at + i] = s.readInt32LE(4 * i);
  },
  I16: (s, n, o, at) => {
    for (let i = 0; i < n; i++) o[at + i] = s.readInt16LE(2 * i);
  },
  I8: (s, n, o, at) => {
    for (let i = 0; i < n; i++) o[at + i] = s.readInt8(i);
  },
  U8: (s, n, o, at) => {
    for (let i = 0; i < n; i++) o[at + i] = s[i];
  },
  BOOL: (s, n, o, at) => {
    for (let i = 0; i < n; i++) o[at + i] = s[i] !== 0 ? 1 : 0;
  },
};

/** Reads one validated tensor's bytes (by range, chunked) and converts them to float32. */
function readTensorData(fn: string, path: string, fd: number, header: SafetensorsHeader, entry: SafetensorsEntry): Float32Array {
  const [begin, end] = entry.data_offsets;
  const byteLength = end - begin;
  const size = SAFETENSORS_DTYPE_SIZES[entry.dtype];
  const out = new Float32Array(byteLength / size);
  const position = header.dataStart + begin;
  if (entry.dtype === "F32" && LITTLE_ENDIAN) {
    readFully(fn, path, fd, new Uint8Array(out.buffer), 0, byteLength, position);
    return out;
  }
  const decode = DECODERS[entry.dtype];
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, byteLength));
  for (let done = 0; done < byteLength; ) {
    const len = Math.min(chunk.length, byteLength - done);
    readFully(fn, path, fd, chunk, 0, len, position + done);
    decode(chunk, len / size, out, done / size);
    done += len;
  }
  return out;
}

/** The names to read, in the caller's order; requested names absent from `available` are an error. */
function selectNames(fn: string, where: string, available: ReadonlyMap<string, unknown>, names: readonly string[] | undefined): string[] {
  if (names === undefined) return [...available.keys()];
  const missing = [...new Set(names)].filter((n) => !available.has(n));
  if (missing.length > 0) {
    const detail = missing.slice(0, 5).map((m) => `${show(m)} (${nearestNames(m, available.keys(), 3)})`);
    const more = missing.length > 5 ? `; and ${missing.length - 5} more` : "";
    throw new Error(`${fn}: ${missing.length} requested tensor(s) not found in ${where} (which has ${available.size}): ${detail.join("; ")}${more}`);
  }
  return [...new Set(names)];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkExpectedShapes(fn: string, path: string, header: SafetensorsHeader, selected: readonly string[], expected: ReadonlyMap<string, readonly number[]> | undefined): void {
  if (!expected) return;
  for (const name of selected) {
    const want = expected.get(name);
    const got = header.tensors.get(name)!.shape;
    if (want && !sameShape(want, got)) {
      throw new RangeError(`${fn}: ${tensorIn(name, path)}: shape ${showShape(got)} does not match the expected shape ${showShape(want)}`);
    }
  }
}

/** Validates the selection, then reads it in file order; the result is in selection order. */
function readSelected(fn: string, path: string, fd: number, header: SafetensorsHeader, options: ReadSafetensorsOptions): Map<string, LoadedTensor> {
  const selected = selectNames(fn, path, header.tensors, options.names);
  checkExpectedShapes(fn, path, header, selected, options.expectedShapes);
  const entry = (name: string): SafetensorsEntry => header.tensors.get(name)!;
  const inFileOrder = [...selected].sort((a, b) => entry(a).data_offsets[0] - entry(b).data_offsets[0]);
  const data = new Map<string, Float32Array>();
  for (const name of inFileOrder) data.set(name, readTensorData(fn, path, fd, header, entry(name)));
  const out = new Map<string, LoadedTensor>();
  for (const name of selected) out.set(name, { dtype: entry(name).dtype, shape: [...entry(name).shape], data: data.get(name)! });
  return out;
}

/**
 * Reads a safetensors file (all tensors, or `options.names`), validating the whole header first. Every dtype is
 * converted to a Float32Array.
 */
export function readSafetensors(path: string, options: ReadSafetensorsOptions = {}): Map<string, LoadedTensor> {
  const fn = "readSafetensors";
  const fd = openForReading(fn, path);
  try {
    return readSelected(fn, path, fd, readHeaderFromFd(fn, path, fd), options);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// sharded checkpoints
// ---------------------------------------------------------------------------------------------------------------

function readIndexJson(fn: string, indexPath: string): Record<string, unknown> {
  const fd = openForReading(fn, indexPath, "index file");
  let bytes: Buffer;
  try {
    const size = fileSizeOf(fn, indexPath, fd);
    if (size > MAX_HEADER_LENGTH) throw new RangeError(`${fn}: ${indexPath}: index file is ${size} bytes, exceeds the limit of ${MAX_HEADER_LENGTH}`);
    bytes = Buffer.alloc(size);
    readFully(fn, indexPath, fd, bytes, 0, size, 0);
  } finally {
    fs.closeSync(fd);
  }
  let parsed: unknown;
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    parsed = JSON.parse(text);
  } catch (e) {
    const place = jsonErrorPlace(text, e);
    throw new TypeError(`${fn}: ${indexPath}: index is not valid UTF-8 JSON${place ? ` at ${place}` : ""} (${(e as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw new TypeError(`${fn}: ${indexPath}: index must be a JSON object, received ${show(parsed)}`);
  return parsed;
}

/** The index's weight_map: tensor name → shard file name. */
function readWeightMap(fn: string, indexPath: string): Map<string, string> {
  const index = readIndexJson(fn, indexPath);
  const raw = index.weight_map;
  if (!isPlainObject(raw)) throw new TypeError(`${fn}: ${indexPath}: "weight_map" must be an object of tensor name → shard file, received ${show(raw)}`);
  const map = new Map<string, string>();
  for (const [name, file] of Object.entries(raw)) {
    if (typeof file !== "string") throw new TypeError(`${fn}: ${indexPath}: weight_map entry for ${show(name)} must be a file name string, received ${show(file)}`);
    map.set(name, file);
  }
  return map;
}

/** The `weight_map` of a sharded checkpoint's index (tensor name → shard file path beside the index), validated. */
export function readSafetensorsIndex(indexPath: string): Map<string, string> {
  const fn = "readSafetensorsIndex";
  const map = new Map<string, string>();
  for (const [name, file] of readWeightMap(fn, indexPath)) map.set(name, resolveShard(fn, indexPath, name, file));
  return map;
}

/** Resolves a shard file name next to the index; names escaping that directory are rejected. */
function resolveShard(fn: string, indexPath: string, name: string, file: string): string {
  const dir = nodePath.dirname(nodePath.resolve(indexPath));
  const resolved = nodePath.resolve(dir, file);
  const rel = nodePath.relative(dir, resolved);
  if (file === "" || nodePath.isAbsolute(file) || rel === "" || rel.startsWith("..") || nodePath.isAbsolute(rel)) {
    throw new TypeError(`${fn}: ${indexPath}: weight_map entry for ${show(name)} names shard ${show(file)}, expected a file name inside ${dir}`);
  }
  return nodePath.join(nodePath.dirname(indexPath), file);
}

/** Groups the weight map by shard file (in first-appearance order), keeping only shards that hold a selected name. */
function shardsToRead(weightMap: ReadonlyMap<string, string>, selected: ReadonlySet<string>): Map<string, string[]> {
  const all = new Map<string, string[]>();
  for (const [name, file] of weightMap) {
    const list = all.get(file) ?? [];
    list.push(name);
    all.set(file, list);
  }
  return new Map([...all].filter(([, names]) => names.some((n) => selected.has(n))));
}

function checkShardHasNames(fn: string, indexPath: string, shardPath: string, header: SafetensorsHeader, listed: readonly string[]): void {
  for (const name of listed) {
    if (!header.tensors.has(name)) {
      throw new Error(
        `${fn}: ${tensorIn(name, shardPath)}: listed in the index ${indexPath} but absent from the shard (which has ${header.tensors.size} tensors; ${nearestNames(name, header.tensors.keys(), 3)})`,
      );
    }
  }
}

/**
 * Reads a sharded checkpoint from its `model.safetensors.index.json` (`{"metadata":..., "weight_map": {name: shard}}`).
 * Shards are resolved next to the index. Every shard holding a requested tensor is opened, its header validated, and
 * every name the weight map assigns to it must be present in it.
 */
export function readShardedSafetensors(indexPath: string, options: ReadSafetensorsOptions = {}): Map<string, LoadedTensor> {
  const fn = "readShardedSafetensors";
  const weightMap = readWeightMap(fn, indexPath);
  const selected = selectNames(fn, `the weight_map of ${indexPath}`, weightMap, options.names);
  const selectedSet = new Set(selected);
  const loaded = new Map<string, LoadedTensor>();
  for (const [file, listed] of shardsToRead(weightMap, selectedSet)) {
    const shardPath = resolveShard(fn, indexPath, listed[0], file);
    const extra = ` (listed in ${indexPath} for ${listed.length} tensor(s), e.g. ${show(listed[0])})`;
    const fd = openForReading(fn, shardPath, "shard file", extra);
    try {
      const header = readHeaderFromFd(fn, shardPath, fd);
      checkShardHasNames(fn, indexPath, shardPath, header, listed);
      const names = listed.filter((n) => selectedSet.has(n));
      for (const [name, t] of readSelected(fn, shardPath, fd, header, { names, expectedShapes: options.expectedShapes })) loaded.set(name, t);
    } finally {
      fs.closeSync(fd);
    }
  }
  return new Map(selected.map((name) => [name, loaded.get(name)!]));
}

// ---------------------------------------------------------------------------------------------------------------
// writing
// ---------------------------------------------------------------------------------------------------------------

type WriteDtype = "F32" | "F16" | "BF16";
const WRITE_DTYPES: readonly WriteDtype[] = ["F32", "F16", "BF16"];

interface PreparedTensor {
  name: string;
  dtype: WriteDtype;
  shape: number[];
  data: Float32Array;
}

function prepareTensor(fn: string, path: string, name: string, t: TensorToWrite): PreparedTensor {
  const where = tensorIn(name, path);
  if (name === METADATA_KEY) throw new TypeError(`${fn}: ${where}: "${METADATA_KEY}" is reserved and cannot name a tensor`);
  if (!isPlainObject(t)) throw new TypeError(`${fn}: ${where}: expected { shape, data, dtype? }, received ${show(t)}`);
  if (!(t.data instanceof Float32Array)) throw new TypeError(`${fn}: ${where}: data must be a Float32Array, received ${Object.prototype.toString.call(t.data)}`);
  const dtype = t.dtype ?? "F32";
  if (!WRITE_DTYPES.includes(dtype)) throw new TypeError(`${fn}: ${where}: dtype must be one of ${WRITE_DTYPES.join(", ")}, received ${show(dtype)}`);
  const shape = parseIntArray(fn, where, "shape", t.shape);
  const count = shape.reduce((a, d) => a * d, 1);
  if (count !== t.data.length) {
    throw new RangeError(`${fn}: ${where}: shape ${showShape(shape)} has ${count} elements, but data has ${t.data.length}`);
  }
  return { name, dtype, shape: [...shape], data: t.data };
}

function prepareTensors(fn: string, path: string, tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>): PreparedTensor[] {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  return list.map(([name, t]) => prepareTensor(fn, path, name, t)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Header bytes: u64 length + JSON padded with spaces to a multiple of 8 bytes. */
function encodeHeader(fn: string, path: string, tensors: readonly PreparedTensor[], metadata: Record<string, string> | undefined): Buffer {
  const parts: string[] = [];
  if (metadata !== undefined) {
    parseMetadata(fn, path, metadata);
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * SAFETENSORS_DTYPE_SIZES[t.dtype];
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] })}`);
    offset += bytes;
  }
  const json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_LENGTH) throw new RangeError(`${fn}: ${path}: header would be ${padded} bytes, exceeds the limit of ${MAX_HEADER_LENGTH}`);
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

/** Writes one tensor's bytes, converting to its dtype in chunks. */
function writeTensorData(fd: number, t: PreparedTensor): void {
  if (t.dtype === "F32" && LITTLE_ENDIAN) {
    writeFully(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    return;
  }
  const bits = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
  const size = SAFETENSORS_DTYPE_SIZES[t.dtype];
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, bits.length * size));
  const perChunk = chunk.length / size;
  for (let start = 0; start < bits.length; start += perChunk) {
    const n = Math.min(perChunk, bits.length - start);
    for (let i = 0; i < n; i++) {
      const u = bits[start + i];
      if (t.dtype === "F32") chunk.writeUInt32LE(u, 4 * i);
      else chunk.writeUInt16LE(t.dtype === "F16" ? float32BitsToFloat16(u) : float32BitsToBfloat16(u), 2 * i);
    }
    writeFully(fd, chunk.subarray(0, n * size));
  }
}

/**
 * Writes a safetensors file atomically (temp file in the same directory, fsync, rename). Tensors are laid out
 * contiguously in sorted-name order; `metadata`, if given, is stored as `__metadata__`.
 */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  const fn = "writeSafetensors";
  const prepared = prepareTensors(fn, path, tensors);
  const header = encodeHeader(fn, path, prepared, metadata);
  const tmp = nodePath.join(nodePath.dirname(path), `.${nodePath.basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = fs.openSync(tmp, "wx");
  let renamed = false;
  try {
    try {
      writeFully(fd, header);
      for (const t of prepared) writeTensorData(fd, t);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) fs.rmSync(tmp, { force: true });
  }
}
