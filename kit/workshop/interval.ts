/**
 * Exercise 5.1 — measuring a leakage rate with a confidence interval: the Wilson score interval (95%).
 *
 *   function wilsonInterval(k: number, n: number): { lower: number; upper: number } { … }
 *   await checkLeakageCI(wilsonInterval);
 *
 * Cases: counts whose exact intervals are the kit's `wilson` (0 of 20, 3 of 48, 24 of 48, 48 of 48, 1 of 1000, and
 * n = 0 → the whole range [0, 1]). A wrong answer is matched against the usual mistakes: the normal approximation
 * (Wald; it collapses to [0, 0] at k = 0), another confidence level (z = 1.645, 2.576, 1 or 2), lower and upper
 * swapped, percentages, NaN for n = 0. z = 1.96 and the exact quantile 1.959963984540054 are both right. When expected
 * and received print the same, the details show more digits and the gap.
 */
import { wilson } from "../util/stats";
import { callTwice, expectedReceived, fail, fmt, runCheck, typeName, type CheckOptions, type CheckResult } from "./check";

/** The learner's function for exercise 5.1. */
export type WilsonFn = (k: number, n: number) => unknown;

const CASES: [number, number][] = [
  [3, 48],
  [24, 48],
  [0, 20],
  [48, 48],
  [1, 1000],
  [0, 0],
];

const Z_NAMES: [number, string][] = [
  [1.645, "a 90% interval (z = 1.645)"],
  [2.576, "a 99% interval (z = 2.576)"],
  [1, "a 68% interval (z = 1)"],
  [2, "z = 2 instead of 1.96"],
];

function wald(k: number, n: number, z = 1.96, clip = false) {
  const p = k / n;
  const h = z * Math.sqrt((p * (1 - p)) / n);
  return clip ? { lower: Math.max(0, p - h), upper: Math.min(1, p + h) } : { lower: p - h, upper: p + h };
}

/** The 97.5% quantile of the standard normal distribution, which 1.96 rounds. */
const Z_EXACT = 1.959963984540054;

/** Same interval within `tol` (absolute): 1e-6 is float32 level for values in [0, 1]; the mistakes are 1e-4 or more away. */
const near = (a: { lower: number; upper: number }, b: { lower: number; upper: number }, tol = 1e-6) => Math.abs(a.lower - b.lower) <= tol && Math.abs(a.upper - b.upper) <= tol;

/** Check exercise 5.1 (see the file comment). Never throws because of the learner's code. */
export function checkLeakageCI(fn: WilsonFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "5.1",
    "wilsonInterval",
    async () => {
      for (const [k, n] of CASES) {
        const what = `wilsonInterval(${k}, ${n})`;
        const read = (value: unknown) => {
          if (value === null || typeof value !== "object" || typeof (value as { lower?: unknown }).lower !== "number" || typeof (value as { upper?: unknown }).upper !== "number") {
            fail(`return an object { lower, upper } of numbers; ${what} returned ${typeName(value)}`);
          }
          return { lower: (value as { lower: number }).lower, upper: (value as { upper: number }).upper };
        };
        const args = [{ name: "k", value: k }, { name: "n", value: n }];
        const got = await callTwice("wilsonInterval", fn, args, what, read, (r) => [r.lower, r.upper]);
        const w = wilson(k, n);
        const expected = { lower: w.lower, upper: w.upper };
        // z = 1.96 as the exercise says, or the exact 97.5% normal quantile it rounds.
        if (near(got, expected) || near(got, wilson(k, n, Z_EXACT))) continue;
        const details = [`case: ${what} (k = ${k} of n = ${n})`, ...expectedReceived([expected.lower, expected.upper], [got.lower, got.upper])];
        if (n === 0) fail(`n = 0 (no observations): the rate is unknown, so return the whole range { lower: 0, upper: 1 }, not NaN or an error`, ...details);
        if (near(got, { lower: expected.upper, upper: expected.lower })) fail(`lower and upper are swapped`, ...details);
        if (near(got, { lower: 100 * expected.lower, upper: 100 * expected.upper }, 1e-4)) fail(`percentages: return fractions in [0, 1]`, ...details);
        if (near(got, wald(k, n)) || near(got, wald(k, n, 1.96, true))) {
          fail(`wrong interval: that is the normal approximation (Wald, p ± 1.96·√(p(1 − p)/n)), not Wilson; it collapses to [0, 0] at k = 0 and spills outside [0, 1] near the ends, exactly where leakage rates live`, ...details);
        }
        for (const [z, label] of Z_NAMES) {
          const wz = wilson(k, n, z);
          if (near(got, { lower: wz.lower, upper: wz.upper })) fail(`wrong confidence level: that is the Wilson interval for ${label}; a 95% interval uses z = 1.96`, ...details);
          if (near(got, wald(k, n, z)) || near(got, wald(k, n, z, true))) fail(`wrong interval: a normal approximation (Wald) with ${label}; use the Wilson score interval with z = 1.96`, ...details);
        }
        if (got.lower > got.upper) fail(`lower > upper`, ...details);
        if (got.lower < 0 || got.upper > 1) fail(`the interval leaves [0, 1]; a rate's Wilson interval never does`, ...details);
        if (!(got.lower <= k / n + 1e-12 && k / n <= got.upper + 1e-12)) fail(`the interval does not contain the observed rate k/n = ${fmt(k / n)}`, ...details);
        fail(`wrong interval (not Wilson at z = 1.96)`, ...details);
      }
      return `${CASES.length} counts, k = 0, k = n and n = 0 included`;
    },
    { display, hintId: "5.1" },
  );
}
