/** Exercise 6.1 projectionDifference: right and wrong answers (see types.ts). */
import { tf, type ProjectionDifferenceFn } from "persona-kit";
import type { AnswerList } from "./types";

const dot = (a: number[], b: number[]) => a.reduce((s, x, j) => s + x * b[j], 0);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** mean(D · v/scale) − mean(O · v/scale). */
const diff = (D: number[][], O: number[][], v: number[], scale: number) => mean(D.map((r) => dot(r, v) / scale)) - mean(O.map((r) => dot(r, v) / scale));
const norm = (v: number[]) => Math.hypot(...v);

export const prediction: AnswerList<ProjectionDifferenceFn> = {
  exercise: "6.1",
  right: [
    { name: "the solution", fn: (D, O, v) => diff(D, O, v, norm(v)) },
    { name: "the difference of the mean rows, projected once", fn: (D, O, v) => dot(D[0].map((_, j) => mean(D.map((r) => r[j])) - mean(O.map((r) => r[j]))), v) / norm(v) },
    { name: "float32 tensors, read back as a number", fn: (D, O, v) => tf.tidy(() => { const u = tf.tensor1d(v).div(tf.tensor1d(v).norm()); return tf.tensor2d(D).dot(u).mean().sub(tf.tensor2d(O).dot(u).mean()).dataSync()[0]; }) },
  ],
  wrong: [
    { name: "a one-element tensor", fn: (D, O, v) => tf.scalar(diff(D, O, v, norm(v))), message: "returned a tensor of shape []: read a tensor's value with t.dataSync()[0]" },
    { name: "normalises direction in place", fn: (D, O, v) => { const n = norm(v); v.forEach((x, j) => (v[j] = x / n)); return diff(D, O, v, 1); }, message: "your function changed its input direction (direction[0]" },
    { name: "the sign flipped", fn: (D, O, v) => -diff(D, O, v, norm(v)), message: "sign flipped: you computed own − dataset" },
    { name: "not normalised", fn: (D, O, v) => diff(D, O, v, 1), message: "not normalised: you projected onto v itself" },
    { name: "divided by ‖v‖²", fn: (D, O, v) => diff(D, O, v, norm(v) ** 2), message: "you divided by ‖v‖²" },
    { name: "own responses not subtracted", fn: (D, O, v) => mean(D.map((r) => dot(r, v) / norm(v))), message: "you returned the dataset's mean projection alone" },
    { name: "sums", fn: (D, O, v) => diff(D, O, v, norm(v)) * D.length, message: "you summed over rows" },
    { name: "mean over the wrong axis (features averaged first)", fn: (D, O, v) => { const rowMeans = (m: number[][]) => m.map((r) => mean(r)); const u = v.map((x) => x / norm(v)); return dot(rowMeans(D), u) - dot(rowMeans(O), u); }, message: "NaN: check the axes" },
  ],
};
