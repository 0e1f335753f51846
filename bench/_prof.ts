import { initBackend } from "../kit/backend";
import { loadModel } from "../kit/io/load";
import { onnxSession, int64Tensor, OrtTensor } from "../kit/onnx/session";
import { generate } from "../kit/runtime/generate";
(async () => {
  await initBackend();
  const m = await loadModel("/work/main/data/models/stories260K");
  const bos = [1];
  generate(m, [bos], { maxNewTokens: 50, temperature: 0 });
  let t0 = performance.now();
  const r = generate(m, [bos], { maxNewTokens: 200, temperature: 0 });
  let dt = performance.now() - t0;
  console.log("gen b1", r.newTokens[0].length, (r.newTokens[0].length / dt * 1000).toFixed(0), "tok/s");
  // raw session timing
  const s = onnxSession(m, { kv: true });
  const cfg = m.cfg;
  let past: Record<string, any> = {};
  const empty = new OrtTensor("float32", new Float32Array(0), [1, cfg.n_key_value_heads, 0, cfg.d_head]);
  for (let l = 0; l < cfg.n_layers; l++) { past[`past_key_values.${l}.key`] = empty; past[`past_key_values.${l}.value`] = empty; }
  const fetch = ["logits", ...Array.from({ length: cfg.n_layers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat()];
  const mask: number[] = [];
  t0 = performance.now();
  let tRun = 0;
  for (let i = 0; i < 200; i++) {
    mask.push(1);
    const feeds = { ...past, input_ids: int64Tensor([[1]]), position_ids: int64Tensor([[i]]), attention_mask: int64Tensor([mask]) };
    const a = performance.now();
    const out = s.session.run(feeds, fetch);
    tRun += performance.now() - a;
    past = {};
    for (let l = 0; l < cfg.n_layers; l++) { past[`past_key_values.${l}.key`] = out[`present.${l}.key`]; past[`past_key_values.${l}.value`] = out[`present.${l}.value`]; }
  }
  dt = performance.now() - t0;
  console.log("raw loop µs/step", (dt / 200 * 1000).toFixed(0), "of which run", (tRun / 200 * 1000).toFixed(0));
  console.log(cfg);
})();
