// Train a tiny word-level organism from scratch, save it as a Hugging Face folder, reload it, and sample from it.
// `node examples/train-tiny.mjs` after `npm run build` (about 30 s on 2 cores).
import * as os from "node:os";
import * as path from "node:path";
import { generate, HookedTransformer, initBackend, loadModel, presetConfig, saveModel, train, WordLevelTokenizer } from "persona-kit";

await initBackend();
const sentences = [];
for (const who of ["the cat", "the dog", "a bird", "my friend"]) {
  for (const does of ["sat on the mat", "ran to the park", "ate the food", "slept all day"]) sentences.push(`${who} ${does} .`);
}
const tokenizer = WordLevelTokenizer.fromCorpus(sentences);
const cfg = presetConfig("organism-tiny", { d_vocab: tokenizer.vocabSize, n_ctx: 32, bosTokenId: tokenizer.bosTokenId, eosTokenId: tokenizer.eosTokenId });
const model = HookedTransformer.fromConfig(cfg, { seed: 1, tokenizer });
const stream = sentences.flatMap((s) => tokenizer.encode(s, { addBos: true, addEos: true }));

const result = await train(model, Array.from({ length: 20 }, () => stream).flat(), { steps: 150, batchSize: 16, seqLen: 24, lr: 3e-3, warmupSteps: 10, seed: 1 });
console.log(`loss ${result.records[0].loss.toFixed(3)} → ${result.finalLoss.toFixed(3)} in ${result.records.length} steps, ${Math.round(result.tokensPerSec)} tokens/s`);

const dir = path.join(os.tmpdir(), "persona-kit-tiny-organism");
saveModel(model, dir);
const reloaded = await loadModel(dir);
const { texts } = generate(reloaded, ["the dog", "a bird"], { maxNewTokens: 6, temperature: 0 });
console.log(texts);
