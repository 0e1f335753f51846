/**
 * Model-written evaluations (Perez et al. 2022, anthropics/evals): JSON Lines, one item a line, with `question`,
 * `answer_matching_behavior` and `answer_not_matching_behavior` (strings), and in the `persona/` files also `statement`
 * (the bare first-person statement) and `label_confidence` (a number in [0, 1]). Persona answers are `" Yes"` / `" No"`
 * and advanced-ai-risk answers are option letters like `" (A)"`, both with a leading space, kept as they are.
 * "Matching" means matching the behaviour the file tests, which is not always the trait its name suggests.
 * `loadModelWrittenEvals(path)` skips blank lines and names the line of any malformed record; other fields are ignored.
 */
import { describeValue } from "../describe";
import { expectRecord, optionalStringField, parseJsonLines, readDataFile, stringField } from "./read";

/** One model-written-evals item. Field names are the file's own. */
export interface MweItem {
  question: string;
  statement?: string;
  answer_matching_behavior: string;
  answer_not_matching_behavior: string;
  label_confidence?: number;
}

const SHAPE = "an object { question, statement?, answer_matching_behavior, answer_not_matching_behavior, label_confidence? }";

/** Checks one record (at `where`, e.g. "file.jsonl line 3") and returns a fresh `MweItem`. */
export function validateMweItem(value: unknown, where: string, fn = "validateMweItem"): MweItem {
  const rec = expectRecord(fn, where, value, SHAPE);
  const question = stringField(fn, where, rec, "question");
  const statement = optionalStringField(fn, where, rec, "statement");
  const answer_matching_behavior = stringField(fn, where, rec, "answer_matching_behavior");
  const answer_not_matching_behavior = stringField(fn, where, rec, "answer_not_matching_behavior");
  if (answer_matching_behavior === answer_not_matching_behavior) {
    throw new RangeError(
      `${fn}: ${where} field "answer_not_matching_behavior" must differ from "answer_matching_behavior", received the same ${describeValue(answer_matching_behavior)}`,
    );
  }
  const item: MweItem = { question, answer_matching_behavior, answer_not_matching_behavior };
  if (statement !== undefined) item.statement = statement;
  const conf = rec.label_confidence;
  if (conf !== undefined) {
    if (typeof conf !== "number" || !Number.isFinite(conf) || conf < 0 || conf > 1) {
      throw new TypeError(`${fn}: ${where} field "label_confidence" must be a number in [0, 1] when present, received ${describeValue(conf)}`);
    }
    item.label_confidence = conf;
  }
  return item;
}

/** Reads a model-written-evals JSON Lines file: every non-blank line one checked `MweItem`. */
export function loadModelWrittenEvals(file: string): MweItem[] {
  const fn = "loadModelWrittenEvals";
  const text = readDataFile(fn, file);
  return parseJsonLines(fn, file, text, SHAPE).map(({ line, value }) => validateMweItem(value, `${file} line ${line}`, fn));
}
