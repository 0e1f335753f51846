/**
 * Persona-vector trait files, in the format of Chen et al. 2025 ("Persona Vectors", safety-research/persona_vectors):
 * one JSON object `{ instruction: [{ pos, neg }, …], questions: [string, …], eval_prompt: string }`. Each instruction
 * pair is a system prompt that elicits the trait (`pos`) and one that suppresses it (`neg`); `questions` are the user
 * prompts answered under each; `eval_prompt` is the judge template, with `{question}` and `{answer}` placeholders,
 * that scores how strongly an answer shows the trait. `loadTraitFile(path)` reads and checks one such file; other
 * top-level fields are ignored. Sample files (written for this kit) are in `data/traits/`.
 */
import { expectNonEmptyArray, expectRecord, parseJsonDocument, readDataFile, stringField, stringListField } from "./read";

/** One contrastive instruction pair: a system prompt that elicits the trait and one that suppresses it. */
export interface TraitInstruction {
  pos: string;
  neg: string;
}

/** A persona-vector trait file. Field names are the file's own. */
export interface TraitData {
  instruction: TraitInstruction[];
  questions: string[];
  eval_prompt: string;
}

/** The placeholders `eval_prompt` must contain. */
export const TRAIT_EVAL_PLACEHOLDERS = ["{question}", "{answer}"] as const;

const SHAPE = "an object { instruction: [{ pos, neg }, …], questions: [string, …], eval_prompt: string }";

/** Checks that `value` (read from `where`) is a trait file's object and returns a fresh copy of it. */
export function validateTraitData(value: unknown, where: string, fn = "validateTraitData"): TraitData {
  const rec = expectRecord(fn, where, value, SHAPE);
  if (!("instruction" in rec)) throw new TypeError(`${fn}: ${where} field "instruction" must be an array of { pos, neg } objects, received no such field`);
  const pairs = expectNonEmptyArray(fn, `${where} field "instruction"`, rec.instruction, "an array of { pos, neg } objects");
  const instruction = pairs.map((p, i): TraitInstruction => {
    const at = `${where} field "instruction[${i}]"`;
    const pair = expectRecord(fn, at, p, "an object { pos: string, neg: string }");
    return { pos: stringField(fn, at, pair, "pos"), neg: stringField(fn, at, pair, "neg") };
  });
  const questions = stringListField(fn, where, rec, "questions");
  const eval_prompt = stringField(fn, where, rec, "eval_prompt");
  for (const ph of TRAIT_EVAL_PLACEHOLDERS) {
    if (!eval_prompt.includes(ph)) {
      throw new RangeError(`${fn}: ${where} field "eval_prompt" must contain the placeholder ${ph}, received a string of ${eval_prompt.length} characters without it`);
    }
  }
  return { instruction, questions, eval_prompt };
}

/** Reads a persona-vector trait file (one JSON object) and checks every field. */
export function loadTraitFile(file: string): TraitData {
  const fn = "loadTraitFile";
  const text = readDataFile(fn, file);
  return validateTraitData(parseJsonDocument(fn, file, text, SHAPE), file, fn);
}
