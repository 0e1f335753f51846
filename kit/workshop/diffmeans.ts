/**
 * Exercise 2.1 — a difference-of-means persona direction: the unit vector from the class-0 mean to the class-1 mean.
 *
 *   function diffOfMeansDirection(X: number[][], y: number[]): number[] { … }   // X [n, d], y[i] ∈ {0, 1} → [d]
 *   await checkDiffOfMeans(diffOfMeansDirection);
 *
 * Cases are small matrices whose class means are chosen so the answer is exact (e.g. means [0, 1, 0] and [3, 1, 4]:
 * direction [0.6, 0, 0.8]), with unequal class sizes and n ≠ d, so each usual mistake gives a different answer: the
 * mean over the wrong axis (one value per row), the sign flipped, not normalised, class sums instead of means, the
 * class-1 mean alone. The function is called twice per case on fresh copies; changing X or y (e.g. summing into a row
 * of X) fails, naming the input, and so does a tensor or typed array where the signature asks for `number[]`.
 */
import { allClose, callTwice, expectedReceived, fail, fmt, norm, preview, readNumbers, requirePlainArray, runCheck, shapeText, type CheckOptions, type CheckResult } from "./check";

/** The learner's function for exercise 2.1. */
export type DiffOfMeansFn = (X: number[][], y: number[]) => unknown;

interface Case {
  X: number[][];
  y: number[];
}

const CASES: Case[] = [
  {
    // class 0 rows average [0, 1, 0]; class 1 rows average [3, 1, 4]: raw [3, 0, 4], norm 5.
    X: [
      [1, 0, 1],
      [2, 1, 3],
      [-1, 2, 0],
      [4, 1, 5],
      [0, 1, -1],
      [0, 1, 0],
    ],
    y: [0, 1, 0, 1, 0, 0],
  },
  {
    X: [
      [1, 2, 0, -1],
      [0, 0, 1, 1],
      [2, 1, 1, 0],
      [-1, 0, 2, 2],
      [3, 3, -1, 0],
    ],
    y: [1, 0, 1, 0, 1],
  },
];

const unit = (v: number[]) => {
  const n = norm(v);
  return v.map((x) => x / n);
};

function classStats(X: number[][], y: number[]) {
  const d = X[0].length;
  const sum = [new Array(d).fill(0), new Array(d).fill(0)];
  const count = [0, 0];
  X.forEach((row, i) => {
    count[y[i]]++;
    row.forEach((v, j) => (sum[y[i]][j] += v));
  });
  const mean = sum.map((s, c) => s.map((v) => v / count[c]));
  return { sum, mean, d };
}

/** Check exercise 2.1 (see the file comment). Never throws because of the learner's code. */
export function checkDiffOfMeans(fn: DiffOfMeansFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "2.1",
    "diffOfMeansDirection",
    async () => {
      for (const [ci, c] of CASES.entries()) {
        const n = c.X.length;
        const what = `case ${ci + 1} (X ${shapeText([n, c.X[0].length])}, y = [${c.y.join(", ")}])`;
        const args = [{ name: "X", value: c.X }, { name: "y", value: c.y }];
        const got = await callTwice("diffOfMeansDirection", fn, args, what, (value) => ({ ...readNumbers(value, "your return value"), value }), (r) => r.values);
        const { sum, mean, d } = classStats(c.X, c.y);
        const raw = mean[1].map((v, j) => v - mean[0][j]);
        const expected = unit(raw);
        if (got.shape.length !== 1 || got.shape[0] !== d) {
          if (got.values.length === n) {
            fail(`mean over the wrong axis: you returned ${shapeText(got.shape)}, one value per row (n = ${n} examples); average over the rows (axis 0) to get one value per feature: expected ${shapeText([d])}`, `case: ${what}`);
          }
          fail(`shape mismatch: expected ${shapeText([d])} (one value per feature), received ${shapeText(got.shape)}`, `case: ${what}`);
        }
        requirePlainArray(got.value, "your return value", `number[] of length d = ${d}`);
        const g = got.values;
        if (g.some((v) => Number.isNaN(v))) fail(`your direction contains NaN: did you divide by a zero count or a zero norm?`, `case: ${what}`, `received ${preview(g)}`);
        if (allClose(g, expected, 1e-4)) continue;
        const details = [`case: ${what}`, ...expectedReceived(expected, g)];
        if (allClose(g, expected.map((v) => -v), 1e-4)) fail(`sign flipped: you returned mean(class 0) − mean(class 1); the direction points from class 0 to class 1 (mean(y = 1) − mean(y = 0))`, ...details);
        if (allClose(g, raw, 1e-4)) fail(`not normalised: your vector has norm ${fmt(norm(g))}; divide mean(class 1) − mean(class 0) by its norm so it has length 1`, ...details);
        if (allClose(g, raw.map((v) => -v), 1e-4)) fail(`sign flipped and not normalised: return (mean(y = 1) − mean(y = 0)) / ‖mean(y = 1) − mean(y = 0)‖`, ...details);
        if (allClose(g, unit(sum[1].map((v, j) => v - sum[0][j])), 1e-4)) fail(`you subtracted class sums, not class means: the classes have different sizes (${c.y.filter((v) => v === 1).length} vs ${c.y.filter((v) => v === 0).length}), so divide each sum by its own count first`, ...details);
        if (allClose(g, unit(mean[1]), 1e-4)) fail(`you normalised mean(class 1) alone; subtract mean(class 0) first`, ...details);
        const cos = g.reduce((s, v, j) => s + v * expected[j], 0) / (norm(g) || 1);
        if (cos > 0.9999) fail(`right direction, but not unit length: ‖v‖ = ${fmt(norm(g))}, expected 1`, ...details);
        fail(`wrong direction: cosine similarity with the right answer is ${fmt(cos)}`, ...details);
      }
      return `${CASES.length} cases with exact answers, unequal class sizes`;
    },
    { display, hintId: "2.1" },
  );
}
