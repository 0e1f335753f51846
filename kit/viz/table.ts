/**
 * Tables: `showTable(table)` displays a danfo DataFrame or an array of row objects as an HTML table (with a
 * text/plain twin) in a notebook, or prints the text table in plain Node; `tableHtml`/`tableText` return the
 * strings (the report uses `tableHtml`).
 *
 * DataFrames are duck-typed (`columns: string[]`, `values: unknown[][]`, optional `index`), so danfojs-node is never
 * loaded by the kit. Rows: the columns are the union of the rows' keys in first-seen order; a missing key is an
 * empty cell. Numbers are written with `digits` significant digits (integers in full; |x| < 1e-4 in exponent
 * form), NaN and ±Infinity by name, objects as truncated JSON. Past `maxRows` rows, the first and last halves are
 * shown around a "…" row, and a note gives the full size.
 */
import { displayWriter } from "./jupyter";
import { escapeHtml } from "../util/html";

/** A danfo DataFrame (or anything with the same `columns` and `values`). */
/** What the tables need of a danfo DataFrame (rows of cells in `values`; checked at run time). */
export interface DataFrameLike {
  columns: readonly string[];
  values: readonly unknown[];
  index?: readonly unknown[];
}

/** A DataFrame, or an array of plain objects: any row type, including the kit's own result interfaces
 * (`SteeringPoint[]`, `LayerSweepRow[]`, `MweItem[]`), which have no index signature. */
export type TableInput = DataFrameLike | readonly object[];

export interface TableOptions {
  caption?: string;
  /** Rows shown at most (first and last halves); default 50. */
  maxRows?: number;
  /** Significant digits of non-integer numbers; default 4. */
  digits?: number;
}

interface Grid {
  columns: string[];
  rows: unknown[][];
  /** Row labels when the DataFrame's index is not 0, 1, 2, … */
  index: unknown[] | null;
}

interface Shown {
  header: string[];
  /** Cells as text; null marks the "…" row. */
  body: (string[] | null)[];
  numeric: boolean[];
  note: string;
  total: number;
}

/** HTML of the table: `<table class="pk-table">` with a caption and a size note when rows were left out. */
export function tableHtml(table: TableInput, options: TableOptions = {}): string {
  const s = shownTable("tableHtml", table, options);
  const { caption } = options;
  const align = (j: number) => (s.numeric[j] ? ` style="text-align:right"` : "");
  const head = `<thead><tr>${s.header.map((h, j) => `<th${align(j)}>${escapeHtml(h)}</th>`).join("")}</tr></thead>`;
  const body = s.body
    .map((row) =>
      row === null
        ? `<tr class="pk-table-ellipsis">${s.header.map((_, j) => `<td${align(j)}>…</td>`).join("")}</tr>`
        : `<tr>${row.map((c, j) => `<td${align(j)}>${escapeHtml(c)}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return (
    `<div class="pk-table-wrap"><table class="pk-table">` +
    (caption ? `<caption>${escapeHtml(caption)}</caption>` : "") +
    `\n${head}\n<tbody>\n${body}\n</tbody></table>` +
    (s.note ? `<p class="pk-table-note">${escapeHtml(s.note)}</p>` : "") +
    `</div>`
  );
}

/** The table as aligned monospace text (caption first, size note last). */
export function tableText(table: TableInput, options: TableOptions = {}): string {
  const s = shownTable("tableText", table, options);
  const widths = s.header.map((h, j) => Math.max(h.length, ...s.body.map((r) => (r === null ? 1 : r[j].length))));
  const pad = (c: string, j: number) => (s.numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]));
  const lines = [
    s.header.map(pad).join("  ").trimEnd(),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...s.body.map((r) => (r === null ? s.header.map((_, j) => pad("…", j)) : r.map(pad)).join("  ").trimEnd()),
  ];
  return [...(options.caption ? [options.caption] : []), ...lines, ...(s.note ? [s.note] : [])].join("\n");
}

/** Display the table in a notebook (HTML + text/plain), or print the text table to stdout. */
export function showTable(table: TableInput, options: TableOptions = {}): void {
  const html = tableHtml(table, options);
  const text = tableText(table, options);
  const writer = displayWriter();
  if (!writer) {
    process.stdout.write(`${text}\n`);
    return;
  }
  const grid = toGrid("showTable", table);
  try {
    writer(
      {
        data: { "text/html": html, "text/plain": text },
        metadata: { "persona-kit": { kind: "table", ...(options.caption ? { caption: options.caption } : {}), rows: grid.rows.length, columns: grid.columns.length } },
        transient: {},
      },
      false,
    );
  } catch (e) {
    process.stderr.write(`showTable: the notebook display failed: ${(e as Error).message}\n`);
  }
}

function shownTable(fn: string, table: TableInput, { maxRows = 50, digits = 4 }: TableOptions): Shown {
  if (!(Number.isInteger(maxRows) && maxRows >= 1)) throw new RangeError(`${fn}: options.maxRows must be a positive integer, received ${String(maxRows)}`);
  if (!(Number.isInteger(digits) && digits >= 1 && digits <= 17)) throw new RangeError(`${fn}: options.digits must be an integer in [1, 17], received ${String(digits)}`);
  const grid = toGrid(fn, table);
  const n = grid.rows.length;
  const picked: (number | null)[] = [];
  if (n <= maxRows) for (let i = 0; i < n; i++) picked.push(i);
  else {
    const head = Math.ceil(maxRows / 2);
    const tail = maxRows - head;
    for (let i = 0; i < head; i++) picked.push(i);
    picked.push(null);
    for (let i = n - tail; i < n; i++) picked.push(i);
  }
  const withIndex = grid.index !== null;
  const header = [...(withIndex ? [""] : []), ...grid.columns];
  const body = picked.map((i) => (i === null ? null : [...(withIndex ? [formatCell(grid.index![i], digits)] : []), ...grid.rows[i].map((v) => formatCell(v, digits))]));
  const numeric = header.map((_, j) => {
    const col = withIndex ? j - 1 : j;
    const cells = picked.filter((i): i is number => i !== null).map((i) => (col < 0 ? grid.index![i] : grid.rows[i][col]));
    const present = cells.filter((v) => v !== null && v !== undefined);
    return present.length > 0 && present.every((v) => typeof v === "number" || typeof v === "bigint");
  });
  const size = `${n} row${n === 1 ? "" : "s"} × ${grid.columns.length} column${grid.columns.length === 1 ? "" : "s"}`;
  const note = n > maxRows ? `${size} (showing the first ${Math.ceil(maxRows / 2)} and last ${maxRows - Math.ceil(maxRows / 2)})` : n === 0 ? `${size}` : "";
  return { header, body, numeric, note, total: n };
}

function toGrid(fn: string, table: TableInput): Grid {
  if (Array.isArray(table)) {
    const columns: string[] = [];
    const seen = new Set<string>();
    table.forEach((row, i) => {
      if (row === null || typeof row !== "object" || Array.isArray(row)) {
        throw new TypeError(`${fn}: table must be a DataFrame or an array of row objects, received ${row === null ? "null" : Array.isArray(row) ? "an array" : typeof row} at row ${i}`);
      }
      for (const key of Object.keys(row)) if (!seen.has(key)) (seen.add(key), columns.push(key));
    });
    return { columns, rows: table.map((row) => columns.map((c) => row[c])), index: null };
  }
  const df = table as Partial<DataFrameLike> | null;
  if (df && typeof df === "object" && Array.isArray(df.columns) && Array.isArray(df.values)) {
    const columns = df.columns.map(String);
    const rows = df.values.map((row, i) => {
      if (!Array.isArray(row) || row.length !== columns.length) {
        throw new TypeError(`${fn}: table.values must be rows of ${columns.length} cells (one per column), received ${Array.isArray(row) ? `${row.length} cells` : typeof row} at row ${i}`);
      }
      return row as unknown[];
    });
    const index = Array.isArray(df.index) && df.index.length === rows.length && !df.index.every((v, i) => v === i) ? [...df.index] : null;
    return { columns, rows, index };
  }
  throw new TypeError(
    `${fn}: table must be a danfo DataFrame (columns + values) or an array of row objects, received ${table === null ? "null" : typeof table === "object" ? `an object with keys ${JSON.stringify(Object.keys(table).slice(0, 8))}` : typeof table}`,
  );
}

/** One cell as text (see the file comment). */
export function formatCell(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    const a = Math.abs(v);
    if (a < 1e-4) return v.toExponential(digits - 1).replace(/\.?0+e/, "e");
    if (a >= 10 ** digits) return String(Math.round(v));
    return String(Number(v.toPrecision(digits)));
  }
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
  let s: string;
  try {
    s = Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype ? JSON.stringify(v) : String(v);
  } catch {
    s = String(v);
  }
  s = s.replace(/\s+/g, " ");
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}
