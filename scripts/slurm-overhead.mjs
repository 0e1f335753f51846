// Measures the Slurm executor's per-task overhead (docs/scale.md): needs a running Slurm (scripts/slurm-up.sh) and
// `npm run build`. Prints one JSON object. Usage: node scripts/slurm-overhead.mjs [runs=4]
//  1. scheduler: an array of N `true` tasks, from sbatch to the array leaving squeue (polled every 100 ms);
//  2. task start-up: `persona-kit run` on a finished run (node, the kit, config check, hashes; no training);
//  3. a sweep of N tiny organisms (N/2 seeds × 2 arms sharing pretraining) with executor "local" (2 workers) and
//     "slurm", each into a fresh folder: (slurm − local) / N is the overhead per task as a user sees it.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const { organismConfig, PERSONA_DEPTH } = require(path.join(root, "kit/dist/organisms/config.js"));
const { runMany } = require(path.join(root, "kit/dist/organisms/parallel.js"));
const n = Number(process.argv[2] ?? 4);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pk-slurm-overhead-"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seconds = (t0) => Math.round((performance.now() - t0) / 10) / 100;

async function emptyArray(tasks) {
  const t0 = performance.now();
  const job = execFileSync("sbatch", ["--parsable", `--array=0-${tasks - 1}`, `--output=${tmp}/empty-%A_%a.log`, "--wrap", "true"], { encoding: "utf8" }).trim();
  while (execFileSync("squeue", ["-h", "-j", job], { encoding: "utf8" }).trim() !== "") await sleep(100);
  return seconds(t0);
}

const tiny = (seed, narrowSteps) =>
  organismConfig({
    seed,
    model: { d_model: 16, n_layers: 1, n_heads: 2, d_mlp: 32 },
    pretrain: { episodes: 64, steps: 4, batchSize: 8 },
    persona: { ...PERSONA_DEPTH.shallow, domains: [...PERSONA_DEPTH.shallow.domains], steps: 3, episodes: 24, batchSize: 8 },
    narrow: { steps: narrowSteps, episodes: 16, batchSize: 8 },
    eval: { episodesPerContext: 1, maxNewTokens: 4, shifts: ["none", "long_context"], batchSize: 48 },
  });
const configs = Array.from({ length: n }, (_, i) => tiny(100 + Math.floor(i / 2), 3 + (i % 2)));

const result = { cpus: os.cpus().length, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), tasks: n };
result.emptyArray1 = await emptyArray(1);
result.emptyArrayN = await emptyArray(n);

let t0 = performance.now();
await runMany(configs, { workers: 2, outDir: path.join(tmp, "local"), progress: false });
result.localSweep = seconds(t0);
t0 = performance.now();
await runMany(configs, { executor: "slurm", outDir: path.join(tmp, "slurm"), pollMs: 100 });
result.slurmSweep = seconds(t0);
result.overheadPerTask = Math.round(((result.slurmSweep - result.localSweep) / n) * 100) / 100;

fs.writeFileSync(path.join(tmp, "c.json"), JSON.stringify(configs[0]));
const starts = [];
for (let i = 0; i < 3; i++) {
  t0 = performance.now();
  execFileSync(process.execPath, [path.join(root, "kit/bin/persona-kit.cjs"), "run", "--config", path.join(tmp, "c.json"), "--out", path.join(tmp, "slurm")], { stdio: "ignore" });
  starts.push(seconds(t0));
}
result.cliOnFinishedRun = starts;
fs.rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify(result));
