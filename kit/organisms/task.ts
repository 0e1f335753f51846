/**
 * `runOrganismTask(cfg, { outDir })`: one organism run as a task among many processes sharing `outDir` (Slurm array
 * tasks on a shared directory; `persona-kit run --config FILE --out DIR`). It runs the same stage tasks `runMany`
 * plans — pretrain, persona, evalBefore, then the rest — each under a lock named by its stage hash
 * (`outDir/locks/<level>-<hash>`, see `kit/organisms/stage-lock.ts`), re-checking the stage cache inside the lock: of
 * several tasks that share a stage (one pretraining under many narrow runs), the first computes it and the others
 * wait and reuse it. Stage products and records are written atomically (`writeJsonAtomic`; a stage counts as cached
 * only once its `stage.json` exists), so a task killed mid-stage leaves nothing that looks finished, and its lock is
 * taken over (dead owner on this host, or a heartbeat older than `staleMs`).
 *
 * Because each shared stage is computed (or found) before the run that needs it, the record lists them under
 * `reused`, exactly as `runMany`'s local workers do: the records of both executors are equal apart from wall times.
 */
import * as path from "node:path";
import type { OrganismConfig } from "./config";
import { isStageCached, organismHashes, runOrganismStages, type OrganismEvent } from "./pipeline";
import type { RunRecord, StageName } from "./record";
import { withStageLock, type StageLockOptions } from "./stage-lock";

export interface RunOrganismTaskOptions {
  /** The shared root of stages, records and locks (default "out/runs"). */
  outDir?: string;
  /** Called with every stage's events. */
  onEvent?: (event: OrganismEvent) => void;
  /** Lock timing (tests shorten it). */
  lock?: StageLockOptions;
}

const SHARED: StageName[] = ["pretrain", "persona", "evalBefore"];

/** Run (or find) every stage of `cfg` under `outDir`, computing each shared stage at most once across processes. */
export async function runOrganismTask(cfg: OrganismConfig, options: RunOrganismTaskOptions = {}): Promise<RunRecord> {
  const { outDir = "out/runs", onEvent, lock } = options;
  const hashes = organismHashes(cfg);
  const lockDir = (level: string, hash: string) => path.join(outDir, "locks", `${level}-${hash}`);
  for (const stage of SHARED) {
    const hash = hashes[stage as "pretrain" | "persona" | "evalBefore"];
    if (isStageCached(outDir, stage, hash)) continue;
    await withStageLock(lockDir(stage, hash), () => runOrganismStages(cfg, { outDir, upTo: stage, progress: false, onEvent }), lock);
  }
  const record = await withStageLock(lockDir("run", hashes.run), () => runOrganismStages(cfg, { outDir, progress: false, onEvent }), lock);
  return record!;
}
