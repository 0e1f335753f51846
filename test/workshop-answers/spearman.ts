/** Exercise 6.2 spearmanRho: right and wrong answers (see types.ts). */
import { tf, type SpearmanFn } from "persona-kit";
import type { AnswerList } from "./types";

type Ties = "average" | "position" | "lowest";

/** Ranks 1..n; `sort` numeric or JavaScript's default (text) sort; ties by `ties`. */
function ranks(v: number[], ties: Ties = "average", sort: "numeric" | "default" = "numeric"): number[] {
  const sorted = sort === "numeric" ? [...v].sort((a, b) => a - b) : [...v].sort();
  if (ties === "lowest") return v.map((x) => sorted.indexOf(x) + 1);
  if (ties === "average") return v.map((x) => (sorted.indexOf(x) + sorted.lastIndexOf(x)) / 2 + 1);
  const used = new Set<number>();
  return v.map((x) => {
    let k = sorted.indexOf(x);
    while (used.has(k)) k++;
    used.add(k);
    return k + 1;
  });
}
function pearson(a: number[], b: number[]): number {
  const ma = a.reduce((s, x) => s + x, 0) / a.length;
  const mb = b.reduce((s, x) => s + x, 0) / b.length;
  let [sab, saa, sbb] = [0, 0, 0];
  a.forEach((x, i) => {
    sab += (x - ma) * (b[i] - mb);
    saa += (x - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  });
  return sab / Math.sqrt(saa * sbb);
}
function pearson32(a: number[], b: number[]): number {
  return tf.tidy(() => {
    const [x, y] = [tf.tensor1d(a), tf.tensor1d(b)];
    const [dx, dy] = [x.sub(x.mean()), y.sub(y.mean())];
    return dx.mul(dy).sum().div(dx.square().sum().mul(dy.square().sum()).sqrt()).dataSync()[0];
  });
}

export const spearman: AnswerList<SpearmanFn> = {
  exercise: "6.2",
  right: [
    { name: "the solution: Pearson's r of average ranks", fn: (x, y) => pearson(ranks(x), ranks(y)) },
    { name: "average ranks, Pearson's r in float32", fn: (x, y) => pearson32(ranks(x), ranks(y)) },
    { name: "ranks by counting smaller and equal values", fn: (x, y) => { const r = (v: number[]) => v.map((a) => v.filter((b) => b < a).length + (v.filter((b) => b === a).length + 1) / 2); return pearson(r(x), r(y)); } },
  ],
  wrong: [
    { name: "Pearson's r of the raw values", fn: (x, y) => pearson(x, y), message: "that is Pearson's r of the raw values" },
    { name: "ties broken by position", fn: (x, y) => pearson(ranks(x, "position"), ranks(y, "position")), message: "ties: tied values must share the average of their ranks" },
    { name: "ties given the lowest rank (indexOf in the sorted list)", fn: (x, y) => pearson(ranks(x, "lowest"), ranks(y, "lowest")), message: "ties: you gave tied values the lowest of their ranks" },
    { name: "JavaScript's default sort", fn: (x, y) => pearson(ranks(x, "average", "default"), ranks(y, "average", "default")), message: "your ranks follow JavaScript's default sort" },
    { name: "default sort and lowest ranks", fn: (x, y) => pearson(ranks(x, "lowest", "default"), ranks(y, "lowest", "default")), message: "your ranks follow JavaScript's default sort" },
    { name: "the 1 − 6Σd²/(n(n² − 1)) shortcut", fn: (x, y) => { const [a, b] = [ranks(x), ranks(y)]; const n = a.length; return 1 - (6 * a.reduce((s, r, i) => s + (r - b[i]) ** 2, 0)) / (n * (n * n - 1)); }, message: "the 1 − 6Σd²/(n(n² − 1)) shortcut" },
    { name: "|ρ|", fn: (x, y) => Math.abs(pearson(ranks(x), ranks(y))), message: "the sign is lost" },
    { name: "sorts xs in place", fn: (x, y) => { const r = pearson(ranks(x), ranks(y)); x.sort((a, b) => a - b); return r; }, message: "your function changed its input xs (xs[0]" },
    { name: "a tensor", fn: (x, y) => tf.scalar(pearson(ranks(x), ranks(y))), message: "return one number" },
  ],
};
