/**
 * `withStageLock(lockDir, fn)`: one process at a time computes a stage that several processes — Slurm array tasks on
 * one or many nodes sharing a directory — need. The lock is a directory (`mkdir` is atomic on local file systems and
 * on NFS), holding `owner.json` (host, pid, Slurm job, time). The holder touches it every `heartbeatMs`; another
 * process takes the lock over when it is stale: its owner is a process on this host that no longer exists, or its
 * heartbeat is older than `staleMs` (an owner on another node that died). A stale lock is first renamed away
 * (atomically: only one of several waiters wins the rename), then removed, so no two waiters take it over together.
 *
 *   await withStageLock(path.join(outDir, "locks", hash), async () => { if (!cached()) await compute(); });
 *
 * The function runs under the lock; callers re-check the cache inside it ("first one computes, the others reuse").
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface StageLockOptions {
  /** A lock whose heartbeat is older than this is taken over (default 60 000 ms). */
  staleMs?: number;
  /** How often the holder touches its lock (default staleMs / 4). */
  heartbeatMs?: number;
  /** How often a waiter looks again (default 200 ms). */
  pollMs?: number;
}

export interface LockOwner {
  host: string;
  pid: number;
  /** `$SLURM_JOB_ID` / `$SLURM_ARRAY_TASK_ID` of the holder, when it is a Slurm task. */
  slurmJob: string | null;
  since: string;
}

/** Run `fn` holding the lock `lockDir` (created; its parent folders too); the lock is released when fn settles. */
export async function withStageLock<T>(lockDir: string, fn: () => Promise<T> | T, options: StageLockOptions = {}): Promise<T> {
  const { staleMs = 60_000, pollMs = 200 } = options;
  const heartbeatMs = options.heartbeatMs ?? staleMs / 4;
  if (!(staleMs > 0 && heartbeatMs > 0 && heartbeatMs < staleMs)) {
    throw new RangeError(`withStageLock: expected 0 < heartbeatMs < staleMs, received heartbeatMs ${heartbeatMs}, staleMs ${staleMs}`);
  }
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  while (!tryLock(lockDir)) {
    if (isStale(lockDir, staleMs)) breakLock(lockDir);
    else await new Promise((r) => setTimeout(r, pollMs));
  }
  const beat = setInterval(() => touch(lockDir), heartbeatMs);
  beat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(beat);
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/** The holder of a lock, or null when it is free (or being written). */
export function lockOwner(lockDir: string): LockOwner | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(lockDir, "owner.json"), "utf8")) as LockOwner;
  } catch {
    return null;
  }
}

function tryLock(lockDir: string): boolean {
  try {
    fs.mkdirSync(lockDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  const task = process.env.SLURM_ARRAY_TASK_ID ?? null;
  const job = process.env.SLURM_ARRAY_JOB_ID ?? process.env.SLURM_JOB_ID ?? null;
  const owner: LockOwner = { host: os.hostname(), pid: process.pid, slurmJob: job && task ? `${job}_${task}` : job, since: new Date().toISOString() };
  const tmp = path.join(lockDir, `owner.json.tmp-${process.pid}`);
  fs.writeFileSync(tmp, JSON.stringify(owner));
  fs.renameSync(tmp, path.join(lockDir, "owner.json"));
  return true;
}

function touch(lockDir: string): void {
  const now = new Date();
  try {
    fs.utimesSync(lockDir, now, now);
  } catch {
    // taken over or released: nothing to do
  }
}

function isStale(lockDir: string, staleMs: number): boolean {
  let mtime: number;
  try {
    mtime = fs.statSync(lockDir).mtimeMs;
  } catch {
    return false; // released meanwhile: the next tryLock takes it
  }
  const owner = lockOwner(lockDir);
  if (owner && owner.host === os.hostname() && !processExists(owner.pid)) return true;
  return Date.now() - mtime > staleMs;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function breakLock(lockDir: string): void {
  const away = `${lockDir}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    fs.renameSync(lockDir, away);
  } catch {
    return; // another waiter broke it first (or its owner released it)
  }
  fs.rmSync(away, { recursive: true, force: true });
}
