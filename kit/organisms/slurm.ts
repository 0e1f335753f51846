/**
 * `runSlurmSweep(configs, options)`: `runMany`'s Slurm executor (`runMany(configs, { executor: "slurm", ... })`).
 *
 * One job array per call: array index i runs configs[i] as `persona-kit run --config <sweep>/configs/i.json --out
 * <outDir>` (`kit/cli-run.ts` → `runOrganismTask`), so `outDir` — the stage cache, the run records, the locks and the
 * sweep folder — must be a directory every node sees at the same path (and the kit, with its `kit/dist` build, too).
 * The sweep folder `<outDir>/sweeps/<hash of the runs>/` holds the config files, the batch script and one log per
 * array task (`logs/<job>_<index>.log`). Tasks start in this process's working directory (`--chdir`) and get `outDir`
 * as given, so their records name the same (relative or absolute) checkpoint paths the local executor's do. Configs whose record already exists are not submitted (nor duplicates of an
 * earlier config), so calling again after a failure reruns only what did not finish, reusing every finished stage.
 * The call polls `squeue` until the array has left the queue, then reads the records; an index that left none is a
 * failure, reported with its array index, config file and log file (and the log's last lines).
 *
 * Layout and measured overhead: docs/scale.md.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import type { OrganismConfig } from "./config";
import { organismHashes } from "./pipeline";
import { loadRunRecord, writeJsonAtomic, type RunRecord } from "./record";
import { kitRoot, stableHash, staleDistFiles } from "./version";

const exec = promisify(execFile);

export interface SlurmSweepOptions {
  /** Shared folder of stages, records, locks and sweeps (default "out/runs"). */
  outDir?: string;
  /** `sbatch --partition` (default: the cluster's default partition). */
  partition?: string;
  /** `sbatch --time` per array task, e.g. "0:30:00" (default: the partition's limit). */
  time?: string;
  /** `sbatch --cpus-per-task` (default 1: the wasm backend computes on one thread). */
  cpus?: number;
  /** More `sbatch` arguments, e.g. ["--account=lab", "--mem=4G"]. */
  sbatchArgs?: string[];
  /** How often `squeue` is asked whether the array is done (default 1000 ms). */
  pollMs?: number;
}

/** What one submission did: the job id (null when every run was finished already) and the array indexes submitted. */
export interface SlurmSubmission {
  jobId: string | null;
  indexes: number[];
  sweepDir: string;
}

/** Run every config as one Slurm job array; resolves to the records in the order of `configs`, like the local executor. */
export async function runSlurmSweep(configs: readonly OrganismConfig[], options: SlurmSweepOptions = {}, onSubmit?: (s: SlurmSubmission) => void): Promise<RunRecord[]> {
  const { outDir = "out/runs", partition, time, cpus = 1, sbatchArgs = [], pollMs = 1000 } = options;
  if (!(Number.isInteger(cpus) && cpus > 0)) throw new RangeError(`runMany: options.cpus must be a positive integer, received ${cpus}`);
  const cli = slurmCliPath();
  const out = path.resolve(outDir);
  const runHashes = configs.map((c) => organismHashes(c).run);
  const recordFile = (i: number) => path.join(out, runHashes[i], "record.json");
  const indexes = configs.map((_, i) => i).filter((i) => runHashes.indexOf(runHashes[i]) === i && !fs.existsSync(recordFile(i)));
  const sweepDir = path.join(out, "sweeps", stableHash(runHashes));
  const configFile = (i: number) => path.join(sweepDir, "configs", `${i}.json`);
  let jobId: string | null = null;
  if (indexes.length > 0) {
    for (const i of indexes) writeJsonAtomic(configFile(i), configs[i]);
    const script = path.join(sweepDir, "task.sh");
    fs.mkdirSync(path.join(sweepDir, "logs"), { recursive: true });
    fs.writeFileSync(script, taskScript(cli, path.join(sweepDir, "configs"), outDir), { mode: 0o755 });
    const args = [
      "--parsable",
      `--array=${indexes.join(",")}`,
      `--job-name=persona-kit-${path.basename(sweepDir)}`,
      `--output=${path.join(sweepDir, "logs", "%A_%a.log")}`,
      `--chdir=${process.cwd()}`,
      `--cpus-per-task=${cpus}`,
      ...(partition ? [`--partition=${partition}`] : []),
      ...(time ? [`--time=${time}`] : []),
      ...sbatchArgs,
      script,
    ];
    jobId = (await slurm("sbatch", args)).trim().split(";")[0]!;
    onSubmit?.({ jobId, indexes, sweepDir });
    await waitForArray(jobId, pollMs);
  } else onSubmit?.({ jobId: null, indexes, sweepDir });
  const failed = indexes.filter((i) => !fs.existsSync(recordFile(i)));
  if (failed.length > 0) throw new Error(failureMessage(failed, jobId!, configFile, sweepDir));
  return configs.map((_, i) => loadRunRecord(recordFile(i)));
}

/** The CLI each task runs, checked: refuses a missing or out-of-date `kit/dist` (tasks would run old code). */
export function slurmCliPath(): string {
  const cli = path.join(kitRoot(), "bin", "persona-kit.cjs");
  const built = path.join(kitRoot(), "dist", "cli-run.js");
  if (!fs.existsSync(built)) throw new Error(`runMany: ${built} does not exist; run \`npm run build\` first (Slurm tasks run the compiled CLI)`);
  const stale = staleDistFiles();
  if (stale.length > 0) throw new Error(`runMany: kit/dist is older than the sources of ${stale.slice(0, 6).join(", ")}; run \`npm run build\` so the Slurm tasks run the current code`);
  return cli;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function taskScript(cli: string, configDir: string, outDir: string): string {
  return [
    "#!/bin/bash",
    "# persona-kit sweep task (written by runMany's Slurm executor): array index i runs configs/i.json.",
    "set -eu",
    `echo "persona-kit sweep task $SLURM_ARRAY_JOB_ID"_"$SLURM_ARRAY_TASK_ID on $(hostname) at $(date -Is)" >&2`,
    `exec ${shellQuote(process.execPath)} ${shellQuote(cli)} run --config ${shellQuote(configDir)}/"$SLURM_ARRAY_TASK_ID".json --out ${shellQuote(outDir)}`,
    "",
  ].join("\n");
}

async function slurm(command: string, args: string[]): Promise<string> {
  try {
    return (await exec(command, args, { encoding: "utf8" })).stdout;
  } catch (e) {
    const err = e as { code?: string | number; stderr?: string; message: string };
    if (err.code === "ENOENT") throw new Error(`runMany: ${command} is not on PATH (executor "slurm" needs a Slurm client; see docs/scale.md)`);
    throw new Error(`runMany: ${command} ${args.slice(0, 3).join(" ")} … failed: ${(err.stderr || err.message).trim()}`);
  }
}

/** Poll squeue until no task of the array is pending or running (a controller briefly unreachable is asked again). */
async function waitForArray(jobId: string, pollMs: number): Promise<void> {
  let failures = 0;
  for (;;) {
    let listed: string;
    try {
      listed = await slurm("squeue", ["-h", "-j", jobId, "-o", "%i %t"]);
      failures = 0;
    } catch (e) {
      if (/Invalid job id/i.test((e as Error).message)) return; // already purged from the controller
      if (++failures >= 10) throw new Error(`${(e as Error).message} (10 times in a row while waiting for job ${jobId}; its tasks may still be running)`);
      await new Promise((r) => setTimeout(r, Math.max(pollMs, 2000)));
      continue;
    }
    if (listed.trim() === "") return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function failureMessage(failed: number[], jobId: string, configFile: (i: number) => string, sweepDir: string): string {
  const lines = failed.map((i) => {
    const log = path.join(sweepDir, "logs", `${jobId}_${i}.log`);
    const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trimEnd().split("\n").slice(-5).map((l) => `      ${l}`).join("\n") : "      (no log: the task never started)";
    return `  array index ${i} (task ${jobId}_${i}): configs[${i}] = ${configFile(i)}, log ${log}:\n${tail}`;
  });
  return `runMany: ${failed.length} of the Slurm array's tasks left no record (call runMany again to rerun only those):\n${lines.join("\n")}`;
}
