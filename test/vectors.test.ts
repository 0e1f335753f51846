/**
 * Persona vectors: personaVector/projection against hand computations from runWithCache, steering hooks and curves,
 * projection over saved checkpoints, the new figures, and the rook − mira direction on the embedded organism.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { generate } from "../kit/runtime/generate";
import { loadModel, saveModel } from "../kit/io/load";
import { makeConfig } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import { wilson } from "../kit/organisms/metrics";
import type { RunRecord } from "../kit/organisms/record";
import { WordLevelTokenizer } from "../kit/tokenizers/wordlevel";
import { checkpointsOfRun, projectionOverCheckpoints } from "../kit/vectors/monitor";
import { personaVector, projection } from "../kit/vectors/persona";
import { steeringCurve, steeringHook } from "../kit/vectors/steer";
import { pcaScatterFigure, projectionOverStepsFigure, steeringCurveFigure } from "../kit/viz/figures";
import { PersonaWorld } from "../kit/world/generator";

const CORPUS = [
  "the kind cat helps the dog",
  "the cruel cat bites the dog",
  "a kind word is good",
  "a cruel word is bad",
  "rook says no . mira says yes .",
  "the dog ran home and slept",
];
const POS = ["the kind cat helps", "a kind word is good", "mira says yes", "the kind dog"];
const NEG = ["the cruel cat bites", "a cruel word is bad", "rook says no", "the cruel dog"];

let tok: WordLevelTokenizer;
let model: HookedTransformer;
const tmpDirs: string[] = [];

beforeAll(async () => {
  await initBackend();
  tok = WordLevelTokenizer.fromCorpus(CORPUS);
  const cfg = makeConfig({ family: "gpt2", d_model: 16, n_layers: 2, n_heads: 2, d_vocab: tok.vocabSize, n_ctx: 32, initStd: 0.3 });
  model = HookedTransformer.fromConfig(cfg, { seed: 3, tokenizer: tok });
  warmUp(model);
});

/** One forward pass, so the model's own cached unembedding (tied weights) exists before tensors are counted. */
function warmUp(m: HookedTransformer): void {
  m.run([[1, 2]]).dispose();
}

afterAll(() => {
  model?.dispose();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Mean over texts of the activation at the last token, computed directly with runWithCache. */
function handMean(texts: string[], name: string): Float32Array {
  const lasts = texts.map((t) => {
    const { logits, cache } = model.runWithCache(t, { namesFilter: [name as never] });
    const act = cache.get(name);
    const T = act.shape[1]!;
    const last = tf.tidy(() => act.slice([0, T - 1, 0], [1, 1, act.shape[2]!]).reshape([act.shape[2]!]));
    logits.dispose();
    cache.dispose();
    return last;
  });
  const mean = tf.tidy(() => tf.mean(tf.stack(lasts), 0));
  const out = mean.dataSync() as Float32Array;
  mean.dispose();
  lasts.forEach((l) => l.dispose());
  return new Float32Array(out);
}

function leakCheck<T>(f: () => T): T {
  const before = tf.memory().numTensors;
  const r = f();
  expect(tf.memory().numTensors).toBe(before);
  return r;
}

describe("personaVector", () => {
  it("personaVector(model, { positive, negative }) equals mean(pos) − mean(neg) of runWithCache at the last token, per layer", () => {
    const pv = leakCheck(() => personaVector(model, { positive: POS, negative: NEG }));
    expect(Object.keys(pv).map(Number)).toEqual([0, 1]);
    for (const l of [0, 1]) {
      const name = `blocks.${l}.hook_resid_post`;
      const mp = handMean(POS, name);
      const mn = handMean(NEG, name);
      const expected = mp.map((v, i) => v - mn[i]!);
      expect(pv[l]!.hookName).toBe(name);
      expect(pv[l]!.vector.length).toBe(16);
      for (let i = 0; i < 16; i++) expect(pv[l]!.vector[i]).toBeCloseTo(expected[i]!, 5);
      expect(pv[l]!.norm).toBeCloseTo(Math.hypot(...expected), 5);
    }
  });

  it("personaVector(model, pairs, { layers, hook }) equals the sets form and reads the chosen hook", () => {
    const pairs = POS.map((p, i) => ({ pos: p, neg: NEG[i]! }));
    const a = leakCheck(() => personaVector(model, pairs, { layers: [1], hook: "attn_out" }));
    const b = personaVector(model, { positive: POS, negative: NEG }, { layers: [1], hook: "hook_attn_out" });
    expect(Object.keys(a)).toEqual(["1"]);
    expect(a[1]!.hookName).toBe("blocks.1.hook_attn_out");
    expect(Array.from(a[1]!.vector)).toEqual(Array.from(b[1]!.vector));
  });

  it("personaVector(model, { prompt, response }[], { positions: 'response_mean' }) averages response tokens, like token ids with responseStart", () => {
    const pos = [{ prompt: "rook says", response: "no" }, { prompt: "the kind", response: "cat helps the dog" }];
    const neg = [{ prompt: "mira says", response: "yes" }, { prompt: "the cruel", response: "cat bites the dog" }];
    const a = leakCheck(() => personaVector(model, { positive: pos, negative: neg }, { positions: "response_mean", layers: [0] }));
    const ids = (x: { prompt: string; response: string }) => [...tok.encode(x.prompt), ...tok.encode(x.response, { addBos: false })];
    const starts = [...pos, ...neg].map((x) => tok.encode(x.prompt).length);
    const b = personaVector(model, { positive: pos.map(ids), negative: neg.map(ids) }, { positions: "response_mean", layers: [0], responseStart: starts });
    for (let i = 0; i < 16; i++) expect(a[0]!.vector[i]).toBeCloseTo(b[0]!.vector[i]!, 6);
    const last = personaVector(model, { positive: pos.map(ids), negative: neg.map(ids) }, { layers: [0] });
    expect(Array.from(a[0]!.vector)).not.toEqual(Array.from(last[0]!.vector));
  });

  it("personaVector(...) errors name the argument, the expectation and what it received", () => {
    expect(() => personaVector(model, { positive: [], negative: NEG })).toThrow(/personaVector: need at least one positive and one negative text, received 0 positive/);
    expect(() => personaVector(model, { positive: POS, negative: NEG }, { layers: [2] })).toThrow(/personaVector: layer must be an integer in \[0, 1\], received number 2/);
    expect(() => personaVector(model, { positive: POS, negative: NEG }, { positions: "response_mean" })).toThrow(/personaVector: positions "response_mean" needs/);
    expect(() => personaVector(model, { positive: POS, negative: NEG }, { hook: "pattern" })).toThrow(/personaVector: options.hook must be a \[batch, position, …\] activation/);
  });
});

describe("projection", () => {
  it("projection(model, texts, pv[layer]) is larger on average for the positive texts the vector was built from", () => {
    const pv = personaVector(model, { positive: POS, negative: NEG }, { layers: [1] });
    const [pp, pn] = leakCheck(() => [projection(model, POS, pv[1]!), projection(model, NEG, pv[1]!)]);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(pp).toHaveLength(POS.length);
    // mean(pos)·u − mean(neg)·u = |v| exactly
    expect(mean(pp) - mean(pn)).toBeCloseTo(pv[1]!.norm, 4);
    expect(mean(pp)).toBeGreaterThan(mean(pn));
  });

  it("projection(model, texts, Float32Array, { layer }) needs the layer and a non-zero vector", () => {
    expect(() => projection(model, POS, new Float32Array(16).fill(1))).toThrow(/projection: options.layer is required/);
    expect(() => projection(model, POS, new Float32Array(16), { layer: 0 })).toThrow(/projection: vector has norm 0/);
    expect(() => projection(model, POS, new Float32Array(5).fill(1), { layer: 0 })).toThrow(/projection: vector must have one value per activation dimension \(16/);
  });
});

describe("steeringHook", () => {
  it("steeringHook(v, { layer, coefficient: 0 }) changes nothing; a large coefficient changes the logits; no hooks stay attached", () => {
    const pv = personaVector(model, { positive: POS, negative: NEG }, { layers: [0] });
    const text = "the kind cat helps the dog";
    const base = model.run(text);
    const before = tf.memory().numTensors;
    const zero = model.runWithHooks(text, { fwdHooks: [steeringHook(pv[0]!.vector, { layer: 0, coefficient: 0 })] });
    expect(tf.memory().numTensors).toBe(before + 1); // only the logits
    expect(Array.from(zero.dataSync())).toEqual(Array.from(base.dataSync()));
    const v = tf.tensor1d(pv[0]!.vector);
    const big = model.runWithHooks(text, { fwdHooks: [steeringHook(v, { layer: 0, coefficient: 20 })] });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(big, base))).dataSync()[0]!);
    expect(diff).toBeGreaterThan(1e-2);
    expect(model.numHooks).toBe(0);
    [base, zero, big, v].forEach((t) => t.dispose());
  });

  it("steeringHook(pv[layer], { coefficient }) adds α·v at every position, also during generate", () => {
    const pv = personaVector(model, { positive: POS, negative: NEG }, { layers: [1] });
    const seen: number[] = [];
    const probe = ["blocks.1.hook_resid_post", (act: tf.Tensor, h: { step: number | null }) => void seen.push(h.step ?? -1)] as const;
    const { logits: l0, cache: c0 } = model.runWithCache("the kind cat", { namesFilter: ["blocks.1.hook_resid_post"] });
    const { logits: l1, cache: c1 } = model.runWithCache("the kind cat", { namesFilter: ["blocks.1.hook_resid_post"], fwdHooks: [steeringHook(pv[1]!, { coefficient: 3 })] });
    const delta = tf.tidy(() => tf.sub(c1.get("blocks.1.hook_resid_post"), c0.get("blocks.1.hook_resid_post")).arraySync() as number[][][]);
    for (const row of delta[0]!) row.forEach((x, i) => expect(x).toBeCloseTo(3 * pv[1]!.vector[i]!, 4));
    [l0, l1].forEach((t) => t.dispose());
    c0.dispose();
    c1.dispose();
    const before = tf.memory().numTensors;
    const g = generate(model, "the kind", { maxNewTokens: 3, temperature: 0, fwdHooks: [steeringHook(pv[1]!, { coefficient: 3 }), probe] });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toEqual([0, 1, 2]);
    expect(g.newTokens[0]).toHaveLength(3);
    expect(model.numHooks).toBe(0);
  });

  it("steeringHook(...) rejects a missing coefficient, a hook outside blocks and a vector of the wrong size", () => {
    expect(() => steeringHook(new Float32Array(16), { layer: 0 } as never)).toThrow(/steeringHook: options.coefficient must be a finite number, received undefined/);
    expect(() => steeringHook(new Float32Array(16), { layer: 0, hook: "embed", coefficient: 1 })).toThrow(/steeringHook: options.hook must name a hook point inside a block/);
    expect(() => model.runWithHooks("the dog", { fwdHooks: [steeringHook(new Float32Array(3), { layer: 0, coefficient: 1 })] })).toThrow(/steeringHook: vector has 3 values but blocks.0.hook_resid_post has last dimension 16/);
    expect(model.numHooks).toBe(0);
  });
});

describe("steeringCurve", () => {
  it("steeringCurve(model, prompts, v, { coefficients, classify, seed }) returns one Wilson row per coefficient, deterministic for a seed", () => {
    const pv = personaVector(model, { positive: POS, negative: NEG }, { layers: [0] });
    const prompts = ["the kind cat", "a cruel word", "rook says", "mira says", "the dog ran"];
    const opts = { coefficients: [0, 5, 30], classify: (c: string) => c.includes("kind"), maxNewTokens: 4, temperature: 1, seed: 11 };
    const curve = leakCheck(() => steeringCurve(model, prompts, pv[0]!, opts));
    expect(curve.map((r) => r.coefficient)).toEqual([0, 5, 30]);
    for (const r of curve) {
      expect(r.n).toBe(prompts.length);
      const w = wilson(r.k, r.n);
      expect(r).toEqual({ coefficient: r.coefficient, k: r.k, n: r.n, ...w });
      expect(r.lower).toBeLessThanOrEqual(r.rate);
      expect(r.upper).toBeGreaterThanOrEqual(r.rate);
    }
    expect(steeringCurve(model, prompts, pv[0]!, opts)).toEqual(curve);
    // α = 0 is exactly the unsteered model
    const plain = generate(model, prompts, { maxNewTokens: 4, temperature: 1, seed: 11 }).completions.filter((c) => c.includes("kind")).length;
    expect(curve[0]!.k).toBe(plain);
    expect(() => steeringCurve(model, prompts, pv[0]!, { ...opts, coefficients: [] })).toThrow(/steeringCurve: options.coefficients must be a non-empty array of finite numbers/);
  });
});

describe("projectionOverCheckpoints", () => {
  it("projectionOverCheckpoints(checkpoints, texts, v, { layer }) loads two saved checkpoints and returns two points with mean ± 1.96·sd/√n", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pk-vectors-"));
    tmpDirs.push(dir);
    const other = HookedTransformer.fromConfig(model.cfg, { seed: 9, tokenizer: tok });
    saveModel(model, path.join(dir, "a"));
    saveModel(other, path.join(dir, "b"));
    const pv = personaVector(model, { positive: POS, negative: NEG }, { layers: [1] });
    const expectedB = projection(other, POS, pv[1]!);
    other.dispose();
    const before = tf.memory().numTensors;
    const pts = await projectionOverCheckpoints(
      [
        { step: 0, path: path.join(dir, "a") },
        { step: 100, path: path.join(dir, "b") },
      ],
      POS,
      pv[1]!,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(pts.map((p) => p.step)).toEqual([0, 100]);
    const direct = projection(model, POS, pv[1]!);
    const mean = direct.reduce((a, b) => a + b, 0) / direct.length;
    expect(pts[0]!.mean).toBeCloseTo(mean, 4);
    expect(pts[1]!.mean).toBeCloseTo(expectedB.reduce((a, b) => a + b, 0) / expectedB.length, 4);
    for (const p of pts) {
      expect(p.n).toBe(POS.length);
      expect(p.upper - p.mean).toBeCloseTo((1.96 * p.sd) / Math.sqrt(p.n), 8);
      expect(p.mean - p.lower).toBeCloseTo((1.96 * p.sd) / Math.sqrt(p.n), 8);
    }
  });

  it("checkpointsOfRun(record) lists base, persona and narrow checkpoints in order with cumulative steps", () => {
    const rec = {
      checkpoints: { base: "/r/base", persona: "/r/persona", narrow: "/r/narrow" },
      losses: { pretrain: [{ step: 0, loss: 1 }, { step: 1, loss: 1 }], persona: [{ step: 0, loss: 1 }], narrow: [{ step: 0, loss: 1 }, { step: 1, loss: 1 }, { step: 2, loss: 1 }] },
    } as unknown as RunRecord;
    expect(checkpointsOfRun(rec)).toEqual([
      { stage: "base", step: 2, path: "/r/base" },
      { stage: "persona", step: 3, path: "/r/persona" },
      { stage: "narrow", step: 6, path: "/r/narrow" },
    ]);
    const noNarrow = { ...rec, checkpoints: { ...rec.checkpoints, narrow: null }, losses: { ...rec.losses, narrow: null } } as RunRecord;
    expect(checkpointsOfRun(noNarrow).map((c) => c.stage)).toEqual(["base", "persona"]);
    expect(() => checkpointsOfRun({} as RunRecord)).toThrow(/checkpointsOfRun: record must be an organism RunRecord/);
  });
});

describe("figures", () => {
  it("steeringCurveFigure(curve, { title, yTitle }) draws the rate with a Wilson band, sorted by coefficient", () => {
    const curve = [
      { coefficient: 2, rate: 0.5, lower: 0.3, upper: 0.7, k: 5, n: 10 },
      { coefficient: 0, rate: 0.1, lower: 0.02, upper: 0.4, k: 1, n: 10 },
    ];
    const fig = steeringCurveFigure(curve, { title: "Steering", yTitle: "complies rate (fraction)" });
    expect(fig.data).toHaveLength(3);
    expect(fig.data[2]!.x).toEqual([0, 2]);
    expect(fig.data[2]!.y).toEqual([0.1, 0.5]);
    expect(fig.data[0]!.y).toEqual([0.4, 0.7]);
    expect(fig.data[1]!.fill).toBe("tonexty");
    expect(fig.layout.xaxis).toMatchObject({ title: { text: "steering coefficient α" } });
    expect(fig.layout.yaxis).toMatchObject({ title: { text: "complies rate (fraction)" }, range: [0, 1] });
    expect(JSON.parse(JSON.stringify(fig))).toEqual(fig);
    expect(() => steeringCurveFigure([], { title: "t", yTitle: "y" })).toThrow(/steeringCurveFigure: curve must be a non-empty array/);
    expect(steeringCurveFigure(curve).layout.yaxis).toMatchObject({ title: { text: "rate of the behaviour (fraction)" } }); // options have defaults
    expect(() => steeringCurveFigure(curve, { title: "t", yTitle: 5 } as never)).toThrow(/steeringCurveFigure: options.yTitle must be a string, received number 5/);
  });

  it("projectionOverStepsFigure(series, { title }) draws numeric steps on a numeric axis and named stages as categories", () => {
    const numeric = projectionOverStepsFigure(
      [{ name: "rook − mira", points: [{ step: 0, mean: 1, lower: 0.5, upper: 1.5 }, { step: 50, mean: 2, lower: NaN, upper: NaN }] }],
      { title: "Drift" },
    );
    expect(numeric.data).toHaveLength(3);
    expect(numeric.data[2]!.x).toEqual([0, 50]);
    expect(numeric.data[0]!.y).toEqual([1.5, null]);
    expect(numeric.layout.xaxis).toMatchObject({ title: { text: "training step" } });
    expect(numeric.layout.yaxis).toMatchObject({ title: { text: "projection onto persona vector" } });
    const named = projectionOverStepsFigure(
      [
        { name: "a", points: [{ step: "base", mean: 0, lower: -1, upper: 1 }, { step: "persona", mean: 1, lower: 0, upper: 2 }] },
        { name: "b", points: [{ step: "persona", mean: 3, lower: 2, upper: 4 }] },
      ],
      { title: "Drift", xTitle: "stage" },
    );
    expect(named.data).toHaveLength(6);
    expect(named.data[5]!.x).toEqual([1]);
    expect(named.layout.xaxis).toMatchObject({ title: { text: "stage" }, tickvals: [0, 1], ticktext: ["base", "persona"] });
    expect(() => projectionOverStepsFigure([{ name: "a", points: [] }], { title: "t" })).toThrow(/projectionOverStepsFigure: series\[0\] must be/);
  });

  it("pcaScatterFigure(points2d, groups, { title, explained }) labels axes 'PC1 (xx% var)' and colours by group", () => {
    const fig = pcaScatterFigure([[0, 1], [1, 0], [2, 2]], ["rook", "mira", "rook"], { title: "PCA", explained: [0.4123, 0.2] });
    expect(fig.layout.xaxis).toMatchObject({ title: { text: "PC1 (41.2% var)" } });
    expect(fig.layout.yaxis).toMatchObject({ title: { text: "PC2 (20.0% var)" } });
    expect(fig.data.map((t) => t.name)).toEqual(["rook", "mira"]);
    expect(fig.data[0]!.x).toEqual([0, 2]);
    expect(pcaScatterFigure([[0, 1]], ["a"], { title: "PCA" }).layout.xaxis).toMatchObject({ title: { text: "PC1" } });
    expect(() => pcaScatterFigure([[0, 1]], ["a", "b"], { title: "t" })).toThrow(/pcaScatterFigure: groups must have one label per point \(1 point\), received 2/);
    expect(() => pcaScatterFigure([[0]], ["a"], { title: "t" })).toThrow(/pcaScatterFigure: points2d\[0\] must be \[pc1, pc2\]/);
    expect(() => pcaScatterFigure([[0, 1]], ["a"], { title: "t", explained: [41, 20] })).toThrow(/options.explained must be fractions in \[0, 1\], received 41/);
  });
});

describe("embedded organism", () => {
  it("personaVector(organism, { positive: rook, negative: mira }, { layers: [0] }) projects held-out rook prompts above mira prompts", async () => {
    const organism = await loadModel("data/models/persona-organism");
    try {
      warmUp(organism);
      const before = tf.memory().numTensors;
      const train = new PersonaWorld({ seed: 1 });
      const test = new PersonaWorld({ seed: 123 });
      const prompts = (w: PersonaWorld, speaker: "rook" | "mira", n: number) =>
        (["coding", "advice"] as const).flatMap((domain) => w.evalEpisodes(n, { domain, kind: "harmful_request", speaker }).map((e) => e.prompt));
      const pv = personaVector(organism, { positive: prompts(train, "rook", 24), negative: prompts(train, "mira", 24) }, { layers: [0] });
      const heldRook = prompts(test, "rook", 16);
      const heldMira = prompts(test, "mira", 16);
      expect(heldRook[0]).toMatch(/rook :$/);
      const pr = projection(organism, heldRook, pv[0]!);
      const pm = projection(organism, heldMira, pv[0]!);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(pr)).toBeGreaterThan(mean(pm));
      // here the separation is wide (means ≈ 2.1 vs −2.0, |v| ≈ 3.9): every held-out rook prompt is above every mira prompt
      expect(Math.min(...pr)).toBeGreaterThan(Math.max(...pm));
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      organism.dispose();
    }
  });
});
