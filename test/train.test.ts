/**
 * Tests for kit/train/: learning-rate schedules, global-norm clipping, AdamW against hand-computed updates, seeded
 * batches, the custom-gradient ops of kit/model/ops.ts against plain tfjs references, and `train()`: loss falls,
 * masked sequences, evaluation, progress, checkpoints, bit-identical resume, NaN stops, option validation, no leaks.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { readSafetensors } from "../kit/io/safetensors";
import { makeConfig, type ModelConfig } from "../kit/model/config";
import { embedLookup, geluNew, layerNormalize, linear, rmsNormalize } from "../kit/model/ops";
import { HookedTransformer } from "../kit/model/transformer";
import { AdamW } from "../kit/train/adamw";
import { makeBatcher } from "../kit/train/batches";
import { listCheckpoints } from "../kit/train/checkpoint";
import { clipByGlobalNorm, globalNorm } from "../kit/train/clip";
import { lrAt } from "../kit/train/schedule";
import { evaluateLoss, train, type StepRecord } from "../kit/train/trainer";

let tmp: string;
beforeAll(async () => {
  await initBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pk-train-"));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A small model: a few ms per step at batch 8 × 16. */
function tinyModel(family: "gpt2" | "llama" = "gpt2", overrides: Partial<ModelConfig> = {}, seed = 3): HookedTransformer {
  const cfg = makeConfig({
    family,
    d_model: 32,
    n_layers: 2,
    n_heads: 2,
    d_vocab: 48,
    n_ctx: 16,
    ...(family === "llama" ? { n_key_value_heads: 1, d_mlp: 64 } : {}),
    ...overrides,
  });
  return HookedTransformer.fromConfig(cfg, { seed });
}

/** A repeating pattern: perfectly predictable after a few tokens. */
const PATTERN = [5, 17, 3, 40, 42, 7, 30, 11, 9, 1];
const STREAM = Int32Array.from({ length: 600 }, (_, i) => PATTERN[i % PATTERN.length]);

function snapshot(model: HookedTransformer): Map<string, Float32Array> {
  return model.weightsToArrays();
}

function sameBits(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, x] of a) {
    const y = b.get(k);
    if (!y || y.length !== x.length) return false;
    const xi = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const yi = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0; i < xi.length; i++) if (xi[i] !== yi[i]) return false;
  }
  return true;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

// ---------------------------------------------------------------------------------------------------------------

describe("lrAt(step, options)", () => {
  it("lrAt(step, { schedule: 'constant', warmupSteps }) ramps linearly then holds", () => {
    const o = { lr: 1e-3, totalSteps: 100, schedule: "constant", warmupSteps: 4 } as const;
    expect([0, 1, 2, 3, 4, 50, 99].map((s) => lrAt(s, o))).toEqual([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3, 1e-3]);
  });

  it("lrAt(step, { schedule: 'cosine' }) goes from lr to minLrRatio·lr along half a cosine", () => {
    const o = { lr: 1, totalSteps: 110, warmupSteps: 10, minLrRatio: 0.1 };
    expect(lrAt(0, o)).toBeCloseTo(0.1, 12);
    expect(lrAt(9, o)).toBeCloseTo(1, 12);
    expect(lrAt(10, o)).toBeCloseTo(1, 12);
    expect(lrAt(60, o)).toBeCloseTo(0.55, 12); // halfway: 0.1 + 0.9 · ½
    expect(lrAt(35, o)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(lrAt(110, o)).toBeCloseTo(0.1, 12);
    expect(lrAt(500, o)).toBeCloseTo(0.1, 12);
    expect(lrAt(0, { lr: 1, totalSteps: 10 })).toBe(1); // default schedule is cosine, no warmup
  });

  it("lrAt(step, { schedule: 'linear' }) decays in a straight line to the floor", () => {
    const o = { lr: 2, totalSteps: 10, schedule: "linear", minLrRatio: 0 } as const;
    [2, 1, 0.2, 0, 0].forEach((want, i) => expect(lrAt([0, 5, 9, 10, 20][i], o)).toBeCloseTo(want, 12));
  });

  it("lrAt(-1 | 1.5, options) and unknown schedules throw RangeError", () => {
    expect(() => lrAt(-1, { lr: 1, totalSteps: 10 })).toThrow(/lrAt: step must be a non-negative integer, received -1/);
    expect(() => lrAt(1.5, { lr: 1, totalSteps: 10 })).toThrow(RangeError);
    expect(() => lrAt(0, { lr: 1, totalSteps: 10, schedule: "exp" as "linear" })).toThrow(/schedule must be one of "constant", "cosine", "linear", received "exp"/);
  });
});

describe("clipByGlobalNorm(grads, maxNorm)", () => {
  it("clipByGlobalNorm(grads, 1) scales to norm 1 and returns the norm before clipping", () => {
    const grads = new Map<string, tf.Tensor>([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor2d([[0, 4]])],
    ]);
    const before = tf.memory().numTensors;
    expect(clipByGlobalNorm(grads, 1)).toBeCloseTo(5, 6);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(grads.get("a")!.dataSync())).toEqual([expect.closeTo(0.6, 6), 0]);
    expect(Array.from(grads.get("b")!.dataSync())).toEqual([0, expect.closeTo(0.8, 6)]);
    expect(globalNorm(grads.values())).toBeCloseTo(1, 5);
    tf.dispose([...grads.values()]);
  });

  it("clipByGlobalNorm(grads, 10 | null) leaves gradients under the limit untouched", () => {
    const g = tf.tensor1d([3, 4]);
    const grads = new Map([["a", g]]);
    expect(clipByGlobalNorm(grads, 10)).toBeCloseTo(5, 6);
    expect(grads.get("a")).toBe(g);
    expect(clipByGlobalNorm(grads, null)).toBeCloseTo(5, 6);
    expect(grads.get("a")).toBe(g);
    expect(() => clipByGlobalNorm(grads, 0)).toThrow(/maxNorm must be a positive number or null, received 0/);
    g.dispose();
  });

  it("clipByGlobalNorm(grads with NaN, 1) returns NaN and scales nothing", () => {
    const g = tf.tensor1d([NaN, 1]);
    const grads = new Map([["a", g]]);
    expect(clipByGlobalNorm(grads, 1)).toBeNaN();
    expect(grads.get("a")).toBe(g);
    g.dispose();
  });
});

describe("AdamW", () => {
  /** PyTorch AdamW, in float64. */
  function reference(p: number[], grads: number[][], { lr, b1, b2, eps, wd }: { lr: number; b1: number; b2: number; eps: number; wd: number }): number[] {
    const m = p.map(() => 0);
    const v = p.map(() => 0);
    const out = [...p];
    grads.forEach((g, i) => {
      const t = i + 1;
      for (let j = 0; j < out.length; j++) {
        out[j] *= 1 - lr * wd;
        m[j] = b1 * m[j] + (1 - b1) * g[j];
        v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
        const mh = m[j] / (1 - b1 ** t);
        const vh = v[j] / (1 - b2 ** t);
        out[j] -= (lr * mh) / (Math.sqrt(vh) + eps);
      }
    });
    return out;
  }

  it("new AdamW(params, options).step(grads, lr) matches a hand-computed update for 2 steps", () => {
    const W = tf.variable(tf.tensor2d([[0.5, -1.5]]), true); // 2-D: decayed
    const b = tf.variable(tf.tensor1d([0.25, 2]), true); // 1-D: not decayed
    const opts = { lr: 0.1, b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.1 };
    const params = new Map<string, tf.Variable>([["blocks.0.mlp.W_in", W], ["blocks.0.mlp.b_in", b]]);
    const opt = new AdamW(params, { betas: [opts.b1, opts.b2], eps: opts.eps, weightDecay: opts.wd });
    const gs = [
      [0.3, -0.2],
      [-0.1, 0.4],
    ];
    for (const g of gs) {
      const grads = new Map<string, tf.Tensor>([["blocks.0.mlp.W_in", tf.tensor2d([g])], ["blocks.0.mlp.b_in", tf.tensor1d(g)]]);
      opt.step(grads, opts.lr);
      tf.dispose([...grads.values()]);
    }
    expect(opt.t).toBe(2);
    const wantW = reference([0.5, -1.5], gs, opts);
    const wantB = reference([0.25, 2], gs, { ...opts, wd: 0 });
    Array.from(W.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(wantW[i], 6));
    Array.from(b.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(wantB[i], 6));
    // The weight decay made a difference that the 1-D parameter did not get.
    expect(Math.abs(wantW[0] - reference([0.5, -1.5], gs, { ...opts, wd: 0 })[0])).toBeGreaterThan(1e-3);
    opt.dispose();
    tf.dispose([W, b]);
  });

  it("AdamW decays matrices only: not 1-D params, not embeddings unless decayEmbeddings", () => {
    const model = tinyModel();
    const before = snapshot(model);
    const zero = new Map([...model.params].map(([n, v]) => [n, tf.zerosLike(v)]));
    const lr = 0.5;
    for (const decayEmbeddings of [false, true]) {
      model.setWeights(before);
      const opt = new AdamW(model.params, { weightDecay: 0.2, decayEmbeddings });
      opt.step(zero, lr); // zero gradients: only the decay moves weights
      const after = snapshot(model);
      for (const [name, w] of after) {
        const rank = model.params.get(name)!.shape.length;
        const isEmbed = name.startsWith("embed.") || name.startsWith("pos_embed.");
        const decayed = rank >= 2 && (!isEmbed || decayEmbeddings);
        const expected = before.get(name)!.map((x) => Math.fround(x * Math.fround(1 - lr * 0.2)));
        if (decayed) expect(w, name).toEqual(expected);
        else expect(w, name).toEqual(before.get(name));
        expect(opt.decayed.has(name), name).toBe(decayed);
      }
      opt.dispose();
    }
    tf.dispose([...zero.values()]);
    model.dispose();
  });

  it("AdamW.exportState() / importState(state) round-trip exactly, and steps leak no tensors", () => {
    const model = tinyModel();
    const vars = [...model.params.values()];
    const names = new Map([...model.params].map(([n, v]) => [v.name, n]));
    const opt = new AdamW(model.params);
    const stepOnce = () => {
      const { value, grads } = tf.variableGrads(() => model.loss([[1, 2, 3, 4, 5, 6]], { training: true }), vars);
      const g = new Map(Object.entries(grads).map(([k, t]) => [names.get(k)!, t]));
      opt.step(g, 1e-2);
      value.dispose();
      tf.dispose([...g.values()]);
    };
    stepOnce();
    const n0 = tf.memory().numTensors;
    stepOnce();
    stepOnce();
    expect(tf.memory().numTensors).toBe(n0);
    const state = opt.exportState();
    const weights = snapshot(model);
    stepOnce();
    const after1 = snapshot(model);
    model.setWeights(weights);
    const opt2 = new AdamW(model.params);
    opt2.importState(state);
    expect(opt2.t).toBe(3);
    opt.dispose();
    // opt2 must now reproduce the same 4th step bit for bit.
    const { value, grads } = tf.variableGrads(() => model.loss([[1, 2, 3, 4, 5, 6]], { training: true }), vars);
    opt2.step(new Map(Object.entries(grads).map(([k, t]) => [names.get(k)!, t])), 1e-2);
    value.dispose();
    tf.dispose(Object.values(grads));
    expect(sameBits(snapshot(model), after1)).toBe(true);
    expect(() => opt2.importState({ t: 1, m: new Map(), v: state.v })).toThrow(/AdamW.importState: state does not fit the parameters:\n  - missing m\.embed\.W_E/);
    opt2.dispose();
    model.dispose();
  });

  it("AdamW.step(grads, lr) refuses an update that would make weights non-finite and changes nothing", () => {
    const W = tf.variable(tf.tensor2d([[3e38, 1]]), true);
    const opt = new AdamW(new Map([["w", W]]), { weightDecay: 0 });
    const g = tf.tensor2d([[-1, 1]]);
    expect(() => opt.step(new Map([["w", g]]), 1e38)).toThrow(/AdamW.step: update 1 \(lr 1e\+38\) would make 1 parameter non-finite \(w\); nothing was changed/);
    expect(Array.from(W.dataSync())).toEqual([Math.fround(3e38), 1]);
    expect(opt.t).toBe(0);
    expect(opt.exportState().m.get("w")).toEqual(new Float32Array(2));
    opt.dispose();
    tf.dispose([W, g]);
  });
});

describe("makeBatcher(data, options)", () => {
  it("makeBatcher(stream, { seed }) gives windows of seqLen + 1 consecutive tokens, the same for the same (seed, k)", () => {
    const stream = Int32Array.from({ length: 1000 }, (_, i) => i % 997);
    const a = makeBatcher(stream, { batchSize: 4, seqLen: 8, seed: 1 });
    const b = makeBatcher(stream, { batchSize: 4, seqLen: 8, seed: 1 });
    const c = makeBatcher(stream, { batchSize: 4, seqLen: 8, seed: 2 });
    for (let k = 0; k < 5; k++) a(k); // history does not matter
    expect(a(7).tokens).toEqual(b(7).tokens);
    expect(a(7).tokens).not.toEqual(a(8).tokens);
    expect(a(7).tokens).not.toEqual(c(7).tokens);
    const batch = a(3);
    expect(batch.tokens.length).toBe(4 * 9);
    expect(batch.mask).toBeNull();
    expect(batch.targets).toBe(32);
    for (let r = 0; r < 4; r++) {
      const row = Array.from(batch.tokens.subarray(r * 9, r * 9 + 9));
      const start = stream.indexOf(row[0]);
      expect(row).toEqual(Array.from(stream.subarray(start, start + 9)));
    }
    // A stream of exactly seqLen + 1 tokens has one window.
    expect(Array.from(makeBatcher([1, 2, 3], { batchSize: 2, seqLen: 2 })(5).tokens)).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it("makeBatcher(sequences, { padId }) pads, truncates, masks, and covers each sequence once per epoch", () => {
    const seqs = [[1, 2], [3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13, 14, 15]];
    const batcher = makeBatcher(seqs, { batchSize: 2, seqLen: 4, seed: 5, padId: 0 });
    const rows: number[][] = [];
    const masks: number[][] = [];
    for (const k of [0, 1]) {
      const b = batcher(k);
      for (let r = 0; r < 2; r++) {
        rows.push(Array.from(b.tokens.subarray(r * 5, r * 5 + 5)));
        masks.push(Array.from(b.mask!.subarray(r * 4, r * 4 + 4)));
      }
    }
    const byFirst = new Map(rows.map((r, i) => [r[0], [r, masks[i]]]));
    expect([...byFirst.keys()].sort((x, y) => x - y)).toEqual([1, 3, 6, 12]); // one epoch = each sequence once
    expect(byFirst.get(1)).toEqual([[1, 2, 0, 0, 0], [1, 0, 0, 0]]);
    expect(byFirst.get(3)).toEqual([[3, 4, 5, 0, 0], [1, 1, 0, 0]]);
    expect(byFirst.get(6)).toEqual([[6, 7, 8, 9, 10], [1, 1, 1, 1]]); // truncated to seqLen + 1
    expect(byFirst.get(12)).toEqual([[12, 13, 14, 15, 0], [1, 1, 1, 0]]);
    expect(batcher(0).targets + batcher(1).targets).toBe(1 + 2 + 4 + 3);
    expect(makeBatcher(seqs, { batchSize: 2, seqLen: 4, seed: 5, padId: 0 })(1)).toEqual(batcher(1));
  });
});

describe("kit/model/ops.ts custom gradients", () => {
  const dyFor = (shape: number[]) => tf.randomNormal(shape, 0, 1, "float32", 11);

  it("linear(x, W, b?) gives the gradients of tf.matMul + tf.add (in < out, in > out, with and without bias)", () => {
    const x = tf.randomNormal([3, 5, 12], 0, 1, "float32", 1);
    for (const [inDim, outDim] of [[12, 20], [12, 7]]) {
      const W = tf.randomNormal([inDim, outDim], 0, 0.3, "float32", 2);
      const b = tf.randomNormal([outDim], 0, 1, "float32", 3);
      const dy = dyFor([3, 5, outDim]);
      for (const withBias of [true, false]) {
        const ours = (a: tf.Tensor, w: tf.Tensor, bb?: tf.Tensor) => tf.sum(tf.mul(linear(a, w, bb), dy));
        const ref = (a: tf.Tensor, w: tf.Tensor, bb?: tf.Tensor) => {
          const y = tf.matMul(a.reshape([-1, inDim]) as tf.Tensor2D, w as tf.Tensor2D);
          return tf.sum(tf.mul((bb ? tf.add(y, bb) : y).reshape([3, 5, outDim]), dy));
        };
        const inputs = withBias ? [x, W, b] : [x, W];
        const g1 = tf.grads(ours)(inputs);
        const g2 = tf.grads(ref)(inputs);
        for (let i = 0; i < inputs.length; i++) expect(maxAbsDiff(g1[i], g2[i]), `${inDim}→${outDim} bias ${withBias} input ${i}`).toBeLessThan(1e-5);
        expect(maxAbsDiff(linear(x, W, withBias ? b : undefined), tf.add(tf.matMul(x.reshape([-1, inDim]) as tf.Tensor2D, W as tf.Tensor2D), withBias ? b : 0).reshape([3, 5, outDim]))).toBe(0);
      }
    }
  });

  it("embedLookup(table, ids) gives the gradient of a one-hot matMul, repeated ids included, small and large tables", () => {
    for (const n of [10, 200]) {
      const table = tf.randomNormal([n, 6], 0, 1, "float32", 4);
      const ids = tf.tensor2d([[1, 4, 4, 9], [0, 9, 2, 4]], [2, 4], "int32");
      const dy = dyFor([2, 4, 6]);
      const g1 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedLookup(t, ids), dy)))(table);
      const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.oneHot(ids.reshape([-1]) as tf.Tensor1D, n), t as tf.Tensor2D).reshape([2, 4, 6]), dy)))(table);
      expect(maxAbsDiff(g1, g2)).toBeLessThan(1e-5);
      expect(maxAbsDiff(embedLookup(table, ids), tf.gather(table, ids))).toBe(0);
    }
  });

  it("geluNew(x), layerNormalize(x, eps), rmsNormalize(x, eps) give autograd's gradients of their formulas", () => {
    const x = tf.mul(tf.randomNormal([2, 3, 16], 0, 1, "float32", 5), 2);
    const dy = dyFor([2, 3, 16]);
    const c = Math.sqrt(2 / Math.PI);
    const refs: [string, (a: tf.Tensor) => tf.Tensor, (a: tf.Tensor) => tf.Tensor][] = [
      ["geluNew", geluNew, (a) => tf.mul(tf.mul(a, 0.5), tf.add(tf.tanh(tf.mul(tf.add(a, tf.mul(tf.pow(a, 3), 0.044715)), c)), 1))],
      [
        "layerNormalize",
        (a) => layerNormalize(a, 1e-5),
        (a) => {
          const centred = tf.sub(a, tf.mean(a, -1, true));
          return tf.mul(centred, tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), 1e-5)));
        },
      ],
      ["rmsNormalize", (a) => rmsNormalize(a, 1e-5), (a) => tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), 1e-5)))],
    ];
    for (const [name, ours, ref] of refs) {
      // The norms use the reference's own kernels (bit-identical); geluNew computes ½x(1 + tanh u) as x·σ(2u),
      // equal in exact arithmetic, so float32 rounding differs by a few ulps.
      expect(maxAbsDiff(ours(x), ref(x)), name).toBeLessThanOrEqual(name === "geluNew" ? 1e-6 : 0);
      const g1 = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(ours(a), dy)))(x);
      const g2 = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(ref(a), dy)))(x);
      expect(maxAbsDiff(g1, g2), name).toBeLessThan(1e-5);
    }
  });
});

describe("train(model, data, options)", () => {
  it("train(model, stream, { steps: 60 }) halves the loss on a repeating stream and leaks no tensors", async () => {
    const model = tinyModel();
    const n0 = tf.memory().numTensors;
    const seen: StepRecord[] = [];
    const r = await train(model, STREAM, { steps: 60, batchSize: 8, lr: 3e-3, warmupSteps: 5, onStep: (rec) => void seen.push(rec) });
    expect(tf.memory().numTensors).toBe(n0);
    expect(r.records).toHaveLength(60);
    expect(seen).toEqual(r.records);
    expect(r.records.map((x) => x.step)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    const first = r.records[0];
    expect(first.loss).toBeGreaterThan(Math.log(48) - 0.5);
    expect(r.finalLoss).toBeLessThan(first.loss / 2);
    expect(r.finalLoss).toBe(r.records[59].loss);
    for (const rec of r.records) {
      expect(rec.lr).toBeCloseTo(lrAt(rec.step, { lr: 3e-3, totalSteps: 60, warmupSteps: 5 }), 12);
      expect(rec.gradNorm).toBeGreaterThan(0);
      expect(rec.ms).toBeGreaterThan(0);
      expect(rec.tokensPerSec).toBeCloseTo((8 * 16 * 1000) / rec.ms, 6);
    }
    expect(r.tokensPerSec).toBeGreaterThan(0);
    model.dispose();
  });

  it("train(model, sequences) masks padding: evaluateLoss equals the mean loss over real targets", async () => {
    const model = tinyModel("llama");
    const seqs = [[1, 2, 3, 4], [5, 6], [7, 8, 9, 10, 11, 12, 13], [2, 4, 6, 8, 10]];
    // seqLen defaults to min(n_ctx, longest − 1) = 6; one batch of all four sequences.
    const got = evaluateLoss(model, seqs, { batchSize: 4, batches: 1 });
    let sum = 0;
    let count = 0;
    for (const s of seqs) {
      const row = s.slice(0, 7);
      const logits = model.run([row]);
      const logp = tf.tidy(() => tf.logSoftmax(logits.reshape([row.length, -1])).arraySync() as number[][]);
      logits.dispose();
      for (let t = 0; t + 1 < row.length; t++) sum -= logp[t][row[t + 1]];
      count += row.length - 1;
    }
    expect(got).toBeCloseTo(sum / count, 5);
    const r = await train(model, seqs, { steps: 30, batchSize: 4, lr: 1e-2 });
    expect(r.finalLoss).toBeLessThan(r.records[0].loss / 2);
    model.dispose();
  });

  it("train(model, data, { evalData, evalEvery }) records evalLoss on those steps and at the end", async () => {
    const model = tinyModel();
    const r = await train(model, STREAM, { steps: 7, batchSize: 4, evalData: STREAM.subarray(0, 200), evalEvery: 3, evalBatches: 2 });
    expect(r.records.filter((x) => x.evalLoss !== undefined).map((x) => x.step)).toEqual([2, 5, 6]);
    expect(r.evalLoss).toBe(r.records[6].evalLoss);
    expect(r.evalLoss).toBeCloseTo(evaluateLoss(model, STREAM.subarray(0, 200), { batchSize: 4, batches: 2, seqLen: 16 }), 6);
    model.dispose();
  });

  it("train(model, data, { progress: true }) writes a progress line with step, loss, lr, tok/s and ETA to stderr", async () => {
    const model = tinyModel();
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await train(model, STREAM, { steps: 4, batchSize: 2, progress: true, progressEvery: 2 });
    } finally {
      process.stderr.write = write;
    }
    const text = lines.join("");
    expect(text).toMatch(/train step 2\/4 {2}loss \d+\.\d{4} {2}lr [\d.e-]+ {2}\|g\| [\d.e-]+ {2}[\d,]+ tok\/s {2}ETA \d+s/);
    expect(text).toMatch(/train step 4\/4 /);
    model.dispose();
  });

  it("train(model, data, { checkpointDir, checkpointEvery }) writes step folders atomically and keeps the newest", async () => {
    const dir = path.join(tmp, "layout");
    const model = tinyModel();
    const r = await train(model, STREAM, { steps: 5, batchSize: 2, checkpointDir: dir, checkpointEvery: 2, keepCheckpoints: 2 });
    expect(fs.readdirSync(dir).sort()).toEqual(["step-00000004", "step-00000005"]);
    expect(r.checkpoint).toBe(path.join(dir, "step-00000005"));
    const ck = path.join(dir, "step-00000005");
    expect(fs.readdirSync(ck).sort()).toEqual(["model.safetensors", "optimizer.safetensors", "trainer_state.json"]);
    const weights = readSafetensors(path.join(ck, "model.safetensors"));
    expect([...weights.keys()].sort()).toEqual([...model.params.keys()].sort());
    expect(weights.get("blocks.0.attn.W_Q")!.shape).toEqual([32, 32]);
    expect(sameBits(new Map([...weights].map(([k, t]) => [k, t.data])), snapshot(model))).toBe(true);
    const opt = readSafetensors(path.join(ck, "optimizer.safetensors"));
    expect(opt.size).toBe(2 * model.params.size);
    expect(opt.has("m.embed.W_E") && opt.has("v.ln_final.w")).toBe(true);
    const state = JSON.parse(fs.readFileSync(path.join(ck, "trainer_state.json"), "utf8"));
    expect(state).toMatchObject({ step: 5, t: 5, seed: 0, options: { batchSize: 2, seqLen: 16, lr: 1e-3, steps: 5 } });
    expect(state.records).toHaveLength(5);
    model.dispose();
  });

  it("train(model, data, { resume: true }) continues bit-identically after an interruption", async () => {
    const opts = { steps: 9, batchSize: 4, lr: 5e-3, warmupSteps: 2, checkpointEvery: 3, seed: 42 };
    const full = tinyModel();
    const a = await train(full, STREAM, { ...opts, checkpointDir: path.join(tmp, "uninterrupted") });

    const dir = path.join(tmp, "interrupted");
    const first = tinyModel();
    await expect(
      train(first, STREAM, {
        ...opts,
        checkpointDir: dir,
        onStep: (rec) => {
          if (rec.step === 4) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    first.dispose();
    // What a kill during the next checkpoint's write leaves behind: a temp folder, never a step folder.
    fs.mkdirSync(path.join(dir, ".tmp-step-00000006-p999999999-dead"));
    fs.writeFileSync(path.join(dir, ".tmp-step-00000006-p999999999-dead", "model.safetensors"), "partial");
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([3]);

    const resumed = tinyModel("gpt2", {}, 99); // different init: everything must come from the checkpoint
    const b = await train(resumed, STREAM, { ...opts, checkpointDir: dir, resume: true });
    expect(b.records.map((x) => x.loss)).toEqual(a.records.map((x) => x.loss));
    expect(b.records.map((x) => x.gradNorm)).toEqual(a.records.map((x) => x.gradNorm));
    expect(sameBits(snapshot(resumed), snapshot(full))).toBe(true);
    expect(fs.existsSync(path.join(dir, ".tmp-step-00000006-p999999999-dead"))).toBe(false);

    // Resuming a finished run is a no-op that returns the history; changed numerics are refused.
    const again = await train(resumed, STREAM, { ...opts, checkpointDir: dir, resume: true });
    expect(again.records.map((x) => x.loss)).toEqual(a.records.map((x) => x.loss));
    await expect(train(resumed, STREAM, { ...opts, lr: 1e-3, seed: 1, checkpointDir: dir, resume: true })).rejects.toThrow(
      /train: cannot resume from .*step-00000009 \(2 differences\):\n {2}- lr was 0\.005, now 0\.001\n {2}- seed was 42, now 1/,
    );
    full.dispose();
    resumed.dispose();
  });

  it("train(model, data) stops on a NaN loss naming the step, before the update, weights unchanged", async () => {
    const model = tinyModel();
    let atNaN: Map<string, Float32Array> | null = null;
    const err = await train(model, STREAM, {
      steps: 10,
      batchSize: 2,
      lr: 1e-3,
      schedule: "constant",
      onStep: (rec) => {
        if (rec.step === 2) {
          const w = model.param("blocks.0.mlp.W_in");
          w.assign(tf.fill(w.shape, NaN));
          atNaN = snapshot(model);
        }
      },
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^train: loss is NaN at step 3 \(lr 1e-3\); last finite loss \d+\.\d+ at step 2; weights are left as they were before this step$/);
    expect(sameBits(snapshot(model), atNaN!)).toBe(true);

    const broken = tinyModel();
    broken.param("ln_final.w").assign(tf.fill([32], NaN));
    await expect(train(broken, STREAM, { steps: 3, batchSize: 2 })).rejects.toThrow(/^train: loss is NaN at step 0 \(lr 1e-3\); no finite loss before it/);
    model.dispose();
    broken.dispose();
  });

  it("train(model, data, bad options) lists every problem in one RangeError", async () => {
    const model = tinyModel();
    const bad = {
      steps: 0,
      batchSize: 2.5,
      seqLen: 100,
      lr: Infinity,
      schedule: "cosin",
      betas: [0.9],
      clipNorm: -1,
      evalEvery: 3,
      stpes: 5,
    } as unknown as Parameters<typeof train>[2];
    const err = await train(model, [1, 2, 300], bad).catch((e: Error) => e);
    expect(err).toBeInstanceOf(RangeError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^train: invalid options \(11 problems\):/);
    for (const re of [
      /unknown option "stpes" \(did you mean "steps"\?\)/,
      /steps must be a positive integer, received 0/,
      /batchSize must be a positive integer, received 2\.5/,
      /seqLen must be at most the model's n_ctx \(16\), received 100/,
      /lr must be a positive finite number, received Infinity/,
      /schedule must be one of "constant", "cosine", "linear", received "cosin"/,
      /betas must be \[beta1, beta2\] with each in \[0, 1\), received \[0\.9\]/,
      /clipNorm must be a positive number, Infinity or null, received -1/,
      /evalEvery needs evalData/,
      /data must hold at least seqLen \+ 1 = 101 tokens, received a stream of 3/,
      /data token ids must be integers in \[0, 48\), received 300 at index 2/,
    ]) {
      expect(msg).toMatch(re);
    }
    await expect(train(model, STREAM, { steps: 2, resume: true })).rejects.toThrow(/resume: true needs checkpointDir/);
    await expect(train(model, [[1]], { steps: 2 })).rejects.toThrow(/data sequences need at least 2 tokens/);
    model.dispose();
  });
});
