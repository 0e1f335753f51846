/**
 * Model families beyond GPT-2 and Llama (issue 18 item 5): Qwen3, OLMo 2, Phi-3, Gemma 2, and sliding windows
 * (Mistral, Qwen2 use_sliding_window). Each is a random checkpoint written in its exact Hugging Face format (the
 * hub's config keys and tensor names), loaded by `loadHfFolder`, and checked against the independent float64
 * reference of test/helpers/reference-hf.ts on both runtimes; negative controls show the check catches a wrong norm
 * placement, a missing soft-cap, a missing window, q/k norm or (1 + w) offset.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { configFromHf, configToHf, loadHfFolder, saveHfFolder } from "../kit/io/hf";
import { readSafetensors } from "../kit/io/safetensors";
import { makeConfig } from "../kit/model/config";
import type { HookedTransformer } from "../kit/model/transformer";
import { clearOnnxSessions, generateOnnx, runWithCacheOnnx } from "../kit/onnx";
import { generate } from "../kit/runtime/generate";
import { withInferencePath } from "../kit/runtime/route";
import { steeringHook } from "../kit/vectors/steer";
import { referenceGreedy, referenceLogits, type ReferenceFaults } from "./helpers/reference-hf";
import { CHECKPOINTS, FIXTURE_PROMPT, FIXTURE_SEED, FIXTURE_TOKENS, randomWeights, tensorShapes, writeCheckpoint } from "./helpers/hf-checkpoints";
import { tempFiles } from "./helpers/temp-files";

beforeAll(async () => {
  await initBackend();
});

type Json = Record<string, unknown>;
const tmp = tempFiles("pk-families-");
const tfjs = <T>(fn: () => T): T => withInferencePath("tfjs", fn);

const TOKENS = FIXTURE_TOKENS;
const PROMPT = FIXTURE_PROMPT;

/** Largest |kit − reference| over all positions of one row of logits. */
function maxDiffToReference(logits: tf.Tensor, ref: Float64Array[]): number {
  const data = logits.dataSync();
  const V = ref[0].length;
  let worst = 0;
  ref.forEach((row, t) => row.forEach((v, i) => (worst = Math.max(worst, Math.abs(data[t * V + i] - v)))));
  return worst;
}

interface Family {
  hf: Json;
  weights: Map<string, Float32Array>;
  model: HookedTransformer;
}

function family(type: string, seed = FIXTURE_SEED[type] ?? 11): Family {
  const hf = CHECKPOINTS[type];
  const weights = randomWeights(hf, seed);
  const dir = path.join(tmp.root, `${type}-${seed}-${Math.random().toString(36).slice(2, 8)}`);
  return { hf, weights, model: loadHfFolder(writeCheckpoint(dir, hf, weights), { tokenizer: null }) };
}

/** The features each family's negative controls remove (each must move the logits far beyond the 1e-4 tolerance). */
const CONTROLS: Record<string, ReferenceFaults[]> = {
  qwen3: [{ noQkNorm: true }],
  olmo2: [{ preNormInsteadOfPost: true }, { noQkNorm: true }],
  phi3: [{ swapGateUp: true }, { noSlidingWindow: true }],
  gemma2: [{ noSoftcap: true }, { noPostNorm: true }, { noNormOffset: true }, { noSlidingWindow: true }],
  mistral: [{ noSlidingWindow: true }],
  qwen2: [{ noSlidingWindow: true }],
};

/** Logits and greedy ids that transformers 5.18 itself computed (float64, eager) on these checkpoints: test/fixtures/families. */
const HF_FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/families/hf-logits.json"), "utf8")) as {
  tokens: number[];
  families: Record<string, { logits: number[][]; greedy: number[] }>;
};

describe.each(Object.keys(CHECKPOINTS))("the %s family from its Hugging Face checkpoint", (type) => {
  it("the float64 reference and the kit agree with transformers' own logits (≤ 1e-4) and greedy ids (committed fixture)", () => {
    const { hf, weights, model } = family(type);
    try {
      const fixture = HF_FIXTURE.families[type];
      expect(HF_FIXTURE.tokens).toEqual(TOKENS);
      const hfLogits = fixture.logits.map((row) => Float64Array.from(row));
      const ref = referenceLogits(hf, weights, TOKENS);
      expect(Math.max(...ref.flatMap((row, t) => Array.from(row, (v, i) => Math.abs(v - hfLogits[t][i]))))).toBeLessThan(1e-4);
      const a = tfjs(() => model.run([TOKENS]));
      expect(maxDiffToReference(a, hfLogits)).toBeLessThan(1e-4);
      a.dispose();
      expect(referenceGreedy(hf, weights, PROMPT, 8)).toEqual(fixture.greedy);
    } finally {
      model.dispose();
    }
  });

  it("loadHfFolder(dir) gives the float64 reference's logits (≤ 1e-4) and greedy ids on TensorFlow.js and ONNX Runtime; the negative controls miss by far", () => {
    const { hf, weights, model } = family(type);
    try {
      const ref = referenceLogits(hf, weights, TOKENS);
      const a = tfjs(() => model.run([TOKENS]));
      const b = runWithCacheOnnx(model, [TOKENS], { namesFilter: [] });
      try {
        expect(maxDiffToReference(a, ref)).toBeLessThan(1e-4);
        expect(maxDiffToReference(b.logits, ref)).toBeLessThan(1e-4);
        for (const faults of CONTROLS[type]) {
          expect(maxDiffToReference(a, referenceLogits(hf, weights, TOKENS, faults)), JSON.stringify(faults)).toBeGreaterThan(1e-2);
        }
      } finally {
        a.dispose();
        b.logits.dispose();
        b.cache.dispose();
      }
      const greedy = referenceGreedy(hf, weights, PROMPT, 8);
      expect(new Set(greedy).size).toBeGreaterThan(1); // not a degenerate repeat
      expect(tfjs(() => generate(model, [PROMPT], { maxNewTokens: 8, temperature: 0 })).newTokens[0]).toEqual(greedy);
      expect(generateOnnx(model, [PROMPT], { maxNewTokens: 8, temperature: 0 }).newTokens[0]).toEqual(greedy);
    } finally {
      clearOnnxSessions(model);
      model.dispose();
    }
  });
});

/** Largest |a − b| over two tensors of one shape (equal infinities count as 0). */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(b.shape).toEqual(a.shape);
  const [x, y] = [a.dataSync(), b.dataSync()];
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, x[i] === y[i] ? 0 : Math.abs(x[i] - y[i]));
  return worst;
}

describe.each(["qwen3", "olmo2", "phi3", "gemma2"])("the %s family's hooks, caches, steering and ragged generation", (type) => {
  it("runWithCacheOnnx(tokens) gives every hook point of runWithCache within 1e-4; steeringHook and ragged greedy generation agree on both runtimes", () => {
    const { model } = family(type);
    try {
      const names = model.hookNames();
      const placement = model.cfg.normPlacement ?? "pre";
      expect(names.includes("blocks.0.ln1_post.hook_normalized")).toBe(placement !== "pre");
      expect(names.includes("blocks.0.ln1.hook_normalized")).toBe(placement !== "post");
      const a = tfjs(() => model.runWithCache([TOKENS, [...TOKENS].reverse()]));
      const b = runWithCacheOnnx(model, [TOKENS, [...TOKENS].reverse()]);
      try {
        expect(b.cache.keys()).toEqual(names);
        const worst = Math.max(maxDiff(a.logits, b.logits), ...names.map((n) => maxDiff(a.cache.get(n), b.cache.get(n))));
        expect(worst).toBeLessThan(1e-4);
      } finally {
        for (const r of [a, b]) {
          r.logits.dispose();
          r.cache.dispose();
        }
      }
      const steer = steeringHook(Array.from({ length: 32 }, (_, i) => Math.sin(i)), { layer: 1, hook: "resid_mid", coefficient: 4 });
      const prompts = [PROMPT, [7, 8], TOKENS.slice(0, 9)];
      const greedyA = tfjs(() => generate(model, prompts, { maxNewTokens: 6, temperature: 0, fwdHooks: [steer] }));
      const greedyB = generateOnnx(model, prompts, { maxNewTokens: 6, temperature: 0, fwdHooks: [steer] });
      expect(greedyB.sequences).toEqual(greedyA.sequences);
      expect(greedyA.newTokens).not.toEqual(generateOnnx(model, prompts, { maxNewTokens: 6, temperature: 0 }).newTokens); // the steering acts
      const alone = generateOnnx(model, [TOKENS.slice(0, 9)], { maxNewTokens: 6, temperature: 0, fwdHooks: [steer] });
      expect(greedyB.newTokens[2]).toEqual(alone.newTokens[0]); // left padding changes nothing, windows included
    } finally {
      clearOnnxSessions(model);
      model.dispose();
    }
  });
});

describe("saving the families back to Hugging Face folders", () => {
  it.each(Object.keys(CHECKPOINTS))("saveHfFolder(%s model, dir) writes its model_type, config keys and tensor names; loadHfFolder reads the same logits back", (type) => {
    const { hf, model } = family(type);
    const dir = path.join(tmp.root, `saved-${type}`);
    try {
      saveHfFolder(model, dir);
      const written = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Json;
      expect([written.model_type, written.architectures]).toEqual([hf.model_type, hf.architectures]);
      for (const k of ["sliding_window", "attn_logit_softcapping", "final_logit_softcapping", "query_pre_attn_scalar"]) if (k in hf) expect(written[k], k).toEqual(hf[k]);
      const names = [...readSafetensors(path.join(dir, "model.safetensors")).keys()].sort();
      expect(names).toEqual([...tensorShapes(hf).keys()].sort());
      const back = loadHfFolder(dir, { tokenizer: null });
      const [x, y] = tfjs(() => [model.run([TOKENS]), back.run([TOKENS])]);
      expect(maxDiff(x, y)).toBe(0);
      tf.dispose([x, y]);
      back.dispose();
    } finally {
      model.dispose();
    }
  });

  it("configToHf(cfg) refuses a variant that no model_type expresses, naming the fields and hfModelType", () => {
    const cfg = makeConfig({ family: "llama", d_model: 32, n_heads: 4, d_vocab: 61, qkNorm: "head", attnSoftcap: 5 });
    expect(() => configToHf(cfg)).toThrow(/configToHf: model_type "llama" cannot express this config's qkNorm, attnSoftcap; set cfg.hfModelType/);
    expect(configToHf({ ...cfg, attnSoftcap: undefined, hfModelType: "qwen3" }).model_type).toBe("qwen3");
  });

  it("configFromHf(config) refuses partial rotary factors and bad layer_types, and makeConfig names bad variant fields", () => {
    expect(() => configFromHf({ ...CHECKPOINTS.phi3, partial_rotary_factor: 0.75 })).toThrow(/partial_rotary_factor 0.75 is not supported/);
    expect(() => configFromHf({ ...CHECKPOINTS.gemma2, layer_types: ["sliding_attention"] })).toThrow(/layer_types must list num_hidden_layers \(3\) entries/);
    expect(() => makeConfig({ family: "llama", normPlacement: "middle" as never, slidingWindow: 0, slidingLayers: [true] })).toThrow(/normPlacement[\s\S]*slidingWindow[\s\S]*slidingLayers must be null or n_layers \(2\) booleans/);
  });
});
