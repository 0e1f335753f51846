/**
 * The real trained tiny Llama from llama2.c (stories260K), against the golden outputs of its original C program.
 * The original llama2.c files ship in data/models/stories260K-llama2c (MIT), so these tests always run.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { generate } from "../kit/runtime/generate";
import { loadModel, saveModel } from "../kit/io/load";
import type { HookedTransformer } from "../kit/model/transformer";

const DIR = path.resolve(__dirname, "../data/models/stories260K-llama2c");
const CLI = path.resolve(__dirname, "../kit/dist/cli.js");

interface Golden {
  greedy_from_BOS: { token_ids: number[] };
  logits_pos0_after_BOS: number[];
  first16_positions: { pos: number; input_token: number; top5_ids: number[]; top5_logits: number[] }[];
}

describe("stories260K (llama2.c checkpoint in data/models/stories260K-llama2c)", () => {
  let model: HookedTransformer;
  let golden: Golden;
  let expectedText: string;

  beforeAll(async () => {
    await initBackend();
    model = await loadModel(path.join(DIR, "stories260K.bin"), { tokenizer: path.join(DIR, "tok512.bin") });
    golden = JSON.parse(fs.readFileSync(path.join(DIR, "golden.json"), "utf8")) as Golden;
    expectedText = fs.readFileSync(path.join(DIR, "expected-greedy-200.txt"), "utf8");
  });

  it("run([[BOS]]) gives the golden logits within 1e-4", () => {
    const logits = model.run([[1]]);
    const got = logits.dataSync();
    logits.dispose();
    let maxDiff = 0;
    for (let i = 0; i < 512; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - golden.logits_pos0_after_BOS[i]));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it("run(greedy sequence) gives the golden top-5 logits at positions 0–15", () => {
    const input = [1, ...golden.greedy_from_BOS.token_ids.slice(0, 15)];
    expect(golden.first16_positions.map((p) => p.input_token)).toEqual(input);
    const logits = model.run([input]);
    const rows = (logits.arraySync() as number[][][])[0];
    logits.dispose();
    for (const p of golden.first16_positions) {
      for (const [j, id] of p.top5_ids.entries()) expect(Math.abs(rows[p.pos][id] - p.top5_logits[j])).toBeLessThan(1e-4);
    }
  });

  it("tokenizer.encode(\"Once upon a time\") gives [1, 403, 407, 261, 378]", () => {
    expect(model.tokenizer!.encode("Once upon a time")).toEqual([1, 403, 407, 261, 378]);
  });

  it("generate([BOS], greedy, 200 tokens) reproduces llama2.c's tokens and text byte for byte", () => {
    const r = generate(model, [[1]], { maxNewTokens: 200, temperature: 0 });
    expect(r.newTokens[0]).toEqual(golden.greedy_from_BOS.token_ids);
    expect(r.texts[0]).toBe(expectedText);
  });

  it("saveModel(model, dir) then loadModel(dir) (HF Llama folder, rotate-half RoPE) gives the same logits and text", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pk-stories-hf-"));
    saveModel(model, dir);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) expect(fs.existsSync(path.join(dir, f))).toBe(true);
    const hf = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(hf).toMatchObject({ model_type: "llama", architectures: ["LlamaForCausalLM"], hidden_size: 64, num_key_value_heads: 4, tie_word_embeddings: true });
    const back = await loadModel(dir);
    expect(back.cfg.ropeStyle).toBe("halves");
    expect(back.tokenizer!.kind).toBe("hf");
    const a = model.run([[1, 403, 407, 261, 378]]);
    const b = back.run([[1, 403, 407, 261, 378]]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    a.dispose();
    b.dispose();
    expect(diff).toBeLessThan(1e-4);
    expect(back.tokenizer!.encode("Once upon a time")).toEqual([1, 403, 407, 261, 378]);
    const r = generate(back, [[1]], { maxNewTokens: 200, temperature: 0 });
    expect(r.texts[0]).toBe(expectedText);
    back.dispose();
  });

  it("generate(prompts of different lengths) equals generating each alone, as text", () => {
    const prompts = ["Once upon a time", "Lily", "The dog ran to the park and", "One day"].map((s) => model.tokenizer!.encode(s));
    const batch = generate(model, prompts, { maxNewTokens: 40, temperature: 0 });
    const alone = prompts.map((p) => generate(model, [p], { maxNewTokens: 40, temperature: 0 }).texts[0]);
    expect(batch.texts).toEqual(alone);
  });

  it.skipIf(!fs.existsSync(CLI))("persona-kit generate --model stories260K.bin --tokenizer tok512.bin --temperature 0 prints exactly the golden text and one newline", () => {
    const out = execFileSync(process.execPath, [CLI, "generate", "--model", path.join(DIR, "stories260K.bin"), "--tokenizer", path.join(DIR, "tok512.bin"), "--temperature", "0", "--max-new-tokens", "200"], { encoding: "utf8" });
    expect(out).toBe(expectedText + "\n");
  });

  it.skipIf(!fs.existsSync(CLI))("persona-kit inspect --model stories260K.bin prints family, config, parameter count and hook names", () => {
    const out = execFileSync(process.execPath, [CLI, "inspect", "--model", path.join(DIR, "stories260K.bin"), "--tokenizer", path.join(DIR, "tok512.bin")], { encoding: "utf8" });
    const info = JSON.parse(out);
    expect(info.family).toBe("llama");
    expect(info.parameters).toBe(260032);
    expect(info.config.n_layers).toBe(5);
    expect(info.hookNames).toContain("blocks.4.attn.hook_pattern");
  });
});
