import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { configFromHf, loadHfFolder, saveHfFolder } from "../kit/io/hf";
import { loadModel } from "../kit/io/load";
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16, readSafetensors, writeSafetensors } from "../kit/io/safetensors";
import { makeConfig, presetConfig, type ModelConfig } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import { WordLevelTokenizer } from "../kit/tokenizers/wordlevel";

beforeAll(async () => {
  await initBackend();
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "pk-hf-"));

function model(family: "gpt2" | "llama", overrides: Partial<ModelConfig> = {}): HookedTransformer {
  const cfg = makeConfig({ family, d_model: 32, n_layers: 2, n_heads: 4, d_vocab: 64, n_ctx: 32, initStd: 0.3, ...(family === "llama" ? { n_key_value_heads: 2, d_mlp: 48 } : {}), ...overrides });
  return HookedTransformer.fromConfig(cfg, { seed: 3 });
}

function logitsDiff(a: HookedTransformer, b: HookedTransformer): number {
  const toks = [[1, 5, 9, 20, 3, 7, 8, 60]];
  const x = a.run(toks);
  const y = b.run(toks);
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]);
  x.dispose();
  y.dispose();
  return d;
}

/** The same model with every weight rounded through a 16-bit format. */
function rounded(m: HookedTransformer, dtype: "F16" | "BF16"): HookedTransformer {
  const w = m.weightsToArrays();
  for (const [k, v] of w) {
    w.set(k, v.map((x) => (dtype === "F16" ? float16ToFloat32(float32ToFloat16(x)) : bfloat16ToFloat32(float32ToBfloat16(x)))));
  }
  return new HookedTransformer(m.cfg, w);
}

describe("saveHfFolder / loadHfFolder", () => {
  for (const dtype of ["F16", "BF16"] as const) {
    it(`saveHfFolder(model, dir, { dtype: "${dtype}", maxShardBytes }) writes shards that loadHfFolder reads back exactly`, () => {
      const m = model("llama");
      const dir = tmp();
      saveHfFolder(m, dir, { dtype, maxShardBytes: 8_000 });
      const index = JSON.parse(fs.readFileSync(path.join(dir, "model.safetensors.index.json"), "utf8"));
      const shards = new Set(Object.values(index.weight_map as Record<string, string>));
      expect(shards.size).toBeGreaterThan(1);
      expect(fs.existsSync(path.join(dir, "model.safetensors"))).toBe(false);
      expect(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")).torch_dtype).toBe(dtype === "F16" ? "float16" : "bfloat16");
      const back = loadHfFolder(dir, { tokenizer: null });
      expect(logitsDiff(back, rounded(m, dtype))).toBeLessThan(1e-6);
      expect(logitsDiff(back, m)).toBeGreaterThan(0); // the rounding is real
    });
  }

  it("loadHfFolder reads GPT-2 checkpoints whose names carry the transformer. prefix", () => {
    const m = model("gpt2");
    const dir = tmp();
    saveHfFolder(m, dir);
    const file = path.join(dir, "model.safetensors");
    const tensors = readSafetensors(file);
    const prefixed = new Map([...tensors].map(([k, t]) => [`transformer.${k}`, { shape: t.shape, data: t.data }]));
    prefixed.set("lm_head.weight", { shape: tensors.get("wte.weight")!.shape, data: tensors.get("wte.weight")!.data });
    writeSafetensors(file, prefixed);
    expect(logitsDiff(loadHfFolder(dir, { tokenizer: null }), m)).toBe(0);
  });

  it("saveHfFolder writes the tokenizer, and loadHfFolder reads a word-level tokenizer.json back", () => {
    const tok = WordLevelTokenizer.fromCorpus(["the cat sat on the mat", "a dog ran"]);
    const cfg = makeConfig({ family: "gpt2", d_model: 32, n_layers: 1, n_heads: 2, d_vocab: tok.vocabSize, n_ctx: 16 });
    const m = HookedTransformer.fromConfig(cfg, { seed: 1, tokenizer: tok });
    const dir = tmp();
    saveHfFolder(m, dir);
    const back = loadHfFolder(dir);
    expect(back.tokenizer!.encode("the dog sat")).toEqual(tok.encode("the dog sat"));
  });
});

describe("configFromHf", () => {
  it("configFromHf(SmolLM-135M's config.json) matches the smollm-135m preset", () => {
    const hf = {
      architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
      num_attention_heads: 9, num_key_value_heads: 3, max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 10000,
      rope_scaling: null, tie_word_embeddings: true, vocab_size: 49152, hidden_act: "silu", bos_token_id: 1, eos_token_id: 2, attention_bias: false,
    };
    const cfg = configFromHf(hf);
    const preset = presetConfig("smollm-135m");
    for (const k of ["d_model", "n_layers", "n_heads", "n_key_value_heads", "d_head", "d_mlp", "d_vocab", "n_ctx", "tiedEmbeddings", "ropeStyle"] as const) expect(cfg[k]).toEqual(preset[k]);
  });

  it("configFromHf(a Qwen2 config) turns on Q/K/V biases but not the output bias", () => {
    const cfg = configFromHf({ model_type: "qwen2", hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 100, max_position_embeddings: 128, rms_norm_eps: 1e-6, rope_theta: 1e6, tie_word_embeddings: true });
    expect(cfg).toMatchObject({ family: "llama", attnBias: true, attnOutBias: false, ropeTheta: 1e6, normEps: 1e-6 });
  });

  it("configFromHf rejects scaled RoPE and unsupported activations, reporting both", () => {
    expect(() => configFromHf({ model_type: "llama", hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100, hidden_act: "swish2", rope_scaling: { rope_type: "llama3", factor: 8 } })).toThrow(
      /2 problem\(s\)[\s\S]*hidden_act "swish2" is not supported[\s\S]*rope_scaling .* is not supported/,
    );
  });
});

describe("loadModel(hub id) through a local hub server", () => {
  let server: http.Server;
  let endpoint: string;
  let requests = 0;
  const repo = tmp();
  let reference: HookedTransformer;

  beforeAll(async () => {
    await initBackend();
    reference = model("llama");
    const tok = WordLevelTokenizer.fromCorpus(["hello world"]);
    reference.tokenizer = tok;
    saveHfFolder(reference, repo);
    server = http.createServer((req, res) => {
      requests++;
      const m = /^\/tiny-org\/tiny-llama\/resolve\/main\/(.+)$/.exec(req.url ?? "");
      const file = m && path.join(repo, decodeURIComponent(m[1]));
      if (!file || !fs.existsSync(file)) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-length": fs.statSync(file).size });
      fs.createReadStream(file).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("loadModel(\"org/name\", { endpoint, cacheDir }) downloads, loads, and then works offline from the cache", async () => {
    const cacheDir = tmp();
    const m = await loadModel("tiny-org/tiny-llama", { endpoint, cacheDir });
    expect(requests).toBeGreaterThan(0);
    expect(logitsDiff(m, reference)).toBe(0);
    const before = requests;
    const offline = await loadModel("tiny-org/tiny-llama", { cacheDir, localFilesOnly: true });
    expect(requests).toBe(before);
    expect(logitsDiff(offline, reference)).toBe(0);
  });

  it("loadModel(\"org/missing\", { localFilesOnly }) with a cold cache says how to fix it", async () => {
    await expect(loadModel("tiny-org/other", { cacheDir: tmp(), localFilesOnly: true })).rejects.toThrow(/not in the cache .* localFilesOnly/);
  });
});
