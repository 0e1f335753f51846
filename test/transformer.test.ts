import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { generate } from "../kit/runtime/generate";
import { loadHfFolder, saveHfFolder } from "../kit/io/hf";
import { configProblems, makeConfig, presetConfig, resolveConfig, type ModelConfig } from "../kit/model/config";
import { HookedTransformer, KVCache } from "../kit/model/transformer";

beforeAll(async () => {
  await initBackend();
});

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "pk-transformer-"));
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Random models with a wide init, so that greedy text is not one repeated token. */
function randomModel(family: "gpt2" | "llama", overrides: Partial<ModelConfig> = {}, seed = 7): HookedTransformer {
  const cfg = makeConfig({ family, d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 97, n_ctx: 48, initStd: 0.3, ...(family === "llama" ? { n_key_value_heads: 2, d_mlp: 64 } : {}), ...overrides });
  return HookedTransformer.fromConfig(cfg, { seed });
}

const FAMILIES = [
  ["gpt2", {}],
  ["llama", {}],
  ["llama", { ropeStyle: "interleaved", tiedEmbeddings: true }],
  ["llama", { attnBias: true, attnOutBias: false }],
] as const;

describe("config", () => {
  it("configProblems(cfg) reports every problem at once", () => {
    const cfg = { ...resolveConfig({ family: "llama" }), d_model: 0, n_heads: 6, n_key_value_heads: 4, actFn: "tanh", normEps: -1 } as unknown as ModelConfig;
    const problems = configProblems(cfg);
    expect(problems.join("\n")).toMatch(/d_model must be a positive integer, received 0/);
    expect(problems.join("\n")).toMatch(/n_heads \(6\) must be a multiple of n_key_value_heads \(4\)/);
    expect(problems.join("\n")).toMatch(/actFn must be one of/);
    expect(problems.join("\n")).toMatch(/normEps must be a positive number, received -1/);
    expect(problems.length).toBeGreaterThanOrEqual(4);
  });

  it("makeConfig(input) throws one RangeError listing all problems", () => {
    expect(() => makeConfig({ family: "gpt2", d_model: 30, n_heads: 4, n_ctx: -1 })).toThrow(/makeConfig: invalid model config \(\d+ problems\)[\s\S]*n_ctx must be a positive integer[\s\S]*d_head × n_heads must equal d_model/);
  });

  it("presetConfig(name) resolves every preset and rejects unknown names", () => {
    expect(presetConfig("stories260K")).toMatchObject({ d_model: 64, n_layers: 5, n_heads: 8, n_key_value_heads: 4, d_head: 8, d_mlp: 172, ropeStyle: "interleaved" });
    expect(presetConfig("organism-small")).toMatchObject({ d_model: 128, n_layers: 4, n_heads: 4, n_ctx: 64, d_mlp: 512 });
    expect(() => presetConfig("nope" as "stories260K")).toThrow(/unknown preset "nope"; known presets: organism-tiny/);
  });
});

describe.each(FAMILIES)("HookedTransformer (%s %j)", (family, overrides) => {
  it("forward with a KV cache, token by token, equals the full forward pass", () => {
    const m = randomModel(family, overrides);
    const toks = [[1, 5, 9, 20, 3, 7, 8, 60, 2, 11]];
    const full = m.run(toks);
    const r = generate(m, [[1, 5, 9]], { maxNewTokens: 0 });
    expect(r.newTokens).toEqual([[]]);
    const kv = new KVCache();
    const parts = [[1, 5, 9, 20], [3], [7, 8], [60, 2, 11]].map((p) => tf.tidy(() => m.forward(tf.tensor2d([p], [1, p.length], "int32"), { kvCache: kv })));
    const inc = tf.concat(parts, 1);
    expect(maxAbsDiff(full, inc)).toBeLessThan(1e-5);
    kv.dispose();
    m.dispose();
  });

  it("generate(prompts) with a KV cache equals greedy recomputation without cache", () => {
    const m = randomModel(family, overrides);
    const prompt = [1, 5, 9, 14];
    const r = generate(m, [prompt], { maxNewTokens: 12, temperature: 0, stopTokens: [] });
    const seq = [...prompt];
    for (let i = 0; i < 12; i++) {
      const logits = m.run([seq]);
      const last = tf.tidy(() => tf.argMax(logits.slice([0, seq.length - 1, 0], [1, 1, m.cfg.d_vocab]).reshape([-1])).dataSync()[0]);
      logits.dispose();
      seq.push(last);
    }
    expect(r.newTokens[0]).toEqual(seq.slice(prompt.length));
    expect(new Set(r.newTokens[0]).size).toBeGreaterThan(2);
    m.dispose();
  });

  it("generate([p1, p2, p3]) with ragged prompts equals generating each alone", () => {
    const m = randomModel(family, overrides);
    const prompts = [[1, 5], [1, 5, 9, 20, 3, 7], [1, 40, 41, 42]];
    const batched = generate(m, prompts, { maxNewTokens: 10, temperature: 0, stopTokens: [] });
    const alone = prompts.map((p) => generate(m, [p], { maxNewTokens: 10, temperature: 0, stopTokens: [] }).newTokens[0]);
    expect(batched.newTokens).toEqual(alone);
    m.dispose();
  });

  it("saveHfFolder(model) then loadHfFolder(dir) gives identical logits", () => {
    const m = randomModel(family, overrides);
    const dir = tmpDir();
    saveHfFolder(m, dir);
    const back = loadHfFolder(dir, { tokenizer: null });
    const toks = [[1, 5, 9, 20, 3, 7, 8, 60]];
    const a = m.run(toks);
    const b = back.run(toks);
    expect(maxAbsDiff(a, b)).toBeLessThan(family === "llama" && "ropeStyle" in overrides ? 1e-5 : 1e-6);
    m.dispose();
    back.dispose();
  });
});

describe("hooks", () => {
  it("runWithHooks(tokens, { fwdHooks }) with a hook that returns nothing changes nothing", () => {
    const m = randomModel("llama");
    const seen: string[] = [];
    const a = m.run([[1, 2, 3, 4]]);
    const b = m.runWithHooks([[1, 2, 3, 4]], { fwdHooks: [[() => true, (_x, h) => void seen.push(h.name)]] });
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(seen).toEqual(m.hookNames());
    m.dispose();
  });

  it("runWithHooks(tokens, hooks) leaves no hooks attached, also when a hook throws", () => {
    const m = randomModel("gpt2");
    const a = m.run([[1, 2, 3, 4]]);
    expect(() => m.runWithHooks([[1, 2, 3, 4]], { fwdHooks: [["blocks.1.hook_resid_post", () => { throw new Error("boom"); }]] })).toThrow("boom");
    expect(m.numHooks).toBe(0);
    const b = m.run([[1, 2, 3, 4]]);
    expect(maxAbsDiff(a, b)).toBe(0);
    m.dispose();
  });

  it("runWithHooks replaces activations: zero-ablating every attention output changes the logits", () => {
    const m = randomModel("gpt2");
    const a = m.run([[1, 2, 3, 4]]);
    const b = m.runWithHooks([[1, 2, 3, 4]], { fwdHooks: [[(n) => n.endsWith("hook_attn_out"), (x) => tf.zerosLike(x)]] });
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
    m.dispose();
  });

  it("runWithHooks rejects an unknown hook name, listing near matches", () => {
    const m = randomModel("gpt2");
    expect(() => m.runWithHooks([[1, 2]], { fwdHooks: [["blocks.0.hook_resid_psot" as "blocks.0.hook_resid_post", () => undefined]] })).toThrow(
      /runWithHooks: unknown hook name "blocks.0.hook_resid_psot"; did you mean "blocks.0.hook_resid_post"/,
    );
    expect(() => m.runWithHooks([[1, 2]], { fwdHooks: [["blocks.9.hook_resid_post", () => undefined]] })).toThrow(/unknown hook name "blocks.9.hook_resid_post"/);
    m.dispose();
  });

  it("a hook returning the wrong shape is a clear error", () => {
    const m = randomModel("gpt2");
    expect(() => m.runWithHooks([[1, 2]], { fwdHooks: [["blocks.0.hook_resid_post", () => tf.zeros([3])]] })).toThrow(/hook at blocks.0.hook_resid_post: returned shape \[3\] differs from the activation's \[1,2,32\]/);
    m.dispose();
  });

  it("addPermanentHook(name, fn) stays until removed", () => {
    const m = randomModel("gpt2");
    let calls = 0;
    const remove = m.addPermanentHook("hook_embed", () => void calls++);
    m.run([[1, 2]]).dispose();
    m.run([[1, 2]]).dispose();
    expect(calls).toBe(2);
    expect(m.numHooks).toBe(1);
    remove();
    m.run([[1, 2]]).dispose();
    expect(calls).toBe(2);
    expect(m.numHooks).toBe(0);
    m.dispose();
  });

  it("generate(prompt, { fwdHooks }) runs hooks at every step, and steering changes the text", () => {
    const m = randomModel("llama");
    const steps: number[] = [];
    const shapes: number[][] = [];
    const plain = generate(m, [[1, 5, 9]], { maxNewTokens: 8, temperature: 0, stopTokens: [] });
    generate(m, [[1, 5, 9]], { maxNewTokens: 8, temperature: 0, stopTokens: [], fwdHooks: [["blocks.1.hook_resid_post", (x, h) => void (steps.push(h.step!), shapes.push(x.shape))]] });
    expect(steps).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(shapes[0]).toEqual([1, 3, 32]);
    expect(shapes[1]).toEqual([1, 1, 32]);
    const v = tf.randomNormal([32], 0, 1, "float32", 3);
    const steered = generate(m, [[1, 5, 9]], { maxNewTokens: 8, temperature: 0, stopTokens: [], fwdHooks: [["blocks.0.hook_resid_post", (x) => tf.add(x, tf.mul(v, 8))]] });
    expect(steered.newTokens[0]).not.toEqual(plain.newTokens[0]);
    m.dispose();
  });

  it("generate(prompt, { namesFilter }) caches activations at every step", () => {
    const m = randomModel("gpt2");
    const r = generate(m, [[1, 5, 9]], { maxNewTokens: 4, temperature: 0, stopTokens: [], namesFilter: ["blocks.0.hook_resid_post", "blocks.1.attn.hook_pattern"] });
    expect(r.caches).toHaveLength(4);
    expect(r.caches[0].get("resid_post", 0).shape).toEqual([1, 3, 32]);
    expect(r.caches[2].get("pattern", -1).shape).toEqual([1, 4, 1, 5]);
    for (const c of r.caches) c.dispose();
    m.dispose();
  });
});

describe("runWithCache", () => {
  it("runWithCache(tokens) caches every hook point; get/stack/keys/dispose", () => {
    const m = randomModel("llama");
    const before = tf.memory().numTensors;
    const { logits, cache } = m.runWithCache([[1, 2, 3, 4, 5]]);
    expect(cache.keys()).toEqual(m.hookNames());
    expect(cache.get("blocks.1.hook_resid_post").shape).toEqual([1, 5, 32]);
    expect(maxAbsDiff(cache.get("resid_post", -1), cache.get("blocks.1.hook_resid_post"))).toBe(0);
    expect(cache.get("pattern", 0).shape).toEqual([1, 4, 5, 5]);
    expect(cache.get("attn.hook_k", 0).shape).toEqual([1, 5, 2, 8]);
    const stacked = cache.stack("resid_post");
    expect(stacked.shape).toEqual([2, 1, 5, 32]);
    stacked.dispose();
    // Attention patterns are causal and sum to one.
    const pat = cache.get("pattern", 1).arraySync() as number[][][][];
    expect(pat[0][2][1][3]).toBe(0);
    expect(pat[0][2][3].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // ln_final.hook_normalized feeds the unembedding: logits = normalized·w @ W_U.
    const recomputed = tf.tidy(() => tf.matMul(tf.mul(cache.get("ln_final.hook_normalized"), m.param("ln_final.w")).reshape([5, 32]), m.param("unembed.W_U")));
    const flatLogits = logits.reshape([5, -1]);
    expect(maxAbsDiff(recomputed, flatLogits)).toBeLessThan(1e-4);
    flatLogits.dispose();
    recomputed.dispose();
    logits.dispose();
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => cache.get("resid_post", 0)).toThrow(/disposed/);
    m.dispose();
  });

  it("runWithCache(tokens, { namesFilter }) keeps only the named hooks; bad layers are clear errors", () => {
    const m = randomModel("gpt2");
    const { logits, cache } = m.runWithCache([[1, 2, 3]], { namesFilter: (n) => n.endsWith("hook_resid_pre") });
    expect(cache.keys()).toEqual(["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"]);
    expect(() => cache.get("resid_pre", 2)).toThrow(/layer must be an integer in \[-2, 1\], received 2/);
    expect(() => cache.get("resid_post", 0)).toThrow(/no activation "blocks.0.hook_resid_post"/);
    logits.dispose();
    cache.dispose();
    m.dispose();
  });

  it("runWithCache(tokens) rejects a sequence longer than n_ctx", () => {
    const m = randomModel("gpt2");
    const long = Array.from({ length: 49 }, (_, i) => i % 90);
    expect(() => m.runWithCache([long])).toThrow(/forward: sequence length 49 exceeds n_ctx 48/);
    expect(() => generate(m, [long])).toThrow(/generate: prompt length 49 exceeds n_ctx 48/);
    m.dispose();
  });

  it("run(tokens) rejects out-of-vocabulary ids, also in ragged batches (which it left-pads, kit/model/batch.ts)", () => {
    const m = randomModel("gpt2");
    expect(() => m.run([[1, 200]])).toThrow(/token id must be an integer in \[0, 97\), received 200/);
    expect(() => m.run([[1, 2], [200]])).toThrow(/token id must be an integer in \[0, 97\), received 200/);
    expect(() => m.run([[1, 2], []])).toThrow(/run: every sequence needs at least one token, row 1 is empty/);
    m.dispose();
  });
});

describe("loadHfFolder: bad input", () => {
  it("loadHfFolder(dir) names the missing config fields", () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "llama", hidden_size: 64 }));
    expect(() => loadHfFolder(dir, { tokenizer: null })).toThrow(/config\.json \(model_type "llama"\) has 4 problem\(s\)/);
    for (const field of ["num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"]) {
      expect(() => loadHfFolder(dir, { tokenizer: null })).toThrow(`missing field "${field}"`);
    }
  });

  it("loadHfFolder(dir) rejects a tensor whose shape disagrees with the config", () => {
    const m = randomModel("gpt2");
    const dir = tmpDir();
    saveHfFolder(m, dir);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    cfg.n_inner = 100;
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(cfg));
    expect(() => loadHfFolder(dir, { tokenizer: null })).toThrow(/tensor "h\.0\.mlp\.c_fc\.weight" in .*model\.safetensors: shape \[32, 128\] does not match the expected shape \[32, 100\]/);
    m.dispose();
  });

  it("loadHfFolder(dir) without tokenizer.json says so", () => {
    const m = randomModel("gpt2");
    const dir = tmpDir();
    saveHfFolder(m, dir);
    expect(() => loadHfFolder(dir)).toThrow(/has no tokenizer\.json; pass \{ tokenizer: null \}/);
    m.dispose();
  });

  it("loadHfFolder(dir) rejects an unsupported model_type", () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "bert" }));
    expect(() => loadHfFolder(dir, { tokenizer: null })).toThrow(/model_type "bert" is not supported/);
  });
});
