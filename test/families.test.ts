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
import { readSafetensors, writeSafetensors } from "../kit/io/safetensors";
import { makeConfig } from "../kit/model/config";
import type { HookedTransformer } from "../kit/model/transformer";
import { clearOnnxSessions, generateOnnx, runWithCacheOnnx } from "../kit/onnx";
import { generate } from "../kit/runtime/generate";
import { withInferencePath } from "../kit/runtime/route";
import { mulberry32, normalSampler } from "../kit/util/rng";
import { steeringHook } from "../kit/vectors/steer";
import { referenceGreedy, referenceLogits, type ReferenceFaults } from "./helpers/reference-hf";
import { tempFiles } from "./helpers/temp-files";

beforeAll(async () => {
  await initBackend();
});

type Json = Record<string, unknown>;
const tmp = tempFiles("pk-families-");
const tfjs = <T>(fn: () => T): T => withInferencePath("tfjs", fn);

const COMMON = { hidden_size: 32, intermediate_size: 48, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, vocab_size: 61, bos_token_id: 1, eos_token_id: 2, torch_dtype: "float32" };

/** Config files in the hub's spelling (the keys Qwen/Qwen3-0.6B, allenai/OLMo-2-1124-7B, microsoft/Phi-3-mini-4k-instruct, google/gemma-2-2b, … carry). */
const CHECKPOINTS: Record<string, Json> = {
  qwen3: { ...COMMON, architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", num_hidden_layers: 2, head_dim: 16, hidden_act: "silu", rms_norm_eps: 1e-6, rope_theta: 1000000, rope_scaling: null, attention_bias: false, attention_dropout: 0, use_sliding_window: false, sliding_window: null, max_window_layers: 2, tie_word_embeddings: true },
  olmo2: { ...COMMON, architectures: ["Olmo2ForCausalLM"], model_type: "olmo2", num_hidden_layers: 2, hidden_act: "silu", rms_norm_eps: 1e-6, rope_theta: 500000, rope_scaling: null, attention_bias: false, attention_dropout: 0, tie_word_embeddings: false, pad_token_id: 0 },
  phi3: { ...COMMON, architectures: ["Phi3ForCausalLM"], model_type: "phi3", num_hidden_layers: 2, hidden_act: "silu", rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null, original_max_position_embeddings: 64, sliding_window: 5, attention_bias: false, resid_pdrop: 0, tie_word_embeddings: false },
  gemma2: { ...COMMON, architectures: ["Gemma2ForCausalLM"], model_type: "gemma2", num_hidden_layers: 3, head_dim: 16, hidden_act: "gelu_pytorch_tanh", hidden_activation: "gelu_pytorch_tanh", rms_norm_eps: 1e-6, rope_theta: 10000, query_pre_attn_scalar: 12, attn_logit_softcapping: 4.0, final_logit_softcapping: 3.0, sliding_window: 4, attention_bias: false, pad_token_id: 0 },
  mistral: { ...COMMON, architectures: ["MistralForCausalLM"], model_type: "mistral", num_hidden_layers: 2, hidden_act: "silu", rms_norm_eps: 1e-5, rope_theta: 10000, sliding_window: 3, tie_word_embeddings: false },
  qwen2: { ...COMMON, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", num_hidden_layers: 2, hidden_act: "silu", rms_norm_eps: 1e-6, rope_theta: 10000, use_sliding_window: true, sliding_window: 4, max_window_layers: 1, tie_word_embeddings: false },
};

/** The Hugging Face tensor names and shapes of a checkpoint, as its modeling_*.py names them. */
function tensorShapes(hf: Json): Map<string, number[]> {
  const type = hf.model_type as string;
  const [d, m, V, H, K, L] = ["hidden_size", "intermediate_size", "vocab_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers"].map((k) => hf[k] as number);
  const dh = (hf.head_dim as number | undefined) ?? d / H;
  const s = new Map<string, number[]>([["model.embed_tokens.weight", [V, d]]]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const norms = { olmo2: ["post_attention_layernorm", "post_feedforward_layernorm"], gemma2: ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"] }[type] ?? ["input_layernorm", "post_attention_layernorm"];
    for (const n of norms) s.set(`${p}${n}.weight`, [d]);
    if (type === "phi3") s.set(p + "self_attn.qkv_proj.weight", [(H + 2 * K) * dh, d]);
    else for (const [n, rows] of [["q", H], ["k", K], ["v", K]] as const) s.set(`${p}self_attn.${n}_proj.weight`, [rows * dh, d]);
    if (type === "qwen2") for (const [n, rows] of [["q", H], ["k", K], ["v", K]] as const) s.set(`${p}self_attn.${n}_proj.bias`, [rows * dh]);
    if (type === "qwen3") for (const n of ["q_norm", "k_norm"]) s.set(`${p}self_attn.${n}.weight`, [dh]);
    if (type === "olmo2") for (const [n, rows] of [["q_norm", H], ["k_norm", K]] as const) s.set(`${p}self_attn.${n}.weight`, [rows * dh]);
    s.set(p + "self_attn.o_proj.weight", [d, H * dh]);
    if (type === "phi3") s.set(p + "mlp.gate_up_proj.weight", [2 * m, d]);
    else for (const n of ["gate_proj", "up_proj"]) s.set(`${p}mlp.${n}.weight`, [m, d]);
    s.set(p + "mlp.down_proj.weight", [d, m]);
  }
  s.set("model.norm.weight", [d]);
  const tied = (hf.tie_word_embeddings as boolean | undefined) ?? type === "gemma2";
  if (!tied) s.set("lm_head.weight", [V, d]);
  return s;
}

/** Random weights: matrices N(0, (1.5/√in)²) (Gemma's embeddings N(0, (1.5/d)²)), biases N(0, 0.3²), norm weights 1 ± 0.3 (Gemma: 0 ± 0.3, read as 1 + w). */
function randomWeights(hf: Json, seed: number): Map<string, Float32Array> {
  const normal = normalSampler(mulberry32(seed));
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of tensorShapes(hf)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const isNorm = shape.length === 1 && !name.endsWith(".bias");
    const center = isNorm && hf.model_type !== "gemma2" ? 1 : 0;
    // Gemma multiplies the embeddings by √d: a smaller table keeps them from drowning the blocks (and greedy ids from repeating).
    const std = name === "model.embed_tokens.weight" && hf.model_type === "gemma2" ? 1.5 / shape[1] : shape.length === 2 ? 1.5 / Math.sqrt(shape[1]) : 0.3;
    out.set(name, Float32Array.from({ length: size }, () => center + std * normal()));
  }
  return out;
}

/** A checkpoint folder: config.json and model.safetensors, nothing else (no tokenizer). */
function writeCheckpoint(hf: Json, weights: Map<string, Float32Array>): string {
  const dir = path.join(tmp.root, `${hf.model_type}-${Math.random().toString(36).slice(2, 8)}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(hf, null, 2));
  const shapes = tensorShapes(hf);
  writeSafetensors(path.join(dir, "model.safetensors"), new Map([...weights].map(([n, data]) => [n, { shape: shapes.get(n)!, data }])), { format: "pt" });
  return dir;
}

const TOKENS = [5, 17, 3, 44, 60, 9, 9, 21, 33, 2, 58, 12];
const PROMPT = TOKENS.slice(0, 5);

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

function family(type: string, seed = type === "qwen3" ? 7 : 11): Family {
  const hf = CHECKPOINTS[type];
  const weights = randomWeights(hf, seed);
  return { hf, weights, model: loadHfFolder(writeCheckpoint(hf, weights), { tokenizer: null }) };
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

describe.each(Object.keys(CHECKPOINTS))("the %s family from its Hugging Face checkpoint", (type) => {
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
