/**
 * Contrastive Activation Addition datasets (Rimsky et al. 2024, nrimsky/CAA). The A/B files
 * (`generate/<behavior>/generate_dataset.json`, `test/<behavior>/test_dataset_ab.json`) are one JSON array of
 * `{ question, answer_matching_behavior, answer_not_matching_behavior }`: the question holds its options inline as
 * ` (A) …` lines, and the answers are option letters written `"(A)"`, with no leading space (unlike anthropics/evals).
 * Options are not limited to A/B, so any capital letter is accepted, but each answer's option must appear in the
 * question. The open-ended test files (`test_dataset_open_ended.json`) are a JSON array of `{ question }`.
 * `loadCaaAB(path)` / `loadCaaOpenEnded(path)` check every element and name its array index; other fields are ignored.
 */
import { describeValue } from "../describe";
import { expectNonEmptyArray, expectRecord, parseJsonDocument, readDataFile, stringField } from "./read";

/** One CAA A/B item. Field names are the file's own; answers are option letters like "(A)". */
export interface CaaItem {
  question: string;
  answer_matching_behavior: string;
  answer_not_matching_behavior: string;
}

/** One CAA open-ended item: a free-form prompt with no answer key. */
export interface CaaOpenEndedItem {
  question: string;
}

/** A CAA answer: one capital option letter in parentheses, no spaces. */
export const CAA_ANSWER = /^\([A-Z]\)$/;

const AB_SHAPE = "an array of { question, answer_matching_behavior, answer_not_matching_behavior } objects";
const OPEN_SHAPE = "an array of { question } objects";

function answerField(fn: string, where: string, rec: Record<string, unknown>, field: string, question: string): string {
  const a = stringField(fn, where, rec, field);
  if (!CAA_ANSWER.test(a)) {
    const hint = CAA_ANSWER.test(a.trim()) ? " (CAA answers have no surrounding spaces; \" (A)\" is the anthropics/evals style)" : "";
    throw new RangeError(`${fn}: ${where} field "${field}" must be an option letter like "(A)"${hint}, received ${describeValue(a)}`);
  }
  if (!question.includes(a)) throw new RangeError(`${fn}: ${where} field "${field}" is option ${a}, but the question has no option ${a}`);
  return a;
}

/** Checks one A/B element (at `where`, e.g. "file.json index 3") and returns a fresh `CaaItem`. */
export function validateCaaItem(value: unknown, where: string, fn = "validateCaaItem"): CaaItem {
  const rec = expectRecord(fn, where, value, "an object { question, answer_matching_behavior, answer_not_matching_behavior }");
  const question = stringField(fn, where, rec, "question");
  const answer_matching_behavior = answerField(fn, where, rec, "answer_matching_behavior", question);
  const answer_not_matching_behavior = answerField(fn, where, rec, "answer_not_matching_behavior", question);
  if (answer_matching_behavior === answer_not_matching_behavior) {
    throw new RangeError(
      `${fn}: ${where} field "answer_not_matching_behavior" must differ from "answer_matching_behavior", received the same ${describeValue(answer_matching_behavior)}`,
    );
  }
  return { question, answer_matching_behavior, answer_not_matching_behavior };
}

/** Reads a CAA A/B file (generate or test): a JSON array of checked `CaaItem`s. */
export function loadCaaAB(file: string): CaaItem[] {
  const fn = "loadCaaAB";
  const list = expectNonEmptyArray(fn, file, parseJsonDocument(fn, file, readDataFile(fn, file), AB_SHAPE), AB_SHAPE);
  return list.map((v, i) => validateCaaItem(v, `${file} index ${i}`, fn));
}

/** Reads a CAA open-ended test file: a JSON array of `{ question }`. */
export function loadCaaOpenEnded(file: string): CaaOpenEndedItem[] {
  const fn = "loadCaaOpenEnded";
  const list = expectNonEmptyArray(fn, file, parseJsonDocument(fn, file, readDataFile(fn, file), OPEN_SHAPE), OPEN_SHAPE);
  return list.map((v, i) => {
    const where = `${file} index ${i}`;
    return { question: stringField(fn, where, expectRecord(fn, where, v, "an object { question }"), "question") };
  });
}
