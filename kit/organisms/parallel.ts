/**
 * `runMany(configs, options)`: independent organism runs in parallel worker processes, one per core (the wasm backend
 * computes on one thread per process), each stage computed once even when several configs share it.
 *
 * The runs are split into tasks by stage — pretrain, persona, evaluation before narrow, and the rest (narrow training,
 * evaluation after, the record) — one task per distinct stage hash, each waiting for the task whose model it starts
 * from. Arms with the same seed therefore share one pretraining (trained once, before any arm that needs it), and the
 * workers pull ready tasks, earliest stages first. Every stage reads its input model from disk (see
 * `kit/organisms/pipeline.ts`), so the records are identical to running the configs one by one with `runOrganism`.
 *
 * Workers are `child_process.fork`s of the compiled worker, `kit/dist/organisms/worker.js`: build it with
 * `npm run build` (runMany refuses a missing or out-of-date build rather than run old code under a new code hash).
 *
 *   const records = await runMany(seeds.flatMap((seed) => [shallow(seed), deep(seed)]), { workers: 2 });
 *
 * `executor: "slurm"` runs the same configs as one Slurm job array instead (`kit/organisms/slurm.ts`, docs/scale.md),
 * with `outDir` on a directory every node shares; it resolves to the same records.
 *
 *   const records = await runMany(configs, { executor: "slurm", outDir: "/shared/runs", partition: "cpu", time: "1:00:00" });
 */
import { fork, type ChildProcess } from "node:child_process";
import { stopWorkers } from "../util/workers";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inNotebook } from "../viz/jupyter";
import { formatDuration, progress as startProgress, type Progress } from "../viz/progress";
import { organismConfigProblems, type OrganismConfig } from "./config";
import { isStageCached, organismHashes, stageUnits, type OrganismEvent, type StageHashes } from "./pipeline";
import { loadRunRecord, type RunRecord, type StageName } from "./record";
import { kitRoot, staleDistFiles } from "./version";
import type { WorkerReply, WorkerTask } from "./worker";
import { runSlurmSweep, type SlurmSweepOptions } from "./slurm";
import { problemsError } from "../describe";

export interface RunManyOptions extends Omit<SlurmSweepOptions, "outDir"> {
  /**
   * "local" (default): worker processes on this machine. "slurm": one Slurm job array (`sbatch --array`), one task
   * per run, with `partition`, `time`, `cpus`, `sbatchArgs`, `pollMs`; `outDir` must be shared by every node, and
   * `workers`, `reuse: false`, `progress` and `onEvent` do not apply (see docs/scale.md).
   */
  executor?: "local" | "slurm";
  /** Worker processes (default: the number of CPUs), at most one per task. */
  workers?: number;
  /** Default "out/runs". */
  outDir?: string;
  /** Reuse cached stages and records (default true); false recomputes every stage once. */
  reuse?: boolean;
  /** One progress bar with an ETA across all runs (default: when stderr is a TTY or in a notebook). */
  progress?: boolean;
  /** Called with each config index and its run's events. */
  onEvent?: (configIndex: number, event: OrganismEvent) => void;
}

type TaskLevel = "pretrain" | "persona" | "evalBefore" | "finish";
const LEVELS: TaskLevel[] = ["pretrain", "persona", "evalBefore", "finish"];

interface Task {
  id: number;
  level: TaskLevel;
  key: string;
  /** The config whose run computes this task (the first config needing it). */
  config: number;
  /** Configs that need it (for events). */
  configs: number[];
  /** Task ids that must finish first. */
  after: number[];
  units: number;
  state: "waiting" | "running" | "done";
}

/** The path of the compiled worker, checked: throws, saying to run `npm run build`, when it is missing or stale. */
export function workerPath(): string {
  const file = path.join(kitRoot(), "dist", "organisms", "worker.js");
  if (!fs.existsSync(file)) {
    throw new Error(`runMany: the compiled worker ${file} does not exist; run \`npm run build\` first (runMany forks compiled worker processes)`);
  }
  const stale = staleDistFiles();
  if (stale.length > 0) {
    throw new Error(
      `runMany: kit/dist is older than the sources of ${stale.slice(0, 6).join(", ")}${stale.length > 6 ? ` and ${stale.length - 6} more` : ""}; run \`npm run build\` so the workers run the current code`,
    );
  }
  return file;
}

/** Run every config (in parallel worker processes); resolves to their records, in the order of `configs`. */
export async function runMany(configs: readonly OrganismConfig[], options: RunManyOptions = {}): Promise<RunRecord[]> {
  const { workers = os.cpus().length, outDir = "out/runs", reuse = true, onEvent } = options;
  if (!Array.isArray(configs) || configs.length === 0) throw new RangeError(`runMany: configs must be a non-empty array of organism configs, received ${Array.isArray(configs) ? "[]" : typeof configs}`);
  if (!(Number.isInteger(workers) && workers > 0)) throw new RangeError(`runMany: options.workers must be a positive integer, received ${workers}`);
  const problems = configs.flatMap((c, i) => organismConfigProblems(c).map((p) => `configs[${i}]: ${p}`));
  if (problems.length) throw problemsError(`runMany: invalid organism config${problems.length > 1 ? "s" : ""}`, problems);
  const { executor = "local" } = options;
  if (executor === "slurm") {
    if (!reuse) throw new RangeError("runMany: options.reuse false is for the local executor; with executor \"slurm\", remove the stages to recompute from outDir");
    return runSlurmSweep(configs, { ...options, outDir });
  }
  if (executor !== "local") throw new RangeError(`runMany: options.executor must be "local" or "slurm", received ${JSON.stringify(executor)}`);

  const hashes = configs.map((c) => organismHashes(c));
  const records: (RunRecord | null)[] = configs.map((c, i) => {
    const f = path.join(outDir, hashes[i].run, "record.json");
    return reuse && fs.existsSync(f) ? loadRunRecord(f) : null;
  });
  const tasks = planTasks(configs, hashes, records, { outDir, reuse });
  if (tasks.length === 0) return records as RunRecord[];

  const file = workerPath();
  const totalUnits = tasks.reduce((a, t) => a + t.units, 0);
  const show = options.progress ?? (inNotebook() || Boolean(process.stderr.isTTY));
  const runsTotal = records.filter((r) => !r).length;
  let runsDone = 0;
  let unitsDone = 0;
  const nWorkers = Math.min(workers, tasks.length);
  const bar: Progress | null = show
    ? startProgress(Math.max(1, totalUnits), {
        label: `runMany ×${nWorkers}`,
        unit: "unit",
        format: (s) =>
          `runMany [${nWorkers} workers] ${runsDone}/${runsTotal} runs  ${Math.floor(s.fraction * 100)}%  ` +
          (s.finished ? `in ${formatDuration(s.elapsedMs)}` : Number.isFinite(s.etaMs) ? `ETA ${formatDuration(s.etaMs)}` : "ETA ?") +
          (s.extra ? `  ${s.extra}` : ""),
      })
    : null;
  bar?.update(0, "starting workers"); // the first draw, so that the rate (and the ETA) counts from here

  const children: ChildProcess[] = [];
  const running = new Map<ChildProcess, Task>();
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      const idle: ChildProcess[] = [];
      const ready = (): Task | undefined => tasks.find((t) => t.state === "waiting" && t.after.every((id) => tasks[id].state === "done"));
      const reuseFor = (own: StageName[]): WorkerTask["options"]["reuse"] =>
        reuse ? true : Object.fromEntries((["pretrain", "persona", "evalBefore", "narrow", "evalAfter"] as StageName[]).map((s) => [s, !own.includes(s)]));
      /** Give ready tasks to idle workers; resolve when every task is done. */
      const pump = () => {
        if (failed) return;
        if (tasks.every((t) => t.state === "done")) {
          resolve();
          return;
        }
        let task: Task | undefined;
        while (idle.length > 0 && (task = ready())) {
          const child = idle.shift()!;
          task.state = "running";
          running.set(child, task);
          const upTo: StageName = task.level === "finish" ? "evalAfter" : task.level;
          const own: StageName[] = task.level === "finish" ? ["narrow", "evalAfter"] : [task.level];
          const msg: WorkerTask = { type: "task", id: task.id, cfg: configs[task.config], options: { outDir, reuse: reuseFor(own), upTo } };
          child.send(msg);
        }
      };
      const spawn = () => {
        const child = fork(file, [], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"], env: process.env });
        children.push(child);
        child.on("message", (m: WorkerReply) => {
          const task = tasks[m.id];
          if (!task) return;
          if (m.type === "event") {
            const ev = m.event as OrganismEvent;
            if (ev.type === "units") {
              unitsDone += ev.units;
              bar?.update(Math.min(unitsDone, totalUnits), `${ev.stage} of run ${task.config}`);
            }
            for (const c of task.configs) onEvent?.(c, ev);
          } else if (m.type === "error") {
            fail(new Error(`runMany: configs[${task.config}] failed in its ${task.level} stage (worker ${child.pid}):\n${m.message}`));
          } else if (m.type === "done") {
            task.state = "done";
            running.delete(child);
            if (task.level === "finish") {
              for (const c of task.configs) records[c] = m.record as RunRecord;
              runsDone += task.configs.length;
              bar?.update(Math.min(unitsDone, totalUnits));
            }
            idle.push(child);
            pump();
          }
        });
        child.on("exit", (code, signal) => {
          const task = running.get(child);
          if (task) fail(new Error(`runMany: worker ${child.pid} exited (${signal ?? `code ${code}`}) while running configs[${task.config}]'s ${task.level} stage`));
        });
        child.on("error", (e) => fail(new Error(`runMany: worker process error: ${e.message}`)));
        idle.push(child);
      };
      for (let w = 0; w < nWorkers; w++) spawn();
      pump();
    });
  } finally {
    bar?.done();
    running.clear();
    stopWorkers(children);
  }
  const missing = records.findIndex((r) => !r);
  if (missing >= 0) throw new Error(`runMany: configs[${missing}] produced no record`);
  return records as RunRecord[];
}

/** Tasks for every stage that must be computed, deduplicated by stage hash, each after the task it starts from. */
function planTasks(
  configs: readonly OrganismConfig[],
  hashes: StageHashes[],
  records: (RunRecord | null)[],
  { outDir, reuse }: { outDir: string; reuse: boolean },
): Task[] {
  const byKey = new Map<string, Task>();
  const tasks: Task[] = [];
  const add = (level: TaskLevel, key: string, config: number, after: (Task | null)[], units: number): Task | null => {
    const k = `${level}:${key}`;
    let t = byKey.get(k);
    if (!t) {
      t = { id: -1, level, key, config, configs: [], after: after.filter((a): a is Task => a !== null).map((a) => a.id), units, state: "waiting" };
      byKey.set(k, t);
      t.id = tasks.length;
      tasks.push(t);
    }
    t.configs.push(config);
    return t;
  };
  const cached = (stage: StageName, hash: string | null) => reuse && hash !== null && isStageCached(outDir, stage, hash);
  // Level by level, so that a task's id is larger than those it waits for, and the earliest stages come first.
  const made: Record<TaskLevel, (Task | null)[]> = { pretrain: [], persona: [], evalBefore: [], finish: [] };
  for (const level of LEVELS) {
    configs.forEach((cfg, i) => {
      const h = hashes[i];
      if (records[i]) {
        made[level][i] = null;
        return;
      }
      if (level === "pretrain") made.pretrain[i] = cached("pretrain", h.pretrain) ? null : add("pretrain", h.pretrain, i, [], stageUnits(cfg, "pretrain"));
      else if (level === "persona") made.persona[i] = cached("persona", h.persona) ? null : add("persona", h.persona, i, [made.pretrain[i]], stageUnits(cfg, "persona"));
      else if (level === "evalBefore") {
        made.evalBefore[i] = cached("evalBefore", h.evalBefore) ? null : add("evalBefore", h.evalBefore, i, [made.persona[i]], stageUnits(cfg, "evalBefore"));
      } else {
        const units = (cached("narrow", h.narrow) ? 0 : stageUnits(cfg, "narrow")) + (cached("evalAfter", h.evalAfter) ? 0 : stageUnits(cfg, "evalAfter"));
        made.finish[i] = add("finish", h.run, i, [made.evalBefore[i], made.persona[i]], units);
      }
    });
  }
  return tasks;
}
