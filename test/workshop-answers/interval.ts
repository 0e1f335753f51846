/** Exercise 5.1 wilsonInterval: right and wrong answers (see types.ts). */
import { wilson, type WilsonFn } from "persona-kit";
import type { AnswerList } from "./types";

/** The Wilson interval at `z`, written as in the exercise (clipped to [0, 1] unless `clip` is false). */
function wilsonAt(k: number, n: number, z: number, clip = true): { lower: number; upper: number } {
  if (n === 0) return { lower: 0, upper: 1 };
  const p = k / n;
  const den = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / den;
  const h = (z / den) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return clip ? { lower: Math.max(0, c - h), upper: Math.min(1, c + h) } : { lower: c - h, upper: c + h };
}
function wald(k: number, n: number, z = 1.96): { lower: number; upper: number } {
  const p = k / n;
  const h = z * Math.sqrt((p * (1 - p)) / n);
  return { lower: p - h, upper: p + h };
}
/** Float32 rounding of every intermediate (as with tf tensors). */
const f = Math.fround;

export const interval: AnswerList<WilsonFn> = {
  exercise: "5.1",
  right: [
    { name: "the solution (z = 1.96)", fn: (k, n) => wilsonAt(k, n, 1.96) },
    { name: "the exact quantile z = 1.959963984540054", fn: (k, n) => wilsonAt(k, n, 1.959963984540054) },
    { name: "z = 1.959964", fn: (k, n) => wilsonAt(k, n, 1.959964) },
    { name: "not clipped (the roots are in [0, 1] anyway)", fn: (k, n) => wilsonAt(k, n, 1.96, false) },
    { name: "the kit's wilson (with its extra rate field)", fn: (k, n) => wilson(k, n) },
    {
      name: "the roots of the quadratic (p − p₀)² = z² p₀(1 − p₀)/n",
      fn: (k, n) => {
        if (n === 0) return { lower: 0, upper: 1 };
        const z2 = 1.96 ** 2;
        const p = k / n;
        const [a, b, c] = [1 + z2 / n, -(2 * p + z2 / n), p * p];
        const disc = Math.sqrt(Math.max(0, b * b - 4 * a * c));
        return { lower: Math.max(0, (-b - disc) / (2 * a)), upper: Math.min(1, (-b + disc) / (2 * a)) };
      },
    },
    {
      name: "float32 arithmetic",
      fn: (k, n) => {
        if (n === 0) return { lower: 0, upper: 1 };
        const z = f(1.96);
        const p = f(k / n);
        const den = f(1 + f(f(z * z) / n));
        const c = f(f(p + f(f(z * z) / (2 * n))) / den);
        const h = f(f(z / den) * f(Math.sqrt(f(f(f(p * f(1 - p)) / n) + f(f(z * z) / (4 * n * n))))));
        return { lower: Math.max(0, f(c - h)), upper: Math.min(1, f(c + h)) };
      },
    },
  ],
  wrong: [
    { name: "Wald", fn: (k, n) => wald(k, n), message: "wrong interval: that is the normal approximation (Wald" },
    { name: "Wald clipped", fn: (k, n) => { const w = wald(k, n); return { lower: Math.max(0, w.lower), upper: Math.min(1, w.upper) }; }, message: "that is the normal approximation (Wald" },
    { name: "90%", fn: (k, n) => wilsonAt(k, n, 1.645), message: "wrong confidence level: that is the Wilson interval for a 90% interval" },
    { name: "99%", fn: (k, n) => wilsonAt(k, n, 2.576), message: "a 99% interval (z = 2.576)" },
    { name: "z = 2", fn: (k, n) => wilsonAt(k, n, 2), message: "z = 2 instead of 1.96" },
    { name: "Wald with z = 2", fn: (k, n) => (n === 0 ? { lower: 0, upper: 1 } : wald(k, n, 2)), message: "a normal approximation (Wald) with z = 2" },
    { name: "swapped", fn: (k, n) => { const w = wilsonAt(k, n, 1.96); return { lower: w.upper, upper: w.lower }; }, message: "lower and upper are swapped" },
    { name: "percentages", fn: (k, n) => { const w = wilsonAt(k, n, 1.96); return { lower: 100 * w.lower, upper: 100 * w.upper }; }, message: "percentages: return fractions" },
    { name: "NaN at n = 0", fn: (k, n) => (n === 0 ? { lower: NaN, upper: NaN } : wilsonAt(k, n, 1.96)), message: "n = 0 (no observations)" },
    { name: "an array", fn: (k, n) => { const w = wilsonAt(k, n, 1.96); return [w.lower, w.upper]; }, message: "return an object { lower, upper } of numbers" },
    { name: "half-width without the z²/(4n²) term", fn: (k, n) => { if (n === 0) return { lower: 0, upper: 1 }; const z = 1.96, p = k / n, den = 1 + (z * z) / n; const c = (p + (z * z) / (2 * n)) / den; const h = (z / den) * Math.sqrt((p * (1 - p)) / n); return { lower: Math.max(0, c - h), upper: Math.min(1, c + h) }; }, message: "wrong interval (not Wilson at z = 1.96)" },
  ],
};
