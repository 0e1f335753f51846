/** Small statistics shared across the kit: Wilson score intervals for rates, means, quantiles, a bootstrap mean. */
import { mulberry32 } from "./rng";

export interface Interval {
  rate: number;
  lower: number;
  upper: number;
}

/** A count, its denominator, the rate and its Wilson interval. */
export interface RateCI extends Interval {
  k: number;
  n: number;
}

/**
 * The Wilson score interval of k successes in n trials (z = 1.96: 95%). n = 0 gives rate NaN and the interval [0, 1].
 */
export function wilson(k: number, n: number, z = 1.96): Interval {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`wilson: n must be an integer ≥ 0, received ${n}`);
  if (!(Number.isInteger(k) && k >= 0 && k <= n)) throw new RangeError(`wilson: k must be an integer in [0, n = ${n}], received ${k}`);
  if (!(Number.isFinite(z) && z > 0)) throw new RangeError(`wilson: z must be a positive number, received ${z}`);
  if (n === 0) return { rate: NaN, lower: 0, upper: 1 };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At k = 0 (k = n) the bound is 0 (1) exactly; the formula leaves rounding residue such as 6.9e-18 there.
  return { rate: p, lower: k === 0 ? 0 : Math.max(0, center - half), upper: k === n ? 1 : Math.min(1, center + half) };
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending `sorted` values, linearly interpolated (type 7, as R's and numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The arithmetic mean (NaN for no values). */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * The mean of `xs` with a percentile bootstrap 95% interval (resampling the values with replacement `reps` times,
 * seeded): the interval of a mean over units such as prompts or seeds.
 */
export function bootstrapMean(xs: readonly number[], { reps = 2000, seed = 0 }: { reps?: number; seed?: number } = {}): { mean: number; lower: number; upper: number } {
  if (xs.length === 0) throw new RangeError("bootstrapMean: xs is empty");
  const rand = mulberry32(seed);
  const means = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let s = 0;
    for (let i = 0; i < xs.length; i++) s += xs[Math.floor(rand() * xs.length)];
    means[r] = s / xs.length;
  }
  means.sort();
  return { mean: mean(xs), lower: quantile(means, 0.025), upper: quantile(means, 0.975) };
}

/** A mean over seeds with its bootstrap 95% interval and the number of seeds behind it. */
export interface SeedInterval {
  mean: number;
  lower: number;
  upper: number;
  n: number;
}

/**
 * Per-seed values (one number per seed: a seed's rate, leakage, accuracy…) as their mean and a percentile bootstrap
 * 95% interval over seeds: the unit a verdict's test resamples, so a figure's error bar says what the verdict says.
 * One seed gives the interval [value, value] (nothing to resample: show n beside it).
 */
export function seedInterval(values: readonly number[], { seed = 0, reps = 2000 }: { seed?: number; reps?: number } = {}): SeedInterval {
  if (!Array.isArray(values) || values.length === 0) throw new RangeError(`seedInterval: values must be a non-empty array of per-seed numbers, received ${Array.isArray(values) ? "[]" : typeof values}`);
  const bad = values.findIndex((v) => typeof v !== "number" || !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`seedInterval: values must be finite numbers (one per seed), received ${String(values[bad])} at index ${bad}`);
  const { mean: m, lower, upper } = bootstrapMean(values, { seed, reps });
  return { mean: m, lower, upper, n: values.length };
}
