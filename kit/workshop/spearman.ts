/**
 * Exercise 6.2 — rank correlation between a predictor and measured leakage: Spearman's ρ, Pearson's r of the ranks,
 * tied values sharing their average rank.
 *
 *   function spearmanRho(xs: number[], ys: number[]): number { … }
 *   await checkSpearman(spearmanRho);
 *
 * Cases with exact answers (the kit's `spearman`): a monotone but non-linear relation (ρ = 1, Pearson's r < 1), a
 * decreasing one (ρ < 0), and one with ties. A wrong answer is matched against Pearson's r of the raw values, ordinal
 * ranks that break ties by position, the 1 − 6Σd²/(n(n² − 1)) shortcut (exact only without ties), and |ρ|.
 */
import { pearson, ranks as averageRanks, spearman } from "../leakage";
import { callLearner, fail, fmt, runCheck, typeName, type CheckOptions, type CheckResult } from "./check";

/** The learner's function for exercise 6.2. */
export type SpearmanFn = (xs: number[], ys: number[]) => unknown;

const CASES: [number[], number[]][] = [
  [
    [1, 2, 3, 4, 5, 6],
    [1, 4, 9, 16, 25, 1000],
  ],
  [
    [3, 1, 2, 5, 4, 6],
    [10, 30, 20, 0, 12, 1],
  ],
  [
    [1, 2, 2, 3, 5, 5, 5, 8],
    [2, 1, 4, 3, 6, 5, 8, 7],
  ],
];

/** Ranks 1..n in sorted order, ties broken by position (the usual slip). */
function ordinalRanks(xs: number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = new Array<number>(xs.length);
  order.forEach(([, i], r) => (out[i] = r + 1));
  return out;
}

function shortcut(rx: number[], ry: number[]): number {
  const n = rx.length;
  const d2 = rx.reduce((s, r, i) => s + (r - ry[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

/** Check exercise 6.2 (see the file comment). Never throws because of the learner's code. */
export function checkSpearman(fn: SpearmanFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "6.2",
    "spearmanRho",
    async () => {
      for (const [xs, ys] of CASES) {
        const what = `spearmanRho([${xs.join(", ")}], [${ys.join(", ")}])`;
        const value = await callLearner<unknown>("spearmanRho", fn, [[...xs], [...ys]], what);
        if (typeof value !== "number") fail(`return one number (ρ); ${what} returned ${typeName(value)}`);
        const g = value as number;
        const expected = spearman(xs, ys);
        const same = (x: number) => Math.abs(g - x) <= 1e-9;
        if (same(expected)) continue;
        const details = [`case: ${what}`, `expected ${fmt(expected)}`, `received ${fmt(g)}`];
        if (same(pearson(xs, ys))) fail(`that is Pearson's r of the raw values; Spearman's ρ is Pearson's r of the ranks (it only asks whether the relation is monotone)`, ...details);
        if (same(pearson(ordinalRanks(xs), ordinalRanks(ys)))) fail(`ties: tied values must share the average of their ranks (e.g. two values tied for ranks 2 and 3 both get 2.5), not ranks broken by position`, ...details);
        if (same(shortcut(averageRanks(xs), averageRanks(ys))) || same(shortcut(ordinalRanks(xs), ordinalRanks(ys)))) fail(`the 1 − 6Σd²/(n(n² − 1)) shortcut is exact only without ties; compute Pearson's r of the (average) ranks`, ...details);
        if (same(Math.abs(expected))) fail(`the sign is lost: ρ is negative when ys falls as xs rises`, ...details);
        if (g < -1 || g > 1) fail(`a correlation lies in [−1, 1]`, ...details);
        fail(`wrong value`, ...details);
      }
      return `${CASES.length} cases: non-linear monotone, decreasing, with ties`;
    },
    { display, hintId: "6.2" },
  );
}
