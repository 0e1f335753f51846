/**
 * Exercise 3.1 — a linear probe by layer: fit a difference-of-means probe on the training rows of each layer's
 * activations and report its accuracy on the test rows.
 *
 *   function probeAccuracyByLayer(acts: number[][][], labels: number[], train: number[], test: number[]): number[] { … }
 *   // acts[l] is [n, d], one point of the network per entry (in forward order) → one accuracy per entry
 *   await checkProbeByLayer(probeAccuracyByLayer);
 *
 * The probe is the kit's `diffOfMeans` (direction from the class-0 mean to the class-1 mean; predict class 1 when
 * the score exceeds the midpoint `threshold`), fitted on `train` rows only. The cases are seeded synthetic
 * activations whose signal grows with the layer, so that each usual mistake gives a different answer: one accuracy
 * missing (off by one), every value shifted by a layer, accuracy on the training rows or on every row, 1 − accuracy
 * (labels flipped), percentages, a threshold of 0; and, since some rows are in neither `train` nor `test` and neither is
 * a prefix, every row outside train scored, indices used as counts (slices by `train.length`), labels read by
 * position. Called twice per case on fresh copies; a changed input or a tensor/typed array return is named.
 */
import { mulberry32 } from "../util/rng";
import { diffOfMeans } from "../probes/diffmeans";
import { allClose, callTwice, expectedReceived, fail, preview, readNumbers, requirePlainArray, runCheck, shapeText, type CheckOptions, type CheckResult } from "./check";

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
  // Some rows are in neither list (test is not "every row outside train"), and neither list is a prefix of the rows.
  const test = idx.filter((i) => i % 3 === 1);
  const train = idx.filter((i) => i % 3 !== 1 && i % 7 !== 5);
  return { acts, labels, train, test };
}

// Case 1's answers are all distinct from each mistake's (test accuracies [0.5, 0.583, 0.833, 1]); case 2 has another shape.
const CASES: Case[] = [makeCase(5, 36, 3, [0, 0.4, 1, 2.5], 2), makeCase(13, 30, 4, [0.1, 2.5, 0.6], -1)];

/** Options of `referenceProbeAccuracy`: which rows (and labels) fit the probe and which are scored, as a mistake would. */
export interface ReferenceProbeOptions {
  fitRows?: number[];
  evalRows?: number[];
  /** Labels of the fitted rows, in order (default: labels[fitRows[k]]). */
  fitLabels?: number[];
  /** Labels the scored rows are compared with, in order (default: labels[evalRows[k]]). */
  evalLabels?: number[];
  zeroThreshold?: boolean;
}

/** Accuracy of a diff-of-means probe fitted on `fitRows`, evaluated on `evalRows`, per layer. */
export function referenceProbeAccuracy(c: Case, { fitRows = c.train, evalRows = c.test, fitLabels, evalLabels, zeroThreshold = false }: ReferenceProbeOptions = {}): number[] {
  const fitY = fitLabels ?? fitRows.map((i) => c.labels[i]);
  const evalY = evalLabels ?? evalRows.map((i) => c.labels[i]);
  return c.acts.map((X) => {
    const dm = diffOfMeans(fitRows.map((i) => X[i]), fitY);
    const scores = dm.score(evalRows.map((i) => X[i]));
    const t = zeroThreshold ? 0 : dm.threshold;
    return scores.filter((s, k) => (s > t ? 1 : 0) === evalY[k]).length / evalRows.length;
  });
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** The usual mistakes of exercise 3.1 as reference variants, each with its message. */
function mistakes(c: Case): { options: ReferenceProbeOptions; message: string }[] {
  const n = c.labels.length;
  const all = range(0, n);
  const outside = all.filter((i) => !c.train.includes(i));
  const [nTrain, nTest] = [c.train.length, c.test.length];
  const counts = `train and test are lists of row indices, not counts: select rows with train.map((i) => X[i]) and test.map((i) => X[i])`;
  const labelsBy = (rows: string) => `the label of ${rows} row k is labels[${rows}[k]], not labels[k]`;
  return [
    { options: { evalRows: c.train }, message: `you measured accuracy on the training rows; fit on train, then evaluate on the test rows (train accuracy overstates what the probe learned)` },
    { options: { evalRows: outside }, message: `you scored every row outside train; score exactly the rows listed in test (here ${outside.length - nTest} rows are in neither list, as when a dataset keeps a validation split)` },
    { options: { evalRows: all }, message: `you evaluated on every row (train and test); evaluate on the test rows only` },
    { options: { fitRows: all }, message: `you fitted the probe on every row, test rows included (leakage); fit on train rows only` },
    { options: { fitRows: range(0, nTrain), evalRows: range(nTrain, n) }, message: `you fitted on the first train.length rows and scored the rest; ${counts}` },
    { options: { fitRows: range(0, nTrain), evalRows: range(nTrain, nTrain + nTest) }, message: `you fitted on the first train.length rows and scored the next test.length; ${counts}` },
    { options: { evalRows: range(nTrain, n) }, message: `you scored the rows after the first train.length; ${counts}` },
    { options: { evalRows: range(n - nTest, n) }, message: `you scored the last test.length rows; ${counts}` },
    { options: { evalLabels: c.labels.slice(0, nTest) }, message: `you compared the prediction for test row k with labels[k]; ${labelsBy("test")}` },
    { options: { fitLabels: c.labels.slice(0, nTrain) }, message: `you fitted with labels[k] for training row k; ${labelsBy("train")}` },
    { options: { zeroThreshold: true }, message: `threshold: you classified by score > 0; use the probe's threshold (the projection of the midpoint between the class means)` },
  ];
}

/** Accuracies are counts over test.length: float32 arithmetic is far inside this, one row is 1/12 or more away. */
const TOL = 1e-6;

/** Check exercise 3.1 (see the file comment). Never throws because of the learner's code. */
export function checkProbeByLayer(fn: ProbeByLayerFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "3.1",
    "probeAccuracyByLayer",
    async () => {
      for (const [ci, c] of CASES.entries()) {
        const nl = c.acts.length;
        const what = `case ${ci + 1} (${nl} layers of [${c.labels.length}, ${c.acts[0][0].length}] activations, ${c.train.length} train rows, ${c.test.length} test rows)`;
        const args = [{ name: "acts", value: c.acts }, { name: "labels", value: c.labels }, { name: "train", value: c.train }, { name: "test", value: c.test }];
        const got = await callTwice("probeAccuracyByLayer", fn, args, what, (value) => ({ ...readNumbers(value, "your return value"), value }), (r) => r.values);
        const expected = referenceProbeAccuracy(c);
        if (got.shape.length !== 1 || got.shape[0] !== nl) {
          if (got.shape.length === 1 && Math.abs(got.shape[0] - nl) === 1) {
            fail(`off by one: you returned ${got.shape[0]} accuracies for ${nl} entries of acts; return one per entry of acts, index 0 included`, `case: ${what}`, `expected ${preview(expected)}`);
          }
          fail(`shape mismatch: expected ${shapeText([nl])} (one accuracy per layer), received ${shapeText(got.shape)}`, `case: ${what}`);
        }
        requirePlainArray(got.value, "your return value", `number[] (one accuracy per entry of acts)`);
        const g = got.values;
        if (allClose(g, expected, TOL)) continue;
        const details = [`case: ${what}`, ...expectedReceived(expected, g)];
        const shiftedUp = g.slice(0, -1).every((v, i) => Math.abs(v - expected[i + 1]) < TOL);
        const shiftedDown = g.slice(1).every((v, i) => Math.abs(v - expected[i]) < TOL);
        if (shiftedUp) fail(`off by one layer: your accuracy at index l is the one of layer l + 1`, ...details);
        if (shiftedDown) fail(`off by one layer: your accuracy at index l is the one of layer l − 1`, ...details);
        if (g.some((v) => v > 1.0000001)) {
          if (allClose(g, expected.map((v) => v * 100), TOL)) fail(`percentages: return accuracies as fractions in [0, 1], not percent`, ...details);
          fail(`accuracies must be fractions in [0, 1]; received a value above 1`, ...details);
        }
        if (allClose(g, expected.map((v) => 1 - v), TOL)) fail(`labels or sign flipped: your accuracies are 1 − the right ones; predict class 1 when score > threshold`, ...details);
        for (const m of mistakes(c)) if (allClose(g, referenceProbeAccuracy(c, m.options), TOL)) fail(m.message, ...details);
        const bad = g.findIndex((v, i) => Math.abs(v - expected[i]) > TOL);
        fail(`wrong accuracy at layer index ${bad}: expected ${expected[bad]}, received ${g[bad]}`, ...details, "the exercise's probe is diffOfMeans fitted on the rows listed in train (labels[train[k]]), scored on the rows listed in test, predicting 1 when score > threshold");
      }
      return `${CASES.length} seeded synthetic cases, ${CASES.map((c) => c.acts.length).join(" and ")} layers`;
    },
    { display, hintId: "3.1" },
  );
}
