/**
 * Evaluating probes: accuracy (Wilson interval), balanced accuracy, exact AUROC (ties count ½) with a stratified
 * bootstrap interval, and seeded, stratified k-fold cross-validation of a logistic or difference-of-means probe.
 *
 *   auroc(scores, y);                                    // Mann–Whitney U / (n0·n1)
 *   crossValidate(X, y, { k: 5, seed: 1, fit: "logistic" });   // per-fold and pooled out-of-fold metrics
 */
import { describeValue } from "../describe";
import { mulberry32 } from "../util/rng";
import { quantile, wilson, type RateCI } from "../util/stats";
import { checkLabels, checkScores, takeRows, toDense, type Dense, type Labels, type Matrix } from "./data";
import { diffOfMeans } from "./diffmeans";
import { fitLogisticProbe, type LogisticOptions } from "./logistic";

/** Fraction of rows whose prediction (score > threshold ⇒ 1) equals the label. */
export function accuracy(scores: ArrayLike<number>, y: Labels, threshold = 0): number {
  return accuracyCounts(scores, y, threshold, "accuracy").correct / y.length;
}

/** Accuracy with its Wilson interval: { rate, lower, upper, k (correct), n }. */
export function accuracyCI(scores: ArrayLike<number>, y: Labels, threshold = 0, z = 1.96): RateCI {
  const { correct } = accuracyCounts(scores, y, threshold, "accuracyCI");
  return { k: correct, n: y.length, ...wilson(correct, y.length, z) };
}

/** Mean of the per-class accuracies (true-positive rate and true-negative rate). */
export function balancedAccuracy(scores: ArrayLike<number>, y: Labels, threshold = 0): number {
  const { tp, tn, n1, n0 } = accuracyCounts(scores, y, threshold, "balancedAccuracy", true);
  return (tp / n1 + tn / n0) / 2;
}

function accuracyCounts(scores: ArrayLike<number>, y: Labels, threshold: number, where: string, bothClasses = false) {
  const labels = checkLabels(y, y?.length ?? 0, where, { bothClasses });
  if (labels.length === 0) throw new RangeError(`${where}: y must hold at least one label, received an empty array`);
  checkScores(scores, labels.length, where);
  if (typeof threshold !== "number" || Number.isNaN(threshold)) throw new RangeError(`${where}: threshold must be a number, received ${describeValue(threshold)}`);
  let tp = 0;
  let tn = 0;
  let n1 = 0;
  for (let i = 0; i < labels.length; i++) {
    const pred = scores[i] > threshold ? 1 : 0;
    n1 += labels[i];
    if (pred === labels[i]) labels[i] ? tp++ : tn++;
  }
  return { correct: tp + tn, tp, tn, n1, n0: labels.length - n1 };
}

/** Exact area under the ROC curve: P(score of a 1 > score of a 0) + ½·P(tie), by mid-ranks. */
export function auroc(scores: ArrayLike<number>, y: Labels): number {
  const labels = checkLabels(y, y?.length ?? 0, "auroc");
  checkScores(scores, labels.length, "auroc");
  return aurocUnchecked(scores, labels, null);
}

function aurocUnchecked(scores: ArrayLike<number>, labels: Uint8Array, idx: Int32Array | null): number {
  const m = idx ? idx.length : labels.length;
  const order = new Int32Array(m);
  for (let i = 0; i < m; i++) order[i] = idx ? idx[i] : i;
  order.sort((a, b) => scores[a] - scores[b]);
  let rankSum1 = 0;
  let n1 = 0;
  for (let i = 0; i < m; ) {
    let j = i;
    while (j + 1 < m && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) if (labels[order[t]]) {
      rankSum1 += midRank;
      n1++;
    }
    i = j + 1;
  }
  const n0 = m - n1;
  return (rankSum1 - (n1 * (n1 + 1)) / 2) / (n1 * n0);
}

export interface AurocCI {
  auroc: number;
  lower: number;
  upper: number;
}

/**
 * AUROC with a percentile bootstrap interval. Each iteration resamples the positives and the negatives separately
 * (stratified), so every resample holds both classes. Deterministic for a seed.
 */
export function aurocCI(
  scores: ArrayLike<number>,
  y: Labels,
  { iterations = 1000, seed = 0, level = 0.95 }: { iterations?: number; seed?: number; level?: number } = {},
): AurocCI {
  const where = "aurocCI";
  const labels = checkLabels(y, y?.length ?? 0, where);
  checkScores(scores, labels.length, where);
  if (!(Number.isInteger(iterations) && iterations > 0)) throw new RangeError(`${where}: options.iterations must be a positive integer, received ${describeValue(iterations)}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`${where}: options.level must be in (0, 1), received ${describeValue(level)}`);
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) (labels[i] ? pos : neg).push(i);
  const rand = mulberry32(seed);
  const idx = new Int32Array(labels.length);
  const stats = new Float64Array(iterations);
  for (let it = 0; it < iterations; it++) {
    let m = 0;
    for (let i = 0; i < pos.length; i++) idx[m++] = pos[Math.floor(rand() * pos.length)];
    for (let i = 0; i < neg.length; i++) idx[m++] = neg[Math.floor(rand() * neg.length)];
    stats[it] = aurocUnchecked(scores, labels, idx);
  }
  stats.sort();
  const alpha = (1 - level) / 2;
  return { auroc: aurocUnchecked(scores, labels, null), lower: quantile(stats, alpha), upper: quantile(stats, 1 - alpha) };
}

// ---------------------------------------------------------------------------------------------------------------
// Cross-validation

export type ProbeKind = "logistic" | "diffmeans";

export interface CrossValidateOptions extends LogisticOptions {
  /** Number of folds. Default 5. */
  k?: number;
  /** Seed of the fold assignment (and of the bootstrap). Default 0. */
  seed?: number;
  /** Which probe to fit. Default "logistic". */
  fit?: ProbeKind;
  /** Bootstrap iterations of the pooled AUROC interval. Default 1000. */
  iterations?: number;
}

export interface FoldResult {
  fold: number;
  trainSize: number;
  testSize: number;
  accuracy: number;
  /** NaN when the test fold holds one class only. */
  auroc: number;
}

export interface CrossValidation {
  folds: FoldResult[];
  /** Pooled out-of-fold accuracy with its Wilson interval. */
  accuracy: RateCI;
  /** Pooled out-of-fold AUROC with its bootstrap interval. */
  auroc: AurocCI;
  /** Out-of-fold scores (decision values: > 0 ⇒ class 1), one per row. */
  scores: number[];
  /** The fold each row was tested in. */
  foldOf: number[];
}

/**
 * Stratified fold assignment: each class is shuffled (seeded Fisher–Yates) and dealt round-robin to the k folds,
 * so every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ rows of each class c.
 */
export function stratifiedFolds(y: Labels, k: number, seed = 0): number[] {
  const where = "stratifiedFolds";
  const labels = checkLabels(y, y?.length ?? 0, where);
  const counts = [0, 0];
  for (const v of labels) counts[v]++;
  if (!(Number.isInteger(k) && k >= 2)) throw new RangeError(`${where}: k must be an integer ≥ 2, received ${describeValue(k)}`);
  if (k > Math.min(counts[0], counts[1])) throw new RangeError(`${where}: k (${k}) must not exceed the smaller class's size (${Math.min(counts[0], counts[1])} rows of class ${counts[0] < counts[1] ? 0 : 1})`);
  const rand = mulberry32(seed);
  const foldOf = new Array<number>(labels.length);
  let offset = 0;
  for (const cls of [0, 1]) {
    const idx: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === cls) idx.push(i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    // Continue the round-robin across classes so that fold sizes stay balanced overall.
    idx.forEach((row, t) => (foldOf[row] = (t + offset) % k));
    offset = (offset + idx.length) % k;
  }
  return foldOf;
}

/** Fit a probe of the given kind and return a function scoring rows by decision value (> 0 ⇒ class 1). */
export function fitScorer(X: Matrix | Dense, y: Labels, fit: ProbeKind, options: LogisticOptions = {}): (X: Matrix | Dense) => number[] {
  if (fit === "logistic") {
    const p = fitLogisticProbe(X as Matrix, y, options);
    return (Z) => p.decisionFunction(Z as Matrix);
  }
  if (fit === "diffmeans") {
    const p = diffOfMeans(X as Matrix, y);
    return (Z) => p.score(Z as Matrix).map((s) => s - p.threshold);
  }
  throw new RangeError(`fitScorer: fit must be "logistic" or "diffmeans", received ${describeValue(fit)}`);
}

/** k-fold stratified cross-validation of one probe: per-fold and pooled out-of-fold accuracy and AUROC. */
export function crossValidate(X: Matrix, y: Labels, { k = 5, seed = 0, fit = "logistic", iterations = 1000, ...probeOptions }: CrossValidateOptions = {}): CrossValidation {
  const where = "crossValidate";
  if (fit !== "logistic" && fit !== "diffmeans") throw new RangeError(`${where}: options.fit must be "logistic" or "diffmeans", received ${describeValue(fit)}`);
  const A = toDense(X as Matrix | Dense, where);
  const labels = checkLabels(y, A.n, where);
  const foldOf = stratifiedFolds(y, k, seed);
  const scores = new Array<number>(A.n).fill(NaN);
  const folds: FoldResult[] = [];
  for (let f = 0; f < k; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < A.n; i++) (foldOf[i] === f ? test : train).push(i);
    const trainY = train.map((i) => labels[i]);
    const scorer = fitScorer(takeRows(A, train), trainY, fit, { ...probeOptions, seed });
    const s = scorer(takeRows(A, test));
    const testY = test.map((i) => labels[i]);
    test.forEach((row, t) => (scores[row] = s[t]));
    const both = testY.includes(0) && testY.includes(1);
    folds.push({ fold: f, trainSize: train.length, testSize: test.length, accuracy: accuracy(s, testY), auroc: both ? auroc(s, testY) : NaN });
  }
  const yy = Array.from(labels);
  return { folds, accuracy: accuracyCI(scores, yy), auroc: aurocCI(scores, yy, { iterations, seed }), scores, foldOf };
}
