/**
 * Training on ONNX Runtime (kit/onnx/autodiff.ts, kit/onnx/train-step.ts) against the TensorFlow.js path: gradients
 * of every parameter on each model family, the loss curve of a short training run, masked losses, NaN handling and
 * checkpoint / resume.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { loadModel } from "../kit/io/load";
import { makeConfig, type ModelConfigInput } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import { makeBatcher, type Batch } from "../kit/train/batches";
import { listCheckpoints, loadCheckpoint } from "../kit/train/checkpoint";
import { train, type TrainRuntime } from "../kit/train/trainer";
import { OnnxLossGrad, batchFeeds } from "../kit/onnx/train-step";
import { OrtTensor } from "../kit/onnx";
import { appendGradients } from "../kit/onnx/autodiff";
import { DT, GraphBuilder } from "../kit/onnx/proto";
import { OnnxTrainer } from "../kit/onnx/train-step";
import { maskedNllAndGrads, policyFeeds, policyLossAndGrads, type Rollout } from "../kit/rl/policy";
import { PolicyGradient } from "../kit/rl/trainer";

const STORIES_HF = path.resolve(__dirname, "../data/models/stories260K");

beforeAll(async () => {
  await initBackend();
});

/** A seeded random token batch [B, T + 1], optionally with some padded targets masked out. */
function randomBatch(V: number, B: number, T: number, seed: number, masked = false): Batch {
  const batcher = makeBatcher(
    masked
      ? Array.from({ length: 2 * B }, (_, i) => Array.from({ length: 3 + ((i * 7) % (T - 1)) }, (_, j) => (i * 31 + j * 17 + seed) % V))
      : Int32Array.from({ length: 4096 }, (_, i) => (i * 2654435761 + seed * 97) % V),
    { batchSize: B, seqLen: T, seed, padId: 0 },
  );
  return batcher(0);
}

/** tf.variableGrads of the (masked) mean next-token loss, as the trainer computes it. */
function tfjsGrads(model: HookedTransformer, batch: Batch): { loss: number; grads: Map<string, Float32Array> } {
  const { batchSize: B, seqLen: T } = batch;
  const vars = [...model.params.values()];
  const nameOf = new Map([...model.params].map(([n, v]) => [v.name, n]));
  const { value, grads } = tf.variableGrads(() => {
    const tokens = tf.tensor2d(batch.tokens, [B, T + 1], "int32");
    const V = model.cfg.d_vocab;
    const logits = model.forward(tokens.slice([0, 0], [B, T]) as tf.Tensor2D, { training: true });
    const logp = tf.logSoftmax(logits.reshape([-1, V]));
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tokens.slice([0, 1], [B, T]).reshape([-1]) as tf.Tensor1D, V)), -1);
    const mask = batch.mask ? tf.tensor1d(batch.mask) : tf.onesLike(picked);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, mask))), batch.targets) as tf.Scalar;
  }, vars);
  const out = new Map<string, Float32Array>();
  for (const [k, g] of Object.entries(grads)) {
    out.set(nameOf.get(k)!, g.dataSync() as Float32Array);
    g.dispose();
  }
  const loss = value.dataSync()[0];
  value.dispose();
  return { loss, grads: out };
}

/**
 * Per parameter max|a − b| / max|b|; the worst parameter. A gradient that is zero in exact arithmetic (b_K: a bias
 * added to every key shifts each query's scores by a constant, which softmax ignores) holds only rounding noise on
 * both paths, so its scale is floored at 1e-3 of the largest parameter's.
 */
function worstRelative(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { rel: number; at: string } {
  let worst = { rel: 0, at: "" };
  let top = 0;
  for (const y of b.values()) for (let i = 0; i < y.length; i++) top = Math.max(top, Math.abs(y[i]));
  for (const [name, y] of b) {
    const x = a.get(name)!;
    expect(x.length, name).toBe(y.length);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < y.length; i++) {
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(y[i]));
    }
    const rel = diff / Math.max(scale, 1e-3 * top);
    if (!(rel <= worst.rel)) worst = { rel, at: name };
  }
  return worst;
}

function compareGrads(model: HookedTransformer, batch: Batch): { rel: number; at: string; lossDiff: number } {
  const ref = tfjsGrads(model, batch);
  const lg = new OnnxLossGrad(model, { batchSize: batch.batchSize, seqLen: batch.seqLen });
  try {
    const ours = lg.run(model.weightsToArrays(), batchFeeds(batch));
    expect([...ours.grads.keys()].sort()).toEqual([...ref.grads.keys()].sort());
    return { ...worstRelative(ours.grads, ref.grads), lossDiff: Math.abs(ours.loss - ref.loss) };
  } finally {
    lg.dispose();
  }
}

const FAMILIES: [string, ModelConfigInput][] = [
  ["GPT-2, tied, gelu_new", { family: "gpt2", d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 61, n_ctx: 16 }],
  ["GPT-2, untied, exact gelu", { family: "gpt2", d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 61, n_ctx: 16, tiedEmbeddings: false, actFn: "gelu" }],
  ["Llama, halves RoPE, untied", { family: "llama", d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 61, n_ctx: 16 }],
  ["Llama, interleaved RoPE, GQA, tied", { family: "llama", d_model: 32, n_layers: 2, n_heads: 4, n_key_value_heads: 2, d_vocab: 61, n_ctx: 16, ropeStyle: "interleaved", tiedEmbeddings: true }],
  ["Qwen2-style biases, GQA", { family: "llama", d_model: 32, n_layers: 2, n_heads: 4, n_key_value_heads: 1, d_vocab: 61, n_ctx: 16, attnBias: true }],
  ["GPT-2, relu", { family: "gpt2", d_model: 32, n_layers: 1, n_heads: 2, d_vocab: 61, n_ctx: 16, actFn: "relu" }],
  // The Llama variants of docs/families.md.
  ["Qwen3-style per-head q/k norms, d_head ≠ d/H", { family: "llama", d_model: 32, n_layers: 2, n_heads: 4, n_key_value_heads: 2, d_head: 16, d_vocab: 61, n_ctx: 16, qkNorm: "head" }],
  ["OLMo 2-style post-norms and full q/k norms", { family: "llama", d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 61, n_ctx: 16, qkNorm: "full", normPlacement: "post" }],
  ["Gemma 2-style soft-caps, (1 + w) pre/post norms, scaled embeddings, local/global windows", { family: "llama", d_model: 32, n_layers: 2, n_heads: 4, n_key_value_heads: 2, d_vocab: 61, n_ctx: 16, tiedEmbeddings: true, actFn: "gelu_new", normPlacement: "both", normOffset: 1, embedScale: Math.sqrt(32), attnScale: 12 ** -0.5, attnSoftcap: 1.5, finalSoftcap: 2.5, slidingWindow: 4, slidingLayers: [true, false] }],
  ["Mistral-style sliding window", { family: "llama", d_model: 32, n_layers: 2, n_heads: 4, n_key_value_heads: 2, d_vocab: 61, n_ctx: 16, slidingWindow: 3 }],
];

describe("OnnxLossGrad (gradient graphs)", () => {
  for (const [label, input] of FAMILIES) {
    it(`OnnxLossGrad(model).run(params, feeds) equals tf.variableGrads within 1e-4 relative: ${label}`, () => {
      const model = HookedTransformer.fromConfig(makeConfig({ ...input, initStd: 0.2 }), { seed: 3 });
      try {
        const r = compareGrads(model, randomBatch(model.cfg.d_vocab, 3, 12, 5));
        expect(r.lossDiff).toBeLessThan(1e-4);
        expect(r.rel, `worst at ${r.at}`).toBeLessThan(1e-4);
      } finally {
        model.dispose();
      }
    });
  }
});

describe("OnnxLossGrad on real weights and masks", () => {
  it("OnnxLossGrad(stories260K).run(params, feeds) equals tf.variableGrads within 1e-4 relative", async () => {
    const model = await loadModel(STORIES_HF);
    try {
      const r = compareGrads(model, randomBatch(model.cfg.d_vocab, 2, 24, 9));
      expect(r.lossDiff).toBeLessThan(1e-4);
      expect(r.rel, `worst at ${r.at}`).toBeLessThan(1e-4);
    } finally {
      model.dispose();
    }
  });

  it("OnnxLossGrad(model).run with a padded batch's mask equals the tfjs masked mean and its gradients", () => {
    const model = HookedTransformer.fromConfig(makeConfig({ family: "llama", d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 61, n_ctx: 16, initStd: 0.2 }), { seed: 4 });
    try {
      const batch = randomBatch(model.cfg.d_vocab, 4, 12, 2, true);
      expect(batch.mask).not.toBeNull();
      expect(batch.targets).toBeLessThan(4 * 12);
      const r = compareGrads(model, batch);
      expect(r.lossDiff).toBeLessThan(1e-4);
      expect(r.rel, `worst at ${r.at}`).toBeLessThan(1e-4);
    } finally {
      model.dispose();
    }
  });
});

const PATTERN = [5, 9, 2, 7, 11, 3, 8, 1, 12, 4, 6, 10];
const STREAM = Int32Array.from({ length: 600 }, (_, i) => PATTERN[i % PATTERN.length]);
const tiny = (seed = 3, family: "gpt2" | "llama" = "gpt2") =>
  HookedTransformer.fromConfig(makeConfig({ family, d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 16, n_ctx: 16 }), { seed });
const snapshot = (m: HookedTransformer) => m.weightsToArrays();
function sameBits(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  for (const [k, x] of a) {
    const y = b.get(k)!;
    if (!Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))) return false;
  }
  return a.size === b.size;
}

describe("train(model, data, { runtime })", () => {
  it("train(model, stream, { runtime: 'onnx' | 'tfjs', steps: 200 }) give the same loss curve within 1e-3", async () => {
    const opts = { steps: 200, batchSize: 4, seqLen: 12, lr: 3e-3, warmupSteps: 10, clipNorm: 0.5, seed: 7 };
    const a = tiny(3, "llama");
    const b = tiny(3, "llama");
    try {
      const ra = await train(a, STREAM, { ...opts, runtime: "tfjs" });
      const rb = await train(b, STREAM, { ...opts, runtime: "onnx" });
      const worst = Math.max(...ra.records.map((r, i) => Math.abs(r.loss - rb.records[i].loss)));
      expect(worst).toBeLessThan(1e-3);
      expect(rb.finalLoss).toBeLessThan(ra.records[0].loss / 3); // it learned the pattern
      expect(rb.records.some((r) => r.gradNorm > 0.5)).toBe(true); // clipping was exercised
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it("train(model, sequences, { runtime: 'onnx' }) masks padding like the tfjs path", async () => {
    const seqs = Array.from({ length: 12 }, (_, i) => PATTERN.slice(0, 4 + (i % 8)));
    const opts = { steps: 20, batchSize: 4, lr: 3e-3, seed: 1, decayEmbeddings: true };
    const a = tiny();
    const b = tiny();
    try {
      const ra = await train(a, seqs, { ...opts, runtime: "tfjs" });
      const rb = await train(b, seqs, { ...opts, runtime: "onnx" });
      const worst = Math.max(...ra.records.map((r, i) => Math.abs(r.loss - rb.records[i].loss)));
      expect(worst).toBeLessThan(1e-4);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  for (const decayEmbeddings of [false, true]) {
    it(`train(model, data, { runtime: 'onnx', weightDecay, decayEmbeddings: ${decayEmbeddings} }) decays the parameters AdamW decays`, async () => {
      // One step with and without weight decay from the same weights: the difference is the decay alone (−lr·wd·w on
      // decayed parameters, 0 elsewhere), free of AdamW's sign noise on near-zero gradients.
      const decayOf = async (runtime: TrainRuntime) => {
        const opts = { steps: 1, batchSize: 2, lr: 0.05, decayEmbeddings, schedule: "constant" as const, seed: 3, runtime };
        const [x, y] = [tiny(5, "llama"), tiny(5, "llama")];
        await train(x, STREAM, { ...opts, weightDecay: 0.5 });
        await train(y, STREAM, { ...opts, weightDecay: 0 });
        const [wx, wy] = [snapshot(x), snapshot(y)];
        x.dispose();
        y.dispose();
        return new Map([...wx].map(([k, v]) => [k, v.map((z, i) => z - wy.get(k)![i])]));
      };
      const ref = await decayOf("tfjs");
      const ours = await decayOf("onnx");
      const decayed = (m: Map<string, Float32Array>) => [...m].filter(([, d]) => d.some((z) => z !== 0)).map(([k]) => k).sort();
      expect(decayed(ours)).toEqual(decayed(ref));
      expect(decayed(ours).includes("embed.W_E")).toBe(decayEmbeddings);
      expect(decayed(ours)).toContain("blocks.0.attn.W_Q");
      expect(decayed(ours)).not.toContain("blocks.0.ln1.w");
      for (const [k, d] of ref) for (let i = 0; i < d.length; i++) expect(Math.abs(ours.get(k)![i] - d[i]), k).toBeLessThan(1e-6);
    });
  }

  it("train(model, data, { runtime: 'onnx' }) stops on NaN naming the step, weights unchanged", async () => {
    const model = tiny();
    let before: Map<string, Float32Array> | null = null;
    const err = await train(model, STREAM, {
      steps: 10,
      batchSize: 2,
      schedule: "constant",
      runtime: "onnx",
      onStep: (rec) => {
        if (rec.step === 3) {
          const w = model.param("blocks.1.attn.W_V");
          w.assign(tf.fill(w.shape, NaN));
          before = snapshot(model);
        }
      },
    }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^train: loss is NaN at step 4 \(lr 1e-3\); last finite loss \d+\.\d+ at step 3; weights are left as they were before this step$/);
    expect(sameBits(snapshot(model), before!)).toBe(true);
    model.dispose();
  });

  for (const runtime of ["onnx", "tfjs"] as TrainRuntime[]) {
    it(`train(model, data, { runtime: '${runtime}', resume: true }) continues bit-identically and records the runtime`, async () => {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "onnx-train-"));
      const opts = { steps: 8, batchSize: 4, lr: 5e-3, warmupSteps: 2, checkpointEvery: 3, seed: 42, runtime };
      const full = tiny();
      const first = tiny();
      const resumed = tiny(99);
      try {
        const a = await train(full, STREAM, { ...opts, checkpointDir: path.join(tmp, "full") });
        const dir = path.join(tmp, "cut");
        const stop = (rec: { step: number }) => {
          if (rec.step === 4) throw new Error("killed");
        };
        await expect(train(first, STREAM, { ...opts, checkpointDir: dir, onStep: stop })).rejects.toThrow("killed");
        expect(listCheckpoints(dir).map((c) => c.step)).toEqual([3]);
        expect(loadCheckpoint(listCheckpoints(dir)[0].dir).state.runtime).toBe(runtime);
        const b = await train(resumed, STREAM, { ...opts, runtime: "auto", checkpointDir: dir, resume: true });
        expect(b.records.map((x) => x.loss)).toEqual(a.records.map((x) => x.loss));
        expect(b.records.map((x) => x.gradNorm)).toEqual(a.records.map((x) => x.gradNorm));
        expect(sameBits(snapshot(resumed), snapshot(full))).toBe(true);
        const other = runtime === "onnx" ? "tfjs" : "onnx";
        await expect(train(resumed, STREAM, { ...opts, runtime: other, checkpointDir: dir, resume: true })).rejects.toThrow(
          new RegExp(`cannot resume from .* with runtime "${other}": it was trained with "${runtime}"`),
        );
      } finally {
        for (const m of [full, first, resumed]) m.dispose();
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
  }

  it("train(model with a permanent hook, data) runs on tfjs under 'auto' and refuses 'onnx'", async () => {
    const model = tiny();
    let calls = 0;
    const remove = model.addPermanentHook("blocks.0.hook_resid_post", (x) => {
      calls++;
      return x;
    });
    try {
      await train(model, STREAM, { steps: 2, batchSize: 2 });
      expect(calls).toBeGreaterThan(0);
      await expect(train(model, STREAM, { steps: 2, batchSize: 2, runtime: "onnx" })).rejects.toThrow(/runtime "onnx" cannot run the model's 1 permanent hook/);
    } finally {
      remove();
      model.dispose();
    }
  });
});

describe("OnnxLossGrad with the KL term (the RL policy update)", () => {
  it("OnnxLossGrad(model, { kl: true }) equals policyLossAndGrads (advantages, k3 KL to a reference) within 1e-4", () => {
    const cfg = makeConfig({ family: "llama", d_model: 32, n_layers: 2, n_heads: 4, n_key_value_heads: 2, d_vocab: 40, n_ctx: 16, initStd: 0.2 });
    const policy = HookedTransformer.fromConfig(cfg, { seed: 1 });
    const reference = HookedTransformer.fromConfig(cfg, { seed: 2 });
    const rollouts: Rollout[] = Array.from({ length: 4 }, (_, i) => {
      const n = 6 + 2 * i;
      const tokens = Array.from({ length: n }, (_, t) => (t === 0 ? 1 : (i * 13 + t * 7) % 40));
      return { tokens, mask: tokens.map((_, t) => (t >= 3 ? 1 : 0)), reward: i, group: 0 };
    });
    const advantages = [1.5, -0.5, 0.25, -1.25];
    const klCoef = 0.3;
    const lg = new OnnxLossGrad(policy, { batchSize: 4, seqLen: 13, kl: true });
    try {
      const ref = policyLossAndGrads(policy, rollouts, { advantages, reference, klCoef });
      // The same batch as graph feeds: right-padded inputs / targets, weights m·A, KL weights m·β, the reference's log-probs.
      const B = 4;
      const T = 13;
      const ids = new BigInt64Array(B * T);
      const targets = new BigInt64Array(B * T);
      const weights = new Float32Array(B * T);
      const klWeights = new Float32Array(B * T);
      let count = 0;
      rollouts.forEach((r, i) => {
        for (let t = 0; t < T; t++) {
          ids[i * T + t] = BigInt(r.tokens[t] ?? 0);
          const inside = t + 1 < r.tokens.length;
          targets[i * T + t] = BigInt(inside ? r.tokens[t + 1] : 0);
          const m = inside ? r.mask[t + 1] : 0;
          weights[i * T + t] = m * advantages[i];
          klWeights[i * T + t] = m * klCoef;
          count += m;
        }
      });
      const refLogp = tf.tidy(() => {
        const logits = reference.forward(tf.tensor2d(Int32Array.from(ids, Number), [B, T], "int32"), {});
        const lsm = tf.logSoftmax(logits.reshape([-1, cfg.d_vocab]));
        return tf.sum(tf.mul(lsm, tf.oneHot(tf.tensor1d(Int32Array.from(targets, Number), "int32"), cfg.d_vocab)), -1).dataSync() as Float32Array;
      });
      const positions = BigInt64Array.from({ length: T }, (_, t) => BigInt(t));
      const ours = lg.run(policy.weightsToArrays(), {
        input_ids: new OrtTensor("int64", ids, [B, T]),
        position_ids: new OrtTensor("int64", positions, [1, T]),
        targets: new OrtTensor("int64", targets, [B, T]),
        weights: new OrtTensor("float32", weights, [B, T]),
        kl_weights: new OrtTensor("float32", klWeights, [B, T]),
        ref_logp: new OrtTensor("float32", refLogp, [B, T]),
        normaliser: new OrtTensor("float32", Float32Array.of(count), []),
      });
      const refGrads = new Map([...ref.grads].map(([k, g]) => [k, g.dataSync() as Float32Array]));
      for (const g of ref.grads.values()) g.dispose();
      expect(Math.abs(ours.loss - ref.stats.loss)).toBeLessThan(1e-5);
      const r = worstRelative(ours.grads, refGrads);
      expect(r.rel, `worst at ${r.at}`).toBeLessThan(1e-4);
    } finally {
      lg.dispose();
      policy.dispose();
      reference.dispose();
    }
  });
});

describe("appendGradients and OnnxTrainer edge cases", () => {
  it("appendGradients(g, loss, wrt) names an op without a gradient rule on a differentiable path", () => {
    const g = new GraphBuilder();
    g.input("x", DT.FLOAT, [3]);
    const y = g.op("ReduceSum", [g.op("Cos", ["x"])], { keepdims: 0 });
    expect(() => appendGradients(g, y, ["x"], { shapes: new Map([["x", [3]]]) })).toThrow(/op Cos/);
  });

  it("OnnxTrainer.step(batch, lr) reports a non-finite update by parameter and changes nothing until commit()", () => {
    const model = tiny();
    const trainer = new OnnxTrainer(model, { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
    try {
      const batch = randomBatch(16, 2, 8, 1);
      const before = new Map([...trainer.params].map(([k, v]) => [k, new Float32Array(v)]));
      const bad = trainer.step(batch, 3e38, null);
      expect(Number.isFinite(bad.loss)).toBe(true);
      expect(bad.nonFinite.length).toBeGreaterThan(0);
      expect(sameBits(trainer.params, before)).toBe(true);
      expect(trainer.t).toBe(0);
      const ok = trainer.step(batch, 1e-3, 1);
      expect(ok.nonFinite).toEqual([]);
      ok.commit();
      expect(trainer.t).toBe(1);
      expect(sameBits(trainer.params, before)).toBe(false);
    } finally {
      trainer.dispose();
      model.dispose();
    }
  });
});

describe("policyFeeds(model, rollouts, options)", () => {
  it("policyFeeds with advantage 1 and no reference gives maskedNllAndGrads' loss and gradients (rows padded to 16)", () => {
    const cfg = makeConfig({ family: "gpt2", d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 40, n_ctx: 32, initStd: 0.2 });
    const model = HookedTransformer.fromConfig(cfg, { seed: 8 });
    const rows = Array.from({ length: 3 }, (_, i) => {
      const tokens = Array.from({ length: 6 + 3 * i }, (_, t) => (i * 5 + t * 3 + 1) % 40);
      return { tokens, mask: tokens.map((_, t) => (t >= 4 ? 1 : 0)), reward: 0, group: 0 };
    });
    const { feeds, B, T, tokens } = policyFeeds(model, rows, { advantages: [1, 1, 1], reference: null });
    expect([B, T, tokens]).toEqual([3, 16, 2 + 5 + 8]);
    const lg = new OnnxLossGrad(model, { batchSize: B, seqLen: T, kl: true, stats: true });
    try {
      const ref = maskedNllAndGrads(model, rows);
      const refGrads = new Map([...ref.grads].map(([k, g]) => [k, g.dataSync() as Float32Array]));
      for (const g of ref.grads.values()) g.dispose();
      const ours = lg.run(model.weightsToArrays(), feeds);
      expect(Math.abs(ours.loss - ref.loss)).toBeLessThan(1e-5);
      const r = worstRelative(ours.grads, refGrads);
      expect(r.rel, `worst at ${r.at}`).toBeLessThan(1e-4);
    } finally {
      lg.dispose();
      model.dispose();
    }
  });
});

describe("PolicyGradient(model, reference, { runtime })", () => {
  it("PolicyGradient.step(rollouts) on 'onnx' gives the tfjs path's stats and weights (KL, reflection advantages, GRPO)", () => {
    const cfg = makeConfig({ family: "gpt2", d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 40, n_ctx: 32, initStd: 0.1 });
    const reference = HookedTransformer.fromConfig(cfg, { seed: 2 });
    const a = HookedTransformer.fromConfig(cfg, { seed: 1 });
    const b = HookedTransformer.fromConfig(cfg, { seed: 1 });
    const rollouts = (step: number): Rollout[] =>
      Array.from({ length: 6 }, (_, i) => {
        const n = 5 + ((i + step) % 7);
        const tokens = Array.from({ length: n }, (_, t) => (t === 0 ? 1 : (i * 11 + t * 5 + step) % 40));
        const mask = tokens.map((_, t) => (t >= 2 ? 1 : 0));
        return { tokens, mask, reward: (i * 7 + step) % 3, group: i % 2, reflectionMask: mask.map((m, t) => (m && t === n - 1 ? 1 : 0)), reflectionReward: i % 2 };
      });
    const opts = { method: "grpo" as const, lr: 5e-3, klCoef: 0.2, clipNorm: 0.5 };
    const pa = new PolicyGradient(a, reference, { ...opts, runtime: "tfjs" });
    const pb = new PolicyGradient(b, reference, { ...opts, runtime: "onnx" });
    try {
      expect(pb.runtime).toBe("onnx");
      for (let s = 0; s < 4; s++) {
        const x = pa.step(rollouts(s));
        const y = pb.step(rollouts(s));
        for (const k of ["loss", "kl", "entropy", "gradNorm"] as const) expect(Math.abs(x[k] - y[k]), `${k} at step ${s}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(x[k])));
        expect(y.tokens).toBe(x.tokens);
      }
      // b_K's exact gradient is 0, so its AdamW steps (m / √v of rounding noise, ~lr each) differ between runtimes.
      const noBK = (m: Map<string, Float32Array>) => new Map([...m].filter(([k]) => !k.endsWith("attn.b_K")));
      const r = worstRelative(noBK(snapshot(b)), noBK(snapshot(a)));
      expect(r.rel, `weights, worst at ${r.at}`).toBeLessThan(1e-3);
    } finally {
      pa.dispose();
      pb.dispose();
      for (const m of [a, b, reference]) m.dispose();
    }
  });
});
