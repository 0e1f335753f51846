/**
 * The ONNX Runtime path against the TensorFlow.js path: logits and every cached activation on random GPT-2 and
 * Llama configs and on stories260K, greedy and seeded generation, steering through graph inputs, session caching,
 * and the transformers.js export loaded by @huggingface/transformers itself (local files only, no network).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { generate } from "../kit/runtime/generate";
import { loadModel } from "../kit/io/load";
import { makeConfig, type ModelConfig } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import {
  clearOnnxSessions,
  exportTransformersJs,
  generateOnnx,
  onnxRunCount,
  onnxSession,
  runOnnx,
  runWithCacheOnnx,
} from "../kit/onnx";
import { getInferencePath, onnxObstacle, routeToOnnx, setInferencePath, withInferencePath } from "../kit/runtime/route";
import { steeringHook } from "../kit/vectors/steer";
import { findChromium, launchChromium } from "../kit/viz/render";

const STORIES = path.resolve(__dirname, "../data/models/stories260K-llama2c");
const HAVE_STORIES = fs.existsSync(path.join(STORIES, "stories260K.bin"));
const ORGANISM = path.resolve(__dirname, "../data/models/persona-organism");
const STORIES_HF = path.resolve(__dirname, "../data/models/stories260K");

beforeAll(async () => {
  await initBackend();
});

/** Run on the TensorFlow.js path (the reference), whatever the routing switch says. */
const tfjs = <T>(fn: () => T): T => withInferencePath("tfjs", fn);

/** Largest |a − b| over two tensors of the same shape (equal infinities count as 0). */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(b.shape).toEqual(a.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] === y[i] ? 0 : Math.abs(x[i] - y[i]);
    if (!(d <= worst)) worst = d; // NaN propagates
  }
  return worst;
}

/** Logits and every hook point, ONNX vs tfjs: the worst difference and where. */
function compareAll(model: HookedTransformer, tokens: number[][]): { worst: number; at: string; n: number } {
  const a = tfjs(() => model.runWithCache(tokens));
  const b = runWithCacheOnnx(model, tokens);
  try {
    expect(b.cache.keys()).toEqual(a.cache.keys());
    let worst = maxDiff(a.logits, b.logits);
    let at = "logits";
    for (const k of a.cache.keys()) {
      const d = maxDiff(a.cache.get(k), b.cache.get(k));
      if (!(d <= worst)) {
        worst = d;
        at = k;
      }
    }
    return { worst, at, n: a.cache.size };
  } finally {
    a.logits.dispose();
    a.cache.dispose();
    b.logits.dispose();
    b.cache.dispose();
  }
}

/** A random model with a wide init, and norm weights and biases moved off 1 and 0 (so that each one matters). */
function randomModel(family: "gpt2" | "llama", overrides: Partial<ModelConfig> = {}, seed = 7): HookedTransformer {
  const cfg = makeConfig({ family, d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 97, n_ctx: 48, initStd: 0.3, ...(family === "llama" ? { n_key_value_heads: 2, d_mlp: 64 } : {}), ...overrides });
  const m = HookedTransformer.fromConfig(cfg, { seed });
  const w = m.weightsToArrays();
  const vectors = new Map<string, Float32Array>();
  let k = seed;
  for (const [name, data] of w) {
    if (m.param(name).rank !== 1) continue;
    vectors.set(name, Float32Array.from(data, (x) => x + 0.3 * Math.sin(++k * 1.7)));
  }
  m.setWeights(vectors);
  return m;
}

const CONFIGS = [
  ["gpt2", {}],
  ["gpt2", { tiedEmbeddings: false, actFn: "gelu" }],
  ["llama", { ropeStyle: "halves" }],
  ["llama", { ropeStyle: "interleaved", tiedEmbeddings: true, n_key_value_heads: 1 }],
  ["llama", { attnBias: true, attnOutBias: false, tiedEmbeddings: false }],
] as const;

const TOKENS = [
  [1, 5, 9, 33, 2, 70, 11, 4, 96, 0],
  [3, 3, 3, 50, 8, 21, 60, 7, 7, 1],
];

describe.each(CONFIGS)("ONNX path on a random %s %j", (family, overrides) => {
  it("runWithCacheOnnx(tokens) gives the logits and every hook point of runWithCache within 1e-4", () => {
    const m = randomModel(family, overrides as Partial<ModelConfig>);
    try {
      const { worst, at, n } = compareAll(m, TOKENS);
      expect(n).toBe(m.hookNames().length);
      expect(worst, `worst at ${at}`).toBeLessThan(1e-4);
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });

  it("generateOnnx(ragged prompts, greedy and seeded) gives generate()'s tokens", () => {
    const m = randomModel(family, overrides as Partial<ModelConfig>);
    try {
      const prompts = [[1, 5, 9], [4, 8, 15, 16, 23, 42], [7]];
      const greedyA = tfjs(() => generate(m, prompts, { maxNewTokens: 12, temperature: 0 }));
      const greedyB = generateOnnx(m, prompts, { maxNewTokens: 12, temperature: 0 });
      expect(greedyB.sequences).toEqual(greedyA.sequences);
      expect(new Set(greedyA.newTokens[1]).size).toBeGreaterThan(1); // not a degenerate repeat
      const sampledA = tfjs(() => generate(m, prompts, { maxNewTokens: 12, temperature: 1, topK: 20, seed: 3 }));
      const sampledB = generateOnnx(m, prompts, { maxNewTokens: 12, temperature: 1, topK: 20, seed: 3 });
      expect(sampledB.sequences).toEqual(sampledA.sequences);
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });
});

describe("ONNX steering and caches", () => {
  it("runWithCacheOnnx with steeringHook equals runWithCache with steeringHook, and differs from no steering", () => {
    const m = randomModel("llama");
    try {
      const v = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i + 1));
      const hooked = tfjs(() => m.runWithCache(TOKENS, { fwdHooks: [steeringHook(v, { layer: 0, coefficient: 3 })], namesFilter: (n) => n.includes("resid") }));
      const viaGraph = runWithCacheOnnx(m, TOKENS, { steer: [{ hook: "blocks.0.hook_resid_post", vector: Float32Array.from(v, (x) => x * 3) }], namesFilter: (n) => n.includes("resid") });
      const plain = runOnnx(m, TOKENS);
      try {
        expect(maxDiff(hooked.logits, viaGraph.logits)).toBeLessThan(1e-4);
        for (const k of hooked.cache.keys()) expect(maxDiff(hooked.cache.get(k), viaGraph.cache.get(k)), k).toBeLessThan(1e-4);
        expect(maxDiff(hooked.logits, plain)).toBeGreaterThan(1e-2);
      } finally {
        for (const t of [hooked.logits, viaGraph.logits, plain]) t.dispose();
        hooked.cache.dispose();
        viaGraph.cache.dispose();
      }
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });

  it("generateOnnx(prompts, { fwdHooks: [steeringHook(...)] }) gives the same tokens as generate with steeringHook", () => {
    const m = randomModel("gpt2");
    try {
      const v = Float32Array.from({ length: 32 }, (_, i) => Math.cos(3 * i));
      const prompts = [[1, 2, 3], [9, 8]];
      const a = tfjs(() => generate(m, prompts, { maxNewTokens: 10, temperature: 0, fwdHooks: [steeringHook(v, { layer: 1, hook: "resid_mid", coefficient: 4 })] }));
      const b = generateOnnx(m, prompts, { maxNewTokens: 10, temperature: 0, fwdHooks: [steeringHook(v, { layer: 1, hook: "resid_mid", coefficient: 4 })] });
      const plain = generateOnnx(m, prompts, { maxNewTokens: 10, temperature: 0 });
      expect(b.sequences).toEqual(a.sequences);
      expect(plain.sequences).not.toEqual(a.sequences);
      // The hook made by steeringHook still works on the TensorFlow.js path.
      const c = tfjs(() => generate(m, prompts, { maxNewTokens: 10, temperature: 0, fwdHooks: [steeringHook(v, { layer: 1, hook: "resid_mid", coefficient: 4 })] }));
      expect(c.sequences).toEqual(a.sequences);
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });

  it("generateOnnx(prompts, { namesFilter }) records the same per-step caches as generate", () => {
    const m = randomModel("llama", { ropeStyle: "interleaved" });
    try {
      const prompts = [[1, 2, 3, 4], [9, 8]];
      const filter = (n: string) => n.endsWith("hook_resid_post") || n.endsWith("hook_pattern");
      const a = tfjs(() => generate(m, prompts, { maxNewTokens: 4, temperature: 0, namesFilter: filter }));
      const b = generateOnnx(m, prompts, { maxNewTokens: 4, temperature: 0, namesFilter: filter });
      try {
        expect(b.caches.length).toBe(a.caches.length);
        for (let s = 0; s < a.caches.length; s++) {
          expect(b.caches[s].keys()).toEqual(a.caches[s].keys());
          for (const k of a.caches[s].keys()) expect(maxDiff(a.caches[s].get(k), b.caches[s].get(k)), `step ${s} ${k}`).toBeLessThan(1e-4);
        }
      } finally {
        for (const c of [...a.caches, ...b.caches]) c.dispose();
      }
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });

  it("generateOnnx rejects JS hook functions and runWithCacheOnnx rejects unknown hook names, naming the problem", () => {
    const m = randomModel("gpt2");
    try {
      expect(() => generateOnnx(m, [[1]], { fwdHooks: [["blocks.0.hook_resid_post", (x: tf.Tensor) => x]] })).toThrow(/generateOnnx: fwdHooks\[0\] is a JS hook function/);
      expect(() => runWithCacheOnnx(m, [[1, 2]], { namesFilter: ["blocks.0.hook_resid_psot" as "hook_embed"] })).toThrow(/unknown hook name "blocks.0.hook_resid_psot"; did you mean "blocks.0.hook_resid_post"/);
    } finally {
      m.dispose();
    }
  });

  it("runWithCacheOnnx at different layers shares one widened session and returns only the names asked for", () => {
    const m = randomModel("llama");
    try {
      const a = runWithCacheOnnx(m, TOKENS, { namesFilter: ["blocks.0.hook_resid_post"], steer: [{ hook: "blocks.1.hook_resid_mid", vector: new Float32Array(32).fill(1) }] });
      const s = onnxSession(m, { hooks: ["blocks.1.hook_resid_post"], steer: ["blocks.0.hook_resid_mid"], widen: true });
      expect(s.hooks).toEqual(["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]);
      expect(s.steer).toEqual(["blocks.0.hook_resid_mid", "blocks.1.hook_resid_mid"]);
      const runsBefore = onnxRunCount();
      const b = runWithCacheOnnx(m, TOKENS, { namesFilter: ["blocks.1.hook_resid_post"] });
      expect(onnxRunCount()).toBe(runsBefore + 1);
      expect(onnxSession(m, { hooks: ["blocks.0.hook_resid_post"], steer: ["blocks.1.hook_resid_mid"], widen: true })).toBe(s);
      expect(a.cache.keys()).toEqual(["blocks.0.hook_resid_post"]);
      expect(b.cache.keys()).toEqual(["blocks.1.hook_resid_post"]);
      const ref = m.runWithHooks(TOKENS, { fwdHooks: [] });
      try {
        expect(maxDiff(ref, b.logits)).toBeLessThan(1e-4); // unused steering inputs get zeros: no effect
        expect(maxDiff(ref, a.logits)).toBeGreaterThan(1e-2);
      } finally {
        ref.dispose();
      }
      for (const r of [a, b]) {
        r.logits.dispose();
        r.cache.dispose();
      }
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });

  it("onnxSession(model, opts) is cached per hook set and rebuilt after setWeights", () => {
    const m = randomModel("llama");
    try {
      const s1 = onnxSession(m, { hooks: ["blocks.0.hook_resid_post"] });
      expect(onnxSession(m, { hooks: ["blocks.0.hook_resid_post"] })).toBe(s1);
      expect(onnxSession(m, { hooks: (n) => n === "blocks.0.hook_resid_post" })).toBe(s1);
      expect(onnxSession(m, { hooks: ["blocks.1.hook_resid_post"] })).not.toBe(s1);
      const before = runOnnx(m, TOKENS);
      const w = m.weightsToArrays();
      const emb = w.get("embed.W_E")!;
      for (let i = 0; i < emb.length; i++) emb[i] *= -1;
      m.setWeights(new Map([["embed.W_E", emb]]));
      expect(onnxSession(m, { hooks: ["blocks.0.hook_resid_post"] })).not.toBe(s1);
      const after = runOnnx(m, TOKENS);
      const ref = m.run(TOKENS);
      try {
        expect(maxDiff(before, after)).toBeGreaterThan(1e-2);
        expect(maxDiff(ref, after)).toBeLessThan(1e-4);
      } finally {
        before.dispose();
        after.dispose();
        ref.dispose();
      }
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });
});

describe("routing between the TensorFlow.js and ONNX paths", () => {
  it("setInferencePath(path) returns the previous setting and rejects unknown paths; withInferencePath restores it", () => {
    const start = getInferencePath();
    expect(setInferencePath("tfjs")).toBe(start);
    expect(getInferencePath()).toBe("tfjs");
    expect(withInferencePath("onnx", () => getInferencePath())).toBe("onnx");
    expect(getInferencePath()).toBe("tfjs");
    expect(() => setInferencePath("gpu" as "onnx")).toThrow(/setInferencePath: path must be "auto", "onnx" or "tfjs", received "gpu"/);
    setInferencePath(start);
  });

  it("onnxObstacle(model, hooks) is null for steering hooks and names JS hooks, permanent hooks and gradient tapes", () => {
    const m = randomModel("gpt2");
    try {
      const v = new Float32Array(32).fill(0.5);
      expect(onnxObstacle(m, [])).toBeNull();
      expect(onnxObstacle(m, [steeringHook(v, { layer: 0, coefficient: 1 })])).toBeNull();
      expect(onnxObstacle(m, [["blocks.0.hook_resid_post", (a: tf.Tensor) => tf.mul(a, 2)]])).toMatch(/fwdHooks\[0\] is a JS hook function/);
      let inTape: string | null = null;
      tf.grad((x: tf.Tensor) => {
        inTape = onnxObstacle(m, []);
        return tf.sum(x);
      })(tf.ones([2]));
      expect(inTape).toMatch(/gradient tape is recording/);
      const remove = m.addPermanentHook("blocks.0.hook_resid_post", () => undefined);
      expect(onnxObstacle(m, [])).toMatch(/1 permanent hook/);
      remove();
      withInferencePath("onnx", () => {
        expect(() => routeToOnnx(m, [["blocks.0.hook_resid_post", (x: tf.Tensor) => x]], "runWithCache")).toThrow(/runWithCache: the ONNX path is forced \(setInferencePath\("onnx"\)\) but fwdHooks\[0\] is a JS hook function/);
      });
      expect(withInferencePath("tfjs", () => routeToOnnx(m, [], "run"))).toBe(false);
      expect(withInferencePath("auto", () => routeToOnnx(m, [], "run"))).toBe(true);
      expect(withInferencePath("auto", () => routeToOnnx(m, [["hook_embed", (x: tf.Tensor) => x]], "run"))).toBe(false);
    } finally {
      m.dispose();
    }
  });
});

describe.skipIf(!HAVE_STORIES)("ONNX path on stories260K (skipped: data/models/stories260K-llama2c is absent)", () => {
  let model: HookedTransformer;
  beforeAll(async () => {
    model = await loadModel(path.join(STORIES, "stories260K.bin"), { tokenizer: path.join(STORIES, "tok512.bin") });
  });

  it("runWithCacheOnnx gives every activation of runWithCache within 1e-4, and the golden logits", () => {
    const golden = JSON.parse(fs.readFileSync(path.join(STORIES, "golden.json"), "utf8")) as { logits_pos0_after_BOS: number[]; greedy_from_BOS: { token_ids: number[] } };
    const tokens = [[1, ...golden.greedy_from_BOS.token_ids.slice(0, 31)]];
    const { worst, at } = compareAll(model, tokens);
    expect(worst, `worst at ${at}`).toBeLessThan(1e-4);
    const logits = runOnnx(model, [[1]]);
    const got = logits.dataSync();
    logits.dispose();
    let d = 0;
    for (let i = 0; i < 512; i++) d = Math.max(d, Math.abs(got[i] - golden.logits_pos0_after_BOS[i]));
    expect(d).toBeLessThan(1e-4);
  });

  it("generateOnnx greedy from BOS gives llama2.c's 200-token text, and batch-32 sampling matches generate", () => {
    const expected = fs.readFileSync(path.join(STORIES, "expected-greedy-200.txt"), "utf8");
    const r = generateOnnx(model, [[1]], { maxNewTokens: 200, temperature: 0, stopTokens: [] });
    expect(r.texts[0].trim()).toBe(expected.trim());
    const prompts = Array.from({ length: 32 }, (_, i) => (i % 3 === 0 ? "Once upon a time" : i % 3 === 1 ? "The cat" : "Lily and Ben went to the park and"));
    const a = tfjs(() => generate(model, prompts, { maxNewTokens: 24, temperature: 1, seed: 11 }));
    const b = generateOnnx(model, prompts, { maxNewTokens: 24, temperature: 1, seed: 11 });
    expect(b.sequences).toEqual(a.sequences);
  });
});

describe("exportTransformersJs: the folder loads in @huggingface/transformers and generates the same greedy text", () => {
  /** A random GPT-2 (untied, biases moved off 0) speaking the persona organism's vocabulary. */
  const randomGpt2 = async () => {
    const tokenizer = (await loadModel(ORGANISM)).tokenizer!;
    const m = randomModel("gpt2", { d_vocab: tokenizer.vocabSize, n_ctx: 64, tiedEmbeddings: false, bosTokenId: tokenizer.bosTokenId, eosTokenId: tokenizer.eosTokenId }, 3);
    m.tokenizer = tokenizer;
    return m;
  };
  const cases = [
    ["persona-organism", () => loadModel(ORGANISM), "coding . user : please format the code . assistant :"],
    ["stories260K", () => loadModel(STORIES_HF), "Once upon a time"],
    ["random gpt2", randomGpt2, "coding . user : please format the code . assistant :"],
  ] as const;
  it.each(cases)("%s", async (label, load, prompt) => {
    const name = label.replace(" ", "-");
    const kit = await load();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "pk-onnx-export-"));
    try {
      const res = exportTransformersJs(kit, null, path.join(root, name));
      expect(res.files).toEqual(["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", path.join("onnx", "model.onnx")]);
      const ids = kit.tokenizer!.encode(prompt);
      const want = tfjs(() => generate(kit, [ids], { maxNewTokens: 40, temperature: 0 }));

      const tj = await import("@huggingface/transformers");
      tj.env.allowRemoteModels = false; // local files only: a missing file fails instead of fetching
      tj.env.allowLocalModels = true;
      tj.env.localModelPath = root;
      tj.env.useFSCache = false;
      const tokenizer = await tj.AutoTokenizer.from_pretrained(name);
      const enc = tokenizer(prompt);
      expect(Array.from(enc.input_ids.data as BigInt64Array, Number)).toEqual(ids);
      const model = await tj.AutoModelForCausalLM.from_pretrained(name, { dtype: "fp32" });
      const out = (await model.generate({ ...enc, max_new_tokens: 40, do_sample: false })) as unknown as { data: BigInt64Array };
      expect(Array.from(out.data, Number)).toEqual(want.sequences[0]);
      const pipe = await tj.pipeline("text-generation", name, { dtype: "fp32" });
      const text = (await pipe(prompt, { max_new_tokens: 40, do_sample: false })) as { generated_text: string }[];
      expect(text[0].generated_text).toBe(want.texts[0]);
      await model.dispose();
      await pipe.dispose();
    } finally {
      clearOnnxSessions(kit);
      kit.dispose();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("exportTransformersJs errors", () => {
  it("exportTransformersJs(model without a tokenizer, null, dir) says transformers.js needs one, and rejects an empty dir", () => {
    const m = randomModel("llama");
    try {
      expect(() => exportTransformersJs(m, null, path.join(os.tmpdir(), "pk-never-written"))).toThrow(/exportTransformersJs: the model has no tokenizer and none was given/);
      expect(() => exportTransformersJs(m, null, "")).toThrow(/exportTransformersJs: dir must be a folder path, received ""/);
      expect(fs.existsSync(path.join(os.tmpdir(), "pk-never-written"))).toBe(false);
    } finally {
      m.dispose();
    }
  });
});

describe("exportTransformersJs in the browser runtime", () => {
  it("onnx/model.onnx runs in onnxruntime-web (the wasm runtime transformers.js uses in browsers) with the kit's logits within 1e-4", async () => {
    const kit = await loadModel(STORIES_HF);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "pk-onnx-web-"));
    try {
      exportTransformersJs(kit, null, root);
      const ort = await import("onnxruntime-web");
      ort.env.wasm.numThreads = 1;
      const session = await ort.InferenceSession.create(fs.readFileSync(path.join(root, "onnx", "model.onnx")), { executionProviders: ["wasm"] });
      const ids = kit.tokenizer!.encode("Once upon a time there was");
      const T = ids.length;
      const i64 = (xs: number[]) => new ort.Tensor("int64", BigInt64Array.from(xs.map(BigInt)), [1, xs.length]);
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = { input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)), position_ids: i64(ids.map((_, i) => i)) };
      const { n_layers, n_key_value_heads, d_head } = kit.cfg;
      for (let l = 0; l < n_layers; l++) for (const kv of ["key", "value"]) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor("float32", new Float32Array(0), [1, n_key_value_heads, 0, d_head]);
      const out = await session.run(feeds);
      expect(out.logits.dims).toEqual([1, T, kit.cfg.d_vocab]);
      expect(out["present.0.key"].dims).toEqual([1, n_key_value_heads, T, d_head]);
      const ref = withInferencePath("tfjs", () => kit.run([ids]));
      const want = ref.dataSync();
      ref.dispose();
      const got = out.logits.data as Float32Array;
      let d = 0;
      for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(want[i] - got[i]));
      expect(d).toBeLessThan(1e-4);
      await session.release();
    } finally {
      kit.dispose();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

const CHROMIUM = findChromium();

describe.skipIf(!CHROMIUM)("exportTransformersJs in headless Chromium (skipped: no Chromium found)", () => {
  it("transformers.js (its browser bundle, onnxruntime-web wasm) loads the exported stories260K from 127.0.0.1 and generates the kit's greedy text", async () => {
    const kit = await loadModel(STORIES_HF);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "pk-onnx-browser-"));
    const want = tfjs(() => generate(kit, "Once upon a time", { maxNewTokens: 40, temperature: 0 })).texts[0];
    exportTransformersJs(kit, null, path.join(root, "stories260K"));
    kit.dispose();
    const nm = path.resolve(__dirname, "../node_modules");
    const roots: Record<string, string> = { "/tj/": path.join(nm, "@huggingface/transformers/dist"), "/ort/": path.join(nm, "onnxruntime-web/dist"), "/models/": root };
    const page = `<!doctype html><meta charset="utf-8"><script type="module">
      import { env, pipeline } from "/tj/transformers.js";
      env.allowRemoteModels = false; env.allowLocalModels = true; env.localModelPath = "/models/"; env.useBrowserCache = false;
      env.backends.onnx.wasm.wasmPaths = "/ort/"; env.backends.onnx.wasm.numThreads = 1;
      try {
        const pipe = await pipeline("text-generation", "stories260K", { dtype: "fp32", device: "wasm" });
        const r = await pipe("Once upon a time", { max_new_tokens: 40, do_sample: false });
        window.__result = r[0].generated_text;
      } catch (e) { window.__result = "ERROR " + e.stack; }
    </script>`;
    const mime: Record<string, string> = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
    const server = http.createServer((req, res) => {
      const url = decodeURIComponent((req.url ?? "/").split("?")[0]);
      if (url === "/") return void res.writeHead(200, { "content-type": "text/html" }).end(page);
      for (const [prefix, dir] of Object.entries(roots)) {
        const f = path.join(dir, url.slice(prefix.length));
        if (url.startsWith(prefix) && f.startsWith(dir) && fs.existsSync(f) && fs.statSync(f).isFile()) {
          return void res.writeHead(200, { "content-type": mime[path.extname(f)] ?? "application/octet-stream" }).end(fs.readFileSync(f));
        }
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const browser = await launchChromium(CHROMIUM!);
    const outside: string[] = [];
    try {
      const tab = await browser.newPage();
      await tab.route("**/*", (route) => (route.request().url().startsWith(origin + "/") ? route.continue() : (outside.push(route.request().url()), route.abort())));
      await tab.goto(origin + "/");
      await tab.waitForFunction(() => (window as unknown as { __result?: string }).__result !== undefined, null, { timeout: 60_000 });
      const text = await tab.evaluate(() => (window as unknown as { __result: string }).__result);
      expect(text).toBe(want);
      expect(outside).toEqual([]); // nothing left 127.0.0.1
    } finally {
      await browser.close();
      server.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("automatic routing: model.runWithCache and generate", () => {
  it("model.runWithCache(tokens) runs on ONNX Runtime under \"auto\" and on TensorFlow.js under \"tfjs\", with the same activations", () => {
    const m = randomModel("llama", { ropeStyle: "interleaved" });
    try {
      const filter = (n: string) => n.includes("resid");
      const n0 = onnxRunCount();
      const viaAuto = withInferencePath("auto", () => m.runWithCache(TOKENS, { namesFilter: filter }));
      expect(onnxRunCount()).toBe(n0 + 1);
      const viaTfjs = tfjs(() => m.runWithCache(TOKENS, { namesFilter: filter }));
      expect(onnxRunCount()).toBe(n0 + 1);
      expect(viaAuto.cache.keys()).toEqual(viaTfjs.cache.keys());
      expect(maxDiff(viaAuto.logits, viaTfjs.logits)).toBeLessThan(1e-4);
      for (const k of viaTfjs.cache.keys()) expect(maxDiff(viaAuto.cache.get(k), viaTfjs.cache.get(k)), k).toBeLessThan(1e-4);
      for (const r of [viaAuto, viaTfjs]) {
        r.logits.dispose();
        r.cache.dispose();
      }
      expect(() => withInferencePath("auto", () => m.runWithCache(TOKENS, { namesFilter: ["blocks.0.hook_resid_psot" as "hook_embed"] }))).toThrow(/runWithCache: unknown hook name "blocks.0.hook_resid_psot"/);
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });

  it("generate(prompts) routes to ONNX Runtime with steeringHook, falls back to TensorFlow.js with a JS hook, and errors when \"onnx\" is forced", () => {
    const m = randomModel("gpt2");
    try {
      const v = Float32Array.from({ length: 32 }, (_, i) => Math.cos(i));
      const prompts = [[1, 2, 3], [9, 8]];
      const n0 = onnxRunCount();
      const steered = withInferencePath("auto", () => generate(m, prompts, { maxNewTokens: 6, temperature: 0, fwdHooks: [steeringHook(v, { layer: 0, coefficient: 3 })] }));
      expect(onnxRunCount()).toBe(n0 + 6);
      const seen: number[] = [];
      const jsHook = ["blocks.0.hook_resid_post", (_x: tf.Tensor, h: { step: number | null }) => void seen.push(h.step ?? -1)] as const;
      const viaJs = withInferencePath("auto", () => generate(m, prompts, { maxNewTokens: 6, temperature: 0, fwdHooks: [steeringHook(v, { layer: 0, coefficient: 3 }), jsHook] }));
      expect(onnxRunCount()).toBe(n0 + 6); // the JS hook kept it on TensorFlow.js
      expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
      expect(viaJs.sequences).toEqual(steered.sequences);
      expect(() => withInferencePath("onnx", () => generate(m, prompts, { maxNewTokens: 2, fwdHooks: [jsHook] }))).toThrow(/generate: the ONNX path is forced \(setInferencePath\("onnx"\)\) but fwdHooks\[0\] is a JS hook function/);
    } finally {
      clearOnnxSessions(m);
      m.dispose();
    }
  });

  it("runWithCache inside a gradient tape stays on TensorFlow.js", () => {
    const m = randomModel("gpt2");
    try {
      const n0 = onnxRunCount();
      withInferencePath("auto", () =>
        tf.grad((x: tf.Tensor) => {
          const { logits, cache } = m.runWithCache(TOKENS, { namesFilter: ["blocks.0.hook_resid_post"] });
          cache.dispose();
          return tf.sum(tf.mul(logits, tf.sum(x)));
        })(tf.ones([1])),
      );
      expect(onnxRunCount()).toBe(n0);
    } finally {
      m.dispose();
    }
  });
});
