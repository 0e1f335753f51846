import { initBackend } from "../kit/backend";
import { loadModel } from "../kit/io/load";
import { generate } from "../kit/runtime/generate";
(async () => {
  await initBackend();
  const m = await loadModel("/work/main/data/models/stories260K");
  for (const B of [1, 32]) {
    const p = Array.from({ length: B }, () => [1]);
    generate(m, p, { maxNewTokens: 20 });
    const t0 = performance.now();
    const r = generate(m, p, { maxNewTokens: 200, temperature: B === 1 ? 0 : 1 });
    const dt = performance.now() - t0;
    const n = r.newTokens.reduce((a, x) => a + x.length, 0);
    console.log(`b${B}`, n, (n / dt * 1000).toFixed(0), "tok/s");
  }
})();
