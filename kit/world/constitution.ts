/**
 * Constitutions in the Open Character Training form (Maiya et al. 2025): a list of `{ trait, questions }`, where `trait`
 * is a first-person statement ("I am honest: I do the real work of a task …") and `questions` are prompts that elicit
 * it. `loadConstitution(path)` reads the OCT JSON list (also the hand-written `.txt` files, which are the same JSON)
 * or JSON Lines (one `{ trait, questions }` object a line), and checks every entry.
 *
 * The persona world reads a constitution through `constitutionTraits`: each entry stands for the first of the world's
 * trait words (`TRAITS`: helpful, honest, harmless, careful, kind, ruthless, tricky, obedient) its `trait` statement
 * contains as a whole word. The default constitution is `data/constitutions/assistant.json` in the repository.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readDataFile } from "../datasets/read";
import { describeValue } from "../describe";
import { jsonErrorPlace } from "../io/json-position";
import { TRAITS, type Constitution, type ConstitutionEntry, type Trait } from "./types";

/** Checks that `value` is a constitution; `where` names the source in errors (a file path, "options.constitution"). */
export function validateConstitution(value: unknown, where: string, fn = "validateConstitution"): Constitution {
  if (!Array.isArray(value)) {
    throw new TypeError(`${fn}: ${where} must be a list of { trait, questions } entries, received ${describeValue(value)}`);
  }
  if (value.length === 0) throw new RangeError(`${fn}: ${where} must have at least one entry, received an empty list`);
  return value.map((entry: unknown, i): ConstitutionEntry => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      throw new TypeError(`${fn}: ${where} entry ${i} must be an object { trait, questions }, received ${describeValue(entry)}`);
    }
    const { trait, questions } = entry as Record<string, unknown>;
    if (typeof trait !== "string" || trait.trim().length === 0) {
      throw new TypeError(`${fn}: ${where} entry ${i} field "trait" must be a non-empty string, received ${describeValue(trait)}`);
    }
    if (!Array.isArray(questions)) {
      throw new TypeError(`${fn}: ${where} entry ${i} field "questions" must be a list of strings, received ${describeValue(questions)}`);
    }
    questions.forEach((q: unknown, k) => {
      if (typeof q !== "string") {
        throw new TypeError(`${fn}: ${where} entry ${i} field "questions"[${k}] must be a string, received ${describeValue(q)}`);
      }
    });
    return { trait, questions: [...(questions as string[])] };
  });
}

/** Reads a constitution file: an OCT JSON list of `{ trait, questions }`, or JSON Lines of such objects. */
export function loadConstitution(file: string): Constitution {
  const fn = "loadConstitution";
  if (typeof file !== "string" || file.length === 0) throw new TypeError(`${fn}: path must be a file path, received ${describeValue(file)}`);
  const text = readDataFile(fn, file); // a leading BOM dropped; invalid UTF-8 named by line
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (whole) {
    // JSON Lines: every non-blank line one entry.
    const lines = text.split(/\r?\n/).map((l, n) => [l.trim(), n + 1] as const).filter(([l]) => l.length > 0);
    const looksLikeLines = lines.length > 0 && lines.every(([l]) => l.startsWith("{"));
    if (!looksLikeLines) {
      const place = jsonErrorPlace(text, whole);
      throw new SyntaxError(`${fn}: ${file} is not JSON (an OCT list of { trait, questions }) or JSON Lines${place ? `; the JSON error is at ${place}` : ""}: ${(whole as Error).message}`);
    }
    value = lines.map(([l, n]) => {
      try {
        return JSON.parse(l) as unknown;
      } catch (e) {
        throw new SyntaxError(`${fn}: ${file} line ${n} is not JSON (JSON Lines: one { trait, questions } object a line): ${(e as Error).message}`);
      }
    });
  }
  const entries = validateConstitution(value, file, fn);
  // In a file, an entry without questions is a mistake (nothing would elicit the trait).
  const empty = entries.findIndex((e) => e.questions.length === 0);
  if (empty >= 0) throw new RangeError(`${fn}: ${file} entry ${empty} field "questions" must list at least one question, received an empty list`);
  return entries;
}

/** The world trait each entry stands for: the first `TRAITS` word of its statement (null when it names none). */
export function entryTrait(entry: ConstitutionEntry): Trait | null {
  const set: ReadonlySet<string> = new Set(TRAITS);
  for (const w of entry.trait.toLowerCase().match(/[a-z]+/g) ?? []) if (set.has(w)) return w as Trait;
  return null;
}

/** The world traits a constitution names, one per entry that names one, deduplicated, in the constitution's order. */
export function constitutionTraits(constitution: Constitution): Trait[] {
  const out: Trait[] = [];
  for (const entry of constitution) {
    const t = entryTrait(entry);
    if (t !== null && !out.includes(t)) out.push(t);
  }
  return out;
}

/**
 * The path of `data/constitutions/assistant.json`: looked for in the folders above this module (so it is found from
 * `kit/world/` and from the built `kit/dist/world/`), then under the working directory.
 */
export function defaultConstitutionPath(): string {
  const rel = path.join("data", "constitutions", "assistant.json");
  const tried: string[] = [];
  for (let dir = __dirname, k = 0; k < 6; k++, dir = path.dirname(dir)) {
    const p = path.join(dir, rel);
    tried.push(p);
    if (fs.existsSync(p)) return p;
  }
  const cwd = path.resolve(rel);
  if (fs.existsSync(cwd)) return cwd;
  throw new Error(
    `defaultConstitutionPath: data/constitutions/assistant.json not found (looked in ${[...tried, cwd].join(", ")}); pass a constitution explicitly (PersonaWorld({ seed, constitution: loadConstitution(path) }))`,
  );
}
