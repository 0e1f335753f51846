/**
 * `runManyRL(configs, options)`: RL runs in parallel worker processes, one per core. The start organisms are trained
 * first with `runMany` (their stages shared and deduplicated); then the RL configs are grouped by seed — the arms of
 * one seed share their reflection stage, so they run one after the other in the same worker — and the workers pull
 * seeds. Every run is `runRL`'s, cached under `outDir/rl-<hash>`, so the records are identical to running the configs
 * one by one.
 *
 *   const recs = await runManyRL(seeds.flatMap((seed) => arms.map((arm) => cfgOf(arm, seed))), { workers: 2, outDir: "../out/runs" });
 *
 * Workers are forks of the compiled `kit/dist/rl/worker.js` (`npm run build` first; a stale build is refused).
 */
import { fork, type ChildProcess } from "node:child_process";
import { stopWorkers } from "../util/workers";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { problemsError } from "../describe";
import { runMany, workerPath } from "../organisms/parallel";
import { kitRoot } from "../organisms/version";
import { inNotebook } from "../viz/jupyter";
import { formatDuration, progress as startProgress } from "../viz/progress";
import { rlConfigProblems, type RLConfig } from "./config";
import { findRLRecord, type RLRunRecord } from "./run";
import type { RLWorkerReply, RLWorkerTask } from "./worker";

export interface RunManyRLOptions {
  /** Worker processes (default: the number of CPUs), at most one per seed. */
  workers?: number;
  /** Root of the organism stage cache and the RL run folders (default "out/runs"). */
  outDir?: string;
  /** One progress bar across the runs (default: in a notebook or on a TTY). */
  progress?: boolean;
}

/** Run (or reuse) every config; resolves to their records in the order of `configs`. */
export async function runManyRL(configs: readonly RLConfig[], options: RunManyRLOptions = {}): Promise<RLRunRecord[]> {
  const { workers = os.cpus().length, outDir = "out/runs" } = options;
  if (!Array.isArray(configs) || configs.length === 0) throw new RangeError(`runManyRL: configs must be a non-empty array of RL configs, received ${Array.isArray(configs) ? "[]" : typeof configs}`);
  if (!(Number.isInteger(workers) && workers > 0)) throw new RangeError(`runManyRL: options.workers must be a positive integer, received ${workers}`);
  const problems = configs.flatMap((c, i) => rlConfigProblems(c).map((p) => `configs[${i}]: ${p}`));
  if (problems.length) throw problemsError(`runManyRL: invalid RL config${problems.length > 1 ? "s" : ""}`, problems);
  const found = () => configs.map((c) => findRLRecord(c, outDir));
  let records = found();
  const todo = configs.map((_, i) => i).filter((i) => !records[i]);
  if (todo.length === 0) return records as RLRunRecord[];
  const show = options.progress ?? (inNotebook() || Boolean(process.stderr.isTTY));
  await runMany(todo.map((i) => configs[i].start.organism), { workers, outDir, progress: show });
  const bySeed = new Map<number, number[]>();
  for (const i of todo) bySeed.set(configs[i].seed, [...(bySeed.get(configs[i].seed) ?? []), i]);
  await runTasks([...bySeed.values()].map((idx) => idx.map((i) => configs[i])), { workers, outDir, show });
  records = found();
  const missing = records.findIndex((r) => !r);
  if (missing >= 0) throw new Error(`runManyRL: configs[${missing}] produced no record`);
  return records as RLRunRecord[];
}

/** The compiled RL worker, refused when missing or older than any kit/rl source. */
function rlWorkerPath(): string {
  workerPath(); // the organism code the runs compute with is built and current
  const root = kitRoot();
  const file = path.join(root, "dist", "rl", "worker.js");
  const stale = fs.existsSync(path.join(root, "rl"))
    ? fs.readdirSync(path.join(root, "rl")).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")).filter((f) => {
        const out = path.join(root, "dist", "rl", f.replace(/\.ts$/, ".js"));
        return !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(path.join(root, "rl", f)).mtimeMs;
      })
    : [];
  if (!fs.existsSync(file) || stale.length) throw new Error(`runManyRL: kit/dist/rl is missing or older than ${stale.map((f) => `rl/${f}`).join(", ") || "its sources"}; run \`npm run build\` so the workers run the current code`);
  return file;
}

/** Each task (the configs of one seed, in order) on the next idle worker. */
async function runTasks(tasks: RLConfig[][], { workers, outDir, show }: { workers: number; outDir: string; show: boolean }): Promise<void> {
  const file = rlWorkerPath();
  const total = tasks.reduce((a, t) => a + t.length, 0);
  let done = 0;
  const nWorkers = Math.min(workers, tasks.length);
  const bar = show
    ? startProgress(total, { label: `runManyRL ×${nWorkers}`, unit: "run", format: (s) => `runManyRL [${nWorkers} workers] ${done}/${total} runs  ` + (s.finished ? `in ${formatDuration(s.elapsedMs)}` : Number.isFinite(s.etaMs) ? `ETA ${formatDuration(s.etaMs)}` : "ETA ?") })
    : null;
  bar?.update(0);
  const children: ChildProcess[] = [];
  let next = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      let finished = 0;
      const fail = (e: Error) => {
        if (!failed) reject(e);
        failed = true;
      };
      const give = (child: ChildProcess) => {
        if (failed || next >= tasks.length) return;
        const msg: RLWorkerTask = { type: "task", id: next, configs: tasks[next], outDir };
        next++;
        child.send(msg);
      };
      for (let w = 0; w < nWorkers; w++) {
        const child = fork(file, [], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"], env: process.env });
        children.push(child);
        child.on("message", (m: RLWorkerReply) => {
          if (m.type === "run") bar?.update(++done, `seed ${tasks[m.id][m.index].seed}`);
          else if (m.type === "error") fail(new Error(`runManyRL: a run of seed ${tasks[m.id][0].seed} failed (worker ${child.pid}):\n${m.message}`));
          else if (m.type === "done") {
            if (++finished === tasks.length) resolve();
            else give(child);
          }
        });
        child.on("exit", (code, signal) => {
          if (finished < tasks.length) fail(new Error(`runManyRL: worker ${child.pid} exited (${signal ?? `code ${code}`}) before every run finished`));
        });
        child.on("error", (e) => fail(new Error(`runManyRL: worker process error: ${e.message}`)));
        give(child);
      }
    });
  } finally {
    bar?.done();
    stopWorkers(children);
  }
}
