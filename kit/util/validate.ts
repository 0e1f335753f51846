/**
 * Field checks shared by the kit's config validators (`configProblems`, `organismConfigProblems`,
 * `rlConfigProblems`). Each check appends one message to a problems list, naming the field, what was expected and
 * what was received, and returns whether the value passed, so a validator reports every problem at once:
 *
 *   const problems: string[] = [];
 *   const sft = section(problems, cfg, "reflectionSft", KEYS.reflectionSft);   // null (and a problem) unless an object
 *   if (sft) {
 *     const f = fields(problems, sft, "reflectionSft");
 *     f.posInt("steps");                      // "reflectionSft.steps must be a positive integer, received 0"
 *     f.posNum("lr");
 *   }
 */
import { editDistance } from "./editDistance";
import { isPlainObject } from "./object";

/** A received value as validators write it: its JSON, `undefined` by name. */
export function showValue(v: unknown): string {
  return v === undefined ? "undefined" : JSON.stringify(v);
}

export const isPositiveInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;
export const isNonNegativeInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
export const isPositiveFinite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;
export const isNonNegativeFinite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** Checks of the fields of one object (a config or one of its sections); messages name `where.key`. */
export class FieldChecks {
  constructor(
    readonly problems: string[],
    readonly obj: Record<string, unknown>,
    readonly where = "",
  ) {}

  /** The dotted name of a field in messages. */
  path(key: string): string {
    return this.where ? `${this.where}.${key}` : key;
  }

  /** `ok(value)`, or a problem "`where.key` must be `expected`, received `value`". */
  expect(key: string, ok: (v: unknown) => boolean, expected: string): boolean {
    const v = this.obj[key];
    if (ok(v)) return true;
    this.problems.push(`${this.path(key)} must be ${expected}, received ${showValue(v)}`);
    return false;
  }

  posInt(key: string): boolean {
    return this.expect(key, isPositiveInt, "a positive integer");
  }

  nonNegInt(key: string): boolean {
    return this.expect(key, isNonNegativeInt, "an integer ≥ 0");
  }

  /** A positive finite number; `expected` words it (the model config says "a positive number"). */
  posNum(key: string, expected = "a positive finite number"): boolean {
    return this.expect(key, isPositiveFinite, expected);
  }

  nonNeg(key: string): boolean {
    return this.expect(key, isNonNegativeFinite, "a finite number ≥ 0");
  }

  finite(key: string): boolean {
    return this.expect(key, (v) => typeof v === "number" && Number.isFinite(v), "a finite number");
  }

  bool(key: string): boolean {
    return this.expect(key, (v) => typeof v === "boolean", "a boolean");
  }

  /** A seed: an integer in [0, 2^32). */
  seed(key: string): boolean {
    return this.expect(key, (v) => isNonNegativeInt(v) && v <= 0xffffffff, "an integer in [0, 2^32)");
  }

  /** One of `allowed`, listed as they are, or as JSON strings with `quote`. */
  oneOf(key: string, allowed: readonly unknown[], { quote = false }: { quote?: boolean } = {}): boolean {
    const list = allowed.map((a) => (quote ? JSON.stringify(a) : String(a))).join(", ");
    return this.expect(key, (v) => allowed.includes(v), `one of ${list}`);
  }
}

/** Field checks of `obj` whose messages name `where.key` (just `key` without `where`). */
export function fields(problems: string[], obj: Record<string, unknown>, where = ""): FieldChecks {
  return new FieldChecks(problems, obj, where);
}

export interface KeyCheckOptions {
  /** Add "(did you mean where.name?)" for a known key equal but for case, or within edit distance 2. */
  suggest?: boolean;
}

/** A problem for each key of `obj` that is not in `known`: "`where.k` is not a config field; known: …". */
export function unknownKeys(problems: string[], obj: Record<string, unknown>, known: readonly string[], where = "", { suggest = false }: KeyCheckOptions = {}): void {
  const prefix = where ? `${where}.` : "";
  for (const k of Object.keys(obj)) {
    if (known.includes(k)) continue;
    const near = suggest ? known.find((n) => n.toLowerCase() === k.toLowerCase() || editDistance(n, k) <= 2) : undefined;
    problems.push(`${prefix}${k} is not a config field${near ? ` (did you mean ${prefix}${near}?)` : ""}; known: ${known.join(", ")}`);
  }
}

export interface SectionOptions extends KeyCheckOptions {
  /** null is allowed (and returned without a problem). */
  nullable?: boolean;
}

/**
 * The object `parent[name]` with its unknown keys reported, or null: with a problem "`name` must be an object,
 * received …" when it is not one (not for null when `nullable`).
 */
export function section(
  problems: string[],
  parent: Record<string, unknown>,
  name: string,
  known: readonly string[],
  { nullable = false, suggest = false }: SectionOptions = {},
): Record<string, unknown> | null {
  const s = parent[name];
  if (nullable && s === null) return null;
  if (!isPlainObject(s)) {
    problems.push(`${name} must be an object${nullable ? " or null" : ""}, received ${showValue(s)}`);
    return null;
  }
  unknownKeys(problems, s, known, name, { suggest });
  return s;
}
