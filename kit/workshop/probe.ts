/**
 * Exercise 3.1 — a linear probe by layer: fit a difference-of-means probe on the training rows of each layer's
 * activations and report its accuracy on the test rows.
 *
 *   function probeAccuracyByLayer(acts: number[][][], labels: number[], train: number[], test: number[]): number[] { … }
 *   // acts[l] is [n, d]: index 0 the embedding, index l + 1 the residual stream after block l → one accuracy per entry
 *   await checkProbeByLayer(probeAccuracyByLayer);
 *
 * The probe is the kit's `diffOfMeans` (direction from the class-0 mean to the class-1 mean; predict class 1 when
 * the score exceeds the midpoint `threshold`), fitted on `train` rows only. The cases are seeded synthetic
 * activations whose signal grows with the layer, so that each usual mistake gives a different answer: one accuracy
 * missing (off by one), every value shifted by a layer, accuracy on the training rows or on every row, 1 − accuracy
 * (labels flipped), percentages, a threshold of 0.
 */
import { mulberry32 } from "../util/rng";
import { diffOfMeans } from "../probes/diffmeans";
import { allClose, callLearner, fail, preview, readNumbers, runCheck, shapeText, type CheckOptions, type CheckResult } from "./check";

/** The learner's function for exercise 3.1. */
export type ProbeByLayerFn = (acts: number[][][], labels: number[], train: number[], test: number[]) => unknown;

interface Case {
  acts: number[][][];
  labels: number[];
  train: number[];
  test: number[];
}

/** Seeded activations: per layer, class signal of strength `signal[l]` along a fixed direction plus Gaussian noise. */
function makeCase(seed: number, n: number, d: number, signal: number[], offset: number): Case {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const labels = Array.from({ length: n }, (_, i) => (i % 5 < 2 ? 1 : 0));
  const acts = signal.map((s) => labels.map((y) => Array.from({ length: d }, (_, j) => (j === 0 ? s * (2 * y - 1) : 0) + offset + gauss())));
  const idx = Array.from({ length: n }, (_, i) => i);
  const test = idx.filter((i) => i % 3 === 1);
  const train = idx.filter((i) => i % 3 !== 1);
  return { acts, labels, train, test };
}

// Case 1's answers are all distinct from each mistake's (test accuracies [0.5, 0.583, 0.833, 1]); case 2 has another shape.
const CASES: Case[] = [makeCase(5, 36, 3, [0, 0.4, 1, 2.5], 2), makeCase(13, 30, 4, [0.1, 2.5, 0.6], -1)];

/** Accuracy of a diff-of-means probe fitted on `fitRows`, evaluated on `evalRows`, per layer. */
export function referenceProbeAccuracy(c: Case, { fitRows = c.train, evalRows = c.test, zeroThreshold = false }: { fitRows?: number[]; evalRows?: number[]; zeroThreshold?: boolean } = {}): number[] {
  return c.acts.map((X) => {
    const dm = diffOfMeans(fitRows.map((i) => X[i]), fitRows.map((i) => c.labels[i]));
    const scores = dm.score(evalRows.map((i) => X[i]));
    const t = zeroThreshold ? 0 : dm.threshold;
    return scores.filter((s, k) => (s > t ? 1 : 0) === c.labels[evalRows[k]]).length / evalRows.length;
  });
}

/** Check exercise 3.1 (see the file comment). Never throws because of the learner's code. */
export function checkProbeByLayer(fn: ProbeByLayerFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "3.1",
    "probeAccuracyByLayer",
    async () => {
      for (const [ci, c] of CASES.entries()) {
        const nl = c.acts.length;
        const what = `case ${ci + 1} (${nl} layers of [${c.labels.length}, ${c.acts[0][0].length}] activations, ${c.train.length} train rows, ${c.test.length} test rows)`;
        const copy = structuredClone(c);
        const value = await callLearner<unknown>("probeAccuracyByLayer", fn, [copy.acts, copy.labels, copy.train, copy.test], what);
        const got = readNumbers(value, "your return value");
        const expected = referenceProbeAccuracy(c);
        if (got.shape.length !== 1 || got.shape[0] !== nl) {
          if (got.shape.length === 1 && Math.abs(got.shape[0] - nl) === 1) {
            fail(`off by one: you returned ${got.shape[0]} accuracies for ${nl} entries of acts; return one per entry of acts, index 0 included`, `case: ${what}`, `expected ${preview(expected)}`);
          }
          fail(`shape mismatch: expected ${shapeText([nl])} (one accuracy per layer), received ${shapeText(got.shape)}`, `case: ${what}`);
        }
        const g = got.values;
        if (allClose(g, expected, 1e-6)) continue;
        const details = [`case: ${what}`, `expected ${preview(expected)}`, `received ${preview(g)}`];
        const shiftedUp = g.slice(0, -1).every((v, i) => Math.abs(v - expected[i + 1]) < 1e-6);
        const shiftedDown = g.slice(1).every((v, i) => Math.abs(v - expected[i]) < 1e-6);
        if (shiftedUp) fail(`off by one layer: your accuracy at index l is the one of layer l + 1`, ...details);
        if (shiftedDown) fail(`off by one layer: your accuracy at index l is the one of layer l − 1`, ...details);
        if (g.some((v) => v > 1.0000001)) {
          if (allClose(g, expected.map((v) => v * 100), 1e-6)) fail(`percentages: return accuracies as fractions in [0, 1], not percent`, ...details);
          fail(`accuracies must be fractions in [0, 1]; received a value above 1`, ...details);
        }
        if (allClose(g, referenceProbeAccuracy(c, { evalRows: c.train }), 1e-6)) fail(`you measured accuracy on the training rows; fit on train, then evaluate on the test rows (train accuracy overstates what the probe learned)`, ...details);
        const all = c.labels.map((_, i) => i);
        if (allClose(g, referenceProbeAccuracy(c, { evalRows: all }), 1e-6)) fail(`you evaluated on every row (train and test); evaluate on the test rows only`, ...details);
        if (allClose(g, referenceProbeAccuracy(c, { fitRows: all }), 1e-6)) fail(`you fitted the probe on every row, test rows included (leakage); fit on train rows only`, ...details);
        if (allClose(g, expected.map((v) => 1 - v), 1e-6)) fail(`labels or sign flipped: your accuracies are 1 − the right ones; predict class 1 when score > threshold`, ...details);
        if (allClose(g, referenceProbeAccuracy(c, { zeroThreshold: true }), 1e-6)) fail(`threshold: you classified by score > 0; use the probe's threshold (the projection of the midpoint between the class means)`, ...details);
        const bad = g.findIndex((v, i) => Math.abs(v - expected[i]) > 1e-6);
        fail(`wrong accuracy at layer index ${bad}: expected ${expected[bad]}, received ${g[bad]}`, ...details, "the exercise's probe is diffOfMeans fitted on the train rows, predicting 1 when score > threshold; another probe (e.g. logistic) gives other accuracies");
      }
      return `${CASES.length} seeded synthetic cases, ${CASES.map((c) => c.acts.length).join(" and ")} layers`;
    },
    { display, hintId: "3.1" },
  );
}
