/**
 * Seeded training batches, from a token stream or from a list of sequences.
 *
 * - A token stream (`Int32Array`, `Uint16Array`, `Uint32Array` or `number[]`): each row is a window of `seqLen + 1`
 *   consecutive tokens starting at a uniformly random offset.
 * - A list of sequences (`number[][]`): rows are sequences drawn without replacement within an epoch (a seeded
 *   shuffle per epoch), truncated to `seqLen + 1` tokens or padded with `padId`; padded targets get mask 0.
 *
 * Batch `k` depends only on the data, the options and `(seed, k)`: the same seed gives the same batches, and a run
 * resumed at step k draws exactly the batches an uninterrupted run would have.
 */
import { hash2, mulberry32 } from "../util/rng";
import { describeValue } from "../describe";

export type TokenStream = Int32Array | Uint16Array | Uint32Array | readonly number[];
export type SequenceList = readonly ArrayLike<number>[];
export type TrainData = TokenStream | SequenceList;

export interface Batch {
  /** Row-major [batchSize, seqLen + 1] token ids: inputs are columns 0..seqLen-1, targets columns 1..seqLen. */
  tokens: Int32Array;
  /** Row-major [batchSize, seqLen] loss weights (1 where the target counts), or null when every target counts. */
  mask: Float32Array | null;
  batchSize: number;
  seqLen: number;
  /** Targets that count: batchSize · seqLen without a mask, Σ mask with one. */
  targets: number;
}

export interface BatcherOptions {
  batchSize: number;
  /** Input positions per row; rows hold seqLen + 1 tokens. */
  seqLen: number;
  /** Default 0. */
  seed?: number;
  /** Padding token for short sequences; default 0. Never counted in the loss. */
  padId?: number;
  /** Sequence lists only: per-token loss weights, `lossMasks[i][t]` for predicting token t of sequence i. */
  lossMasks?: readonly ArrayLike<number>[];
}

export type Batcher = (k: number) => Batch;

/** True for a list of sequences (`number[][]` or typed-array rows), false for a flat token stream. */
export function isSequenceList(data: TrainData): data is SequenceList {
  return Array.isArray(data) && data.length > 0 && typeof data[0] !== "number";
}

/** The sequence length `train` uses by default for a list of sequences: the longest sequence − 1 (its targets), at most n_ctx. */
export function sequenceListSeqLen(nCtx: number, seqs: SequenceList): number {
  let longest = 0;
  for (const s of seqs) longest = Math.max(longest, s?.length ?? 0);
  return Math.max(1, Math.min(nCtx, longest - 1));
}

/**
 * Problems with a data set for training at `seqLen` with a vocabulary of `vocabSize` (empty when it is usable);
 * `label` names it in the messages ("data", "evalData").
 */
export function dataProblems(data: unknown, { seqLen, vocabSize, label = "data" }: { seqLen: number; vocabSize: number; label?: string }): string[] {
  const problems: string[] = [];
  const badId = (id: unknown) => typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= vocabSize;
  const isStream = data instanceof Int32Array || data instanceof Uint16Array || data instanceof Uint32Array || (Array.isArray(data) && data.length > 0 && typeof data[0] === "number");
  if (isStream) {
    const s = data as TokenStream;
    if (Number.isInteger(seqLen) && s.length < seqLen + 1) {
      problems.push(`${label} must hold at least seqLen + 1 = ${seqLen + 1} tokens, received a stream of ${s.length}`);
    }
    for (let i = 0; i < s.length; i++) {
      if (badId(s[i])) {
        problems.push(`${label} token ids must be integers in [0, ${vocabSize}), received ${JSON.stringify(s[i])} at index ${i}`);
        break;
      }
    }
    return problems;
  }
  if (!Array.isArray(data) || data.length === 0) {
    problems.push(`${label} must be a non-empty token stream (Int32Array, Uint16Array, Uint32Array, number[]) or list of sequences (number[][]), received ${describeValue(data)}`);
    return problems;
  }
  const short: number[] = [];
  for (let r = 0; r < data.length; r++) {
    const row = data[r] as unknown;
    const ok = Array.isArray(row) || row instanceof Int32Array || row instanceof Uint16Array || row instanceof Uint32Array;
    if (!ok) {
      problems.push(`${label}[${r}] must be an array of token ids, received ${describeValue(row)}`);
      break;
    }
    const seq = row as ArrayLike<number>;
    if (seq.length < 2) short.push(r);
    let bad = -1;
    for (let i = 0; i < seq.length; i++) if (badId(seq[i])) { bad = i; break; }
    if (bad >= 0) {
      problems.push(`${label} token ids must be integers in [0, ${vocabSize}), received ${JSON.stringify(seq[bad])} at ${label}[${r}][${bad}]`);
      break;
    }
  }
  if (short.length > 0) {
    problems.push(`${label} sequences need at least 2 tokens (one input, one target); ${short.length} do not (first: index ${short.slice(0, 5).join(", ")})`);
  }
  return problems;
}

/** The function `k ↦ batch k`. Data must already be valid (see `dataProblems`). */
export function makeBatcher(data: TrainData, { batchSize, seqLen, seed = 0, padId = 0, lossMasks }: BatcherOptions): Batcher {
  const rowLen = seqLen + 1;
  if (!isSequenceList(data)) {
    const stream = data;
    const starts = stream.length - rowLen + 1; // number of valid window offsets
    return (k) => {
      const rand = mulberry32(hash2(seed, k));
      const tokens = new Int32Array(batchSize * rowLen);
      for (let b = 0; b < batchSize; b++) {
        const start = Math.floor(rand() * starts);
        for (let i = 0; i < rowLen; i++) tokens[b * rowLen + i] = stream[start + i];
      }
      return { tokens, mask: null, batchSize, seqLen, targets: batchSize * seqLen };
    };
  }

  const seqs = data;
  const n = seqs.length;
  const perms = new Map<number, Uint32Array>();
  const permutation = (epoch: number): Uint32Array => {
    let p = perms.get(epoch);
    if (p) return p;
    p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    const rand = mulberry32(hash2(seed ^ 0x5eed5eed, epoch));
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    if (perms.size >= 4) perms.delete(perms.keys().next().value as number);
    perms.set(epoch, p);
    return p;
  };
  return (k) => {
    const tokens = new Int32Array(batchSize * rowLen).fill(padId);
    const mask = new Float32Array(batchSize * seqLen);
    let targets = 0;
    for (let b = 0; b < batchSize; b++) {
      const i = k * batchSize + b;
      const seq = seqs[permutation(Math.floor(i / n))[i % n]];
      const len = Math.min(seq.length, rowLen);
      for (let t = 0; t < len; t++) tokens[b * rowLen + t] = seq[t];
      const weights = lossMasks?.[permutation(Math.floor(i / n))[i % n]];
      for (let t = 0; t < len - 1; t++) mask[b * seqLen + t] = weights ? weights[t + 1] : 1;
      targets += weights ? mask.subarray(b * seqLen, b * seqLen + len - 1).reduce((a, x) => a + x, 0) : len - 1;
    }
    if (lossMasks) return { tokens, mask, batchSize, seqLen, targets: Math.max(targets, 1e-9) }; // a batch of only prompts: loss 0
    return { tokens, mask: targets === batchSize * seqLen ? null : mask, batchSize, seqLen, targets };
  };
}
