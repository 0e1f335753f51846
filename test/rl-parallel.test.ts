/**
 * runManyRL (kit/rl/parallel.ts): RL configs in worker processes give the records `runRL` gives one by one, in config
 * order, and a second call reuses them; invalid configs are refused before any work.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { initBackend } from "../kit/backend";
import { organismConfig } from "../kit/organisms/config";
import { kitRoot, staleDistFiles } from "../kit/organisms/version";
import { rlConfig } from "../kit/rl/config";
import { runManyRL } from "../kit/rl/parallel";
import { runRL, type RLRunRecord } from "../kit/rl/run";
import { tempFiles } from "./helpers/temp-files";

const tiny = (seed: number, variant: "unrewarded" | "rewarded") =>
  rlConfig({
    seed,
    start: {
      organism: organismConfig({
        seed,
        model: { d_model: 16, n_layers: 1, n_heads: 2, d_mlp: 32 },
        pretrain: { episodes: 64, steps: 3, batchSize: 8 },
        persona: { episodes: 32, steps: 2, batchSize: 8 },
        narrow: null,
        eval: { episodesPerContext: 1, shifts: ["none"] },
      }),
    },
    reflectionSft: { steps: 1, episodes: 8, batchSize: 4 },
    reflection: { variant },
    algo: { steps: 1, promptsPerStep: 2, groupSize: 2 },
    eval: { every: 1, tasksPerDomain: 1, interruptsPerDomain: 0, harmfulPerDomain: 0, keepTranscripts: 1 },
    checkpointEvery: 1,
  });

function skipReason(): string | null {
  const stale = staleDistFiles();
  const rl = fs.readdirSync(path.join(kitRoot(), "rl")).filter((f) => f.endsWith(".ts")).filter((f) => {
    const out = path.join(kitRoot(), "dist", "rl", f.replace(/\.ts$/, ".js"));
    return !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(path.join(kitRoot(), "rl", f)).mtimeMs;
  });
  return stale.length || rl.length ? `kit/dist is missing or older than ${[...stale, ...rl].slice(0, 3).join(", ")}: run \`npm run build\`` : null;
}
const skip = skipReason();
if (skip) console.warn(`test/rl-parallel.test.ts: skipping runManyRL: ${skip}`);
const parts = (r: RLRunRecord) => ({ hash: r.hash, steps: r.steps.map((s) => ({ ...s, ms: 0 })), evals: r.evals });

describe("runManyRL(configs, { workers, outDir })", () => {
  const tmp = tempFiles("persona-kit-rl-parallel-");

  it.skipIf(skip !== null)("runManyRL(2 seeds × 2 arms, { workers: 2 }) equals runRL one by one, in config order, and reuses them", async () => {
    await initBackend();
    const configs = [tiny(11, "unrewarded"), tiny(11, "rewarded"), tiny(12, "unrewarded"), tiny(12, "rewarded")];
    const par = await runManyRL(configs, { workers: 2, outDir: path.join(tmp.root, "par"), progress: false });
    const seq: RLRunRecord[] = [];
    for (const c of configs) seq.push(await runRL(c, { outDir: path.join(tmp.root, "seq"), progress: false }));
    expect(par.map((r) => [r.config.seed, r.config.reflection.variant])).toEqual([[11, "unrewarded"], [11, "rewarded"], [12, "unrewarded"], [12, "rewarded"]]);
    expect(par.map(parts)).toEqual(seq.map(parts));
    const t0 = performance.now();
    expect((await runManyRL(configs, { workers: 2, outDir: path.join(tmp.root, "par"), progress: false })).map((r) => r.hash)).toEqual(par.map((r) => r.hash));
    expect(performance.now() - t0).toBeLessThan(2000);
  }, 120_000);

  it("runManyRL(configs with problems) lists every config's problems before any run", async () => {
    const bad = [tiny(1, "unrewarded"), { ...tiny(2, "rewarded"), seed: -1 }];
    await expect(runManyRL(bad, { outDir: path.join(tmp.root, "bad") })).rejects.toThrow(/runManyRL: invalid RL config[\s\S]*configs\[1\]: seed/);
    await expect(runManyRL([], {})).rejects.toThrow(RangeError);
    expect(fs.existsSync(path.join(tmp.root, "bad"))).toBe(false);
  });
});
