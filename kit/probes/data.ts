/**
 * Shared input handling for the probes: feature matrices (number[][], Float32Array rows or a tf.Tensor2D [n, d])
 * flattened to one row-major Float32Array, and label arrays, each checked with errors that name the function, the
 * argument, the row and the column.
 */
import { tf } from "../backend";
import { describeValue } from "../describe";

/** A feature matrix: n rows of d features (or a row-major `{ data, n, d }`, as `extractFeatures` returns). */
export type Matrix = readonly (readonly number[])[] | readonly Float32Array[] | tf.Tensor2D | Dense;
/** Binary labels, one per row. */
export type Labels = readonly number[];

/** A checked, row-major copy of a feature matrix. */
export interface Dense {
  data: Float32Array;
  n: number;
  d: number;
}

/** Flatten and check X: rectangular, non-empty, every value finite. */
export function toDense(X: Matrix | Dense, where: string, arg = "X"): Dense {
  if (isDense(X)) return X;
  let data: Float32Array;
  let n: number;
  let d: number;
  if (X instanceof tf.Tensor) {
    if (X.rank !== 2) throw new RangeError(`${where}: ${arg} must be a 2-D tensor [n, d], received shape [${X.shape}]`);
    [n, d] = X.shape;
    data = new Float32Array(X.dataSync() as Float32Array);
  } else if (Array.isArray(X)) {
    n = X.length;
    if (n === 0) throw new RangeError(`${where}: ${arg} must have at least one row, received an empty array`);
    const first = X[0];
    if (!(Array.isArray(first) || first instanceof Float32Array)) throw new TypeError(`${where}: ${arg}[0] must be an array of numbers or a Float32Array, received ${describeValue(first)}`);
    d = first.length;
    data = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const row = X[i] as ArrayLike<number>;
      if (!(Array.isArray(row) || row instanceof Float32Array)) throw new TypeError(`${where}: ${arg}[${i}] must be an array of numbers or a Float32Array, received ${describeValue(row)}`);
      if (row.length !== d) throw new RangeError(`${where}: ${arg} must be rectangular: row 0 has ${d} features, row ${i} has ${row.length}`);
      for (let j = 0; j < d; j++) {
        const v = row[j];
        if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`${where}: ${arg}[${i}][${j}] (row ${i}, column ${j}) must be a finite number, received ${describeValue(v)}`);
        data[i * d + j] = v;
      }
    }
  } else {
    throw new TypeError(`${where}: ${arg} must be number[][], Float32Array[] or a tf.Tensor2D [n, d], received ${describeValue(X)}`);
  }
  if (n === 0 || d === 0) throw new RangeError(`${where}: ${arg} must have at least one row and one column, received [${n}, ${d}]`);
  for (let k = 0; k < data.length; k++) {
    if (!Number.isFinite(data[k])) {
      const i = Math.floor(k / d);
      throw new RangeError(`${where}: ${arg}[${i}][${k - i * d}] (row ${i}, column ${k - i * d}) must be a finite number, received ${data[k]}`);
    }
  }
  return { data, n, d };
}

function isDense(X: unknown): X is Dense {
  return typeof X === "object" && X !== null && (X as Dense).data instanceof Float32Array && typeof (X as Dense).n === "number" && typeof (X as Dense).d === "number";
}

/** Check labels: one per row, each 0 or 1; `bothClasses` requires at least one of each. */
export function checkLabels(y: Labels, n: number, where: string, { bothClasses = true, arg = "y" }: { bothClasses?: boolean; arg?: string } = {}): Uint8Array {
  if (!(Array.isArray(y) || ArrayBuffer.isView(y))) throw new TypeError(`${where}: ${arg} must be an array of 0/1 labels, received ${describeValue(y)}`);
  if (y.length !== n) throw new RangeError(`${where}: ${arg} must have one label per row (${n}), received ${y.length} labels`);
  const out = new Uint8Array(n);
  let ones = 0;
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (v !== 0 && v !== 1) throw new RangeError(`${where}: ${arg}[${i}] must be 0 or 1, received ${describeValue(v)}`);
    out[i] = v;
    ones += v;
  }
  if (bothClasses && (ones === 0 || ones === n)) {
    throw new RangeError(`${where}: ${arg} must contain both classes, received ${n} labels all equal to ${ones === 0 ? 0 : 1}`);
  }
  return out;
}

/** Check a score vector: finite numbers, one per label. */
export function checkScores(scores: ArrayLike<number>, n: number, where: string, arg = "scores"): void {
  if (scores === null || typeof scores !== "object" || typeof scores.length !== "number") throw new TypeError(`${where}: ${arg} must be an array of numbers, received ${describeValue(scores)}`);
  if (scores.length !== n) throw new RangeError(`${where}: ${arg} must have one score per label (${n}), received ${scores.length}`);
  for (let i = 0; i < n; i++) {
    if (typeof scores[i] !== "number" || !Number.isFinite(scores[i])) throw new RangeError(`${where}: ${arg}[${i}] must be a finite number, received ${describeValue(scores[i])}`);
  }
}

/** The rows `idx` of a dense matrix. */
export function takeRows(X: Dense, idx: readonly number[]): Dense {
  const out = new Float32Array(idx.length * X.d);
  for (let r = 0; r < idx.length; r++) out.set(X.data.subarray(idx[r] * X.d, (idx[r] + 1) * X.d), r * X.d);
  return { data: out, n: idx.length, d: X.d };
}

/** X·w + b for every row, in float64. */
export function project(X: Dense, w: ArrayLike<number>, b = 0): number[] {
  const { data, n, d } = X;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let s = b;
    const o = i * d;
    for (let j = 0; j < d; j++) s += data[o + j] * w[j];
    out[i] = s;
  }
  return out;
}
