/**
 * LoRA adapters (kit/model/lora.ts, kit/lora): the base model at B = 0, merge / unmerge, PEFT round trips, adapters
 * written by PEFT itself (test/fixtures/lora, made by scripts/lora-fixtures.py) giving PEFT's logits, both runtimes,
 * switching, and refusals that name the tensor.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { loadModel, saveModel } from "../kit/io/load";
import { readSafetensors, writeSafetensors } from "../kit/io/safetensors";
import { addAdapter, listAdapters, mergeAdapter, removeAdapter, setAdapter, unmergeAdapter } from "../kit/lora/adapter";
import { loadAdapter, loadAdapterFolder, saveAdapter } from "../kit/lora/peft";
import { HookedTransformer } from "../kit/model/transformer";
import { runOnnx } from "../kit/onnx/run";

const FIX = path.resolve(__dirname, "fixtures/lora");
const tokens = [[1, 5, 9, 14, 3, 27, 31, 8, 60, 2]];

beforeAll(async () => {
  await initBackend();
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "pk-lora-"));
const logitsOf = (model: HookedTransformer, input = tokens) => tf.tidy(() => model.run(input).dataSync() as Float32Array).slice();
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
/** Give every B (and A) random values so that the adapter changes the outputs. */
function randomize(model: HookedTransformer, seed = 1): void {
  let s = seed;
  for (const v of model.adapters.live()!.variables.values()) {
    const data = Float32Array.from({ length: v.size }, () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.4);
    v.assign(tf.tensor(data, v.shape));
  }
}

const llama = () => HookedTransformer.fromConfig({ family: "llama", d_model: 32, n_layers: 2, n_heads: 4, n_key_value_heads: 2, d_mlp: 48, d_vocab: 64, n_ctx: 32 }, { seed: 3 });
const gpt2 = () => HookedTransformer.fromConfig({ family: "gpt2", d_model: 32, n_layers: 2, n_heads: 4, d_mlp: 64, d_vocab: 64, n_ctx: 32 }, { seed: 4 });

describe("LoRA on a model", () => {
  it("addAdapter(model) with B = 0 gives exactly the base logits, on TensorFlow.js and ONNX Runtime", () => {
    for (const make of [llama, gpt2]) {
      const model = make();
      const base = logitsOf(model);
      const baseOnnx = runOnnx(model, tokens).dataSync() as Float32Array;
      addAdapter(model, { r: 4, alpha: 8, targetModules: "all-linear" });
      expect(maxDiff(logitsOf(model), base)).toBe(0);
      expect(maxDiff(runOnnx(model, tokens).dataSync() as Float32Array, baseOnnx)).toBeLessThan(1e-6);
      randomize(model);
      expect(maxDiff(logitsOf(model), base)).toBeGreaterThan(1e-2);
      model.dispose();
    }
  });

  it("mergeAdapter(model) and unmergeAdapter(model): merged logits equal unmerged within 1e-5; unmerge restores the base", () => {
    for (const make of [llama, gpt2]) {
      const model = make();
      const base = logitsOf(model);
      const w0 = model.param("blocks.0.attn.W_Q").dataSync().slice();
      addAdapter(model, { r: 4, alpha: 16, targetModules: "all-linear" });
      randomize(model);
      const adapted = logitsOf(model);
      mergeAdapter(model);
      expect(listAdapters(model)[0]).toMatchObject({ name: "default", active: true, merged: true });
      expect(maxDiff(logitsOf(model), adapted)).toBeLessThan(1e-5);
      expect(maxDiff(runOnnx(model, tokens).dataSync() as Float32Array, adapted)).toBeLessThan(1e-4);
      expect(() => setAdapter(model, null)).toThrow(/merged into the weights; unmergeAdapter/);
      unmergeAdapter(model);
      expect(maxDiff(model.param("blocks.0.attn.W_Q").dataSync(), w0)).toBeLessThan(1e-6);
      expect(maxDiff(logitsOf(model), adapted)).toBeLessThan(1e-5);
      setAdapter(model, null);
      expect(maxDiff(logitsOf(model), base)).toBeLessThan(1e-5);
      model.dispose();
    }
  });

  it("runWithCache and runOnnx see the adapted model (hooks and caches)", () => {
    const model = llama();
    addAdapter(model, { r: 2, targetModules: ["v_proj"] });
    randomize(model);
    const { logits, cache } = model.runWithCache(tokens);
    const tfjs = tf.tidy(() => model.runWithHooks(tokens, { fwdHooks: [] }).dataSync() as Float32Array).slice();
    expect(maxDiff(logits.dataSync(), tfjs)).toBeLessThan(1e-4);
    const v = cache.get("v", 0).dataSync();
    setAdapter(model, null);
    const { logits: l2, cache: c2 } = model.runWithCache(tokens);
    expect(maxDiff(c2.get("v", 0).dataSync(), v)).toBeGreaterThan(1e-3);
    for (const t of [logits, l2]) t.dispose();
    cache.dispose();
    c2.dispose();
    model.dispose();
  });

  it("listAdapters / setAdapter / removeAdapter switch between named adapters", () => {
    const model = gpt2();
    const base = logitsOf(model);
    addAdapter(model, { name: "a", r: 2, targetModules: ["c_attn"] });
    randomize(model, 5);
    const a = logitsOf(model);
    addAdapter(model, { name: "b", r: 3, targetModules: ["mlp.c_proj"], seed: 1 });
    randomize(model, 9);
    const b = logitsOf(model);
    expect(listAdapters(model).map((x) => [x.name, x.active, x.r, x.targets])).toEqual([["a", false, 2, 6], ["b", true, 3, 2]]);
    setAdapter(model, "a");
    expect(maxDiff(logitsOf(model), a)).toBe(0);
    expect(maxDiff(runOnnx(model, tokens).dataSync() as Float32Array, a)).toBeLessThan(1e-4);
    setAdapter(model, "b");
    expect(maxDiff(runOnnx(model, tokens).dataSync() as Float32Array, b)).toBeLessThan(1e-4);
    expect(() => setAdapter(model, "c")).toThrow(/no adapter named "c"; the model has adapters "a", "b"/);
    removeAdapter(model, "b");
    expect(model.adapters.active).toBe(null);
    expect(maxDiff(logitsOf(model), base)).toBe(0);
    model.dispose();
  });

  it("addAdapter(model, { targetModules }) refuses modules the model lacks, naming its modules", () => {
    const model = gpt2();
    expect(() => addAdapter(model, { targetModules: ["q_proj"] })).toThrow(/match no module of this gpt2 model; its modules are attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj/);
    expect(() => addAdapter(model, { r: 0 })).toThrow(/r must be a positive integer, received number 0/);
    model.dispose();
  });
});

describe("PEFT format", () => {
  it("saveAdapter(model, dir) then loadAdapter round trip is exact, with PEFT's tensor names and shapes", async () => {
    for (const make of [llama, gpt2]) {
      const model = make();
      addAdapter(model, { r: 4, alpha: 8, targetModules: "all-linear" });
      randomize(model);
      const before = logitsOf(model);
      const dir = tmp();
      saveAdapter(model, dir);
      const names = [...readSafetensors(path.join(dir, "adapter_model.safetensors")).entries()].map(([n, t]) => `${n} [${t.shape}]`);
      if (model.cfg.family === "llama") {
        expect(names).toContain("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight [4,32]");
        expect(names).toContain("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight [32,4]");
      } else {
        expect(names).toContain("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight [4,32]");
        expect(names).toContain("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight [96,4]");
      }
      const again = make();
      await loadAdapter(again, dir);
      for (const [n, v] of model.adapters.live()!.variables) expect(again.adapters.live()!.variables.get(n)!.dataSync()).toEqual(v.dataSync());
      expect(maxDiff(logitsOf(again), before)).toBe(0);
      model.dispose();
      again.dispose();
    }
  });

  it("an interleaved-RoPE model's adapter follows its base through saveModel (q/k columns permuted as the weights)", async () => {
    const model = HookedTransformer.fromConfig({ family: "llama", d_model: 32, n_layers: 1, n_heads: 4, d_mlp: 48, d_vocab: 64, n_ctx: 32, ropeStyle: "interleaved" }, { seed: 2 });
    addAdapter(model, { r: 2, targetModules: ["q_proj", "k_proj"] });
    randomize(model);
    const before = logitsOf(model);
    const dir = tmp();
    saveModel(model, path.join(dir, "base"));
    saveAdapter(model, path.join(dir, "adapter"));
    const hf = await loadModel(path.join(dir, "base"), { tokenizer: null, adapter: path.join(dir, "adapter") });
    expect(hf.cfg.ropeStyle).toBe("halves");
    expect(maxDiff(logitsOf(hf), before)).toBeLessThan(1e-5);
    model.dispose();
    hf.dispose();
  });

  for (const family of ["llama", "gpt2"]) {
    it(`loadModel(base, { adapter }) of an adapter written by PEFT (${family}) gives PEFT's logits`, async () => {
      const ref = JSON.parse(fs.readFileSync(path.join(FIX, family, "logits.json"), "utf8")) as { ids: number[]; logits: number[][]; baseLogits: number[][] };
      const model = await loadModel(path.join(FIX, family, "base"), { tokenizer: null, adapter: path.join(FIX, family, "adapter") });
      expect(maxDiff(logitsOf(model, [ref.ids]), ref.logits.flat())).toBeLessThan(1e-4);
      expect(maxDiff(runOnnx(model, [ref.ids]).dataSync() as Float32Array, ref.logits.flat())).toBeLessThan(1e-4);
      setAdapter(model, null);
      expect(maxDiff(logitsOf(model, [ref.ids]), ref.baseLogits.flat())).toBeLessThan(1e-4);
      model.dispose();
    });
  }

  it("loadAdapter(model, hubId) downloads only adapter_config.json and adapter_model.safetensors into the cache, then works offline", async () => {
    const asked: string[] = [];
    const fetchFake = (async (url: string) => {
      const file = decodeURIComponent(String(url).split("/resolve/main/")[1] ?? "");
      asked.push(file);
      const p = path.join(FIX, "gpt2/adapter", file);
      if (!fs.existsSync(p)) return new Response("not found", { status: 404, headers: { "x-error-code": "EntryNotFound" } });
      const body = fs.readFileSync(p);
      return new Response(body, { status: 200, headers: { "content-length": String(body.length) } });
    }) as unknown as typeof fetch;
    const cacheDir = tmp();
    const ref = JSON.parse(fs.readFileSync(path.join(FIX, "gpt2/logits.json"), "utf8")) as { ids: number[]; logits: number[][] };
    const model = await loadModel(path.join(FIX, "gpt2/base"), { tokenizer: null });
    await loadAdapter(model, "someone/tiny-gpt2-lora", { cacheDir, fetch: fetchFake, retryDelayMs: 0 });
    expect(asked.sort()).toEqual(["adapter_config.json", "adapter_model.safetensors"]);
    expect(maxDiff(logitsOf(model, [ref.ids]), ref.logits.flat())).toBeLessThan(1e-4);
    await loadAdapter(model, "someone/tiny-gpt2-lora", { cacheDir, localFilesOnly: true, name: "again", activate: false });
    expect(listAdapters(model).map((a) => a.name)).toEqual(["default", "again"]);
    model.dispose();
  });

  it("loadAdapter refuses an adapter whose shapes or target modules do not fit the model, naming the tensor", () => {
    const dir = tmp();
    fs.cpSync(path.join(FIX, "llama/adapter"), dir, { recursive: true });
    const model = llama(); // d_model 32 like the fixture's base, but d_mlp 48 and 2 KV heads: same shapes; break one
    const file = path.join(dir, "adapter_model.safetensors");
    const t = readSafetensors(file);
    const bad = new Map([...t].map(([n, v]) => [n, { shape: v.shape, data: v.data }]));
    bad.set("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight", { shape: [32, 4], data: new Float32Array(128) });
    writeSafetensors(file, bad);
    expect(() => loadAdapterFolder(model, dir)).toThrow(/tensor base_model\.model\.model\.layers\.1\.self_attn\.k_proj\.lora_B\.weight has shape \[32,4\], expected \[16,4\]/);
    bad.delete("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight");
    bad.set("base_model.model.model.layers.0.self_attn.rotary.lora_A.weight", { shape: [4, 32], data: new Float32Array(128) });
    writeSafetensors(file, bad);
    expect(() => loadAdapterFolder(model, dir)).toThrow(/k_proj\.lora_B\.weight \[16,4\] is missing[\s\S]*tensor base_model\.model\.model\.layers\.0\.self_attn\.rotary\.lora_A\.weight .* is not a LoRA tensor/);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, "adapter_config.json"), "utf8"));
    fs.writeFileSync(path.join(dir, "adapter_config.json"), JSON.stringify({ ...cfg, target_modules: ["c_attn"] }));
    expect(() => loadAdapterFolder(model, dir)).toThrow(/adapter_config\.json: target modules \["c_attn"\] match no module of this llama model/);
    fs.writeFileSync(path.join(dir, "adapter_config.json"), JSON.stringify({ ...cfg, use_dora: true }));
    expect(() => loadAdapterFolder(model, dir)).toThrow(/use_dora \(DoRA\) is not supported/);
    expect(() => loadAdapterFolder(gpt2(), path.join(FIX, "llama/adapter"))).toThrow(/match no module of this gpt2 model/);
    model.dispose();
  });
});
