/**
 * Exercise 6.2 — rank correlation between a predictor and measured leakage: Spearman's ρ, Pearson's r of the ranks,
 * tied values sharing their average rank.
 *
 *   function spearmanRho(xs: number[], ys: number[]): number { … }
 *   await checkSpearman(spearmanRho);
 *
 * Cases with exact answers (the kit's `spearman`): a monotone but non-linear relation (ρ = 1, Pearson's r < 1), a
 * decreasing one (ρ < 0), one with ties, and one whose numbers sort differently as text. A wrong answer is matched
 * against Pearson's r of the raw values, ranks from JavaScript's default (text) sort, ties broken by position or given
 * the lowest or highest rank, the 1 − 6Σd²/(n(n² − 1)) shortcut (exact only without ties), and |ρ|. Accepted within
 * float32 precision.
 */
import { pearson, spearman } from "../leakage";
import { callTwice, expectedReceived, fail, requireNumber, runCheck, type CheckOptions, type CheckResult } from "./check";

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
  // Numbers whose text order differs from their numeric order (10 < 9 < 100 as strings, negatives), with ties.
  [
    [9, 10, 100, -2, 10, 0.5, 25, -11],
    [3, 12, 40, 1, 7, 2, 5, 0],
  ],
];

type TieRule = "average" | "position" | "lowest" | "highest";

/** Ranks 1..n in `order` (numeric, or JavaScript's default text sort), tied values ranked by `ties`. */
function ranksBy(xs: number[], ties: TieRule, order: "numeric" | "text" = "numeric"): number[] {
  const cmp = order === "numeric" ? (a: number, b: number) => a - b : (a: number, b: number) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);
  const sorted = xs.map((x, i) => [x, i] as const).sort((a, b) => cmp(a[0], b[0]) || a[1] - b[1]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1][0] === sorted[i][0]) j++;
    for (let k = i; k <= j; k++) out[sorted[k][1]] = ties === "average" ? (i + j) / 2 + 1 : ties === "lowest" ? i + 1 : ties === "highest" ? j + 1 : k + 1;
    i = j + 1;
  }
  return out;
}

function shortcut(rx: number[], ry: number[]): number {
  const n = rx.length;
  const d2 = rx.reduce((s, r, i) => s + (r - ry[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

const TIES: Record<Exclude<TieRule, "average">, string> = {
  position: "ties: tied values must share the average of their ranks (e.g. two values tied for ranks 2 and 3 both get 2.5), not ranks broken by position",
  lowest: "ties: you gave tied values the lowest of their ranks (tied for ranks 2 and 3 → both 2); they share the average (both 2.5)",
  highest: "ties: you gave tied values the highest of their ranks (tied for ranks 2 and 3 → both 3); they share the average (both 2.5)",
};

/** Same value within `tol`: float32 level (Pearson's r computed with tf tensors is right too); mistakes are 1e-3 or more away. */
const TOL = 1e-5;

/** Check exercise 6.2 (see the file comment). Never throws because of the learner's code. */
export function checkSpearman(fn: SpearmanFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "6.2",
    "spearmanRho",
    async () => {
      for (const [xs, ys] of CASES) {
        const what = `spearmanRho([${xs.join(", ")}], [${ys.join(", ")}])`;
        const args = [{ name: "xs", value: xs }, { name: "ys", value: ys }];
        const g = await callTwice("spearmanRho", fn, args, what, (value) => requireNumber(value, what), (r) => [r]);
        const expected = spearman(xs, ys);
        const same = (x: number) => Math.abs(g - x) <= TOL;
        if (same(expected)) continue;
        const details = [`case: ${what}`, ...expectedReceived(expected, g)];
        if (same(pearson(xs, ys))) fail(`that is Pearson's r of the raw values; Spearman's ρ is Pearson's r of the ranks (it only asks whether the relation is monotone)`, ...details);
        const rules: TieRule[] = ["average", "position", "lowest", "highest"];
        for (const ties of rules.slice(1) as Exclude<TieRule, "average">[]) if (same(pearson(ranksBy(xs, ties), ranksBy(ys, ties)))) fail(TIES[ties], ...details);
        for (const ties of rules) {
          if (same(pearson(ranksBy(xs, ties, "text"), ranksBy(ys, ties, "text")))) {
            fail(`your ranks follow JavaScript's default sort, which compares numbers as text ("10" < "9", "-11" < "-2"); sort with a comparator, (a, b) => a - b${ties === "average" ? "" : `; and ${TIES[ties].replace(/^ties: /, "for ties, ")}`}`, ...details);
          }
        }
        if (rules.some((t) => same(shortcut(ranksBy(xs, t), ranksBy(ys, t))))) fail(`the 1 − 6Σd²/(n(n² − 1)) shortcut is exact only without ties; compute Pearson's r of the (average) ranks`, ...details);
        if (same(Math.abs(expected))) fail(`the sign is lost: ρ is negative when ys falls as xs rises`, ...details);
        if (g < -1 || g > 1) fail(`a correlation lies in [−1, 1]`, ...details);
        fail(`wrong value`, ...details);
      }
      return `${CASES.length} cases: non-linear monotone, decreasing, with ties, numbers that sort differently as text`;
    },
    { display, hintId: "6.2" },
  );
}
