/**
 * `RunRecord`: what one organism run leaves behind (`<outDir>/<run-hash>/record.json`), and how to read it back.
 *
 * Evaluation results are `Counts`: for every context `domain/kind/shift` (e.g. `"coding/task/none"`), how many prompts
 * were evaluated (`n`) and how many responses the classifier put in each behaviour; plus how many responses named
 * each trait and how many named at least one of `offTraits` (the traits outside the constitution, for self-report
 * shift). Everything in a record is plain JSON.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Behaviour, Domain, PromptKind, PromptShift, Trait } from "../world/types";
import type { OrganismConfig } from "./config";
import type { CodeVersion } from "./version";

/** The key of one evaluation context. */
export type ContextKey = `${Domain}/${PromptKind}/${PromptShift}`;

export function contextKey(domain: Domain, kind: PromptKind, shift: PromptShift): ContextKey {
  return `${domain}/${kind}/${shift}`;
}

/** Split a context key into its parts. */
export function parseContextKey(key: string): { domain: Domain; kind: PromptKind; shift: PromptShift } {
  const [domain, kind, shift] = key.split("/");
  return { domain: domain as Domain, kind: kind as PromptKind, shift: shift as PromptShift };
}

export interface ContextCounts {
  /** Prompts evaluated in this context. */
  n: number;
  /** Responses per behaviour (every behaviour present, summing to n). */
  counts: Record<Behaviour, number>;
  /** Responses naming each trait. */
  traits: Record<Trait, number>;
  /** Responses naming at least one of the record's `offTraits`. */
  offTraits: number;
  /** The first few completions, verbatim (for reading, not for metrics). */
  examples: string[];
}

export type Counts = Record<string, ContextCounts>;

export type StageName = "pretrain" | "persona" | "evalBefore" | "narrow" | "evalAfter";

export interface LossPoint {
  step: number;
  loss: number;
}

export interface RunRecord {
  format: "persona-kit/organism-run";
  version: 1;
  config: OrganismConfig;
  seed: number;
  codeVersion: CodeVersion;
  /** The run's hash (its folder name under outDir). */
  hash: string;
  /** ISO time this run (or, for reused stages, this record) was assembled. */
  startedAt: string;
  /** Wall time of each stage when it was computed (a reused stage keeps the time it took originally). */
  ms: Partial<Record<StageName, number>>;
  /**
   * Stages the call that assembled this record read from the stage cache instead of computing them (under `runMany`,
   * that includes the shared stages its earlier tasks computed in the same call).
   */
  reused: StageName[];
  /** Training loss per step, per training stage. */
  losses: { pretrain: LossPoint[]; persona: LossPoint[]; narrow: LossPoint[] | null };
  /** Checkpoint folders (Hugging Face format, loadable with `loadModel`), and their stage hashes. */
  checkpoints: { base: string; persona: string; narrow: string | null };
  stageHashes: Partial<Record<StageName, string>>;
  /** Traits counted in `offTraits` (outside the constitution). */
  offTraits: Trait[];
  /** Evaluation of the persona model (before narrow training) and of the narrow model (null without narrow training). */
  eval: { before: Counts; after: Counts | null };
}

/** Read a record from its `record.json` path or its run folder. */
export function loadRunRecord(file: string): RunRecord {
  if (typeof file !== "string" || file.length === 0) throw new TypeError(`loadRunRecord: path must be a non-empty string, received ${JSON.stringify(file)}`);
  const p = fs.existsSync(file) && fs.statSync(file).isDirectory() ? path.join(file, "record.json") : file;
  if (!fs.existsSync(p)) throw new Error(`loadRunRecord: no run record at ${p}`);
  const rec = JSON.parse(fs.readFileSync(p, "utf8")) as RunRecord;
  if (rec?.format !== "persona-kit/organism-run") {
    throw new Error(`loadRunRecord: ${p} is not an organism run record (format ${JSON.stringify(rec?.format)}, expected "persona-kit/organism-run")`);
  }
  return rec;
}

/** Write JSON atomically (temp file, then rename), so concurrent readers never see half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 1));
  fs.renameSync(tmp, file);
}
