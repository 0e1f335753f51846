/**
 * Shared reading and checking for the dataset loaders: read a file (a missing or empty file is an error that names the
 * loader and the path), parse it as one JSON document or as JSON Lines (blank lines skipped, the 1-based line number
 * kept for errors), and check the fields of one record. Every error names the loader (`fn`), the file, where in the
 * file (`line N` for JSON Lines, `index N` for an element of a JSON array), the field, what was expected and what was
 * received (`describeValue`).
 */
import * as fs from "node:fs";
import { describeValue } from "../describe";
import { jsonErrorPlace } from "../io/json-position";

/**
 * Reads `file` as UTF-8 text (a leading BOM dropped); throws when `file` is not a path, is missing, is empty, or is not
 * valid UTF-8 (the error names the line of the first invalid byte instead of replacing it with U+FFFD).
 */
export function readDataFile(fn: string, file: unknown): string {
  if (typeof file !== "string" || file.length === 0) {
    throw new TypeError(`${fn}: path must be a non-empty file path string, received ${describeValue(file)}`);
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new Error(`${fn}: cannot read ${file}: ${why}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); // drops a leading BOM
  } catch {
    throw new TypeError(`${fn}: ${file} ${invalidUtf8Place(bytes)} is not valid UTF-8; expected UTF-8 text`);
  }
  if (text.trim().length === 0) throw new Error(`${fn}: ${file} is empty, expected data`);
  return text;
}

/** `line N (byte B)` of the first line of `bytes` that is not valid UTF-8. */
function invalidUtf8Place(bytes: Buffer): string {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    try {
      decoder.decode(bytes.subarray(start, end));
    } catch {
      return `line ${line} (bytes ${start}–${end})`;
    }
    if (nl < 0) break;
    start = nl + 1;
  }
  return "(somewhere)";
}

/** Parses `text` (the contents of `file`) as one JSON document; a syntax error names the file, the line and the column. */
export function parseJsonDocument(fn: string, file: string, text: string, expected: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const place = jsonErrorPlace(text, e);
    throw new SyntaxError(`${fn}: ${file} is not valid JSON${place ? ` at ${place}` : ""} (expected ${expected}): ${(e as Error).message}`);
  }
}

/** One parsed JSON Lines record and the 1-based line it was on. */
export interface JsonLine {
  line: number;
  value: unknown;
}

/** Parses `text` (the contents of `file`) as JSON Lines: one JSON value a line, blank lines skipped. */
export function parseJsonLines(fn: string, file: string, text: string, expected: string): JsonLine[] {
  const out: JsonLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim().length === 0) return;
    try {
      out.push({ line: i + 1, value: JSON.parse(raw) as unknown });
    } catch (e) {
      const column = /column \d+/.exec(jsonErrorPlace(raw, e) ?? "")?.[0];
      throw new SyntaxError(
        `${fn}: ${file} line ${i + 1} is not valid JSON${column ? ` at ${column}` : ""} (JSON Lines: expected ${expected} on every line), received ${describeValue(raw)}: ${(e as Error).message}`,
      );
    }
  });
  return out;
}

/** Checks that `value` (at `where`, e.g. "data.jsonl line 3") is a plain object; `expected` describes its shape. */
export function expectRecord(fn: string, where: string, value: unknown, expected: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${fn}: ${where} must be ${expected}, received ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Checks that `value` (at `where`) is an array with at least one element; `expected` describes it. */
export function expectNonEmptyArray(fn: string, where: string, value: unknown, expected: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${fn}: ${where} must be ${expected}, received ${describeValue(value)}`);
  if (value.length === 0) throw new RangeError(`${fn}: ${where} must be ${expected} with at least one element, received an empty array`);
  return value;
}

/** Field `field` of `rec` (at `where`) as a non-empty string (one that is not only whitespace). */
export function stringField(fn: string, where: string, rec: Record<string, unknown>, field: string): string {
  const v = rec[field];
  if (typeof v !== "string" || v.trim().length === 0) {
    const got = field in rec ? describeValue(v) : "no such field";
    throw new TypeError(`${fn}: ${where} field "${field}" must be a non-empty string, received ${got}`);
  }
  return v;
}

/** Field `field` of `rec` (at `where`) as a string when present (absent or undefined gives undefined). */
export function optionalStringField(fn: string, where: string, rec: Record<string, unknown>, field: string): string | undefined {
  const v = rec[field];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new TypeError(`${fn}: ${where} field "${field}" must be a string when present, received ${describeValue(v)}`);
  return v;
}

/** Field `field` of `rec` (at `where`) as a non-empty array of non-empty strings. */
export function stringListField(fn: string, where: string, rec: Record<string, unknown>, field: string): string[] {
  if (!(field in rec)) throw new TypeError(`${fn}: ${where} field "${field}" must be a non-empty array of strings, received no such field`);
  const list = expectNonEmptyArray(fn, `${where} field "${field}"`, rec[field], "an array of non-empty strings");
  return list.map((q, k) => {
    if (typeof q !== "string" || q.trim().length === 0) {
      throw new TypeError(`${fn}: ${where} field "${field}[${k}]" must be a non-empty string, received ${describeValue(q)}`);
    }
    return q;
  });
}
