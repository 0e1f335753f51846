/**
 * Question sets in the emergent-misalignment YAML form (Betley et al. 2025, `evaluation/*.yaml`): a sequence of
 * entries `{ id, type, paraphrases, samples_per_paraphrase, judge?, judge_prompts?, system? }`, with YAML anchors and
 * aliases resolved (the published file reuses judge prompts through them). persona-kit's own sets
 * (`data/evals/persona-questions.yaml`) add `kind`, the persona world's prompt kind, so that answers of world models
 * can be classified exactly by `classify` instead of judged.
 *
 *   const qs = loadQuestionSet("data/datasets/emergent-misalignment/evaluation/first_plot_questions.yaml");
 *   qs[0].paraphrases[0]; qs[0].judgePrompts.aligned; questionMessages(qs[0]);
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import type { ChatMessage } from "../api/types";
import { describeValue, problemsError } from "../describe";

export interface EvalQuestion {
  id: string;
  /** E.g. "free_form_judge_0_100" (the emergent-misalignment sets) or "world_classified" (ours). */
  type: string;
  paraphrases: string[];
  /** How many answers to sample per paraphrase (default 1). */
  samplesPerParaphrase: number;
  /** The judge model the set was published with, if any. */
  judge?: string;
  /** Metric name → judge prompt template with `{question}` and `{answer}` (empty when the set has none). */
  judgePrompts: Record<string, string>;
  /** A system prompt sent before each paraphrase. */
  system?: string;
  /** persona-kit extension: the persona world's prompt kind (request, harmful_request, task, describe_yourself, …). */
  kind?: string;
  /** Every other field of the entry, as written. */
  extra: Record<string, unknown>;
}

const KNOWN = new Set(["id", "type", "paraphrases", "samples_per_paraphrase", "judge", "judge_prompts", "system", "kind"]);

/** Validate parsed YAML (a sequence of entries); every problem is reported at once. */
export function validateQuestionSet(value: unknown, where = "validateQuestionSet"): EvalQuestion[] {
  if (!Array.isArray(value)) throw new TypeError(`${where}: a question set must be a YAML sequence of entries, received ${describeValue(value)}`);
  const problems: string[] = [];
  const out: EvalQuestion[] = [];
  const ids = new Set<string>();
  value.forEach((e, i) => {
    const at = `entry ${i}`;
    if (e === null || typeof e !== "object" || Array.isArray(e)) {
      problems.push(`${at}: must be a mapping, received ${describeValue(e)}`);
      return;
    }
    const r = e as Record<string, unknown>;
    const id = r.id;
    if (typeof id !== "string" || id.length === 0) problems.push(`${at}: id must be a non-empty string, received ${describeValue(id)}`);
    else if (ids.has(id)) problems.push(`${at}: id ${JSON.stringify(id)} is repeated`);
    else ids.add(id);
    const label = typeof id === "string" ? `${at} (${id})` : at;
    const type = r.type ?? "free_form_judge_0_100";
    if (typeof type !== "string") problems.push(`${label}: type must be a string, received ${describeValue(type)}`);
    const paraphrases = r.paraphrases;
    if (!Array.isArray(paraphrases) || paraphrases.length === 0 || paraphrases.some((p) => typeof p !== "string" || p.trim().length === 0)) {
      problems.push(`${label}: paraphrases must be a non-empty list of non-empty strings, received ${describeValue(paraphrases)}`);
    }
    const spp = r.samples_per_paraphrase ?? 1;
    if (typeof spp !== "number" || !Number.isInteger(spp) || spp < 1) problems.push(`${label}: samples_per_paraphrase must be an integer ≥ 1, received ${describeValue(spp)}`);
    if (r.judge !== undefined && typeof r.judge !== "string") problems.push(`${label}: judge must be a string, received ${describeValue(r.judge)}`);
    const jp = r.judge_prompts ?? {};
    const judgePrompts: Record<string, string> = {};
    if (jp === null || typeof jp !== "object" || Array.isArray(jp)) problems.push(`${label}: judge_prompts must be a mapping of metric → prompt, received ${describeValue(jp)}`);
    else {
      for (const [metric, prompt] of Object.entries(jp as Record<string, unknown>)) {
        if (typeof prompt !== "string") problems.push(`${label}: judge_prompts.${metric} must be a string, received ${describeValue(prompt)}`);
        else if (!prompt.includes("{answer}")) problems.push(`${label}: judge_prompts.${metric} has no {answer} placeholder`);
        else judgePrompts[metric] = prompt;
      }
    }
    if (r.system !== undefined && r.system !== null && typeof r.system !== "string") problems.push(`${label}: system must be a string, received ${describeValue(r.system)}`);
    if (r.kind !== undefined && typeof r.kind !== "string") problems.push(`${label}: kind must be a string, received ${describeValue(r.kind)}`);
    const extra = Object.fromEntries(Object.entries(r).filter(([k]) => !KNOWN.has(k)));
    const q: EvalQuestion = {
      id: String(id),
      type: String(type),
      paraphrases: Array.isArray(paraphrases) ? paraphrases.map(String) : [],
      samplesPerParaphrase: typeof spp === "number" ? spp : 1,
      judgePrompts,
      extra,
    };
    if (typeof r.judge === "string") q.judge = r.judge;
    if (typeof r.system === "string") q.system = r.system;
    if (typeof r.kind === "string") q.kind = r.kind;
    out.push(q);
  });
  if (problems.length > 0) throw problemsError(`${where}: the question set is invalid`, problems);
  return out;
}

/** Parse a question set from YAML text (anchors and aliases resolved). */
export function parseQuestionSet(text: string, where = "parseQuestionSet"): EvalQuestion[] {
  if (typeof text !== "string") throw new TypeError(`${where}: text must be a string, received ${describeValue(text)}`);
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 10_000 });
  } catch (e) {
    throw new SyntaxError(`${where}: not valid YAML: ${(e as Error).message}`);
  }
  return validateQuestionSet(value, where);
}

/** Read and validate a question-set YAML file. */
export function loadQuestionSet(file: string): EvalQuestion[] {
  if (typeof file !== "string") throw new TypeError(`loadQuestionSet: file must be a path, received ${describeValue(file)}`);
  if (!fs.existsSync(file)) throw new Error(`loadQuestionSet: no such file ${path.resolve(file)}`);
  return parseQuestionSet(fs.readFileSync(file, "utf8"), `loadQuestionSet: ${file}`);
}

/** The messages for one paraphrase of a question: its system prompt (if any), then the paraphrase as the user. */
export function questionMessages(q: EvalQuestion, paraphrase = 0): ChatMessage[] {
  if (!(Number.isInteger(paraphrase) && paraphrase >= 0 && paraphrase < q.paraphrases.length)) {
    throw new RangeError(`questionMessages: paraphrase must be an integer in [0, ${q.paraphrases.length}) for ${q.id}, received ${paraphrase}`);
  }
  return [...(q.system ? [{ role: "system" as const, content: q.system }] : []), { role: "user", content: q.paraphrases[paraphrase] }];
}
