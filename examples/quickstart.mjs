// The README's quickstart, runnable as is: `npm start` (or `node examples/quickstart.mjs` after `npm run build`).
// Load the embedded model, cache its activations, build a "happy − sad" steering vector, and generate with it.
import { generate, loadModel, tf } from "persona-kit";

const model = await loadModel("data/models/stories260K"); // a Hugging Face folder; llama2.c .bin and hub ids work too
console.log(`loaded ${model.cfg.family} model: ${model.numParams} parameters, ${model.hookNames().length} hook points`);

// 1. Run with a cache of activations (TransformerLens names; negative layers count from the end).
const { logits, cache } = model.runWithCache("Once upon a time");
console.log("logits", logits.shape, "| resid_post[-1]", cache.get("resid_post", -1).shape, "| pattern[0]", cache.get("pattern", 0).shape);
logits.dispose();
cache.dispose();

// 2. A steering vector: mean residual stream on a happy text minus on a sad one, at block 1.
const layer = 1;
const hook = `blocks.${layer}.hook_resid_post`;
const meanResid = (text) => {
  const { logits, cache } = model.runWithCache(text, { namesFilter: [hook] });
  const mean = tf.tidy(() => cache.get(hook).mean([0, 1])); // [d_model]
  logits.dispose();
  cache.dispose();
  return mean;
};
const v = tf.sub(meanResid("Lily was very happy. She smiled and laughed and played with her friends."), meanResid("Lily was very sad. She cried and cried because she lost her toy."));

// 3. Generate with the hook adding α·v at every step (hooks are removed when generate returns).
for (const alpha of [0, 2, -1]) {
  const steer = (act) => tf.add(act, tf.mul(v, alpha));
  const { texts } = generate(model, "One day, Tom", { maxNewTokens: 40, temperature: 0, fwdHooks: [[hook, steer]] });
  console.log(`α = ${String(alpha).padStart(2)}: ${texts[0]}`);
}
console.log(`hooks still attached: ${model.numHooks}`);
