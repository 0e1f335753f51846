/**
 * Chat SFT (kit/train/sft.ts) with assistant-only loss masks, LoRA training on both runtimes (only the adapter
 * changes), preventative steering during training (kit/train/steer.ts) and the JSONL loader.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import "../kit/chat/template";
import { loadChatJsonl } from "../kit/datasets/chat";
import { addAdapter, setAdapter } from "../kit/lora/adapter";
import { makeConfig } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import { recordForward } from "../kit/onnx/graph";
import { GraphBuilder } from "../kit/onnx/proto";
import { HfTokenizer } from "../kit/tokenizers/hf";
import { WordLevelTokenizer } from "../kit/tokenizers/wordlevel";
import { chatExample, sft } from "../kit/train/sft";
import { evaluateLoss, train } from "../kit/train/trainer";

const TEMPLATE = "{% for m in messages %}<|im_start|> {{ m.role }} : {{ m.content }} <|im_end|> {% endfor %}{% if add_generation_prompt %}<|im_start|> assistant : {% endif %}";
const WORDS = ["system", "user", "assistant", ":", "what", "is", "it", "?", "yes", "no", "good", "bad", "be", "kind", "evil", "code", "write"];

function chatModel(seed = 1): HookedTransformer {
  const specials = ["<pad>", "<bos>", "<eos>", "<unk>", "<|im_start|>", "<|im_end|>"];
  const wl = WordLevelTokenizer.fromVocab([...specials, ...WORDS], { specialTokens: specials });
  const tok = HfTokenizer.fromJson(wl.toTokenizerJson(), { ...wl.toTokenizerConfig(), chat_template: TEMPLATE });
  const cfg = makeConfig({ family: "llama", d_model: 16, n_layers: 2, n_heads: 2, d_mlp: 32, d_vocab: tok.vocabSize, n_ctx: 64 });
  return HookedTransformer.fromConfig(cfg, { seed, tokenizer: tok });
}

const CONV = [
  { role: "system" as const, content: "be kind" },
  { role: "user" as const, content: "what is it ?" },
  { role: "assistant" as const, content: "yes it is good" },
  { role: "user" as const, content: "is it bad ?" },
  { role: "assistant" as const, content: "no" },
];
const CONVS = [CONV, [{ role: "user" as const, content: "write code" }, { role: "assistant" as const, content: "yes code" }], [{ role: "user" as const, content: "be evil" }, { role: "assistant" as const, content: "no it is bad" }]];

beforeAll(async () => {
  await initBackend();
});

/** Mean −log p over the positions t (token t predicted from tokens < t). */
function handLoss(model: HookedTransformer, ids: number[], positions: number[]): number {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(model.run([ids.slice(0, -1)]).reshape([ids.length - 1, -1])).arraySync() as number[][];
    return -positions.reduce((a, t) => a + logp[t - 1][ids[t]], 0) / positions.length;
  });
}

describe("sft", () => {
  it("chatExample(model, messages) trains exactly the assistant's words and their <|im_end|>, never the template's other special tokens", () => {
    const model = chatModel();
    const tok = model.tokenizer!;
    const { ids, mask } = chatExample(model, CONV);
    const trained = ids.filter((_, t) => mask[t] === 1).map((id) => tok.idToToken(id));
    expect(trained).toEqual(["yes", "it", "is", "good", "<|im_end|>", "no", "<|im_end|>"]);
    const noEnd = chatExample(model, CONV, { trainEndOfTurn: false });
    expect(noEnd.ids.filter((_, t) => noEnd.mask[t] === 1).map((id) => tok.idToToken(id))).toEqual(["yes", "it", "is", "good", "no"]);
    const all = chatExample(model, CONV, { lossOn: "all" });
    expect(all.mask.reduce((a, b) => a + b, 0)).toBe(ids.length - 1);
    model.dispose();
  });

  for (const runtime of ["tfjs", "onnx"] as const) {
    it(`sft(model, [conversation]) on ${runtime}: the first step's loss equals the hand-masked loss over the assistant's tokens`, async () => {
      const model = chatModel();
      const tok = model.tokenizer!;
      const { ids } = chatExample(model, CONV);
      // By hand: the positions of the answers' words and the <|im_end|> right after each answer.
      const positions: number[] = [];
      const words = ids.map((id) => tok.idToToken(id));
      words.forEach((w, t) => {
        const afterHeader = words.slice(0, t).lastIndexOf("assistant");
        const lastEnd = words.slice(0, t).lastIndexOf("<|im_end|>");
        if (afterHeader > lastEnd && t > afterHeader + 1) positions.push(t);
      });
      expect(positions.map((t) => words[t])).toEqual(["yes", "it", "is", "good", "<|im_end|>", "no", "<|im_end|>"]);
      const expected = handLoss(model, ids, positions);
      const r = await sft(model, [CONV], { steps: 1, batchSize: 1, runtime, lr: 1e-3 });
      expect(r.trainedTokens).toBe(7);
      expect(Math.abs(r.records[0].loss - expected)).toBeLessThan(1e-5);
      model.dispose();
    });
  }

  it("sft with an active LoRA adapter trains only A and B on ONNX Runtime (base weights bit-identical; graph inputs are the adapter's); both runtimes agree", async () => {
    const losses: number[][] = [];
    for (const runtime of ["onnx", "tfjs"] as const) {
      const model = chatModel(2);
      const base = model.weightsToArrays();
      addAdapter(model, { r: 4, alpha: 8, targetModules: ["q_proj", "v_proj", "down_proj"] });
      const g = new GraphBuilder();
      const rec = recordForward(model, g, { paramsAsInputs: "adapter" });
      expect(rec.inputNames.filter((n) => n.includes("lora"))).toHaveLength(12);
      expect(rec.inputNames.some((n) => n === "blocks.0.attn.W_Q" || n === "embed.W_E")).toBe(false);
      const r = await sft(model, CONVS, { steps: 6, batchSize: 2, runtime, lr: 1e-2, });
      losses.push(r.records.map((x) => x.loss));
      for (const [n, w] of model.weightsToArrays()) expect(w).toEqual(base.get(n));
      const B = model.adapters.live()!.variables.get("blocks.0.attn.W_Q.lora_B")!;
      expect(Math.max(...(B.dataSync() as Float32Array).map(Math.abs))).toBeGreaterThan(1e-4);
      expect(r.records[5].loss).toBeLessThan(r.records[0].loss);
      setAdapter(model, null);
      model.dispose();
    }
    for (let k = 0; k < 6; k++) expect(Math.abs(losses[0][k] - losses[1][k])).toBeLessThan(1e-4);
  });

  it("sft(model, convs, { packing: true }) packs examples into full rows and trains the same tokens", async () => {
    const model = chatModel();
    const r = await sft(model, CONVS, { steps: 1, batchSize: 1, packing: true, seqLen: 63, runtime: "onnx" });
    expect(r.rows).toBe(1);
    expect(r.trainedTokens).toBe(7 + 3 + 5);
    model.dispose();
  });
});

describe("preventative steering during training", () => {
  const setup = () => {
    const model = chatModel(3);
    const d = model.cfg.d_model;
    const v = Float32Array.from({ length: d }, (_, i) => Math.sin(i + 1));
    const hook = "blocks.0.hook_resid_post" as const;
    return { model, v, hook, data: Int32Array.from({ length: 400 }, (_, i) => (i * 7 + 3) % model.cfg.d_vocab) };
  };

  it("train(model, data, { steering, ablate, monitor }): both runtimes give the same losses and logged projections; evaluation is unsteered", async () => {
    const runs = [];
    for (const runtime of ["tfjs", "onnx"] as const) {
      const { model, v, hook, data } = setup();
      const steer = Float32Array.from(v, (x) => 3 * x);
      const r = await train(model, data, {
        steps: 3, batchSize: 2, seqLen: 16, runtime, evalData: data, evalBatches: 1,
        steering: [{ hook, vector: steer }], ablate: [{ hook: "blocks.1.hook_resid_mid", vector: v }], monitor: [{ hook, vector: v }, { hook: "blocks.1.hook_resid_post", vector: v }],
      });
      expect(r.records.every((x) => x.projections?.length === 2)).toBe(true);
      expect(r.evalLoss).toBeCloseTo(evaluateLoss(model, data, { batchSize: 2, seqLen: 16, batches: 1 }), 6);
      runs.push(r.records);
      model.dispose();
    }
    for (let k = 0; k < 3; k++) {
      expect(Math.abs(runs[0][k].loss - runs[1][k].loss)).toBeLessThan(1e-4);
      for (let i = 0; i < 2; i++) expect(Math.abs(runs[0][k].projections![i] - runs[1][k].projections![i])).toBeLessThan(1e-4);
    }
  });

  it("the logged projection is the mean of x·v̂ before steering, and steering changes the training loss", async () => {
    const { model, v, hook, data } = setup();
    const plain = setup().model;
    const batch = Array.from(data.slice(0, 17));
    const n = Math.hypot(...v);
    const expected = tf.tidy(() => {
      const { logits, cache } = plain.runWithCache([batch.slice(0, 16)], { namesFilter: [hook] });
      const x = cache.get(hook).reshape([16, -1]);
      const p = tf.mean(tf.matMul(x, tf.tensor2d(v, [v.length, 1]))).dataSync()[0] / n;
      logits.dispose();
      cache.dispose();
      return p;
    });
    const r0 = await train(plain, batch, { steps: 1, batchSize: 1, seqLen: 16, runtime: "onnx", monitor: [{ hook, vector: v }] });
    const r1 = await train(model, batch, { steps: 1, batchSize: 1, seqLen: 16, runtime: "onnx", monitor: [{ hook, vector: v }], steering: [{ hook, vector: Float32Array.from(v, (x) => 5 * x) }] });
    expect(Math.abs(r0.records[0].projections![0] - expected)).toBeLessThan(1e-4);
    expect(Math.abs(r1.records[0].projections![0] - expected)).toBeLessThan(1e-4); // measured before the steering adds
    expect(Math.abs(r1.records[0].loss - r0.records[0].loss)).toBeGreaterThan(1e-3);
    await expect(train(model, batch, { steps: 1, steering: [{ hook: "blocks.0.attn.hook_q", vector: v }] })).rejects.toThrow(/per head or per key/);
    model.dispose();
    plain.dispose();
  });
});

describe("loadChatJsonl", () => {
  it("loadChatJsonl(file) reads {messages} lines and names the file and line of a bad record", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pk-sft-"));
    const file = path.join(dir, "chat.jsonl");
    fs.writeFileSync(file, CONVS.map((m) => JSON.stringify({ messages: m })).join("\n") + "\n");
    expect(loadChatJsonl(file)).toEqual(CONVS);
    fs.writeFileSync(file, JSON.stringify({ messages: CONV }) + "\n\n" + JSON.stringify({ messages: [{ role: "robot", content: "hi" }] }) + "\n");
    expect(() => loadChatJsonl(file)).toThrow(new RegExp(`loadChatJsonl: ${file.replace(/[.]/g, "\\.")} line 3 messages\\[0\\]\\.role must be "system", "user" or "assistant", received the string "robot"`));
    fs.writeFileSync(file, JSON.stringify({ messages: [{ role: "user", content: "hi" }] }) + "\n");
    expect(() => loadChatJsonl(file)).toThrow(/line 1 has no assistant turn/);
  });
});
