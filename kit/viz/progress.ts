/**
 * `progress(total, { label })`: a progress bar with percentage, rate and ETA that works in notebooks and terminals.
 *
 * - In a notebook (tslab kernel or the kit's runner): one display that is updated in place — the first draw sends
 *   `display_data`, later draws `update_display_data` with the same `transient.display_id` (tslab's `newDisplay()`
 *   pattern) — holding an HTML bar and a text/plain line.
 * - In a terminal (stderr is a TTY): one line on stderr redrawn with `\r`, and a newline at `done()`.
 * - Otherwise (stderr is a pipe or a file): one line on stderr every ~10 s, plus the first and the last.
 *
 * Draws are throttled (`intervalMs`, or every `every` units); the first update, the one reaching `total` and
 * `done()` always draw. Display errors never propagate to the caller.
 *
 *   const bar = progress(prompts.length, { label: "generate" });
 *   for (let i = 0; i < prompts.length; i++) { …; bar.update(i + 1, `last: ${text.length} chars`); }
 *   bar.done();
 */
import { randomBytes } from "node:crypto";
import { displayWriter, type WriteDisplayData } from "./jupyter";
import { escapeHtmlText } from "../util/html";

export interface ProgressState {
  label: string;
  unit: string;
  done: number;
  total: number;
  /** done / total, clamped to [0, 1]. */
  fraction: number;
  /** Since the bar was created. */
  elapsedMs: number;
  /** Units per second since creation (counting from `initial`); NaN before any progress. */
  rate: number;
  /** Remaining time at the current rate; NaN when unknown. */
  etaMs: number;
  extra: string;
  /** True on the draw made by `done()`. */
  finished: boolean;
}

export type ProgressMode = "notebook" | "tty" | "lines";

export interface ProgressOptions {
  /** Shown before the bar; default "". */
  label?: string;
  /** Unit of the rate ("it/s"); default "it". */
  unit?: string;
  /** Draw nothing when false; default true. */
  enabled?: boolean;
  /** Default: "notebook" when a notebook display is available, else "tty" when stderr is a TTY, else "lines". */
  mode?: ProgressMode;
  /** Units already done when the bar starts (a resumed run); the rate counts from here. Default 0. */
  initial?: number;
  /** Draw when done is a multiple of this (instead of by time). */
  every?: number;
  /** Least time between draws; default 100 ms (tty), 250 ms (notebook), 10 s (lines). */
  intervalMs?: number;
  /** The text line (terminal, log and text/plain); default `label [bar] done/total pct% rate ETA extra`. */
  format?: (state: ProgressState) => string;
}

export interface Progress {
  /** Record progress (`done` units of `total`) and redraw when due. */
  update(done: number, extra?: string): void;
  /** Final draw of the current state (ends the terminal line). Later calls do nothing. */
  done(extra?: string): void;
  readonly mode: ProgressMode;
}

/** Start a progress display for `total` units (see the file comment). */
export function progress(total: number, options: ProgressOptions = {}): Progress {
  if (typeof total !== "number" || !Number.isFinite(total) || total <= 0) {
    throw new RangeError(`progress: total must be a positive finite number, received ${typeof total === "number" ? total : typeof total}`);
  }
  const { label = "", unit = "it", enabled = true, initial = 0, every, format } = options;
  if (every !== undefined && !(Number.isInteger(every) && every > 0)) throw new RangeError(`progress: options.every must be a positive integer, received ${String(every)}`);
  const writer = displayWriter();
  const mode: ProgressMode = options.mode ?? (writer ? "notebook" : process.stderr.isTTY ? "tty" : "lines");
  const intervalMs = options.intervalMs ?? (mode === "tty" ? 100 : mode === "notebook" ? 250 : 10_000);
  const displayId = randomBytes(8).toString("hex");
  const t0 = performance.now();
  let lastDraw = -Infinity;
  let draws = 0;
  let current = initial;
  let extraText = "";
  let inline = false;
  let finished = false;
  let lastLine = "";

  const state = (final: boolean): ProgressState => {
    const elapsedMs = performance.now() - t0;
    const rate = current > initial && elapsedMs > 0 ? ((current - initial) * 1000) / elapsedMs : NaN;
    return {
      label,
      unit,
      done: current,
      total,
      fraction: Math.min(1, Math.max(0, current / total)),
      elapsedMs,
      rate,
      etaMs: rate > 0 ? (Math.max(0, total - current) / rate) * 1000 : NaN,
      extra: extraText,
      finished: final,
    };
  };

  const draw = (final: boolean) => {
    const s = state(final);
    const line = format ? format(s) : defaultLine(s, mode === "lines" ? "ascii" : "blocks");
    try {
      if (mode === "notebook") {
        const w: WriteDisplayData | null = writer ?? displayWriter();
        if (!w) return;
        w({ data: { "text/html": progressHtml(s), "text/plain": line }, metadata: { "persona-kit": { kind: "progress" } }, transient: { display_id: displayId } }, draws > 0);
      } else if (mode === "tty") {
        if (final && line === lastLine) return; // done() after a draw of the same state
        process.stderr.write(`\r\x1b[K${line}`);
        inline = true;
      } else if (line !== lastLine) {
        process.stderr.write(`${line}\n`);
      }
      lastLine = line;
      draws++;
    } catch {
      // a display that fails must not stop the work it reports on
    }
  };

  return {
    mode,
    update(done: number, extra?: string) {
      if (!enabled || finished) return;
      if (typeof done !== "number" || Number.isNaN(done)) return;
      current = done;
      if (extra !== undefined) extraText = extra;
      const now = performance.now();
      const due = draws === 0 || done >= total || (every !== undefined ? done % every === 0 : now - lastDraw >= intervalMs);
      if (!due) return;
      lastDraw = now;
      draw(false);
    },
    done(extra?: string) {
      if (!enabled || finished) return;
      finished = true;
      if (extra !== undefined) extraText = extra;
      if (draws > 0 || current > initial) draw(true);
      if (mode === "tty" && inline) {
        try {
          process.stderr.write("\n");
        } catch {
          // ignore
        }
      }
    },
  };
}

/** `label [#####-----]  40/100  40%  3.21 it/s  ETA 12s  extra`. */
function defaultLine(s: ProgressState, style: "ascii" | "blocks"): string {
  const width = 24;
  const filled = Math.round(s.fraction * width);
  const [on, off] = style === "ascii" ? ["#", "-"] : ["█", "░"];
  const parts = [
    `${s.label ? `${s.label} ` : ""}[${on.repeat(filled)}${off.repeat(width - filled)}]`,
    `${fmtCount(s.done)}/${fmtCount(s.total)}`,
    `${Math.floor(s.fraction * 100)}%`,
    Number.isFinite(s.rate) ? `${fmtRate(s.rate)} ${s.unit}/s` : "",
    s.finished ? `in ${formatDuration(s.elapsedMs)}` : Number.isFinite(s.etaMs) ? `ETA ${formatDuration(s.etaMs)}` : "",
    s.extra,
  ];
  return parts.filter(Boolean).join("  ");
}

function progressHtml(s: ProgressState): string {
  const pct = (s.fraction * 100).toFixed(1);
  const color = s.finished && s.fraction >= 1 ? "#2ca02c" : "#1f77b4";
  const info = [
    `${fmtCount(s.done)}/${fmtCount(s.total)}`,
    `${Math.floor(s.fraction * 100)}%`,
    Number.isFinite(s.rate) ? `${fmtRate(s.rate)} ${escapeHtmlText(s.unit)}/s` : "",
    s.finished ? `${formatDuration(s.elapsedMs)} elapsed` : Number.isFinite(s.etaMs) ? `ETA ${formatDuration(s.etaMs)}` : "",
    escapeHtmlText(s.extra),
  ].filter(Boolean);
  return (
    `<div class="pk-progress" style="font-family:monospace;font-size:12px;line-height:1.6">` +
    (s.label ? `<span class="pk-progress-label">${escapeHtmlText(s.label)}</span> ` : "") +
    `<span style="display:inline-block;width:240px;height:10px;background:#e6e6e6;border-radius:3px;vertical-align:middle;overflow:hidden">` +
    `<span style="display:block;width:${pct}%;height:100%;background:${color}"></span></span> ` +
    `<span class="pk-progress-info">${info.join(" · ")}</span></div>`
  );
}

/** 42s, 3m07s, 2h05m (the trainer's format). */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function fmtCount(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : String(Number(n.toPrecision(4)));
}

function fmtRate(r: number): string {
  if (r >= 100) return Math.round(r).toLocaleString("en-US");
  if (r >= 10) return r.toFixed(1);
  return r.toPrecision(3);
}
