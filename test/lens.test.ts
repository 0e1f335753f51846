import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { configFromHf } from "../kit/io/hf";
import { activationPatching, attributionPatching, directLogitAttribution, directionLogitLens, gradOf, loadCache, logitDiffMetric, logitLens, logitLensFigure, patchingFigure, saveCache } from "../kit/lens";
import { spearman } from "../kit/leakage";
import { makeConfig, type ModelConfig } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import { generateOnnx } from "../kit/onnx/generate";
import { runWithCacheOnnx } from "../kit/onnx/run";
import { generate } from "../kit/runtime/generate";
import { withInferencePath } from "../kit/runtime/route";
import { WordLevelTokenizer } from "../kit/tokenizers/wordlevel";

beforeAll(async () => {
  await initBackend();
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function randomModel(family: "gpt2" | "llama", overrides: Partial<ModelConfig> = {}, seed = 7): HookedTransformer {
  const cfg = makeConfig({ family, d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 97, n_ctx: 48, initStd: 0.3, ...(family === "llama" ? { n_key_value_heads: 2, d_mlp: 64 } : {}), ...overrides });
  return HookedTransformer.fromConfig(cfg, { seed });
}

const TOKENS = [[3, 14, 15, 92, 65, 35, 89]];

describe.each(["gpt2", "llama"] as const)("residual stream tools (%s)", (family) => {
  it("logitLens(model, cache) at the last entry equals the logits (1e-5)", () => {
    const m = randomModel(family);
    const { logits, cache } = m.runWithCache(TOKENS);
    const lens = logitLens(m, cache, { target: 5 });
    expect(lens.labels).toEqual(["0_pre", "1_pre", "final_post"]);
    expect(lens.logits.shape).toEqual([3, 1, 7, 97]);
    const last = tf.tidy(() => lens.logits.slice([2], [1]).squeeze([0]));
    expect(maxAbsDiff(last, logits)).toBeLessThan(1e-5);
    const top = tf.tidy(() => tf.argMax(logits.squeeze([0]), -1).arraySync() as number[]);
    expect(lens.top[2].map((c) => c[0].id)).toEqual(top);
    expect(lens.targetProb![2][6]).toBeCloseTo(tf.tidy(() => tf.softmax(logits).arraySync() as number[][][])[0][6][5], 5);
    // Earlier entries are not the logits (the test could fail).
    const first = tf.tidy(() => lens.logits.slice([0], [1]).squeeze([0]));
    expect(maxAbsDiff(first, logits)).toBeGreaterThan(1e-2);
    const fig = logitLensFigure(lens, { tokens: TOKENS[0].map(String) });
    expect(fig.data[0].type).toBe("heatmap");
    expect((fig.data[0].z as number[][]).length).toBe(3);
    expect((fig.data[0].text as string[][])[2]).toHaveLength(7);
    for (const t of [first, last, logits]) t.dispose();
    lens.dispose();
    cache.dispose();
    m.dispose();
  });

  it("cache.decomposeResid() sums to resid_post (1e-5); with applyLn to ln_final(resid) less its bias", () => {
    const m = randomModel(family);
    const { logits, cache } = m.runWithCache(TOKENS);
    const { resid, labels } = cache.decomposeResid();
    expect(labels).toEqual([...(family === "gpt2" ? ["embed", "pos_embed"] : ["embed"]), "0_attn_out", "0_mlp_out", "1_attn_out", "1_mlp_out"]);
    const sum = tf.tidy(() => tf.sum(resid, 0));
    expect(maxAbsDiff(sum, cache.get("resid_post", -1))).toBeLessThan(1e-5);
    const ln = cache.decomposeResid(undefined, { applyLn: true });
    const lnSum = tf.tidy(() => {
      const full = m.applyLnFinal(cache.get("resid_post", -1));
      return m.params.has("ln_final.b") ? tf.sub(full, m.param("ln_final.b")) : full;
    });
    const got = tf.tidy(() => tf.sum(ln.resid, 0));
    expect(maxAbsDiff(got, lnSum)).toBeLessThan(1e-5);
    // Through the unembedding, the applied final norm reproduces the logits.
    const viaLn = tf.tidy(() => m.unembed(m.applyLnFinal(cache.get("resid_post", -1))));
    expect(maxAbsDiff(viaLn, logits)).toBeLessThan(1e-5);
    const acc = cache.accumulatedResid(1, { inclMid: true });
    expect(acc.labels).toEqual(["0_pre", "0_mid", "1_pre"]);
    for (const t of [sum, got, lnSum, viaLn, resid, ln.resid, acc.resid, logits]) t.dispose();
    cache.dispose();
    m.dispose();
  });

  it("directLogitAttribution(model, cache, { tokens: [a, b] }) adds up to the logit difference", () => {
    const m = randomModel(family);
    if (family === "gpt2") m.setWeights(new Map([["ln_final.b", Float32Array.from({ length: 32 }, (_, i) => Math.sin(i))]]));
    const { logits, cache } = m.runWithCache(TOKENS);
    const dla = directLogitAttribution(m, cache, { tokens: [5, 9] });
    const l = logits.arraySync()[0][6];
    expect(dla.total[0]).toBeCloseTo(l[5] - l[9], 4);
    const sum = dla.values.reduce((s, v) => s + v[0], 0) + dla.rest[0];
    expect(sum).toBeCloseTo(dla.total[0], 4);
    if (family === "llama") expect(Math.abs(dla.rest[0])).toBeLessThan(1e-4); // RMSNorm has no bias: components carry it all
    else {
      // GPT-2's LayerNorm bias is the part no component carries: b · (W_U[:, a] − W_U[:, b]).
      const bDir = tf.tidy(() => tf.sum(tf.mul(m.param("ln_final.b"), tf.sub(tf.gather(m.param("embed.W_E"), 5), tf.gather(m.param("embed.W_E"), 9)))).dataSync()[0]);
      expect(Math.abs(bDir)).toBeGreaterThan(1e-2);
      expect(dla.rest[0]).toBeCloseTo(bDir, 4);
    }
    const lens = directionLogitLens(m, new Float32Array(32).fill(0.1), { topK: 3 });
    expect(lens.up[0].logit).toBeGreaterThanOrEqual(lens.up[2].logit);
    expect(lens.down[0].logit).toBeLessThanOrEqual(lens.down[2].logit);
    logits.dispose();
    cache.dispose();
    m.dispose();
  });
});

describe("per-head outputs", () => {
  it("setUseAttnResult(true) adds blocks.L.attn.hook_result [B, T, H, d] that sums to attn_out, logits unchanged, ONNX equal", () => {
    const m = randomModel("gpt2");
    const before = m.run(TOKENS);
    expect(m.hookNames()).not.toContain("blocks.0.attn.hook_result");
    m.setUseAttnResult(true);
    expect(m.hookNames()).toContain("blocks.0.attn.hook_result");
    const { logits, cache } = withInferencePath("tfjs", () => m.runWithCache(TOKENS));
    expect(maxAbsDiff(logits, before)).toBeLessThan(1e-5);
    const r = cache.get("result", 1);
    expect(r.shape).toEqual([1, 7, 4, 32]);
    const summed = tf.tidy(() => tf.add(tf.sum(r, 2), m.param("blocks.1.attn.b_O")));
    expect(maxAbsDiff(summed, cache.get("attn_out", 1))).toBeLessThan(1e-5);
    const onnx = runWithCacheOnnx(m, TOKENS, { namesFilter: ["blocks.1.attn.hook_result"] });
    expect(maxAbsDiff(onnx.cache.get("result", 1), r)).toBeLessThan(1e-4);
    expect(maxAbsDiff(onnx.logits, logits)).toBeLessThan(1e-4);
    // Zeroing one head's result changes the output: the hook is on the path.
    const ablated = m.runWithHooks(TOKENS, { fwdHooks: [["blocks.1.attn.hook_result", (a) => tf.mul(a, tf.tensor([1, 0, 1, 1], [1, 1, 4, 1]))]] });
    expect(maxAbsDiff(ablated, logits)).toBeGreaterThan(1e-3);
    const dla = directLogitAttribution(m, cache, { tokens: [5, 9], by: "heads" });
    expect(dla.labels).toHaveLength(8);
    for (const t of [before, logits, summed, onnx.logits, ablated]) t.dispose();
    onnx.cache.dispose();
    cache.dispose();
    m.dispose();
  });
});

describe("per-head outputs in generation", () => {
  it("generate and generateOnnx with setUseAttnResult(true) give the greedy tokens of the plain model", () => {
    const m = randomModel("llama");
    const plain = generate(m, [[3, 14, 15], [92]], { maxNewTokens: 6, temperature: 0 }).sequences;
    m.setUseAttnResult(true);
    const tfjs = generate(m, [[3, 14, 15], [92]], { maxNewTokens: 6, temperature: 0, fwdHooks: [["blocks.0.attn.hook_result", () => undefined]] }).sequences;
    const onnx = generateOnnx(m, [[3, 14, 15], [92]], { maxNewTokens: 6, temperature: 0, namesFilter: ["blocks.1.attn.hook_result"] });
    expect(tfjs).toEqual(plain);
    expect(onnx.sequences).toEqual(plain);
    expect(onnx.caches[1].get("result", 1).shape).toEqual([2, 1, 4, 32]);
    for (const c of onnx.caches) c.dispose();
    m.dispose();
  });
});

describe.each(["gpt2", "llama"] as const)("ragged batches (%s)", (family) => {
  it("runWithCache(rows of different lengths) left-pads: each row's last logits equal the row run alone, on both runtimes", () => {
    const m = randomModel(family);
    const rows = [[3, 14, 15, 92, 65], [35, 89], [7, 7, 7, 8]];
    const { logits, cache } = withInferencePath("tfjs", () => m.runWithCache(rows));
    expect(logits.shape).toEqual([3, 5, 97]);
    const onnx = runWithCacheOnnx(m, rows, { namesFilter: ["blocks.1.hook_resid_post"] });
    for (const [b, r] of rows.entries()) {
      const alone = m.run([r]);
      const a = tf.tidy(() => alone.slice([0, r.length - 1], [1, 1]).reshape([-1]));
      const batched = tf.tidy(() => logits.slice([b, 4], [1, 1]).reshape([-1]));
      const viaOnnx = tf.tidy(() => onnx.logits.slice([b, 4], [1, 1]).reshape([-1]));
      expect(maxAbsDiff(a, batched)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a, viaOnnx)).toBeLessThan(1e-4);
      for (const t of [alone, a, batched, viaOnnx]) t.dispose();
    }
    expect(maxAbsDiff(onnx.cache.get("resid_post", 1), cache.get("resid_post", 1))).toBeLessThan(1e-4);
    const hooked = m.runWithHooks(rows);
    expect(maxAbsDiff(hooked, logits)).toBeLessThan(1e-6);
    for (const t of [logits, onnx.logits, hooked]) t.dispose();
    cache.dispose();
    onnx.cache.dispose();
    m.dispose();
  });
});

describe("patching and gradients", () => {
  // A narrow init keeps the model near-linear, where attribution patching's first-order estimate is meant to hold.
  const clean = [[3, 14, 15, 92, 65, 35, 89, 7]];
  const corrupt = [[3, 14, 40, 92, 65, 35, 12, 7]];

  it("gradOf(model, tokens, { hooks, metric }) matches a finite difference", () => {
    const m = randomModel("llama", { initStd: 0.1 });
    const metric = logitDiffMetric(5, 9);
    const g = gradOf(m, clean, { hooks: ["blocks.1.hook_resid_pre"], metric });
    const grad = g.grads.get("blocks.1.hook_resid_pre")!.arraySync() as number[][][];
    const eps = 1e-2;
    const at = (s: number) => {
      const out = m.runWithHooks(clean, { fwdHooks: [["blocks.1.hook_resid_pre", (a) => tf.add(a, tf.tensor(Array.from({ length: 8 * 32 }, (_, i) => (i === 3 * 32 + 4 ? s : 0)), [1, 8, 32]))]] });
      const v = tf.tidy(() => metric(out).dataSync()[0]);
      out.dispose();
      return v;
    };
    const fd = (at(eps) - at(-eps)) / (2 * eps);
    expect(grad[0][3][4]).toBeCloseTo(fd, 2);
    expect(Math.abs(grad[0][3][4])).toBeGreaterThan(1e-4);
    expect(g.metric[0]).toBeCloseTo(at(0), 4);
    g.dispose();
    m.dispose();
  });

  it("activationPatching(model, clean, corrupt) restores the clean metric at resid_pre 0 over all positions; attribution patching agrees (Spearman ≥ 0.8)", () => {
    const m = randomModel("gpt2", { initStd: 0.05 });
    const metric = logitDiffMetric(5, 9);
    const all = activationPatching(m, clean, corrupt, { hooks: ["resid_pre"], positions: "all", metric });
    expect(all.grids[0].values[0][0][0]).toBeCloseTo(all.clean - all.corrupt, 4);
    const act = activationPatching(m, clean, corrupt, { hooks: ["resid_pre", "attn_out", "mlp_out", "z"], metric });
    const attr = attributionPatching(m, clean, corrupt, { hooks: ["resid_pre", "attn_out", "mlp_out", "z"], metric });
    expect(act.grids.map((g) => g.values.length)).toEqual([2, 2, 2, 2]);
    expect(act.grids[3].values[0]).toHaveLength(8);
    expect(act.grids[3].values[0][0]).toHaveLength(4);
    expect(attr.corrupt).toBeCloseTo(act.corrupt, 4);
    // Positions where clean and corrupt share the whole prefix have no effect at resid_pre.
    expect(Math.abs(act.grids[0].values[0][1][0])).toBeLessThan(1e-5);
    const a = act.grids.flatMap((g) => g.values.flat(2));
    const b = attr.grids.flatMap((g) => g.values.flat(2));
    const moved = a.map((v, i) => [v, b[i]] as const).filter(([v]) => Math.abs(v) > 1e-6); // sites the corruption reaches
    const rho = spearman(moved.map(([v]) => v), moved.map(([, w]) => w));
    console.log(`attribution vs activation patching: Spearman ${rho.toFixed(3)} over ${moved.length} of ${a.length} sites`);
    expect(moved.length).toBeGreaterThan(40);
    expect(rho).toBeGreaterThanOrEqual(0.8);
    const fig = patchingFigure(act, { hook: "resid_pre", tokens: clean[0].map(String) });
    expect(fig.data[0].z).toHaveLength(2);
    expect((fig.data[0].z as number[][])[0]).toHaveLength(8);
    const heads = patchingFigure(act, { hook: "z" });
    expect((heads.data[0].z as number[][])[0]).toHaveLength(32);
    m.dispose();
  });
});

describe("tokens and cache files", () => {
  it("toStrTokens(text) and toSingleToken(word) read the tokenizer; toSingleToken refuses two words", () => {
    const tok = WordLevelTokenizer.fromCorpus(["the cat sat on the mat"]);
    const m = HookedTransformer.fromConfig(makeConfig({ family: "gpt2", d_model: 16, n_layers: 1, n_heads: 2, d_vocab: tok.vocabSize, n_ctx: 16 }), { tokenizer: tok });
    const strs = m.toStrTokens("the cat sat");
    expect(strs.slice(-3)).toEqual(["the", "cat", "sat"]);
    expect(m.toSingleToken("cat")).toBe(tok.encode("cat", { addBos: false })[0]);
    expect(() => m.toSingleToken("the cat")).toThrow(/toSingleToken: text must encode to exactly one token, received "the cat" → 2 tokens/);
    m.dispose();
  });

  it("saveCache(cache, path) and loadCache(path) round-trip every activation exactly", () => {
    const m = randomModel("llama");
    const { logits, cache } = m.runWithCache(TOKENS, { namesFilter: (n) => n.includes("resid") || n === "hook_embed" || n.endsWith("_out") });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pk-lens-"));
    const file = path.join(dir, "cache.safetensors");
    saveCache(cache, file);
    const back = loadCache(file, { model: m });
    expect(back.nLayers).toBe(2);
    expect(back.keys().sort()).toEqual(cache.keys().sort());
    for (const k of cache.keys()) expect(maxAbsDiff(back.get(k), cache.get(k))).toBe(0);
    const { resid } = back.decomposeResid();
    expect(resid.shape[0]).toBe(5);
    resid.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
    for (const c of [cache, back]) c.dispose();
    logits.dispose();
    m.dispose();
  });
});

describe("sliding-window configs", () => {
  it("configFromHf reads a Qwen2 config with use_sliding_window true as Hugging Face does (layers ≥ max_window_layers slide), and ignores the window when it is off", () => {
    const qwen = { model_type: "qwen2", hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, intermediate_size: 64, vocab_size: 97, max_position_embeddings: 4096, sliding_window: 1024 };
    const on = configFromHf({ ...qwen, use_sliding_window: true, max_window_layers: 1 });
    expect([on.slidingWindow, on.slidingLayers]).toEqual([1024, [false, true]]);
    expect(configFromHf({ ...qwen, use_sliding_window: true }).slidingWindow).toBeUndefined(); // max_window_layers defaults to 28
    expect(configFromHf({ ...qwen, use_sliding_window: false }).slidingWindow).toBeUndefined();
  });
});
