/**
 * Headless notebook runner: executes a `.ipynb` (nbformat 4) cell by cell, in this process, through tslab's own
 * executor and converter — no Python, no Jupyter server, no kernel process.
 *
 * What a run does, as "Restart kernel and run all" in Jupyter would:
 * - a fresh tslab executor per notebook (its own converter, declarations and locals), with `rootDir` and the
 *   working directory set to the notebook's folder, so `import { … } from "persona-kit"` resolves to the workspace
 *   package and relative paths mean what they mean in Jupyter; closed afterwards, and every global it touched
 *   (`process.stdout.write`, `process.stderr.write`, `console`, `process.cwd()`, tslab's `lastWriteDisplayData`,
 *   `globalThis.__tslab__`) is restored, so a run may even be started from inside a tslab notebook;
 * - every code cell's outputs are cleared first; each executed cell gets an `execution_count` and its outputs:
 *   `stream` (stdout/stderr written during the cell; consecutive writes merged, `\r` overwrites applied),
 *   `display_data` (tslab's `display.*`, `newDisplay()`, the kit's `verdict()` and `show()`), `execute_result`
 *   (the cell's last expression, when tslab reports one: `text/plain`), and `error` (`ename`, `evalue`,
 *   `traceback`; TypeScript compile errors have `ename` `"CompileError"`);
 * - a display update (`update = true` with `transient.display_id`) replaces the data of every earlier output with
 *   that display id, anywhere in the notebook, as Jupyter does with `update_display_data`;
 * - the first failing cell stops the run; cells after it stay unexecuted (no outputs, `execution_count` null);
 * - display outputs whose `metadata["persona-kit"].kind` is `"plotly-bundle"` (the plotly.js bundle `show()`
 *   emits once per live session) are stripped, so saved notebooks stay small;
 * - blank code cells are skipped (as nbclient does); markdown and raw cells are kept as they are.
 *
 * Runs are serialised: `runNotebook` waits for any run in progress, since they share process-wide state.
 * Limits: a cell's state outside tslab's locals (globals it sets, the module cache) outlives the run; the
 * per-cell limits interrupt cells that `await` (as tslab's own interrupt does) but cannot stop a synchronous
 * endless loop. There is no per-cell time limit by default (a loaded machine makes a long cell slower, not wrong);
 * `idleTimeoutMs` stops a cell that has gone silent (stuck), and `onProgress` reports each running cell's time and
 * how long ago it last wrote something, which tells a slow cell (recent progress) from a stuck one.
 * Object shorthand (`{ x }`) is expanded before tslab compiles a cell (see `./shorthand.ts`).
 *
 * Saved notebooks are written as Jupyter writes them (nbformat 4.5+ with cell ids, keys sorted, one-space indent,
 * multi-line strings split into lines), atomically.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Console } from "node:console";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { format, inspect } from "node:util";
import { describeValue } from "../describe";
import { expandShorthand, type TsForShorthand } from "./shorthand";
import { VERDICT_MIME, type DisplayMessage, type Verdict } from "./verdict";

// ---------------------------------------------------------------------------------------------------------------
// nbformat 4 types and file handling

export type MultilineString = string | string[];
export type MimeBundle = Record<string, unknown>;

export interface StreamOutput {
  output_type: "stream";
  name: "stdout" | "stderr";
  text: MultilineString;
}
export interface DisplayDataOutput {
  output_type: "display_data";
  data: MimeBundle;
  metadata: Record<string, unknown>;
}
export interface ExecuteResultOutput {
  output_type: "execute_result";
  execution_count: number | null;
  data: MimeBundle;
  metadata: Record<string, unknown>;
}
export interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}
export type NotebookOutput = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

export interface NotebookCell {
  cell_type: "code" | "markdown" | "raw";
  id?: string;
  source: MultilineString;
  metadata: Record<string, unknown>;
  /** Code cells only. */
  outputs?: NotebookOutput[];
  /** Code cells only. */
  execution_count?: number | null;
  attachments?: Record<string, MimeBundle>;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
}

/** A multi-line string field as one string. */
export function joinLines(value: MultilineString | undefined): string {
  return Array.isArray(value) ? value.join("") : (value ?? "");
}

/** Parse notebook JSON; `label` names the source in errors. Throws unless it is nbformat 4 with a cells array. */
export function parseNotebook(text: string, label = "notebook"): Notebook {
  let nb: unknown;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new Error(`parseNotebook: ${label} is not valid JSON (${(e as Error).message})`);
  }
  const o = nb as Partial<Notebook> | null;
  if (o === null || typeof o !== "object" || Array.isArray(o)) {
    throw new TypeError(`parseNotebook: ${label} must hold a JSON object, received ${describeValue(o)}`);
  }
  if (o.nbformat !== 4) {
    throw new RangeError(`parseNotebook: ${label} must be nbformat 4, received nbformat ${describeValue(o.nbformat)}`);
  }
  if (!Array.isArray(o.cells)) {
    throw new TypeError(`parseNotebook: ${label} must have a "cells" array, received ${describeValue(o.cells)}`);
  }
  o.cells.forEach((cell, i) => {
    if (cell === null || typeof cell !== "object" || !["code", "markdown", "raw"].includes(cell.cell_type)) {
      throw new TypeError(`parseNotebook: ${label} cell ${i} must have cell_type "code", "markdown" or "raw", received ${describeValue(cell?.cell_type ?? cell)}`);
    }
  });
  o.metadata ??= {};
  o.nbformat_minor ??= 0;
  for (const cell of o.cells) cell.metadata ??= {};
  return o as Notebook;
}

/** Read and parse a notebook file. */
export function readNotebook(file: string): Notebook {
  if (typeof file !== "string" || file === "") {
    throw new TypeError(`readNotebook: path must be a non-empty string, received ${describeValue(file)}`);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`readNotebook: cannot read ${file}: ${(e as Error).message}`);
  }
  return parseNotebook(text, file);
}

const SPLIT_MIMES = new Set(["application/javascript", "image/svg+xml"]);
/** A JSON MIME type (application/json or application/…+json): its bundle value is JSON, not lines of text. */
export const isJsonMime = (mime: string) => mime === "application/json" || (mime.startsWith("application/") && mime.endsWith("+json"));

/** Split a string into lines that keep their "\n" (what nbformat writes for multi-line strings). */
function splitLines(s: string): string[] {
  return s.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function splitBundle(bundle: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries(bundle)) {
    out[mime] = typeof value === "string" && (mime.startsWith("text/") || SPLIT_MIMES.has(mime)) ? splitLines(value) : value;
  }
  return out;
}

function joinBundle(bundle: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries(bundle)) {
    out[mime] = !isJsonMime(mime) && Array.isArray(value) && value.every((l) => typeof l === "string") ? value.join("") : value;
  }
  return out;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** The notebook as Jupyter writes it: transient fields dropped, multi-line strings split, keys sorted, indent 1. */
export function serializeNotebook(nb: Notebook): string {
  const copy = structuredClone(nb);
  const metadata = copy.metadata as Record<string, unknown>;
  delete metadata.signature;
  delete metadata.orig_nbformat;
  delete metadata.orig_nbformat_minor;
  for (const cell of copy.cells) {
    delete cell.metadata.trusted;
    cell.source = splitLines(joinLines(cell.source));
    if (cell.attachments) {
      for (const key of Object.keys(cell.attachments)) cell.attachments[key] = splitBundle(cell.attachments[key]);
    }
    if (cell.cell_type === "code") {
      for (const out of cell.outputs ?? []) {
        if (out.output_type === "stream") out.text = splitLines(joinLines(out.text));
        else if (out.output_type === "display_data" || out.output_type === "execute_result") out.data = splitBundle(joinBundle(out.data));
      }
    }
  }
  return `${JSON.stringify(sortKeys(copy), null, 1)}\n`;
}

/** Write a file atomically: a temporary file in the same folder, then a rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Write a notebook as Jupyter would (see `serializeNotebook`), atomically. */
export function writeNotebook(file: string, nb: Notebook): void {
  writeFileAtomic(file, serializeNotebook(nb));
}

/** True for a display output of the plotly.js bundle (`metadata["persona-kit"].kind === "plotly-bundle"`). */
export function isPlotlyBundleOutput(out: NotebookOutput): boolean {
  if (out.output_type !== "display_data" && out.output_type !== "execute_result") return false;
  const meta = out.metadata?.["persona-kit"] as { kind?: unknown } | undefined;
  return meta !== null && typeof meta === "object" && meta.kind === "plotly-bundle";
}

/** Remove every plotly-bundle display output (in place); returns how many were removed. */
export function stripPlotlyBundles(nb: Notebook): number {
  let removed = 0;
  for (const cell of nb.cells) {
    if (!cell.outputs) continue;
    const kept = cell.outputs.filter((o) => !isPlotlyBundleOutput(o));
    removed += cell.outputs.length - kept.length;
    cell.outputs = kept;
  }
  return removed;
}

/** Every verdict displayed in a notebook's outputs, in order. */
export function collectVerdicts(nb: Notebook): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) {
      if (out.output_type !== "display_data" && out.output_type !== "execute_result") continue;
      const v = out.data[VERDICT_MIME] as Partial<Verdict> | undefined;
      if (v && typeof v === "object" && typeof v.hypothesis === "string") {
        verdicts.push({ hypothesis: v.hypothesis, text: String(v.text ?? ""), supported: v.supported ?? "inconclusive", ...(v.plan ? { plan: v.plan } : {}) });
      }
    }
  }
  return verdicts;
}

/** Apply carriage returns as a terminal would: text after a lone `\r` overwrites its line. */
function applyCarriageReturns(text: string): string {
  if (!text.includes("\r")) return text;
  return text
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((line) => {
      const parts = line.split("\r");
      let result = "";
      for (const part of parts) result = part + result.slice(part.length);
      return result;
    })
    .join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// tslab, loaded lazily (a dev dependency of the workspace, not of the kit)

interface TslabConverter {
  close(): void;
}
interface TslabExecutor {
  execute(src: string): Promise<boolean>;
  interrupt(): void;
  close(): void;
}
interface Tslab {
  createExecutor(
    rootDir: string,
    convs: { readonly node: TslabConverter; readonly browser: TslabConverter; close(): void },
    console: { log(...args: unknown[]): void; error(...args: unknown[]): void },
  ): TslabExecutor;
  createConverter(options: { isJS: boolean; isBrowser: boolean }): TslabConverter;
  jupyter: { lastWriteDisplayData: ((message: DisplayMessage, update: boolean) => void) | null };
  tsSys: { getCurrentDirectory(): string };
  /** tslab's TypeScript fork (for `expandShorthand`). */
  ts: TsForShorthand;
}

function loadTslab(): Tslab {
  let converterPath: string;
  try {
    converterPath = require.resolve("tslab/dist/converter.js");
  } catch {
    throw new Error("runNotebook: the tslab package is required (npm install --save-dev tslab@1.0.22) but could not be resolved");
  }
  const req = createRequire(converterPath);
  return {
    createExecutor: (req("./executor.js") as Pick<Tslab, "createExecutor">).createExecutor,
    createConverter: (req("./converter.js") as Pick<Tslab, "createConverter">).createConverter,
    jupyter: req("./jupyter.js") as Tslab["jupyter"],
    tsSys: (req("@tslab/typescript-for-tslab") as { sys: Tslab["tsSys"] }).sys,
    ts: req("@tslab/typescript-for-tslab") as TsForShorthand,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running

export interface CellTiming {
  /** 1-based number of the code cell among the notebook's code cells. */
  index: number;
  /** 0-based index of the cell in `notebook.cells`. */
  cellIndex: number;
  ms: number;
  ok: boolean;
}

export interface FailedCell {
  /** 1-based number of the code cell among the notebook's code cells. */
  index: number;
  /** 0-based index of the cell in `notebook.cells`. */
  cellIndex: number;
  ename: string;
  evalue: string;
  /** `"ename: evalue"`. */
  error: string;
}

export interface NotebookRun {
  /** The file name without `.ipynb`. */
  name: string;
  /** The source notebook (absolute). */
  path: string;
  /** Where the executed copy was written (absolute), when `outPath` was given. */
  outPath?: string;
  ok: boolean;
  failedCell?: FailedCell;
  /** One entry per executed code cell. */
  cells: CellTiming[];
  /** Number of code cells in the notebook (executed or not). */
  codeCells: number;
  /** Whole run, including the converter's start. */
  ms: number;
  verdicts: Verdict[];
  /** The executed copy, as saved (plotly bundles stripped). */
  notebook: Notebook;
}

/** What a running cell has done so far, reported every `progressEveryMs` (see `RunNotebookOptions.onProgress`). */
export interface CellProgress {
  /** The notebook's file name without `.ipynb`. */
  name: string;
  /** 1-based number of the code cell among the notebook's code cells. */
  index: number;
  /** How long the cell has run. */
  ms: number;
  /** How long since the cell last wrote anything (stdout, stderr, a display): small for a slow cell that shows
   * progress, growing for a stuck one. */
  idleMs: number;
  /** The last non-empty line the cell wrote ("" when none). */
  lastLine: string;
}

export interface RunNotebookOptions {
  /** Write the executed copy here (also when a cell fails). Default: not written. */
  outPath?: string;
  /** Interrupt a cell after this long, however busy (cells that await only; see the module comment). Default 0 = no
   * limit: a slow machine makes a long cell slower, not wrong. */
  timeoutPerCellMs?: number;
  /** Interrupt a cell that has written nothing (no output, no progress bar update) for this long: stuck, as opposed
   * to slow. Default 0 = never. */
  idleTimeoutMs?: number;
  /** Called while a cell runs, every `progressEveryMs`, outside the cell's output capture (so it can print). */
  onProgress?: (p: CellProgress) => void;
  /** Interval of `onProgress` calls (default 30 000 ms). */
  progressEveryMs?: number;
  /** Called after each executed code cell (outside the cell's output capture). */
  onCell?: (cell: CellTiming & { name: string }) => void;
}

let queue: Promise<unknown> = Promise.resolve();
/** Set inside a run: a notebook that itself calls runNotebook runs the inner one at once (queueing would deadlock). */
const insideRun = new AsyncLocalStorage<true>();

/** Execute the notebook at `notebookPath` headless (see the module comment); resolves when it ran or failed. */
export function runNotebook(notebookPath: string, options: RunNotebookOptions = {}): Promise<NotebookRun> {
  if (insideRun.getStore()) return runExclusive(notebookPath, options);
  const run = queue.then(() => insideRun.run(true, () => runExclusive(notebookPath, options)));
  queue = run.catch(() => undefined);
  return run;
}

interface CellCapture {
  outputs: NotebookOutput[];
  executionCount: number;
  /** What tslab passed to its console's `error` during the cell. */
  errors: unknown[][];
}

async function runExclusive(notebookPath: string, options: RunNotebookOptions): Promise<NotebookRun> {
  const { outPath, timeoutPerCellMs = 0, idleTimeoutMs = 0, onProgress, progressEveryMs = 30_000, onCell } = options;
  checkRunOptions(notebookPath, { outPath, timeoutPerCellMs, idleTimeoutMs, onProgress, progressEveryMs, onCell });
  const started = performance.now();
  const absPath = path.resolve(notebookPath);
  const absOut = outPath === undefined ? undefined : path.resolve(outPath);
  const name = path.basename(absPath).replace(/\.ipynb$/i, "");
  const nb = readNotebook(absPath);
  prepareForRun(nb);
  const codeCells = nb.cells.filter((c) => c.cell_type === "code").length;
  const { cells, failedCell } = await executeNotebook(nb, path.dirname(absPath), { name, timeoutPerCellMs, idleTimeoutMs, onProgress, progressEveryMs, onCell });
  stripPlotlyBundles(nb);
  if (absOut) writeNotebook(absOut, nb);
  return {
    name,
    path: absPath,
    ...(absOut ? { outPath: absOut } : {}),
    ok: failedCell === undefined,
    ...(failedCell ? { failedCell } : {}),
    cells,
    codeCells,
    ms: performance.now() - started,
    verdicts: collectVerdicts(nb),
    notebook: nb,
  };
}

function checkRunOptions(notebookPath: unknown, { outPath, timeoutPerCellMs, idleTimeoutMs, onProgress, progressEveryMs, onCell }: RunNotebookOptions): void {
  if (typeof notebookPath !== "string" || notebookPath === "") {
    throw new TypeError(`runNotebook: path must be a non-empty string, received ${describeValue(notebookPath)}`);
  }
  if (outPath !== undefined && (typeof outPath !== "string" || outPath === "")) {
    throw new TypeError(`runNotebook: options.outPath must be a non-empty string, received ${describeValue(outPath)}`);
  }
  if (typeof timeoutPerCellMs !== "number" || !(timeoutPerCellMs >= 0)) {
    throw new RangeError(`runNotebook: options.timeoutPerCellMs must be a number ≥ 0 (0 = no limit), received ${describeValue(timeoutPerCellMs)}`);
  }
  for (const [key, v] of [["idleTimeoutMs", idleTimeoutMs], ["progressEveryMs", progressEveryMs]] as const) {
    if (typeof v !== "number" || !(v >= 0)) throw new RangeError(`runNotebook: options.${key} must be a number ≥ 0 (0 = off), received ${describeValue(v)}`);
  }
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new TypeError(`runNotebook: options.onProgress must be a function, received ${describeValue(onProgress)}`);
  }
  if (onCell !== undefined && typeof onCell !== "function") {
    throw new TypeError(`runNotebook: options.onCell must be a function, received ${describeValue(onCell)}`);
  }
}

/** The cell being executed, if any: where console output, displays and asynchronous errors go. */
interface CaptureState {
  current: CellCapture | null;
}

interface CellRunOptions {
  name: string;
  timeoutPerCellMs: number;
  idleTimeoutMs: number;
  progressEveryMs: number;
  onProgress?: RunNotebookOptions["onProgress"];
  onCell?: RunNotebookOptions["onCell"];
}

/**
 * Execute the notebook's code cells in a tslab executor rooted at `dir` (the process's directory while it runs),
 * reporting asynchronous errors into the running cell; restores the directory, handlers and tslab's global after.
 */
async function executeNotebook(nb: Notebook, dir: string, options: CellRunOptions): Promise<{ cells: CellTiming[]; failedCell?: FailedCell }> {
  const tslab = loadTslab();
  const state: CaptureState = { current: null };
  const convs = lazyConverters(tslab, dir);
  const onAsyncError = asyncErrorReporter(state);
  const savedGlobal = (globalThis as Record<string, unknown>).__tslab__;
  const savedCwd = process.cwd();
  let executor: TslabExecutor | undefined;
  process.on("unhandledRejection", onAsyncError);
  process.on("uncaughtException", onAsyncError);
  try {
    try {
      process.chdir(dir);
    } catch {
      // Worker threads cannot chdir; relative paths then resolve against the process's directory.
    }
    executor = tslab.createExecutor(dir, convs, cellConsole(state));
    return await runCodeCells(nb, executor, tslab, state, options);
  } finally {
    state.current = null;
    try {
      executor?.close();
      if (!executor) convs.close();
    } finally {
      (globalThis as Record<string, unknown>).__tslab__ = savedGlobal;
      process.off("unhandledRejection", onAsyncError);
      process.off("uncaughtException", onAsyncError);
      try {
        process.chdir(savedCwd);
      } catch {
        // as above
      }
    }
  }
}

/**
 * tslab's converters, created with TypeScript's current directory set to the notebook's folder (tslab takes its
 * rootDir from there), the browser one lazily as tslab's kernel does.
 */
function lazyConverters(tslab: Tslab, dir: string) {
  const converters: { node?: TslabConverter; browser?: TslabConverter } = {};
  const makeConverter = (isBrowser: boolean): TslabConverter => {
    const saved = tslab.tsSys.getCurrentDirectory;
    tslab.tsSys.getCurrentDirectory = () => dir;
    try {
      return tslab.createConverter({ isJS: false, isBrowser });
    } finally {
      tslab.tsSys.getCurrentDirectory = saved;
    }
  };
  return {
    get node() {
      return (converters.node ??= makeConverter(false));
    },
    get browser() {
      return (converters.browser ??= makeConverter(true));
    },
    close() {
      converters.node?.close();
      converters.browser?.close();
    },
  };
}

/** The console tslab's executor reports through, writing into the running cell. */
function cellConsole(state: CaptureState) {
  return {
    // tslab logs a cell's last expression value through its console's `log`.
    log: (...args: unknown[]) => {
      const current = state.current;
      if (!current) return;
      const value = args.length === 1 ? args[0] : format(...args);
      current.outputs.push({
        output_type: "execute_result",
        execution_count: current.executionCount,
        data: { "text/plain": typeof value === "string" ? value : format(value) },
        metadata: {},
      });
    },
    // …and errors (thrown values, compile diagnostics) through `error`.
    error: (...args: unknown[]) => {
      if (state.current) state.current.errors.push(args);
    },
  };
}

/** As tslab's kernel does, report asynchronous errors instead of dying of them: into the running cell's stderr. */
function asyncErrorReporter(state: CaptureState): (e: unknown) => void {
  return (e: unknown) => {
    const text = `Unhandled error: ${e instanceof Error ? (e.stack ?? String(e)) : inspect(e)}\n`;
    if (state.current) appendStream(state.current.outputs, "stderr", text);
    else process.stderr.write(text);
  };
}

/** Run the code cells in order (empty ones skipped), stopping at the first that fails. */
async function runCodeCells(
  nb: Notebook,
  executor: TslabExecutor,
  tslab: Tslab,
  state: CaptureState,
  { name, timeoutPerCellMs, idleTimeoutMs, progressEveryMs, onProgress, onCell }: CellRunOptions,
): Promise<{ cells: CellTiming[]; failedCell?: FailedCell }> {
  const cells: CellTiming[] = [];
  const displays = new Map<string, Array<DisplayDataOutput>>();
  let executionCount = 0;
  let codeIndex = 0;
  for (let cellIndex = 0; cellIndex < nb.cells.length; cellIndex++) {
    const cell = nb.cells[cellIndex];
    if (cell.cell_type !== "code") continue;
    codeIndex++;
    if (joinLines(cell.source).trim() === "") continue;
    const src = expandShorthand(tslab.ts, joinLines(cell.source));
    const capture: CellCapture = { outputs: [], executionCount: ++executionCount, errors: [] };
    cell.outputs = capture.outputs;
    cell.execution_count = capture.executionCount;
    state.current = capture;
    const t0 = performance.now();
    const report = onProgress && ((ms: number, idleMs: number, lastLine: string) => onProgress({ name, index: codeIndex, ms, idleMs, lastLine }));
    const watch: CellWatch = { timeoutMs: timeoutPerCellMs, idleTimeoutMs, progressEveryMs, onProgress: report };
    const { ok, stopped, thrown } = await executeCaptured(executor, tslab, src, capture, displays, watch);
    state.current = null;
    const ms = performance.now() - t0;
    const error = finishCellOutputs(capture, ok, stopped, thrown);
    const timing: CellTiming = { index: codeIndex, cellIndex, ms, ok };
    cells.push(timing);
    onCell?.({ name, ...timing });
    if (error) return { cells, failedCell: { index: codeIndex, cellIndex, ename: error.ename, evalue: error.evalue, error: `${error.ename}: ${error.evalue}` } };
  }
  return { cells };
}

/**
 * Settle a cell's outputs: carriage returns applied to its streams, then its error output when it failed (returned),
 * or what a successful cell still printed through tslab's console as stderr.
 */
function finishCellOutputs(capture: CellCapture, ok: boolean, stopped: Stop, thrown: unknown) {
  for (const out of capture.outputs) if (out.output_type === "stream") out.text = applyCarriageReturns(joinLines(out.text));
  if (!ok) {
    const err = cellError(capture.errors, stopped, thrown);
    capture.outputs.push(err);
    return err;
  }
  // A successful cell that still printed through tslab's console (e.g. diagnostics of a %module cell).
  if (capture.errors.length > 0) appendStream(capture.outputs, "stderr", capture.errors.map((a) => `${format(...a)}\n`).join(""));
  return null;
}

/** Clear outputs and execution counts; give every cell an id (nbformat 4.5). */
function prepareForRun(nb: Notebook): void {
  const used = new Set(nb.cells.map((c) => c.id).filter((id): id is string => typeof id === "string"));
  for (const cell of nb.cells) {
    if (typeof cell.id !== "string" || cell.id === "") {
      let id: string;
      do id = randomBytes(4).toString("hex");
      while (used.has(id));
      used.add(id);
      cell.id = id;
    }
    if (cell.cell_type === "code") {
      cell.outputs = [];
      cell.execution_count = null;
    } else {
      delete cell.outputs;
      delete cell.execution_count;
    }
  }
  if (nb.nbformat_minor < 5) nb.nbformat_minor = 5;
}

function appendStream(outputs: NotebookOutput[], name: "stdout" | "stderr", text: string): void {
  if (text === "") return;
  const last = outputs[outputs.length - 1];
  if (last?.output_type === "stream" && last.name === name) last.text = joinLines(last.text) + text;
  else outputs.push({ output_type: "stream", name, text });
}

type WriteFn = typeof process.stdout.write;

/** The limits and progress reports of one cell's run (all in ms; 0 = off). */
interface CellWatch {
  timeoutMs: number;
  idleTimeoutMs: number;
  progressEveryMs: number;
  onProgress?: (ms: number, idleMs: number, lastLine: string) => void;
}

/** Why a cell was interrupted: it ran past `timeoutMs`, or wrote nothing for `idleTimeoutMs`. */
type Stop = { reason: "timeout"; limitMs: number } | { reason: "idle"; limitMs: number; ranMs: number; lastLine: string } | null;

/** Run one cell with stdout/stderr, `console` and tslab's display channel pointing at `capture`. */
async function executeCaptured(
  executor: TslabExecutor,
  tslab: Tslab,
  src: string,
  capture: CellCapture,
  displays: Map<string, DisplayDataOutput[]>,
  watch: CellWatch,
): Promise<{ ok: boolean; stopped: Stop; thrown?: unknown }> {
  const { outputs } = capture;
  const activity = { at: performance.now(), lastLine: "" };
  const record = (name: "stdout" | "stderr", text: string) => {
    appendStream(outputs, name, text);
    activity.at = performance.now();
    const line = text.split(/[\r\n]/).filter((l) => l.trim() !== "").pop();
    if (line !== undefined) activity.lastLine = line.trim().slice(0, 200);
  };
  const makeWrite = (name: "stdout" | "stderr"): WriteFn =>
    ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
      const text =
        typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
      record(name, text);
      const cb = typeof encoding === "function" ? encoding : callback;
      if (typeof cb === "function") process.nextTick(cb as () => void);
      return true;
    }) as WriteFn;
  const writeDisplay = (message: DisplayMessage, update: boolean) => {
    if (message === null || typeof message !== "object" || message.data === null || typeof message.data !== "object") {
      throw new TypeError(`display: expected a message { data, metadata, transient }, received ${describeValue(message)}`);
    }
    const id = message.transient?.display_id;
    activity.at = performance.now();
    if (update) {
      // Jupyter's update_display_data: replace every output shown under this id; an unknown id is ignored.
      if (typeof id !== "string") return;
      for (const out of displays.get(id) ?? []) {
        out.data = { ...message.data };
        out.metadata = { ...(message.metadata ?? {}) };
      }
      return;
    }
    const out: DisplayDataOutput = { output_type: "display_data", data: { ...message.data }, metadata: { ...(message.metadata ?? {}) } };
    outputs.push(out);
    if (typeof id === "string") {
      const list = displays.get(id) ?? [];
      list.push(out);
      displays.set(id, list);
    }
  };

  const saved = {
    stdout: process.stdout.write,
    stderr: process.stderr.write,
    console: globalThis.console,
    display: tslab.jupyter.lastWriteDisplayData,
  };
  const stdoutWrite = makeWrite("stdout");
  const stderrWrite = makeWrite("stderr");
  process.stdout.write = stdoutWrite;
  process.stderr.write = stderrWrite;
  // A console of our own: test runners (vitest) replace the global one with one that does not write to stdout.
  const sink = (name: "stdout" | "stderr") =>
    new Writable({
      decodeStrings: false,
      write(chunk: unknown, encoding: BufferEncoding, callback: () => void) {
        record(name, typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
        callback();
      },
    });
  const cellConsole = new Console({ stdout: sink("stdout"), stderr: sink("stderr"), colorMode: false });
  globalThis.console = cellConsole;
  tslab.jupyter.lastWriteDisplayData = writeDisplay;
  const outside = (fn: () => void) => {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    globalThis.console = saved.console;
    try {
      fn();
    } finally {
      process.stdout.write = stdoutWrite;
      process.stderr.write = stderrWrite;
      globalThis.console = cellConsole;
    }
  };
  let stopped: Stop = null;
  const started = performance.now();
  let nextReport = started + (watch.progressEveryMs || Infinity);
  const timer = setInterval(() => {
    const now = performance.now();
    if (watch.timeoutMs > 0 && now - started >= watch.timeoutMs) stopped = { reason: "timeout", limitMs: watch.timeoutMs };
    else if (watch.idleTimeoutMs > 0 && now - activity.at >= watch.idleTimeoutMs) stopped = { reason: "idle", limitMs: watch.idleTimeoutMs, ranMs: now - started, lastLine: activity.lastLine };
    if (stopped) {
      clearInterval(timer);
      executor.interrupt();
    } else if (watch.onProgress && now >= nextReport) {
      nextReport = now + watch.progressEveryMs;
      outside(() => watch.onProgress!(now - started, now - activity.at, activity.lastLine));
    }
  }, Math.max(10, Math.min(1000, ...[watch.timeoutMs, watch.idleTimeoutMs, watch.progressEveryMs].filter((x) => x > 0).map((x) => x / 4))));
  try {
    const ok = await executor.execute(src);
    return { ok: ok && !stopped, stopped };
  } catch (thrown) {
    return { ok: false, stopped, thrown };
  } finally {
    clearInterval(timer);
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    globalThis.console = saved.console;
    tslab.jupyter.lastWriteDisplayData = saved.display;
  }
}

const DIAGNOSTIC_FORMAT = "%s%d:%d - %s";

/** The `error` output for a failed cell, from what tslab reported. */
function cellError(errors: unknown[][], stopped: Stop, thrown: unknown): ErrorOutput {
  if (stopped?.reason === "timeout") {
    const evalue = `the cell did not finish within ${stopped.limitMs} ms (timeoutPerCellMs) and was interrupted`;
    return { output_type: "error", ename: "TimeoutError", evalue, traceback: [`TimeoutError: ${evalue}`] };
  }
  if (stopped?.reason === "idle") {
    const last = stopped.lastLine ? `; its last output was ${JSON.stringify(stopped.lastLine)}` : "; it wrote nothing";
    const evalue = `the cell wrote nothing for ${stopped.limitMs} ms (idleTimeoutMs) after running ${Math.round(stopped.ranMs)} ms and was interrupted as stuck${last}`;
    return { output_type: "error", ename: "StalledError", evalue, traceback: [`StalledError: ${evalue}`] };
  }
  // tslab prints a thrown value as console.error(value), a compile diagnostic as console.error("%s%d:%d - %s", …).
  const isDiagnostic = (a: unknown[]) => a.length === 5 && a[0] === DIAGNOSTIC_FORMAT;
  const values = errors.filter((a) => !isDiagnostic(a));
  const diagnostics = errors.filter(isDiagnostic).map((a) => format(...a));
  if (thrown !== undefined || values.length > 0) {
    const value = thrown !== undefined ? thrown : values[values.length - 1][0];
    return errorOutput(value);
  }
  if (diagnostics.length > 0) {
    return { output_type: "error", ename: "CompileError", evalue: diagnostics.join("\n"), traceback: diagnostics };
  }
  return { output_type: "error", ename: "Error", evalue: "the cell failed and tslab reported no error", traceback: [] };
}

function errorOutput(value: unknown): ErrorOutput {
  if (value instanceof Error || (value !== null && typeof value === "object" && "message" in value && "stack" in value)) {
    const e = value as Error;
    const ename = typeof e.name === "string" && e.name ? e.name : "Error";
    const evalue = String(e.message);
    const lines = typeof e.stack === "string" ? e.stack.split("\n") : [`${ename}: ${evalue}`];
    // Drop the frames of the executor itself (vm, tslab, this runner): they say nothing about the cell.
    const cut = lines.findIndex((l) => /^\s+at /.test(l) && /node:vm|runInThisContext|tslab[\\/]dist[\\/]executor|notebook[\\/]runner/.test(l));
    return { output_type: "error", ename, evalue, traceback: cut >= 0 ? lines.slice(0, cut) : lines };
  }
  // A thrown non-Error (`throw "no"`): reported as Node reports it.
  const evalue = typeof value === "string" ? value : format(value);
  return { output_type: "error", ename: "Uncaught", evalue, traceback: [`Uncaught ${inspect(value)}`] };
}
