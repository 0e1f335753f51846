import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { makeConfig } from "../kit/model/config";
import { mulberry32, normalSampler } from "../kit/util/rng";
import { HookedTransformer } from "../kit/model/transformer";
import { wilson } from "../kit/organisms/metrics";
import {
  accuracy,
  accuracyCI,
  auroc,
  aurocCI,
  balancedAccuracy,
  crossValidate,
  diffOfMeans,
  extractFeatures,
  fitLogisticProbe,
  generalisationMatrix,
  layerSweep,
  pca,
  stratifiedFolds,
  tokenScores,
} from "../kit/probes";

beforeAll(async () => {
  await initBackend();
});

type Label = 0 | 1;

/** n rows of d standard-normal features, labelled by the sign of w·x (rows within `margin` of the plane dropped). */
function separable(n: number, d: number, seed: number, margin = 0.5) {
  const normal = normalSampler(mulberry32(seed));
  const w = Array.from({ length: d }, () => normal());
  const norm = Math.hypot(...w);
  const wUnit = w.map((v) => v / norm);
  const X: number[][] = [];
  const y: Label[] = [];
  while (X.length < n) {
    const x = Array.from({ length: d }, () => normal());
    const s = x.reduce((a, v, j) => a + v * wUnit[j], 0);
    if (Math.abs(s) < margin) continue;
    X.push(x);
    y.push(s > 0 ? 1 : 0);
  }
  return { X, y, w: wUnit };
}

/** Features independent of the labels; labels with P(1) = p1. */
function noise(n: number, d: number, seed: number, p1 = 0.5) {
  const rand = mulberry32(seed);
  const normal = normalSampler(rand);
  const X = Array.from({ length: n }, () => Array.from({ length: d }, () => normal()));
  const y = Array.from({ length: n }, (): Label => (rand() < p1 ? 1 : 0));
  return { X, y };
}

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
};

/** Reference: 1-D logistic regression (w, b), objective (1/n)Σ logloss + (l2/2)w², by Newton in float64. */
function newton1d(x: number[], y: Label[], l2: number): [number, number] {
  let w = 0;
  let b = 0;
  const n = x.length;
  for (let it = 0; it < 100; it++) {
    let gw = l2 * w;
    let gb = 0;
    let hww = l2;
    let hwb = 0;
    let hbb = 0;
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-(w * x[i] + b)));
      const r = (p - y[i]) / n;
      const s = (p * (1 - p)) / n;
      gw += r * x[i];
      gb += r;
      hww += s * x[i] * x[i];
      hwb += s * x[i];
      hbb += s;
    }
    const det = hww * hbb - hwb * hwb;
    const dw = (hbb * gw - hwb * gb) / det;
    const db = (hww * gb - hwb * gw) / det;
    w -= dw;
    b -= db;
    if (Math.abs(dw) + Math.abs(db) < 1e-14) break;
  }
  return [w, b];
}

describe("fitLogisticProbe", () => {
  it("fitLogisticProbe(X, y) on separable data: accuracy 1, AUROC 1, direction close to the true one", () => {
    const { X, y, w } = separable(400, 6, 1);
    const probe = fitLogisticProbe(X, y);
    expect(probe.info.converged).toBe(true);
    const s = probe.decisionFunction(X);
    expect(accuracy(s, y)).toBe(1);
    expect(auroc(s, y)).toBe(1);
    const dir = probe.direction();
    expect(Math.hypot(...dir)).toBeCloseTo(1, 6);
    expect(cosine(dir, w)).toBeGreaterThan(0.97);
    const p = probe.predictProba(X);
    expect(p.every((v, i) => (v > 0.5) === (y[i] === 1))).toBe(true);
  });

  it("fitLogisticProbe(X, y, { standardize: false, classWeight: null, l2 }) matches a float64 Newton reference to 1e-5 (1-D)", () => {
    const rand = mulberry32(3);
    const x = Array.from({ length: 200 }, () => Math.round((rand() * 4 - 2) * 64) / 64);
    const y = x.map((v): Label => (rand() < 1 / (1 + Math.exp(-(1.5 * v - 0.3))) ? 1 : 0));
    for (const l2 of [0.1, 1e-3]) {
      const [wRef, bRef] = newton1d(x, y, l2);
      const probe = fitLogisticProbe(
        x.map((v) => [v]),
        y,
        { standardize: false, classWeight: null, l2 },
      );
      expect(Math.abs(probe.weights[0] - wRef)).toBeLessThan(1e-5);
      expect(Math.abs(probe.bias - bRef)).toBeLessThan(1e-5);
    }
  });

  it("fitLogisticProbe(X, y, { standardize: true, l2: 0 }) folds standardisation into weights: same optimum as unstandardised", () => {
    const { X, y } = noise(300, 3, 5);
    const Xs = X.map((r, i) => [r[0] * 10 + 3 + (y[i] ? 1 : 0) * 5, r[1] * 0.1 - 7, r[2] + (y[i] ? 0.5 : 0)]);
    const a = fitLogisticProbe(Xs, y, { l2: 0, classWeight: null, standardize: true });
    const b = fitLogisticProbe(Xs, y, { l2: 0, classWeight: null, standardize: false });
    for (let j = 0; j < 3; j++) expect(a.weights[j]).toBeCloseTo(b.weights[j], 4);
    expect(a.bias).toBeCloseTo(b.bias, 3);
    expect(a.mean[1]).toBeCloseTo(-7, 1);
    expect(a.std[0]).toBeGreaterThan(5);
  });

  it("fitLogisticProbe(X, y, { classWeight }) on imbalanced uninformative data: bias ≈ log-odds (null) vs ≈ 0 (balanced)", () => {
    const { X, y } = noise(2000, 3, 7, 0.1);
    const frac = y.reduce<number>((a, v) => a + v, 0) / y.length;
    const plain = fitLogisticProbe(X, y, { classWeight: null });
    const balanced = fitLogisticProbe(X, y, { classWeight: "balanced" });
    expect(plain.bias).toBeCloseTo(Math.log(frac / (1 - frac)), 1);
    expect(Math.abs(balanced.bias)).toBeLessThan(0.1);
    // Unweighted: everything predicted 0, balanced accuracy 0.5.
    expect(balancedAccuracy(plain.decisionFunction(X), y)).toBe(0.5);
  });

  it("fitLogisticProbe(X, y, { classWeight: 'balanced' }) raises balanced accuracy on imbalanced informative data", () => {
    const rand = mulberry32(11);
    const normal = normalSampler(rand);
    const y = Array.from({ length: 1000 }, (): Label => (rand() < 0.08 ? 1 : 0));
    const X = y.map((v) => [normal() + 1.2 * v, normal()]);
    const plain = fitLogisticProbe(X, y, { classWeight: null });
    const balanced = fitLogisticProbe(X, y);
    expect(balanced.bias).toBeGreaterThan(plain.bias);
    expect(balancedAccuracy(balanced.decisionFunction(X), y)).toBeGreaterThan(balancedAccuracy(plain.decisionFunction(X), y) + 0.1);
  });

  it("fitLogisticProbe(X with constant columns, y) gives finite weights and ignores the constant column", () => {
    const { X, y } = separable(200, 3, 2);
    const Xc = X.map((r) => [...r, 4.25, 0]);
    for (const standardize of [true, false]) {
      const p = fitLogisticProbe(Xc, y, { standardize });
      expect([...p.weights, p.bias].every(Number.isFinite)).toBe(true);
      expect(p.predictProba(Xc).every(Number.isFinite)).toBe(true);
      if (standardize) {
        expect(p.weights[3]).toBe(0);
        expect(p.std[3]).toBe(1);
      }
    }
  });

  it("fitLogisticProbe(tf.Tensor2D, y) equals the fit on number[][] and leaks no tensors", () => {
    const { X, y } = separable(100, 4, 9);
    const before = tf.memory().numTensors;
    const t = tf.tensor2d(X);
    const a = fitLogisticProbe(t, y);
    t.dispose();
    const b = fitLogisticProbe(X.map((r) => Float32Array.from(r)), y);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
  });

  it("fitLogisticProbe(bad X or y) throws errors naming the function, argument, row and column", () => {
    const X = [
      [1, 2],
      [3, 4],
      [5, NaN],
    ];
    expect(() => fitLogisticProbe(X, [0, 1, 0])).toThrow(/fitLogisticProbe: X\[2\]\[1\] \(row 2, column 1\) must be a finite number, received number NaN/);
    expect(() => fitLogisticProbe([[1], [Infinity]], [0, 1])).toThrow(/fitLogisticProbe: X\[1\]\[0\].*Infinity/);
    expect(() => fitLogisticProbe([[1], [2]], [0, 2 as Label])).toThrow(/fitLogisticProbe: y\[1\] must be 0 or 1, received number 2/);
    expect(() => fitLogisticProbe([[1], [2]], [1, 1])).toThrow(/fitLogisticProbe: y must contain both classes/);
    expect(() => fitLogisticProbe([[1], [2]], [1])).toThrow(/fitLogisticProbe: y must have one label per row \(2\), received 1/);
    expect(() => fitLogisticProbe([[1, 2], [2]], [0, 1])).toThrow(/fitLogisticProbe: X must be rectangular: row 0 has 2 features, row 1 has 1/);
    expect(() => fitLogisticProbe([[1], [2]], [0, 1], { l2: -1 })).toThrow(/fitLogisticProbe: options.l2 must be a finite number ≥ 0, received number -1/);
    const p = fitLogisticProbe([[1], [2]], [0, 1]);
    expect(() => p.decisionFunction([[1, 2]])).toThrow(/LogisticProbe.decisionFunction: X must have 1 features \(as fitted\), received 2/);
  });
});

describe("diffOfMeans", () => {
  it("diffOfMeans(X, y) returns the unit mean difference, the raw difference and the midpoint threshold", () => {
    const X = [
      [0, 0],
      [2, 0],
      [4, 4],
      [6, 4],
    ];
    const dm = diffOfMeans(X, [0, 0, 1, 1]);
    expect(Array.from(dm.raw)).toEqual([4, 4]);
    expect(dm.direction[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(dm.threshold).toBeCloseTo((3 + 2) * Math.SQRT1_2, 5); // midpoint (3, 2)
    const s = dm.score(X).map((v) => v - dm.threshold);
    expect(accuracy(s, [0, 0, 1, 1])).toBe(1);
    expect(() => diffOfMeans([[1], [1]], [0, 1])).toThrow(/diffOfMeans: the class means are identical/);
  });
});

describe("evaluation", () => {
  it("auroc(scores, y) is exact on a hand case with ties (a tie counts ½)", () => {
    // positives 0.35, 0.8, 0.4; negatives 0.1, 0.4 → (1 + 2 + 1.5) / 6
    expect(auroc([0.1, 0.4, 0.35, 0.8, 0.4], [0, 0, 1, 1, 1])).toBeCloseTo(0.75, 12);
    expect(auroc([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0.5);
    expect(auroc([3, 2, 1], [1, 0, 0])).toBe(1);
    expect(auroc([3, 2, 1], [0, 1, 1])).toBe(0);
    expect(() => auroc([1, NaN], [0, 1])).toThrow(/auroc: scores\[1\] must be a finite number/);
    expect(() => auroc([1, 2], [1, 1])).toThrow(/auroc: y must contain both classes/);
  });

  it("accuracy(scores, y, threshold) and accuracyCI(...) reuse wilson", () => {
    const scores = [-1, 2, 0.5, -0.2, 3];
    const y: Label[] = [0, 1, 0, 0, 1];
    expect(accuracy(scores, y)).toBe(0.8);
    expect(accuracy(scores, y, 1)).toBe(1);
    const ci = accuracyCI(scores, y);
    expect(ci).toEqual({ k: 4, n: 5, ...wilson(4, 5) });
    expect(balancedAccuracy(scores, y)).toBeCloseTo((1 + 2 / 3) / 2, 12);
  });

  it("aurocCI(scores, y, { iterations, seed }) on identical distributions covers 0.5 and is deterministic", () => {
    const rand = mulberry32(21);
    const scores = Array.from({ length: 400 }, () => rand());
    const y = Array.from({ length: 400 }, (): Label => (rand() < 0.5 ? 1 : 0));
    const ci = aurocCI(scores, y, { iterations: 500, seed: 4 });
    expect(ci.lower).toBeLessThan(0.5);
    expect(ci.upper).toBeGreaterThan(0.5);
    expect(ci.upper - ci.lower).toBeLessThan(0.25);
    expect(aurocCI(scores, y, { iterations: 500, seed: 4 })).toEqual(ci);
  });

  it("stratifiedFolds(y, k, seed) is stratified and deterministic", () => {
    const y = Array.from({ length: 53 }, (_, i): Label => (i % 4 === 0 ? 1 : 0));
    const f = stratifiedFolds(y, 5, 3);
    expect(stratifiedFolds(y, 5, 3)).toEqual(f);
    expect(stratifiedFolds(y, 5, 4)).not.toEqual(f);
    for (const cls of [0, 1]) {
      const counts = Array.from({ length: 5 }, (_, k) => f.filter((v, i) => v === k && y[i] === cls).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    const sizes = Array.from({ length: 5 }, (_, k) => f.filter((v) => v === k).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(() => stratifiedFolds([0, 0, 1], 2)).toThrow(/stratifiedFolds: k \(2\) must not exceed the smaller class's size \(1/);
  });

  it("crossValidate(X, y, { k, seed, fit }) on separable data: accuracy 1 and AUROC 1 out of fold, for both probe kinds", () => {
    const { X, y } = separable(200, 5, 13);
    for (const fit of ["logistic", "diffmeans"] as const) {
      const cv = crossValidate(X, y, { k: 4, seed: 1, fit, iterations: 200 });
      expect(cv.folds).toHaveLength(4);
      expect(cv.folds.reduce((a, f) => a + f.testSize, 0)).toBe(200);
      expect(cv.scores.every(Number.isFinite)).toBe(true);
      if (fit === "logistic") {
        expect(cv.accuracy.rate).toBe(1);
        expect(cv.auroc.auroc).toBe(1);
      } else {
        expect(cv.accuracy.rate).toBeGreaterThan(0.9);
        expect(cv.auroc.auroc).toBeGreaterThan(0.97);
      }
      expect(cv.accuracy.lower).toBeLessThan(cv.accuracy.rate + 1e-12);
    }
    expect(crossValidate(X, y, { k: 4, seed: 1, iterations: 50 }).foldOf).toEqual(crossValidate(X, y, { k: 4, seed: 1, iterations: 50 }).foldOf);
  });

  it("crossValidate(X, y) and a held-out test on identical distributions: AUROC ≈ 0.5, CIs covering 0.5", () => {
    const { X, y } = noise(400, 4, 17);
    const cv = crossValidate(X, y, { k: 5, seed: 2, iterations: 500 });
    // Out-of-fold scores of a signal-free probe are slightly anti-correlated with the labels (each fold's training
    // set over-represents the other class), so the pooled AUROC sits a little below 0.5: only closeness is asserted.
    expect(Math.abs(cv.auroc.auroc - 0.5)).toBeLessThan(0.1);
    expect(cv.accuracy.lower).toBeLessThan(0.5);
    expect(cv.accuracy.upper).toBeGreaterThan(0.5);
    // A probe trained on one sample and tested on an independent one is unbiased.
    const probe = fitLogisticProbe(X, y);
    const test = noise(400, 4, 18);
    const ci = aurocCI(probe.decisionFunction(test.X), test.y, { iterations: 500, seed: 1 });
    expect(Math.abs(ci.auroc - 0.5)).toBeLessThan(0.1);
    expect(ci.lower).toBeLessThan(0.5);
    expect(ci.upper).toBeGreaterThan(0.5);
    const acc = accuracyCI(probe.decisionFunction(test.X), test.y);
    expect(acc.lower).toBeLessThan(0.5);
    expect(acc.upper).toBeGreaterThan(0.5);
  });
});

describe("pca", () => {
  it("pca(X, { k }) recovers a planted direction with a deterministic sign", () => {
    const normal = normalSampler(mulberry32(8));
    const d = 10;
    const u = Array.from({ length: d }, (_, j) => (j === 3 ? -3 : j === 7 ? 1 : 0.2));
    const un = Math.hypot(...u);
    const uu = u.map((v) => v / un);
    const X = Array.from({ length: 300 }, () => {
      const t = 5 * normal();
      return uu.map((v) => t * v + 0.3 * normal() + 2);
    });
    const p = pca(X, { k: 2 });
    expect(p.components).toHaveLength(2);
    expect(Math.abs(cosine(p.components[0], uu))).toBeGreaterThan(0.999);
    // Largest-|value| entry (index 3) made positive.
    expect(p.components[0][3]).toBeGreaterThan(0);
    expect(Math.abs(cosine(p.components[0], p.components[1]))).toBeLessThan(1e-4);
    expect(p.explainedVarianceRatio[0]).toBeGreaterThan(0.9);
    expect(p.explainedVariance[0]).toBeGreaterThan(p.explainedVariance[1]);
    const z = p.transform(X);
    expect(z).toHaveLength(300);
    expect(z[0]).toHaveLength(2);
    expect(pca(X, { k: 2 }).components).toEqual(p.components);
    expect(() => pca(X, { k: 11 })).toThrow(/pca: options.k must be an integer in \[1, d = 10\], received number 11/);
  });
});

describe("sweeps", () => {
  function tinyModel() {
    const cfg = makeConfig({ family: "gpt2", d_model: 32, n_layers: 3, n_heads: 4, d_vocab: 50, n_ctx: 16, initStd: 0.3 });
    return HookedTransformer.fromConfig(cfg, { seed: 3 });
  }
  /** Random token-id texts ending in token 1 (label 1) or token 2 (label 0). */
  function data(n: number, seed: number) {
    const rand = mulberry32(seed);
    const texts = Array.from({ length: n }, (_, i) => [...Array.from({ length: 5 }, () => Math.floor(rand() * 50)), i % 2 ? 1 : 2]);
    const labels = texts.map((t): Label => (t[t.length - 1] === 1 ? 1 : 0));
    return { texts, labels };
  }

  it("layerSweep(model, texts, labels, { hook, position, k, seed }) returns one row per layer and leaks no tensors", () => {
    const model = tinyModel();
    const { texts, labels } = data(60, 1);
    model.run(texts[0]).dispose(); // the model caches its unembedding on the first pass: not a leak
    const before = tf.memory().numTensors;
    const rows = layerSweep(model, texts, labels, { k: 3, seed: 0, iterations: 100 });
    const rowsMean = layerSweep(model, texts, labels, { position: "mean", layers: [-1], fit: "diffmeans", k: 3, iterations: 100 });
    expect(tf.memory().numTensors).toBe(before);
    expect(rows.map((r) => r.layer)).toEqual([0, 1, 2]);
    for (const r of rows) {
      expect(r.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.accuracy).toBeLessThanOrEqual(1);
      expect(r.lower).toBeLessThanOrEqual(r.accuracy);
      expect(r.upper).toBeGreaterThanOrEqual(r.accuracy);
      expect(r.aurocLower).toBeLessThanOrEqual(r.aurocUpper);
    }
    // The last token's identity is in the residual stream at the last position.
    expect(rows[0].auroc).toBeGreaterThan(0.8);
    expect(rowsMean.map((r) => r.layer)).toEqual([2]);
    expect(() => layerSweep(model, texts, labels, { hook: "nope" })).toThrow(/extractFeatures: options.hook "nope" names no hook point/);
    expect(() => layerSweep(model, texts, labels.slice(1))).toThrow(/layerSweep: labels must have one label per row \(60\)/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("extractFeatures(model, texts, { hook, position }) equals the cached activation, batched or one text at a time", () => {
    const model = tinyModel();
    const { texts } = data(5, 2);
    const ragged = [...texts, texts[0].slice(0, 3)];
    const all = extractFeatures(model, ragged, { hook: "attn.hook_z", layers: [1] }).get(1)!;
    const { n_heads, d_head } = model.cfg;
    expect([all.n, all.d]).toEqual([6, n_heads * d_head]);
    ragged.forEach((t, i) => {
      const { logits, cache } = model.runWithCache([t as number[]], { namesFilter: ["blocks.1.attn.hook_z"] });
      const z = cache.get("blocks.1.attn.hook_z"); // [1, T, n_heads, d_head]
      const last = Array.from(z.slice([0, t.length - 1, 0, 0], [1, 1, -1, -1]).dataSync());
      const one = extractFeatures(model, [t], { hook: "attn.hook_z", layers: [1] }).get(1)!;
      for (let k = 0; k < all.d; k++) {
        expect(all.data[i * all.d + k]).toBeCloseTo(last[k], 5);
        expect(one.data[k]).toBeCloseTo(last[k], 5);
      }
      const mean = Array.from(cache.get("blocks.1.attn.hook_z").mean(1).dataSync());
      const m = extractFeatures(model, [t], { hook: "attn.hook_z", position: "mean", layers: [1] }).get(1)!;
      for (let k = 0; k < all.d; k++) expect(m.data[k]).toBeCloseTo(mean[k], 5);
      logits.dispose();
      cache.dispose();
    });
    expect(() => extractFeatures(model, texts, { hook: "attn.hook_pattern", layers: [0] })).toThrow(/extractFeatures: options.hook must be a \[batch, position, …\] activation/);
    model.dispose();
  });

  it("tokenScores(model, ids, probe, { hook, layer }) scores every token; the last equals the probe on extracted features", () => {
    const model = tinyModel();
    const { texts, labels } = data(40, 2);
    const feats = extractFeatures(model, texts, { layers: [1] }).get(1)!;
    const probe = fitLogisticProbe(feats, labels);
    const before = tf.memory().numTensors;
    const ts = tokenScores(model, texts[0], probe, { layer: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(ts.tokens).toEqual(texts[0].map(String));
    expect(ts.scores).toHaveLength(6);
    expect(ts.scores[5]).toBeCloseTo(probe.decisionFunction(feats)[0], 4);
    const dm = diffOfMeans(feats, labels);
    expect(tokenScores(model, texts[0], dm, { layer: 1 }).scores[5]).toBeCloseTo(dm.score(feats)[0], 4);
    model.dispose();
  });

  it("generalisationMatrix(groups, { fit }) trains on each group and tests on every group", () => {
    const a = separable(120, 4, 31);
    const b = separable(120, 4, 31 + 1000);
    const rng = mulberry32(5);
    const shuffled = { X: a.X, y: a.y.map((): Label => (rng() < 0.5 ? 1 : 0)) };
    const g = generalisationMatrix({ a: { X: a.X, y: a.y }, a2: { X: a.X.map((r) => r.map((v) => v * 2)), y: a.y }, noise: shuffled });
    expect(g.groups).toEqual(["a", "a2", "noise"]);
    expect(g.accuracy).toHaveLength(3);
    expect(g.accuracy[0][0]).toBe(1);
    expect(g.accuracy[0][1]).toBe(1); // same direction, scaled
    expect(g.auroc[0][1]).toBe(1);
    expect(Math.abs(g.auroc[2][0] - 0.5)).toBeLessThan(0.25);
    expect(() => generalisationMatrix({ a: { X: a.X, y: a.y }, b: { X: b.X.map((r) => r.slice(1)), y: b.y } })).toThrow(
      /generalisationMatrix: every group needs the same number of features; "a" has 4, "b" has 3/,
    );
  });
});
