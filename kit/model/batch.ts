/**
 * Ragged batches for `run`, `runWithHooks` and `runWithCache`: rows of different lengths are left-padded to the
 * longest, with a key mask (0 at padding) and positions shifted past each row's padding — the way `generate` pads
 * (kit/generate/decode.ts) — so each row computes what it would alone and every row's last token sits at position
 * T - 1 of the batch. Equal-length rows (and tensors) pass through unpadded.
 */
import { tf } from "../backend";
import type { HookedTransformer, TokensInput } from "./transformer";

export interface PaddedBatch {
  /** Token ids [B][T], left-padded. */
  rows: number[][];
  /** [B][T]: 1 for real tokens, 0 for left padding; null when no row is padded. */
  keyMask: number[][] | null;
  /** Each token's position, [B][T] when padded, else one shared row [1][T]. */
  positions: number[][];
  /** Left padding of each row (number of pad tokens). */
  padding: number[];
}

/** The pad id `generate` uses: the tokenizer's, the config's, EOS, or 0. */
export function padTokenId(model: HookedTransformer): number {
  return model.tokenizer?.padTokenId ?? model.cfg.padTokenId ?? model.tokenizer?.eosTokenId ?? model.cfg.eosTokenId ?? 0;
}

function rowsOf(model: HookedTransformer, input: TokensInput, where: string): number[][] | null {
  if (input instanceof tf.Tensor) return null;
  if (typeof input === "string") return [model.encode(input, where)];
  if (Array.isArray(input) && input.length > 0 && typeof input[0] === "string") return (input as string[]).map((s) => model.encode(s, where));
  if (Array.isArray(input) && input.length > 0 && Array.isArray(input[0])) return (input as number[][]).map((r) => [...r]);
  if (Array.isArray(input)) return [[...(input as number[])]];
  return null; // toTokens names the problem
}

/** Left-pad a batch of any accepted token input (ids validated as `model.toTokens` validates them). */
export function padBatch(model: HookedTransformer, input: TokensInput, where = "padBatch"): PaddedBatch {
  const given = rowsOf(model, input, where);
  if (given === null || given.length === 0 || given.every((r) => r.length === given[0].length)) {
    const t = model.toTokens(given ?? input, where);
    try {
      const rows = t.arraySync() as number[][];
      return { rows, keyMask: null, positions: [Array.from({ length: rows[0].length }, (_, i) => i)], padding: rows.map(() => 0) };
    } finally {
      t.dispose();
    }
  }
  const empty = given.findIndex((r) => r.length === 0);
  if (empty >= 0) throw new RangeError(`${where}: every sequence needs at least one token, row ${empty} is empty`);
  const T = Math.max(...given.map((r) => r.length));
  const pad = padTokenId(model);
  const padding = given.map((r) => T - r.length);
  const rows = given.map((r, b) => [...Array<number>(padding[b]).fill(pad), ...r]);
  model.toTokens(rows, where).dispose(); // validates ids
  const keyMask = given.map((r, b) => [...Array<number>(padding[b]).fill(0), ...Array<number>(r.length).fill(1)]);
  const positions = padding.map((sh) => Array.from({ length: T }, (_, i) => Math.max(0, i - sh)));
  return { rows, keyMask, positions, padding };
}
