#!/usr/bin/env node
// Trains the kit's embedded default organism, data/models/tiny-stories-organism: a word-level Llama trained by
// persona-kit from scratch on stories sampled from the embedded stories260K model (nothing downloaded).
// Deterministic from its seeds; takes a few minutes on 2 cores. The result and a README with its numbers are committed.
import * as fs from "node:fs";
import * as path from "node:path";
import { generate, HookedTransformer, initBackend, loadModel, presetConfig, saveModel, train, WordLevelTokenizer } from "persona-kit";

const OUT = path.resolve(process.argv[2] ?? "data/models/tiny-stories-organism");
const STORIES = 1536;
const STEPS = Number(process.env.STEPS ?? 500);
await initBackend();
const t0 = performance.now();

// 1. A corpus: stories sampled from stories260K (temperature 0.8, seeded), cut at the first EOS.
const teacher = await loadModel("data/models/stories260K");
const texts = [];
for (let i = 0; i < STORIES / 32; i++) {
  const { completions } = generate(teacher, Array.from({ length: 32 }, () => [1]), { maxNewTokens: 160, temperature: 0.8, seed: 1000 + i });
  texts.push(...completions.map((t) => t.trim()).filter((t) => t.length > 0));
}
process.stderr.write(`corpus: ${texts.length} stories in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);

// 2. A word-level tokenizer and the token stream (each story: BOS … EOS).
const tokenizer = WordLevelTokenizer.fromCorpus(texts, { minCount: 3 });
const stream = texts.flatMap((t) => tokenizer.encode(t, { addBos: true, addEos: true }));
const heldOut = stream.splice(Math.floor(stream.length * 0.95));
process.stderr.write(`tokenizer: ${tokenizer.vocabSize} words; ${stream.length} training tokens, ${heldOut.length} held out\n`);

// 3. The model: a small Llama (RoPE, RMSNorm, SwiGLU, grouped-query attention), trained by the kit.
const cfg = presetConfig("organism-llama", { d_vocab: tokenizer.vocabSize, n_ctx: 128, bosTokenId: tokenizer.bosTokenId, eosTokenId: tokenizer.eosTokenId, padTokenId: tokenizer.padTokenId });
const model = HookedTransformer.fromConfig(cfg, { seed: 7, tokenizer });
const result = await train(model, stream, { steps: STEPS, batchSize: 32, seqLen: 64, lr: 3e-3, warmupSteps: 30, seed: 7, evalData: heldOut, progress: true });
saveModel(model, OUT);

const sample = generate(model, "Once upon a time", { maxNewTokens: 40, temperature: 0 }).texts[0];
const minutes = (performance.now() - t0) / 60000;
fs.writeFileSync(
  path.join(OUT, "README.md"),
  `# tiny-stories-organism (embedded default model)

A ${model.numParams.toLocaleString("en-US")}-parameter Llama-family model (d_model ${cfg.d_model}, ${cfg.n_layers} layers, ${cfg.n_heads} heads with ${cfg.n_key_value_heads} key/value heads, context ${cfg.n_ctx})
with a ${tokenizer.vocabSize}-word word-level tokenizer, trained from scratch by persona-kit itself with
\`node scripts/train-default-organism.mjs\` on ${texts.length} short stories sampled from the embedded stories260K model
(temperature 0.8, seeded). Nothing was downloaded. It is the notebooks' default until the persona world's organisms exist.

- training: ${STEPS} AdamW steps, batch 32 × 64 tokens, lr 3e-3 (30 warm-up steps, cosine), seed 7
- loss: ${result.records[0].loss.toFixed(3)} → ${result.finalLoss.toFixed(3)} nats/token (held-out: ${result.evalLoss?.toFixed(3)})
- throughput: ${Math.round(result.tokensPerSec)} tokens/s; whole script ${minutes.toFixed(1)} min on 2 cores
- greedy sample: "${sample}"
`,
);
process.stderr.write(`saved ${OUT} (${minutes.toFixed(1)} min)\n`);
