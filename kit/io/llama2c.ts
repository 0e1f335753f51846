/**
 * llama2.c checkpoints (karpathy/llama2.c) in and out of the kit's parameter layout.
 *
 * Three on-disk formats, all little-endian:
 *
 * - **legacy ("v0")**, `export.py legacy_export` / `run.c`: 7 int32 `dim hidden_dim n_layers n_heads n_kv_heads
 *   vocab_size seq_len` (a negative vocab_size means the classifier is not shared with the embedding), then float32
 *   token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim],
 *   wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim],
 *   rms_final [dim], the (unused) RoPE tables freq_cis_real / freq_cis_imag [seq_len, head_size/2], then wcls
 *   [vocab, dim] when not shared. A shared-classifier file may omit the trailing RoPE tables (nothing reads them).
 * - **version 1**, `export.py version1_export` / `run.c`: a 256-byte header (uint32 magic 0x616b3432 — the bytes
 *   "24ka" on disk —, int32 version, the 7 int32 above with a positive vocab_size, uint8 shared_classifier, zero
 *   padding), then float32 rms_att (all layers), rms_ffn, rms_final, token_embedding, wq, wk, wv, wo, w1, w2, w3
 *   (each layer-stacked) and wcls when not shared. No RoPE tables.
 * - **version 2** (Q8_0), `export.py version2_export` / `runq.c`: the same header plus int32 group_size right after
 *   the flag byte (offset 37, unaligned, as `struct.pack` writes it); float32 norms (rms_att, rms_ffn, rms_final),
 *   then every quantized tensor as its int8 values followed by its float32 scales, one scale per `group_size`
 *   consecutive values. Tensors are written one *per layer* (export.py's `weights` list holds one tensor per layer and
 *   quantizes each separately; runq.c's `init_quantized_tensors` reads n_layers × {q, s}): token_embedding, then
 *   wq[0], wq[1], …, wk[0…], wv[0…], wo[0…], w1[0…], w2[0…], w3[0…], then wcls when not shared.
 *   Quantization: scale = max|w| / 127 per group, q = round-half-even(w / scale); dequantized value = q · scale.
 *
 * Matrices in the file are `[out, in]` row-major (PyTorch Linear); the kit stores `[in, out]`, so every matrix is
 * transposed on the way in and back on the way out. The embedding table is `[vocab, dim]` in both. Mapping:
 * token_embedding→`embed.W_E`, rms_att→`blocks.L.ln1.w`, wq/wk/wv/wo→`blocks.L.attn.W_Q/W_K/W_V/W_O`,
 * rms_ffn→`blocks.L.ln2.w`, w1→`blocks.L.mlp.W_gate` (llama2.c computes silu(w1·x) ⊙ (w3·x)), w3→`mlp.W_in`,
 * w2→`mlp.W_out`, rms_final→`ln_final.w`, wcls→`unembed.W_U`.
 *
 * Fixed by the format (llama2.c hard-codes them): family "llama", SiLU, RMSNorm eps 1e-5, RoPE theta 10000 on
 * interleaved pairs, d_head = dim / n_heads, no biases; BOS 1 and EOS 2 (the Llama 2 sentencepiece convention).
 *
 * Every read is checked against the file size before any weight is read: the exact size implied by the header must
 * match. The writer writes to a temporary file in the same folder and renames it into place.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resolveConfig, validateConfig, type ModelConfig } from "../model/config";
import { paramShapes } from "../model/params";
import { problemsError } from "../describe";
import { checkFinite, configLimitProblems, MIN_POSITION_TABLE_BUDGET_BYTES, positionTableBytes } from "./bounds";

export interface Llama2cCheckpoint {
  config: ModelConfig;
  params: Map<string, Float32Array>;
  format: "legacy" | "v1" | "v2";
}

/** The uint32 magic of versioned llama2.c files (`struct.pack('I', 0x616b3432)`). */
export const LLAMA2C_MAGIC = 0x616b3432;
/** Size of the versioned (v1, v2) header, zero-padded. */
export const LLAMA2C_VERSIONED_HEADER_BYTES = 256;
const LEGACY_HEADER_BYTES = 28;
const SUPPORTED_VERSIONS = "0 (legacy, no magic), 1 (float32, magic 0x616b3432), 2 (Q8_0, magic 0x616b3432)";
const LITTLE_ENDIAN = os.endianness() === "LE";

/** The 7 header integers as they are in the file (vocab_size may be negative in legacy files). */
interface RawHeader {
  dim: number;
  hidden_dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  vocab_size: number;
  seq_len: number;
}

/** The size in float32 (or int8) elements of each tensor group, from a validated header. */
interface Dims {
  dim: number;
  hidden: number;
  L: number;
  vocab: number;
  seqLen: number;
  headSize: number;
  kvDim: number;
}

const describeHeader = (h: RawHeader): string =>
  `dim ${h.dim}, hidden_dim ${h.hidden_dim}, n_layers ${h.n_layers}, n_heads ${h.n_heads}, n_kv_heads ${h.n_kv_heads}, ` +
  `vocab_size ${h.vocab_size}, seq_len ${h.seq_len}`;

/** Every problem with a header (empty when it is consistent). `legacy` allows a negative vocab_size. */
function headerProblems(h: RawHeader, legacy: boolean): string[] {
  const problems: string[] = [];
  const pos = (k: keyof RawHeader, allowNegative = false) => {
    const v = allowNegative ? Math.abs(h[k]) : h[k];
    if (!(v > 0)) problems.push(`${k} must be ${allowNegative ? "non-zero" : "positive"}, received ${h[k]}`);
    return v > 0;
  };
  const okDim = pos("dim");
  pos("hidden_dim");
  pos("n_layers");
  const okHeads = pos("n_heads");
  const okKv = pos("n_kv_heads");
  pos("vocab_size", legacy);
  pos("seq_len");
  if (okDim && okHeads && h.dim % h.n_heads !== 0) problems.push(`dim (${h.dim}) must be a multiple of n_heads (${h.n_heads})`);
  if (okHeads && okKv && h.n_heads % h.n_kv_heads !== 0) {
    problems.push(`n_heads (${h.n_heads}) must be a multiple of n_kv_heads (${h.n_kv_heads})`);
  }
  if (okDim && okHeads && h.dim % h.n_heads === 0 && (h.dim / h.n_heads) % 2 !== 0) {
    problems.push(`head size dim / n_heads (${h.dim / h.n_heads}) must be even for RoPE`);
  }
  return problems;
}

function dimsOf(h: RawHeader): Dims {
  const headSize = h.dim / h.n_heads;
  return {
    dim: h.dim,
    hidden: h.hidden_dim,
    L: h.n_layers,
    vocab: Math.abs(h.vocab_size),
    seqLen: h.seq_len,
    headSize,
    kvDim: h.n_kv_heads * headSize,
  };
}

/** The kit config a llama2.c header describes (validated). */
function configOf(d: Dims, nHeads: number, nKv: number, shared: boolean, where: string): ModelConfig {
  return validateConfig(
    resolveConfig({
      family: "llama",
      d_model: d.dim,
      n_layers: d.L,
      n_heads: nHeads,
      n_key_value_heads: nKv,
      d_head: d.headSize,
      d_mlp: d.hidden,
      d_vocab: d.vocab,
      n_ctx: d.seqLen,
      actFn: "silu",
      normEps: 1e-5,
      attnBias: false,
      attnOutBias: false,
      mlpBias: false,
      tiedEmbeddings: shared,
      ropeTheta: 10000,
      ropeStyle: "interleaved",
      bosTokenId: d.vocab > 1 ? 1 : null,
      eosTokenId: d.vocab > 2 ? 2 : null,
    }),
    where,
  );
}

/** One tensor of the file, in file order: its kit name(s) and file layout. */
interface Entry {
  /** Kit parameter name for each layer (one name for non-layered tensors). */
  names: string[];
  /** File shape of one layer's tensor: [n] for vectors, [out, in] for matrices. */
  shape: [number] | [number, number];
  /** Transpose between the file's [out, in] and the kit's [in, out]. */
  transpose: boolean;
}

const layerNames = (L: number, leaf: string) => Array.from({ length: L }, (_, l) => `blocks.${l}.${leaf}`);

function entries(d: Dims) {
  const { dim, hidden, L, vocab, kvDim } = d;
  const emb: Entry = { names: ["embed.W_E"], shape: [vocab, dim], transpose: false };
  const rmsAtt: Entry = { names: layerNames(L, "ln1.w"), shape: [dim], transpose: false };
  const rmsFfn: Entry = { names: layerNames(L, "ln2.w"), shape: [dim], transpose: false };
  const rmsFinal: Entry = { names: ["ln_final.w"], shape: [dim], transpose: false };
  const wq: Entry = { names: layerNames(L, "attn.W_Q"), shape: [dim, dim], transpose: true };
  const wk: Entry = { names: layerNames(L, "attn.W_K"), shape: [kvDim, dim], transpose: true };
  const wv: Entry = { names: layerNames(L, "attn.W_V"), shape: [kvDim, dim], transpose: true };
  const wo: Entry = { names: layerNames(L, "attn.W_O"), shape: [dim, dim], transpose: true };
  const w1: Entry = { names: layerNames(L, "mlp.W_gate"), shape: [hidden, dim], transpose: true };
  const w2: Entry = { names: layerNames(L, "mlp.W_out"), shape: [dim, hidden], transpose: true };
  const w3: Entry = { names: layerNames(L, "mlp.W_in"), shape: [hidden, dim], transpose: true };
  const wcls: Entry = { names: ["unembed.W_U"], shape: [vocab, dim], transpose: true };
  return { emb, rmsAtt, rmsFfn, rmsFinal, wq, wk, wv, wo, w1, w2, w3, wcls };
}

type Entries = ReturnType<typeof entries>;

const legacyOrder = (e: Entries): Entry[] => [e.emb, e.rmsAtt, e.wq, e.wk, e.wv, e.wo, e.rmsFfn, e.w1, e.w2, e.w3, e.rmsFinal];
const v1Order = (e: Entries, shared: boolean): Entry[] => [
  e.rmsAtt, e.rmsFfn, e.rmsFinal, e.emb, e.wq, e.wk, e.wv, e.wo, e.w1, e.w2, e.w3, ...(shared ? [] : [e.wcls]),
];
const v2Norms = (e: Entries): Entry[] => [e.rmsAtt, e.rmsFfn, e.rmsFinal];
const v2Quantized = (e: Entries, shared: boolean): Entry[] => [
  e.emb, e.wq, e.wk, e.wv, e.wo, e.w1, e.w2, e.w3, ...(shared ? [] : [e.wcls]),
];

const perLayer = (e: Entry) => (e.shape.length === 1 ? e.shape[0] : e.shape[0] * e.shape[1]);
const total = (list: Entry[]) => list.reduce((n, e) => n + e.names.length * perLayer(e), 0);

/** file [out, in] row-major → kit [in, out] (or back, with the shape swapped). */
function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** Read exactly `n` bytes at `position`; the caller has already checked the file size. */
function readBytes(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const got = fs.readSync(fd, into, done, into.length - done, position + done);
    if (got === 0) throw new RangeError(`readLlama2cCheckpoint: unexpected end of file at byte ${position + done}`);
    done += got;
  }
}

function readFloats(fd: number, count: number, position: number): Float32Array {
  const out = new Float32Array(count);
  const bytes = new Uint8Array(out.buffer);
  readBytes(fd, bytes, position);
  if (!LITTLE_ENDIAN) swap4(bytes);
  return out;
}

function swap4(b: Uint8Array): void {
  for (let i = 0; i + 3 < b.length; i += 4) {
    let t = b[i];
    b[i] = b[i + 3];
    b[i + 3] = t;
    t = b[i + 1];
    b[i + 1] = b[i + 2];
    b[i + 2] = t;
  }
}

/** Store one file tensor (all its layers) into `params` in the kit's layout. */
function storeEntry(e: Entry, flat: Float32Array, params: Map<string, Float32Array>): void {
  const n = perLayer(e);
  e.names.forEach((name, l) => {
    const slice = flat.subarray(l * n, (l + 1) * n);
    params.set(name, e.transpose ? transpose(slice, e.shape[0], e.shape[1] as number) : slice.slice());
  });
}

/** Read a llama2.c checkpoint (legacy, v1 or v2/Q8_0) into kit parameters (`[in, out]` matrices, float32). */
export function readLlama2cCheckpoint(file: string): Llama2cCheckpoint {
  const where = "readLlama2cCheckpoint";
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`${where}: no such file: ${file}`);
    throw new Error(`${where}: cannot read ${file}: ${(err as Error).message}`);
  }
  if (!stat.isFile()) throw new Error(`${where}: ${file} is not a regular file`);
  const size = stat.size;

  const fd = fs.openSync(file, "r");
  try {
    if (size < LEGACY_HEADER_BYTES) {
      throw new RangeError(`${where}: ${file} is truncated: a llama2.c header needs at least ${LEGACY_HEADER_BYTES} bytes, file has ${size}`);
    }
    const head = new Uint8Array(Math.min(size, LLAMA2C_VERSIONED_HEADER_BYTES));
    readBytes(fd, head, 0);
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const magic = view.getUint32(0, true);

    if (magic === LLAMA2C_MAGIC) {
      if (size < 12) throw new RangeError(`${where}: ${file} is truncated: the version field needs 8 bytes, file has ${size}`);
      const version = view.getInt32(4, true);
      if (version !== 1 && version !== 2) {
        throw new RangeError(`${where}: ${file} has unsupported llama2.c version ${version}; supported versions: ${SUPPORTED_VERSIONS}`);
      }
      if (size < LLAMA2C_VERSIONED_HEADER_BYTES) {
        throw new RangeError(
          `${where}: ${file} is truncated: the version ${version} header needs ${LLAMA2C_VERSIONED_HEADER_BYTES} bytes, file has ${size}`,
        );
      }
      const h = readRawHeader(view, 8);
      const problems = headerProblems(h, false);
      const sharedByte = view.getUint8(36);
      if (sharedByte !== 0 && sharedByte !== 1) problems.push(`shared_classifier flag must be 0 or 1, received ${sharedByte}`);
      const groupSize = version === 2 ? view.getInt32(37, true) : 0;
      if (version === 2 && !(groupSize > 0)) problems.push(`group_size must be positive, received ${groupSize}`);
      if (problems.length > 0) throw badHeader(file, h, problems, `version ${version} `);
      const shared = sharedByte === 1;
      const d = dimsOf(h);
      checkHeaderLimits(file, h, d, size);
      const e = entries(d);
      const hdr = `${describeHeader(h)}, shared_classifier ${sharedByte}${version === 2 ? `, group_size ${groupSize}` : ""}`;

      let expected: number;
      if (version === 1) {
        expected = LLAMA2C_VERSIONED_HEADER_BYTES + 4 * total(v1Order(e, shared));
      } else {
        const q = v2Quantized(e, shared);
        const bad = q.filter((x) => perLayer(x) % groupSize !== 0).map((x) => `${x.names[0].replace(/^blocks\.0\./, "")} (${perLayer(x)})`);
        if (bad.length > 0) {
          throw badHeader(file, h, [`group_size ${groupSize} must divide the size of every quantized tensor: ${bad.join(", ")}`], "version 2 ");
        }
        const nq = total(q);
        expected = LLAMA2C_VERSIONED_HEADER_BYTES + 4 * total(v2Norms(e)) + nq + 4 * (nq / groupSize);
      }
      checkSize(file, hdr, expected, size);

      const params = new Map<string, Float32Array>();
      let pos = LLAMA2C_VERSIONED_HEADER_BYTES;
      if (version === 1) {
        for (const x of v1Order(e, shared)) {
          const n = x.names.length * perLayer(x);
          storeEntry(x, readFloats(fd, n, pos), params);
          pos += 4 * n;
        }
      } else {
        for (const x of v2Norms(e)) {
          const n = x.names.length * perLayer(x);
          storeEntry(x, readFloats(fd, n, pos), params);
          pos += 4 * n;
        }
        for (const x of v2Quantized(e, shared)) {
          const n = perLayer(x);
          const flat = new Float32Array(x.names.length * n);
          for (let l = 0; l < x.names.length; l++) {
            const q = new Int8Array(n);
            readBytes(fd, new Uint8Array(q.buffer), pos);
            pos += n;
            const s = readFloats(fd, n / groupSize, pos);
            pos += 4 * (n / groupSize);
            const out = flat.subarray(l * n, (l + 1) * n);
            for (let i = 0; i < n; i++) out[i] = q[i] * s[Math.floor(i / groupSize)];
          }
          storeEntry(x, flat, params);
        }
      }
      const config = configOf(d, h.n_heads, h.n_kv_heads, shared, where);
      return { config, params: ordered(file, config, params), format: version === 1 ? "v1" : "v2" };
    }

    // No magic: the legacy format (a bad magic with a plausible legacy header is read as legacy).
    const h = readRawHeader(view, 0);
    const problems = headerProblems(h, true);
    if (problems.length > 0) {
      throw badHeader(file, h, problems, "", ` (no version magic 0x${LLAMA2C_MAGIC.toString(16)}, so it was read as a legacy header)`);
    }
    const shared = h.vocab_size > 0;
    const d = dimsOf(h);
    checkHeaderLimits(file, h, d, size);
    const e = entries(d);
    const weightsEnd = LEGACY_HEADER_BYTES + 4 * total(legacyOrder(e));
    const freqBytes = 4 * d.seqLen * d.headSize; // two tables of seq_len × head_size/2
    const full = weightsEnd + freqBytes + (shared ? 0 : 4 * d.vocab * d.dim);
    // A shared-classifier file may stop after rms_final: the RoPE tables are never read.
    if (!(shared && size === weightsEnd)) checkSize(file, describeHeader(h), size < weightsEnd ? weightsEnd : full, size, full);

    const params = new Map<string, Float32Array>();
    let pos = LEGACY_HEADER_BYTES;
    for (const x of legacyOrder(e)) {
      const n = x.names.length * perLayer(x);
      storeEntry(x, readFloats(fd, n, pos), params);
      pos += 4 * n;
    }
    if (!shared) storeEntry(e.wcls, readFloats(fd, d.vocab * d.dim, weightsEnd + freqBytes), params);
    const config = configOf(d, h.n_heads, h.n_kv_heads, shared, where);
    return { config, params: ordered(file, config, params), format: "legacy" };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Refuses a header that exceeds the sane maxima (kit/io/bounds: layers, seq_len, vocabulary) or implies position
 * tables the file does not justify, before anything sized by the header is built; the exact file size the header
 * implies is checked next (`checkSize`), before any weight is read.
 */
function checkHeaderLimits(file: string, h: RawHeader, d: Dims, size: number): void {
  const problems = configLimitProblems({ n_layers: d.L, n_ctx: d.seqLen, d_vocab: d.vocab });
  const tables = positionTableBytes({ family: "llama", n_ctx: d.seqLen, d_head: d.headSize });
  const budget = Math.max(MIN_POSITION_TABLE_BUDGET_BYTES, size);
  if (tables > budget) problems.push(`seq_len ${d.seqLen} × head size ${d.headSize} needs ${tables} bytes of position tables, more than the ${budget} bytes the file justifies`);
  if (problems.length > 0) throw badHeader(file, h, problems, "");
}

function readRawHeader(view: DataView, at: number): RawHeader {
  const i = (k: number) => view.getInt32(at + 4 * k, true);
  return { dim: i(0), hidden_dim: i(1), n_layers: i(2), n_heads: i(3), n_kv_heads: i(4), vocab_size: i(5), seq_len: i(6) };
}

function badHeader(file: string, h: RawHeader, problems: string[], kind: string, note = ""): RangeError {
  return new RangeError(
    `readLlama2cCheckpoint: ${file} has an invalid ${kind}header (${describeHeader(h)})${note}:\n  - ${problems.join("\n  - ")}`,
  );
}

function checkSize(file: string, hdr: string, needed: number, size: number, fullSize = needed): void {
  if (size < needed) {
    throw new RangeError(`readLlama2cCheckpoint: ${file} is truncated: header (${hdr}) needs ${needed} bytes, file has ${size}`);
  }
  if (size !== fullSize) {
    throw new RangeError(
      `readLlama2cCheckpoint: ${file} has ${size - fullSize} unexpected trailing bytes: header (${hdr}) needs ${fullSize} bytes, file has ${size}`,
    );
  }
}

/** The params in `paramShapes` order, each checked against its shape and for non-finite values. */
function ordered(file: string, config: ModelConfig, params: Map<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(config)) {
    const p = params.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!p || p.length !== n) throw new Error(`readLlama2cCheckpoint: internal error: ${name} has ${p?.length} values, expected ${n}`);
    checkFinite("readLlama2cCheckpoint", file, name, p);
    out.set(name, p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/** Problems that keep a kit model from being a llama2.c model (the format fixes these). */
function writableProblems(c: ModelConfig): string[] {
  const p: string[] = [];
  if (c.family !== "llama") p.push(`family must be "llama", received ${JSON.stringify(c.family)}`);
  if (c.actFn !== "silu") p.push(`actFn must be "silu", received ${JSON.stringify(c.actFn)}`);
  if (c.attnBias || c.attnOutBias || c.mlpBias) p.push("llama2.c has no biases: attnBias, attnOutBias and mlpBias must be false");
  if (c.d_head * c.n_heads !== c.d_model) {
    p.push(`llama2.c needs d_head × n_heads = d_model: ${c.d_head} × ${c.n_heads} ≠ ${c.d_model}`);
  }
  if (c.ropeStyle !== "interleaved") {
    p.push(`ropeStyle must be "interleaved" (llama2.c rotates pairs (2i, 2i+1)), received ${JSON.stringify(c.ropeStyle)}`);
  }
  if (c.normEps !== 1e-5) p.push(`normEps must be 1e-5 (hard-coded in llama2.c), received ${c.normEps}`);
  if (c.ropeTheta !== 10000) p.push(`ropeTheta must be 10000 (hard-coded in llama2.c), received ${c.ropeTheta}`);
  for (const k of ["d_model", "d_mlp", "n_layers", "n_heads", "n_key_value_heads", "d_vocab", "n_ctx"] as const) {
    if (c[k] > 0x7fffffff) p.push(`${k} (${c[k]}) does not fit an int32 header field`);
  }
  return p;
}

/**
 * llama2.c's RoPE tables for the legacy format: cos and sin of t · θ^(-2i/head_size), [seq_len, head_size/2] each,
 * computed step by step in float32 as model.py's `precompute_freqs_cis` does. PyTorch's float32 cos/sin are not
 * correctly rounded, so a table written by export.py may differ from these in the last bit (nothing reads them).
 */
export function llama2cFreqTables(seqLen: number, headSize: number, theta = 10000): { cos: Float32Array; sin: Float32Array } {
  const half = headSize / 2;
  const fr = Math.fround;
  const freqs = new Float64Array(half);
  for (let i = 0; i < half; i++) freqs[i] = fr(1 / fr(Math.pow(theta, fr((2 * i) / headSize))));
  const cos = new Float32Array(seqLen * half);
  const sin = new Float32Array(seqLen * half);
  for (let t = 0; t < seqLen; t++) {
    for (let i = 0; i < half; i++) {
      const a = fr(t * freqs[i]);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** Round half to even, as torch.round does. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Q8_0-quantize one flat tensor as export.py's `quantize_q80` does (float32 arithmetic). */
export function quantizeQ80(w: Float32Array, groupSize: number): { q: Int8Array; s: Float32Array } {
  if (!(Number.isInteger(groupSize) && groupSize > 0) || w.length % groupSize !== 0) {
    throw new RangeError(`quantizeQ80: groupSize ${groupSize} must be a positive integer dividing the tensor size ${w.length}`);
  }
  const groups = w.length / groupSize;
  const q = new Int8Array(w.length);
  const s = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    const base = g * groupSize;
    let max = 0;
    for (let i = 0; i < groupSize; i++) max = Math.max(max, Math.abs(w[base + i]));
    const scale = Math.fround(max / 127);
    s[g] = scale;
    if (scale === 0) continue; // an all-zero group (export.py would divide by zero)
    for (let i = 0; i < groupSize; i++) {
      const v = roundHalfEven(Math.fround(w[base + i] / scale));
      q[base + i] = Math.max(-127, Math.min(127, v));
    }
  }
  return { q, s };
}

/** Buffered sequential writer over a file descriptor. */
class Sink {
  private pos = 0;
  constructor(private readonly fd: number) {}
  bytes(b: Uint8Array): void {
    let done = 0;
    while (done < b.length) done += fs.writeSync(this.fd, b, done, b.length - done, this.pos + done);
    this.pos += b.length;
  }
  floats(f: Float32Array): void {
    const b = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    if (LITTLE_ENDIAN) this.bytes(b);
    else {
      const c = b.slice();
      swap4(c);
      this.bytes(c);
    }
  }
  get position(): number {
    return this.pos;
  }
}

/**
 * Write kit parameters as a llama2.c checkpoint: `version` 0 (legacy, the default; RoPE tables included), 1 (float32)
 * or 2 (Q8_0, `groupSize` default 64, which must divide d_model and d_mlp so that runq.c's matmuls see whole groups).
 * The config must be one llama2.c can express (family "llama", SiLU, no biases, interleaved RoPE, θ 10000, eps 1e-5,
 * d_head · n_heads = d_model); `params` must hold exactly `paramShapes(config)`. Written to a temporary file, then
 * renamed into place.
 */
export function writeLlama2cCheckpoint(
  file: string,
  config: ModelConfig,
  params: ReadonlyMap<string, Float32Array>,
  options: { version?: 0 | 1 | 2; groupSize?: number } = {},
): void {
  const where = "writeLlama2cCheckpoint";
  const version = options.version ?? 0;
  if (version !== 0 && version !== 1 && version !== 2) {
    throw new RangeError(`${where}: unsupported version ${JSON.stringify(version)}; supported versions: ${SUPPORTED_VERSIONS}`);
  }
  validateConfig(config, where);
  const problems = writableProblems(config);
  const shapes = paramShapes(config);
  for (const [name, shape] of shapes) {
    const p = params.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!p) problems.push(`missing parameter ${name} [${shape.join(", ")}]`);
    else if (!(p instanceof Float32Array) || p.length !== n) {
      problems.push(`parameter ${name} must be a Float32Array of ${n} values ([${shape.join(", ")}]), received ${p.length}`);
    }
  }
  for (const name of params.keys()) if (!shapes.has(name)) problems.push(`unexpected parameter ${name} (not in paramShapes(config))`);
  const groupSize = options.groupSize ?? 64;
  if (version === 2) {
    if (!(Number.isInteger(groupSize) && groupSize > 0)) problems.push(`groupSize must be a positive integer, received ${groupSize}`);
    else if (config.d_model % groupSize !== 0 || config.d_mlp % groupSize !== 0) {
      problems.push(`groupSize ${groupSize} must divide d_model (${config.d_model}) and d_mlp (${config.d_mlp}) for Q8_0`);
    }
  }
  if (problems.length > 0) {
    throw problemsError(`${where}: cannot write ${file}`, problems);
  }

  const shared = config.tiedEmbeddings;
  const d: Dims = {
    dim: config.d_model,
    hidden: config.d_mlp,
    L: config.n_layers,
    vocab: config.d_vocab,
    seqLen: config.n_ctx,
    headSize: config.d_head,
    kvDim: config.n_key_value_heads * config.d_head,
  };
  const e = entries(d);
  /** One layer's tensor back in the file's layout. */
  const fileTensor = (x: Entry, l: number): Float32Array => {
    const p = params.get(x.names[l]) as Float32Array;
    // kit [in, out] = [shape[1], shape[0]] → file [out, in]
    return x.transpose ? transpose(p, x.shape[1] as number, x.shape[0]) : p;
  };
  const header = new DataView(new ArrayBuffer(version === 0 ? LEGACY_HEADER_BYTES : LLAMA2C_VERSIONED_HEADER_BYTES));
  const ints = [d.dim, d.hidden, d.L, config.n_heads, config.n_key_value_heads, version === 0 && !shared ? -d.vocab : d.vocab, d.seqLen];
  const at = version === 0 ? 0 : 8;
  ints.forEach((v, k) => header.setInt32(at + 4 * k, v, true));
  if (version !== 0) {
    header.setUint32(0, LLAMA2C_MAGIC, true);
    header.setInt32(4, version, true);
    header.setUint8(36, shared ? 1 : 0);
    if (version === 2) header.setInt32(37, groupSize, true);
  }

  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  const fd = fs.openSync(tmp, "w");
  let ok = false;
  try {
    const out = new Sink(fd);
    out.bytes(new Uint8Array(header.buffer));
    const writeAll = (list: Entry[]) => {
      for (const x of list) for (let l = 0; l < x.names.length; l++) out.floats(fileTensor(x, l));
    };
    if (version === 0) {
      writeAll(legacyOrder(e));
      const { cos, sin } = llama2cFreqTables(d.seqLen, d.headSize);
      out.floats(cos);
      out.floats(sin);
      if (!shared) writeAll([e.wcls]);
    } else if (version === 1) {
      writeAll(v1Order(e, shared));
    } else {
      writeAll(v2Norms(e));
      for (const x of v2Quantized(e, shared)) {
        for (let l = 0; l < x.names.length; l++) {
          const { q, s } = quantizeQ80(fileTensor(x, l), groupSize);
          out.bytes(new Uint8Array(q.buffer, q.byteOffset, q.byteLength));
          out.floats(s);
        }
      }
    }
    fs.fsyncSync(fd);
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) fs.rmSync(tmp, { force: true });
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
