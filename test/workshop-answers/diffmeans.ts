/** Exercise 2.1 diffOfMeansDirection: right and wrong answers (see types.ts). */
import { diffOfMeans, tf, type DiffOfMeansFn } from "persona-kit";
import type { AnswerList } from "./types";

const classMean = (X: number[][], y: number[], c: number) => {
  const rows = X.filter((_, i) => y[i] === c);
  return X[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
};
const raw = (X: number[][], y: number[]) => {
  const m1 = classMean(X, y, 1);
  const m0 = classMean(X, y, 0);
  return m1.map((v, j) => v - m0[j]);
};
const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));

export const diffmeans: AnswerList<DiffOfMeansFn> = {
  exercise: "2.1",
  right: [
    { name: "the solution: two class means, subtract, normalise", fn: (X, y) => unit(raw(X, y)) },
    { name: "the kit's diffOfMeans direction as an array", fn: (X, y) => Array.from(diffOfMeans(X, y).direction) },
    {
      name: "tensors in float32, read back with Array.from",
      fn: (X, y) =>
        tf.tidy(() => {
          const x = tf.tensor2d(X);
          const m = tf.tensor1d(y).reshape([-1, 1]);
          const mean1 = x.mul(m).sum(0).div(m.sum());
          const mean0 = x.mul(tf.sub(1, m)).sum(0).div(tf.sub(1, m).sum());
          const d = mean1.sub(mean0);
          return Array.from(d.div(d.norm()).dataSync());
        }),
    },
    {
      name: "one pass with running sums and counts",
      fn: (X, y) => {
        const s = [X[0].map(() => 0), X[0].map(() => 0)];
        const n = [0, 0];
        X.forEach((r, i) => {
          n[y[i]]++;
          r.forEach((v, j) => (s[y[i]][j] += v));
        });
        return unit(s[1].map((v, j) => v / n[1] - s[0][j] / n[0]));
      },
    },
    { name: "class 1's mean minus the overall mean (parallel to the difference of the class means)", fn: (X, y) => unit(classMean(X, y, 1).map((v, j) => v - X.reduce((s, r) => s + r[j], 0) / X.length)) },
  ],
  wrong: [
    {
      name: "sums into the first row of each class (changes X)",
      fn: (X, y) => {
        const acc: Record<number, number[]> = {};
        const n = [0, 0];
        X.forEach((r, i) => {
          n[y[i]]++;
          if (!acc[y[i]]) acc[y[i]] = r;
          else r.forEach((v, j) => (acc[y[i]][j] += v));
        });
        const d = acc[1].map((v, j) => v / n[1] - acc[0][j] / n[0]);
        return unit(d);
      },
      message: "your function changed its input X (X[",
    },
    { name: "sorts y in place", fn: (X, y) => { const r = unit(raw(X, y)); y.sort(); return r; }, message: "your function changed its input y (y[" },
    { name: "a tensor instead of number[]", fn: (X, y) => tf.tensor1d(unit(raw(X, y))), message: "your return value is a tf.Tensor of shape [3], but the exercise asks for a number[]" },
    { name: "the kit's Float32Array", fn: (X, y) => diffOfMeans(X, y).direction, message: "your return value is a Float32Array, but the exercise asks for a number[]" },
    { name: "the sign flipped", fn: (X, y) => unit(raw(X, y)).map((v) => -v), message: "sign flipped: you returned mean(class 0) − mean(class 1)" },
    { name: "not normalised", fn: (X, y) => raw(X, y), message: "not normalised: your vector has norm 5" },
    { name: "sign flipped and not normalised", fn: (X, y) => raw(X, y).map((v) => -v), message: "sign flipped and not normalised" },
    { name: "the mean over the wrong axis", fn: (X) => X.map((r) => r.reduce((a, b) => a + b, 0) / r.length), message: "mean over the wrong axis" },
    { name: "class sums", fn: (X, y) => unit(X[0].map((_, j) => X.reduce((a, r, i) => a + (y[i] ? r[j] : -r[j]), 0))), message: "you subtracted class sums, not class means" },
    { name: "class 1's mean alone", fn: (X, y) => unit(classMean(X, y, 1)), message: "you normalised mean(class 1) alone" },
    { name: "divided by the squared norm", fn: (X, y) => { const d = raw(X, y); const n2 = d.reduce((s, v) => s + v * v, 0); return d.map((v) => v / n2); }, message: "right direction, but not unit length" },
  ],
};
