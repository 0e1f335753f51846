/**
 * llama2.c's run.c as a peer: compiled once with the system C compiler (`-Ofast -march=native`, llama2.c's
 * `make runfast`), run greedily on stories260K, its own `achieved tok/s` line read. Null (with the reason) when no
 * compiler is present or a run fails.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const SOURCE = path.join(__dirname, "llama2c", "run.c");

/** The compiled binary, built into `outDir` when missing or older than the source. */
function compiled(outDir: string): { bin: string | null; note: string } {
  const bin = path.join(outDir, "llama2c-run");
  if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(SOURCE).mtimeMs) return { bin, note: "" };
  fs.mkdirSync(outDir, { recursive: true });
  const cc = spawnSync("cc", ["-Ofast", "-march=native", SOURCE, "-lm", "-o", bin], { encoding: "utf8" });
  if (cc.error || cc.status !== 0) return { bin: null, note: `cc failed: ${cc.error?.message ?? cc.stderr.slice(0, 200)}` };
  return { bin, note: "" };
}

/** Median tokens/s of `reps` greedy runs of `steps` tokens, or null with the reason. */
export function runcTokensPerSec(checkpoint: string, tokenizer: string, { steps = 200, reps = 5, outDir = "out/bench" } = {}): { value: number | null; runs: number[]; note: string } {
  const { bin, note } = compiled(outDir);
  if (!bin) return { value: null, runs: [], note };
  const runs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const r = spawnSync(bin, [checkpoint, "-z", tokenizer, "-t", "0", "-n", String(steps), "-s", "1"], { encoding: "utf8" });
    const m = /achieved tok\/s: ([\d.]+)/.exec(r.stderr ?? "");
    if (r.status !== 0 || !m) return { value: null, runs, note: `run.c failed: ${(r.stderr ?? "").slice(0, 200)}` };
    runs.push(Number(m[1]));
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return { value: sorted[Math.floor(sorted.length / 2)], runs, note: "" };
}
