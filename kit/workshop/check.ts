/**
 * The core of the workshop checks: a result type, a safe call of the learner's function, reading whatever numbers
 * the learner returned (arrays, nested arrays, typed arrays, tensors) with their shape, and the display of a result.
 *
 *   const r = await checkDiffOfMeans(myFn);   // displays "✓ 2.1 diffOfMeansDirection: passed (5 cases)" or "✗ …"
 *   r.passed; r.line; r.details;
 *
 * A check never throws because of the learner's code: an error thrown inside the learner's function, a wrong type
 * or a wrong shape becomes a failing result whose line says what happened. In a notebook (tslab kernel or the kit's
 * runner) a result is displayed as one block with `text/plain` (the line, then the details), `text/markdown` and
 * `text/html`; in a plain Node process the plain text is printed.
 */
import { tf } from "../backend";
import { displayWriter } from "../viz/jupyter";
import { escapeHtml } from "../util/html";

/** The outcome of one check. */
export interface CheckResult {
  /** Exercise id, e.g. "1.1". */
  exercise: string;
  /** The learner's function name as the exercise spells it, e.g. "lastTokenResid". */
  name: string;
  passed: boolean;
  /** One line: "✓ 1.1 lastTokenResid: passed (…)" or "✗ 1.1 lastTokenResid: <what is wrong>". */
  line: string;
  /** Further lines: the case that failed, both values, a hint pointer. */
  details: string[];
}

/** Options every check takes. */
export interface CheckOptions {
  /** Display the result in the notebook (or print it outside one). Default true. */
  display?: boolean;
}

/** MIME type of the JSON part of a check's display (`{ exercise, name, passed, line }`). */
export const CHECK_MIME = "application/vnd.persona-kit.workshop-check+json";

/** A failure found while checking: thrown inside a check, turned into a failing result by `runCheck`. */
export class CheckFailure extends Error {
  readonly details: string[];
  constructor(message: string, details: string[] = []) {
    super(message);
    this.name = "CheckFailure";
    this.details = details;
  }
}

/** Stop the check with `message` (what is wrong, specifically) and optional detail lines. */
export function fail(message: string, ...details: string[]): never {
  throw new CheckFailure(message, details);
}

/**
 * Run a check body: its return value is the pass summary; a `CheckFailure` becomes a failing result; any other
 * error (a bug in the check itself, or a learner value that broke it) is reported too, never rethrown. The result is
 * displayed unless `display: false`.
 */
export async function runCheck(
  exercise: string,
  name: string,
  body: () => Promise<string> | string,
  { display = true, hintId }: { display?: boolean; hintId?: string } = {},
): Promise<CheckResult> {
  let result: CheckResult;
  try {
    const summary = await body();
    result = { exercise, name, passed: true, line: `✓ ${exercise} ${name}: passed${summary ? ` (${summary})` : ""}`, details: [] };
  } catch (e) {
    const f = e instanceof CheckFailure ? e : new CheckFailure(`the check could not finish: ${errorText(e)}`);
    const details = [...f.details];
    if (hintId) details.push(`Stuck? hint("${hintId}", 1) gives a first hint (levels 1–3).`);
    result = { exercise, name, passed: false, line: `✗ ${exercise} ${name}: ${f.message}`, details };
  }
  if (display) showCheck(result);
  return result;
}

/** An error (or any thrown value) as one short line: "Error: message". */
export function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return typeof e === "string" ? e : String(e);
}

/**
 * Call the learner's function; a thrown error (or a rejected promise) becomes a `CheckFailure` that shows it. A stub's
 * `throw new Error("TODO: …")` reads "not implemented yet".
 */
export async function callLearner<T>(name: string, fn: unknown, args: unknown[], what: string): Promise<T> {
  if (typeof fn !== "function") fail(`expected your function ${name} to be passed in, received ${typeName(fn)}`);
  let value: unknown;
  try {
    value = (fn as (...a: unknown[]) => unknown)(...args);
    if (value instanceof Promise) value = await value;
  } catch (e) {
    const text = errorText(e);
    if (/\bTODO\b/.test(text)) fail(`not implemented yet — your function threw "${text}"`, `Replace the stub in the exercise cell with your code, run that cell, then this one.`);
    fail(`your function threw an error on ${what}: ${text}`, ...stackLines(e));
  }
  return value as T;
}

function stackLines(e: unknown): string[] {
  if (!(e instanceof Error) || typeof e.stack !== "string") return [];
  const frames = e.stack.split("\n").filter((l) => /^\s+at /.test(l)).slice(0, 3);
  return frames.length ? [`where: ${frames.map((f) => f.trim()).join(" ← ")}`] : [];
}

/** A short description of a value's type for messages. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined (did you forget to return?)";
  if (value instanceof tf.Tensor) return `a tensor of shape [${value.shape.join(", ")}]`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length}`;
  if (typeof value === "object") return `an object with keys [${Object.keys(value as object).slice(0, 6).join(", ")}]`;
  return `${typeof value} ${String(value)}`;
}

/** One argument of the learner's function: its name in the exercise, its value, and whether it is shared (not copied). */
export interface LearnerArg {
  name: string;
  value: unknown;
  /** Pass the value itself (e.g. the model), not a fresh copy, and do not watch it for changes. */
  shared?: boolean;
}

/** The first place where `after` differs from `before` ("[1][0]: was 2, now 6"), or null when they are equal. */
export function firstChange(before: unknown, after: unknown, where = ""): string | null {
  const list = (v: unknown) => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
  if (typeof before === "number" && typeof after === "number") {
    return Object.is(before, after) || before === after ? null : `${where}: was ${before}, now ${after}`;
  }
  if (list(before) && list(after)) {
    const a = before as ArrayLike<unknown>;
    const b = after as ArrayLike<unknown>;
    if (a.length !== b.length) return `${where}: had length ${a.length}, now ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const c = firstChange(a[i], b[i], `${where}[${i}]`);
      if (c) return c;
    }
    return null;
  }
  if (before !== null && after !== null && typeof before === "object" && typeof after === "object" && !list(before) && !list(after)) {
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const c = firstChange((before as Record<string, unknown>)[k], (after as Record<string, unknown>)[k], `${where}.${k}`);
      if (c) return c;
    }
    return null;
  }
  return before === after ? null : `${where}: was ${typeName(before)}, now ${typeName(after)}`;
}

/** Fail when an argument the learner received differs from the original: the learner's function changed its input. */
export function failIfChanged(name: string, args: readonly LearnerArg[], given: readonly unknown[], what: string, advice = ""): void {
  args.forEach((a, i) => {
    if (a.shared) return;
    const change = firstChange(a.value, given[i]);
    if (change) {
      fail(
        `your function changed its input ${a.name} (${a.name}${change}). ${advice || `The notebook uses ${a.name} again after calling ${name}, so leave it as it was: compute into new arrays (e.g. [...v], X.map((row) => [...row]))`}`,
        `case: ${what}`,
      );
    }
  });
}

/**
 * Call the learner's function on fresh copies of `args` (shared ones passed as they are) and fail, naming the input,
 * when the function changed one of them. Returns the value and the copies it received.
 */
export async function callFresh<T>(name: string, fn: unknown, args: readonly LearnerArg[], what: string, advice = ""): Promise<{ value: T; given: unknown[] }> {
  const given = args.map((a) => (a.shared ? a.value : structuredClone(a.value)));
  const value = await callLearner<T>(name, fn, given, what);
  failIfChanged(name, args, given, what, advice);
  return { value, given };
}

/**
 * Call the learner's function twice, each time on fresh copies of `args`, read each result with `read` (which checks
 * its type), and fail when the two results differ (state kept between calls). Returns the first result read.
 */
export async function callTwice<R>(name: string, fn: unknown, args: readonly LearnerArg[], what: string, read: (value: unknown) => R, key: (r: R) => number[]): Promise<R> {
  const first = read((await callFresh<unknown>(name, fn, args, what)).value);
  const second = read((await callFresh<unknown>(name, fn, args, what)).value);
  const a = key(first);
  const b = key(second);
  if (a.length !== b.length || a.some((x, i) => !(Object.is(x, b[i]) || x === b[i]))) {
    const [e, r] = previewPair(a, b);
    fail(`your function returned a different result when called again with the same inputs (first ${e}, then ${r}): does it keep state between calls, in a variable outside the function or in an input it changed?`, `case: ${what}`);
  }
  return first;
}

/** The type of a value that is not a plain array, for "the exercise asks for a number[]" messages; null for a plain array. */
function notPlain(value: unknown): string | null {
  if (value instanceof tf.Tensor) return `a tf.Tensor of shape ${shapeText(value.shape)}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return null;
}

/**
 * Fail unless `value` is a plain (nested) JavaScript array of numbers as the exercise's signature asks (`asked`, e.g.
 * "number[]"): a tensor or a typed array is named, with how to convert it.
 */
export function requirePlainArray(value: unknown, what: string, asked: string): void {
  const walk = (v: unknown, where: string): void => {
    const t = notPlain(v);
    if (t) {
      const how = v instanceof tf.Tensor ? "read it with Array.from(t.dataSync()) (then dispose the tensor)" : "convert it with Array.from(x)";
      fail(`${what}${where} is ${t}, but the exercise asks for a ${asked} (the next cells use it as a plain array): ${how}`);
    }
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
  };
  walk(value, "");
}

/** A number as the exercise asks (not a tensor, not a one-element array): fails naming what was received. */
export function requireNumber(value: unknown, what: string): number {
  if (typeof value === "number") return value;
  const extra = value instanceof tf.Tensor ? ": read a tensor's value with t.dataSync()[0] (then dispose it), or compute with plain numbers" : "";
  fail(`return one number; ${what} returned ${typeName(value)}${extra}`);
}

/** Numbers read from a learner value, flattened row-major, with the value's shape. */
export interface NumericValue {
  values: number[];
  shape: number[];
}

/**
 * Read a learner value as numbers: a number, a (nested, rectangular) array, a typed array, or a tensor (read, not
 * disposed). Fails with a message naming `what` when it is none of these, is ragged, or holds non-numbers.
 */
export function readNumbers(value: unknown, what: string): NumericValue {
  if (value instanceof tf.Tensor) {
    if (value.isDisposed) fail(`${what} is a tensor that was already disposed; return it (or its values) before disposing`);
    return { values: Array.from(value.dataSync() as ArrayLike<number>), shape: [...value.shape] };
  }
  if (typeof value === "number") return { values: [value], shape: [] };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return { values: Array.from(value as unknown as ArrayLike<number>, Number), shape: [(value as unknown as ArrayLike<number>).length] };
  }
  if (!Array.isArray(value)) fail(`${what} should be numbers (an array or a tensor), received ${typeName(value)}`);
  const shape: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe) || (ArrayBuffer.isView(probe) && !(probe instanceof DataView))) {
    const len = (probe as ArrayLike<unknown>).length;
    shape.push(len);
    if (len === 0) break;
    probe = (probe as ArrayLike<unknown>)[0];
  }
  const values: number[] = [];
  const walk = (v: unknown, depth: number, where: string): void => {
    if (depth === shape.length) {
      if (typeof v !== "number") fail(`${what}${where} should be a number, received ${typeName(v)}`);
      values.push(v as number);
      return;
    }
    const isList = Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
    if (!isList || (v as ArrayLike<unknown>).length !== shape[depth]) {
      fail(`${what} is ragged: ${what}${where} has ${isList ? `length ${(v as ArrayLike<unknown>).length}` : typeName(v)}, expected length ${shape[depth]} like the first`);
    }
    for (let i = 0; i < shape[depth]; i++) walk((v as ArrayLike<unknown>)[i], depth + 1, `${where}[${i}]`);
  };
  walk(value, 0, "");
  return { values, shape };
}

/** "[2, 3]" */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Largest absolute difference (Infinity when lengths differ or a value is not finite where the other is). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) {
      if (!(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return Infinity;
    } else if (d > m) m = d;
  }
  return m;
}

/** True when every value agrees within `tol` (absolute) or `tol` relative to the larger magnitude. */
export function allClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    const scale = Math.max(1, Math.abs(a[i]), Math.abs(b[i]));
    if (!(Math.abs(a[i] - b[i]) <= tol * scale)) return false;
  }
  return true;
}

/**
 * Expected and received values for messages, with 4 significant digits, or — when they print the same but differ —
 * with as many digits as tell them apart, and the largest gap.
 */
export function previewPair(expected: ArrayLike<number> | number, received: ArrayLike<number> | number, max = 6): [string, string] {
  const e = typeof expected === "number" ? [expected] : Array.from(expected);
  const r = typeof received === "number" ? [received] : Array.from(received);
  const show = (xs: number[], digits: number) => {
    const text = xs.slice(0, max).map((v) => (digits === 4 ? fmt(v) : Number.isFinite(v) ? String(Number(v.toPrecision(digits))) : String(v)));
    return typeof expected === "number" && typeof received === "number" ? text[0] : `[${text.join(", ")}${xs.length > max ? `, … (${xs.length} values)` : ""}]`;
  };
  for (const digits of [4, 6, 8, 10, 12, 14, 17]) {
    const [a, b] = [show(e, digits), show(r, digits)];
    if (a !== b) return digits === 4 ? [a, b] : [a, `${b} (they differ by ${maxAbsDiff(e.slice(0, max), r.slice(0, max)).toExponential(2)})`];
  }
  return [show(e, 4), show(r, 4)];
}

/** The two detail lines "expected …" and "received …" (see `previewPair`). */
export function expectedReceived(expected: ArrayLike<number> | number, received: ArrayLike<number> | number, max = 6): [string, string] {
  const [a, b] = previewPair(expected, received, max);
  return [`expected ${a}`, `received ${b}`];
}

/** Numbers for messages: up to `max` values with 4 significant digits. */
export function preview(values: ArrayLike<number>, max = 6): string {
  const xs = Array.from(values).slice(0, max).map((v) => fmt(v));
  return `[${xs.join(", ")}${values.length > max ? `, … (${values.length} values)` : ""}]`;
}

/** One number with 4 significant digits. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

/** Euclidean norm. */
export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** The MIME bundle a check result displays. */
export function checkBundle(r: CheckResult): Record<string, unknown> {
  const plain = [r.line, ...r.details.map((d) => `  ${d}`)].join("\n");
  const [border, background] = r.passed ? ["#2e7d32", "#edf7ed"] : ["#c62828", "#fdecea"];
  const html =
    `<div class="persona-kit-check" style="border-left:4px solid ${border};background:${background};padding:8px 12px;margin:6px 0;font-family:sans-serif">` +
    `<div><strong>${escapeHtml(r.line)}</strong></div>` +
    (r.details.length ? `<ul style="margin:4px 0 0 0">${r.details.map((d) => `<li><code style="white-space:pre-wrap">${escapeHtml(d)}</code></li>`).join("")}</ul>` : "") +
    `</div>`;
  const markdown = [`**${r.line}**`, ...r.details.map((d) => `- \`${d.replace(/`/g, "'")}\``)].join("\n");
  return { "text/plain": plain, "text/markdown": markdown, "text/html": html, [CHECK_MIME]: { exercise: r.exercise, name: r.name, passed: r.passed, line: r.line } };
}

/** Display a check result in the notebook (or print it outside one). */
export function showCheck(r: CheckResult): void {
  const bundle = checkBundle(r);
  const write = displayWriter();
  if (write) write({ data: bundle, metadata: {}, transient: {} }, false);
  else process.stdout.write(`${bundle["text/plain"] as string}\n`);
}

/**
 * Run `body` only when every check in `checks` passed; otherwise say which exercise to finish first. Lets an
 * exercise notebook run top to bottom with unfinished stubs: the cells that use the learner's functions wait.
 */
export async function whenPassed(checks: CheckResult | readonly CheckResult[], body: () => unknown): Promise<void> {
  const list = (Array.isArray(checks) ? checks : [checks]) as CheckResult[];
  const missing = list.filter((c) => !c || !c.passed);
  if (missing.length) {
    const names = missing.map((c) => (c ? `${c.exercise} ${c.name}` : "an exercise whose check cell has not run"));
    const text = `⏭ skipped: this cell uses your solution of ${names.join(" and ")}; it runs once ${missing.length > 1 ? "those checks pass" : "that check passes"}.`;
    const write = displayWriter();
    if (write) write({ data: { "text/plain": text, "text/html": `<div style="color:#666;font-family:sans-serif">${escapeHtml(text)}</div>` }, metadata: {}, transient: {} }, false);
    else process.stdout.write(`${text}\n`);
    return;
  }
  await body();
}
