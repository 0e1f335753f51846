/**
 * Training checkpoints: one folder per saved step under a checkpoint directory, written atomically.
 *
 *     <checkpointDir>/step-00000100/model.safetensors       kit parameter names, kit layout ([in, out] matrices), F32
 *     <checkpointDir>/step-00000100/optimizer.safetensors   m.<name>, v.<name>; metadata { t }
 *     <checkpointDir>/step-00000100/trainer_state.json      step, t, seed, options, records, model config
 *
 * A checkpoint is written into a hidden temp folder (`.tmp-…`) in the same directory, every file fsynced, then the
 * folder is renamed to `step-N`: a process killed mid-write leaves at worst a temp folder, which readers ignore,
 * never a half-written `step-N`. Older checkpoints are pruned only after the new one is in place.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { randomBytes } from "node:crypto";
import type { HookedTransformer } from "../model/transformer";
import type { ModelConfig } from "../model/config";
import { readSafetensors, writeSafetensors, type TensorToWrite } from "../io/safetensors";
import type { AdamW, AdamWState } from "./adamw";
import type { StepRecord } from "./trainer";

export const TRAINER_STATE_FORMAT = "persona-kit/trainer-state";
export const TRAINER_STATE_VERSION = 1;

export interface TrainerState {
  format: typeof TRAINER_STATE_FORMAT;
  version: number;
  /** Updates completed: the run continues with step `step` (0-based). */
  step: number;
  /** The optimizer's update count (equals `step` for a run that started from scratch). */
  t: number;
  seed: number;
  /** The options that determine the run's numbers (no callbacks, no data). */
  options: Record<string, unknown>;
  records: StepRecord[];
  config: ModelConfig;
  /** Where the steps ran ("tfjs" when absent: checkpoints written before the ONNX Runtime path). */
  runtime?: "tfjs" | "onnx";
}

export interface LoadedCheckpoint {
  dir: string;
  state: TrainerState;
  weights: Map<string, Float32Array>;
  optimizer: AdamWState;
}

const STEP_DIR = /^step-(\d+)$/;
const TMP_PREFIX = ".tmp-";

export function checkpointDirName(step: number): string {
  return `step-${String(step).padStart(8, "0")}`;
}

/** `step-N` folders under `root` holding a trainer_state.json, oldest first (none if `root` does not exist). */
export function listCheckpoints(root: string): { step: number; dir: string }[] {
  if (!fs.existsSync(root)) return [];
  const out: { step: number; dir: string }[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const m = STEP_DIR.exec(entry.name);
    if (!m || !entry.isDirectory()) continue;
    const dir = nodePath.join(root, entry.name);
    if (fs.existsSync(nodePath.join(dir, "trainer_state.json"))) out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The newest checkpoint folder under `root`, or null. */
export function latestCheckpoint(root: string): string | null {
  const all = listCheckpoints(root);
  return all.length ? all[all.length - 1].dir : null;
}

/** Remove temp folders left by killed writers (those whose process is gone). */
export function removeStaleTemps(root: string): void {
  if (!fs.existsSync(root)) return;
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(TMP_PREFIX)) continue;
    const pid = Number(/-p(\d+)-/.exec(entry.name)?.[1]);
    if (pid === process.pid || (Number.isInteger(pid) && pid > 0 && processAlive(pid))) continue;
    fs.rmSync(nodePath.join(root, entry.name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function writeFileSynced(path: string, text: string): void {
  const fd = fs.openSync(path, "wx");
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  }
}

/**
 * Write a checkpoint of `model` and `optimizer` at `state.step` under `root` and keep only the newest `keep`
 * checkpoints. Returns the checkpoint's folder.
 */
export function saveCheckpoint(
  root: string,
  { model, params = model.params, optimizer, state }: { model: HookedTransformer; params?: ReadonlyMap<string, { shape: number[]; dataSync(): unknown }>; optimizer: Pick<AdamW, "exportState">; state: TrainerState },
  { keep = 1 }: { keep?: number } = {},
): string {
  fs.mkdirSync(root, { recursive: true });
  const name = checkpointDirName(state.step);
  const tmp = nodePath.join(root, `${TMP_PREFIX}${name}-p${process.pid}-${randomBytes(4).toString("hex")}`);
  const final = nodePath.join(root, name);
  fs.mkdirSync(tmp);
  try {
    const weights = new Map<string, TensorToWrite>();
    for (const [n, v] of params) weights.set(n, { shape: v.shape, data: new Float32Array(v.dataSync() as Float32Array) });
    writeSafetensors(nodePath.join(tmp, "model.safetensors"), weights, { format: "pt", "persona-kit": "kit-layout" });
    const opt = optimizer.exportState();
    const moments = new Map<string, TensorToWrite>();
    for (const [n, v] of params) {
      moments.set(`m.${n}`, { shape: v.shape, data: opt.m.get(n)! });
      moments.set(`v.${n}`, { shape: v.shape, data: opt.v.get(n)! });
    }
    writeSafetensors(nodePath.join(tmp, "optimizer.safetensors"), moments, { t: String(opt.t) });
    writeFileSynced(nodePath.join(tmp, "trainer_state.json"), JSON.stringify({ ...state, t: opt.t }, null, 1) + "\n");
    fsyncDir(tmp);
    if (fs.existsSync(final)) {
      // Re-saving a step (e.g. after a resume): move the old folder aside first; a rename never overwrites a folder.
      const old = nodePath.join(root, `${TMP_PREFIX}old-${name}-p${process.pid}-${randomBytes(4).toString("hex")}`);
      fs.renameSync(final, old);
      fs.renameSync(tmp, final);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, final);
    }
    fsyncDir(root);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const all = listCheckpoints(root);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) if (c.dir !== final) fs.rmSync(c.dir, { recursive: true, force: true });
  return final;
}

/** Read a checkpoint folder written by `saveCheckpoint`. */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const statePath = nodePath.join(dir, "trainer_state.json");
  let state: TrainerState;
  try {
    state = JSON.parse(fs.readFileSync(statePath, "utf8")) as TrainerState;
  } catch (e) {
    throw new Error(`loadCheckpoint: cannot read ${statePath}: ${(e as Error).message}`);
  }
  if (state?.format !== TRAINER_STATE_FORMAT || !Number.isInteger(state.step) || !Array.isArray(state.records)) {
    throw new TypeError(`loadCheckpoint: ${statePath} is not a persona-kit trainer state (format ${JSON.stringify(state?.format)})`);
  }
  if (state.version > TRAINER_STATE_VERSION) {
    throw new RangeError(`loadCheckpoint: ${statePath} has version ${state.version}; this kit reads up to ${TRAINER_STATE_VERSION}`);
  }
  const weights = new Map<string, Float32Array>();
  for (const [n, t] of readSafetensors(nodePath.join(dir, "model.safetensors"))) weights.set(n, t.data);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [n, t] of readSafetensors(nodePath.join(dir, "optimizer.safetensors"))) {
    if (n.startsWith("m.")) m.set(n.slice(2), t.data);
    else if (n.startsWith("v.")) v.set(n.slice(2), t.data);
    else throw new TypeError(`loadCheckpoint: unexpected tensor ${JSON.stringify(n)} in ${nodePath.join(dir, "optimizer.safetensors")}`);
  }
  return { dir, state, weights, optimizer: { t: state.t, m, v } };
}
