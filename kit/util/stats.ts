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
  const { lower, upper } = bootstrap((ix) => mean(ix.map((i) => xs[i])), xs.length, { reps, seed });
  return { mean: mean(xs), lower, upper };
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
 * 95% interval over seeds, computed by the same `bootstrap` the verdicts use (kit/research), so a figure's error bar
 * says what the verdict's test says. One seed gives the interval [value, value] (nothing to resample: show n beside it).
 */
export function seedInterval(values: readonly number[], { seed = 0, reps = 10000 }: { seed?: number; reps?: number } = {}): SeedInterval {
  if (!Array.isArray(values) || values.length === 0) throw new RangeError(`seedInterval: values must be a non-empty array of per-seed numbers, received ${Array.isArray(values) ? "[]" : typeof values}`);
  const bad = values.findIndex((v) => typeof v !== "number" || !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`seedInterval: values must be finite numbers (one per seed), received ${String(values[bad])} at index ${bad}`);
  const { estimate, lower, upper } = bootstrap((ix) => mean(ix.map((i) => values[i])), values.length, { seed, reps });
  return { mean: estimate, lower, upper, n: values.length };
}

export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** The least-squares slope of ys on xs; NaN when xs has fewer than two distinct values. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/** Ranks 1..n, ties sharing their average rank. */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) out[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's ρ: Pearson's r of the ranks; NaN when either variable is constant. */
export function spearman(xs: readonly number[], ys: readonly number[]): number {
  return pearson(ranks(xs), ranks(ys));
}

/** A statistic's bootstrap distribution summarised: percentile interval and the two-sided percentile p-value. */
export interface BootstrapSummary {
  /** The statistic on the original sample. */
  estimate: number;
  lower: number;
  upper: number;
  /**
   * Two-sided p-value of "the statistic is 0" by inverting the percentile interval: 2·min(share of resamples ≤ 0, share
   * ≥ 0), with +1 in numerator and denominator (never 0). p < 1 − level exactly when the interval excludes 0.
   */
  p: number;
  /** Resamples whose statistic was finite (the rest, e.g. an undefined correlation, are skipped). */
  reps: number;
}

/**
 * The percentile bootstrap of `statistic` over `n` units: each of `reps` resamples draws n unit indices with
 * replacement (seeded) and evaluates `statistic(indices)`. Units are what the verdict counts (seeds, datasets).
 *
 *   bootstrap((ix) => mean(ix.map((i) => diffs[i])), diffs.length, { seed: 1 })
 */
export function bootstrap(
  statistic: (indices: readonly number[]) => number,
  n: number,
  { reps = 10000, seed = 0, level = 0.95 }: { reps?: number; seed?: number; level?: number } = {},
): BootstrapSummary {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`bootstrap: n must be a positive integer (the number of units), received ${n}`);
  if (!(Number.isInteger(reps) && reps >= 1)) throw new RangeError(`bootstrap: reps must be a positive integer, received ${reps}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap: level must be in (0, 1), received ${level}`);
  const rand = mulberry32(seed);
  const all = Array.from({ length: n }, (_, i) => i);
  const stats: number[] = [];
  const ix = new Array<number>(n);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) ix[i] = Math.floor(rand() * n);
    const s = statistic(ix);
    if (Number.isFinite(s)) stats.push(s);
  }
  return { estimate: statistic(all), ...percentileSummary(stats, level) };
}

/** The percentile interval at `level` and the two-sided percentile p (as `BootstrapSummary`) of resampled statistics. */
function percentileSummary(stats: readonly number[], level: number): Omit<BootstrapSummary, "estimate"> {
  const sorted = Float64Array.from(stats).sort();
  const alpha = (1 - level) / 2;
  const below = stats.filter((s) => s <= 0).length;
  const above = stats.filter((s) => s >= 0).length;
  const m = stats.length;
  return {
    lower: m > 0 ? quantile(sorted, alpha) : NaN,
    upper: m > 0 ? quantile(sorted, 1 - alpha) : NaN,
    p: m > 0 ? Math.min(1, (2 * Math.min(below, above) + 1) / (m + 1)) : 1,
    reps: m,
  };
}

export interface BootstrapDiff {
  /** mean(a) − mean(b). */
  diff: number;
  /** Percentile bootstrap interval (95% by default). */
  lower: number;
  upper: number;
  /** Two-sided percentile p-value of "the difference is 0" (as `BootstrapSummary.p`). */
  p: number;
}

/**
 * The difference of means mean(a) − mean(b) with a percentile bootstrap interval: each iteration resamples a and b
 * independently with replacement (e.g. per-seed leakage of the shallow and the deep arm). Deterministic for a seed.
 */
export function bootstrapDiff(
  a: readonly number[],
  b: readonly number[],
  { iterations = 10000, seed = 0, level = 0.95 }: { iterations?: number; seed?: number; level?: number } = {},
): BootstrapDiff {
  const check = (x: readonly number[], name: string) => {
    if (!Array.isArray(x) || x.length === 0) throw new RangeError(`bootstrapDiff: ${name} must be a non-empty array of numbers, received ${Array.isArray(x) ? "[]" : typeof x}`);
    const bad = x.findIndex((v) => typeof v !== "number" || !Number.isFinite(v));
    if (bad >= 0) throw new RangeError(`bootstrapDiff: ${name}[${bad}] must be a finite number, received ${String(x[bad])}`);
  };
  check(a, "a");
  check(b, "b");
  if (!(Number.isInteger(iterations) && iterations > 0)) throw new RangeError(`bootstrapDiff: iterations must be a positive integer, received ${iterations}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrapDiff: level must be in (0, 1), received ${level}`);
  const rand = mulberry32(seed);
  const resampledMean = (x: readonly number[]) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[Math.floor(rand() * x.length)];
    return s / x.length;
  };
  const diffs = Array.from({ length: iterations }, () => resampledMean(a) - resampledMean(b));
  const { lower, upper, p } = percentileSummary(diffs, level);
  return { diff: mean(a) - mean(b), lower, upper, p };
}

/**
 * Holm's step-down adjustment of p-values (family-wise error), in the input order: sort ascending, multiply the i-th
 * smallest (0-based) by (m − i), take the running maximum, cap at 1.
 */
export function holm(ps: readonly number[]): number[] {
  const bad = ps.findIndex((p) => typeof p !== "number" || !(p >= 0 && p <= 1));
  if (bad >= 0) throw new RangeError(`holm: every p-value must be a number in [0, 1], received ps[${bad}] = ${String(ps[bad])}`);
  const order = ps.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(ps.length);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (ps.length - rank) * p));
    out[i] = running;
  });
  return out;
}
