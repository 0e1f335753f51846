/**
 * `persona-kit run --config FILE --out DIR`: one stage-cached run from a JSON config — an organism config
 * (`organismConfig(...)`, run by `runOrganismTask`: shared stages computed once across concurrent tasks) or an RL config
 * (`rlConfig(...)`, recognised by its `start` section: its start organism through `runOrganismTask`, then `runRL` under
 * a lock on its run hash). This is what each task of a Slurm sweep runs (`runMany(configs, { executor: "slurm" })`).
 *
 * stdout: the record's path, one line. stderr: one line per stage (`pretrain computed in 1.2 s` / `pretrain reused`),
 * which the sweep's log files keep. A finished run is found, not rerun.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "./cli-options";
import { organismConfigProblems, type OrganismConfig } from "./organisms/config";
import type { OrganismEvent } from "./organisms/pipeline";
import { withStageLock } from "./organisms/stage-lock";
import { runOrganismTask } from "./organisms/task";
import { rlConfigProblems, type RLConfig } from "./rl/config";
import { rlRunHash, runRL } from "./rl/run";

/** Read and check a run config file: an organism config, or an RL config (it has a `start` section). */
export function readRunConfig(file: string): { kind: "organism"; cfg: OrganismConfig } | { kind: "rl"; cfg: RLConfig } {
  if (!fs.existsSync(file)) throw new UsageError(`--config ${file}: no such file`);
  let cfg: unknown;
  try {
    cfg = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`--config ${file}: not JSON (${(e as Error).message})`);
  }
  const isRL = typeof cfg === "object" && cfg !== null && "start" in cfg;
  const problems = isRL ? rlConfigProblems(cfg) : organismConfigProblems(cfg);
  if (problems.length) {
    throw new UsageError(`--config ${file}: not a valid ${isRL ? "RL" : "organism"} config: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ""}`);
  }
  return isRL ? { kind: "rl", cfg: cfg as RLConfig } : { kind: "organism", cfg: cfg as OrganismConfig };
}

/** Run the config in `values.config` under `values.out`; prints the record's path. Resolves with the exit status. */
export async function runCommand(values: Record<string, string | boolean | undefined>): Promise<number> {
  if (typeof values.config !== "string") throw new UsageError("--config FILE is required; `persona-kit run --help` lists the options");
  const outDir = values.out as string;
  const job = readRunConfig(values.config);
  const said = new Set<string>();
  const onEvent = (e: OrganismEvent) => {
    if (e.type !== "stage-end" || said.has(e.hash)) return; // a stage the task's later steps find again is said once
    said.add(e.hash);
    process.stderr.write(`persona-kit run: ${e.stage} ${e.reused ? "reused" : `computed in ${(e.ms / 1000).toFixed(1)} s`} (${path.join(outDir, e.hash)})\n`);
  };
  let recordFile: string;
  if (job.kind === "organism") {
    const rec = await runOrganismTask(job.cfg, { outDir, onEvent });
    recordFile = path.join(outDir, rec.hash, "record.json");
  } else {
    await runOrganismTask(job.cfg.start.organism, { outDir, onEvent });
    const hash = rlRunHash(job.cfg);
    await withStageLock(path.join(outDir, "locks", `rl-${hash}`), () => runRL(job.cfg, { outDir, progress: false }));
    recordFile = path.join(outDir, `rl-${hash}`, "record.json");
  }
  process.stdout.write(`${recordFile}\n`);
  return 0;
}
