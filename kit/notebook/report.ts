/**
 * An offline HTML report of notebook runs.
 *
 * `writeReport(runs, outDir)` writes:
 * - `index.html`: one row per notebook — status, run time, code cells run / total, the failed cell and its error
 *   if any, and the notebook's verdicts;
 * - `<name>.html` per notebook: every cell in order — markdown rendered with `marked`, code in `<pre>`, and the
 *   outputs: stream text, errors, and for rich outputs the first of `application/vnd.plotly.v1+json` (drawn from
 *   its JSON), `text/html` (figure outputs carry their own loader script), `image/png`, `image/jpeg`,
 *   `image/svg+xml`, `text/markdown`, `text/plain`;
 * - `vendor/plotly.min.js`, copied once from the `plotly.js-dist-min` package, loaded by one
 *   `<script src="vendor/plotly.min.js">` per page (the same relative path the figure outputs of notebooks in
 *   `notebooks/` use), so the report works offline with no CDN.
 *
 * Notebook outputs are trusted content (our own runs) and are inserted as they are.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeValue } from "../describe";
import { joinLines, type MimeBundle, type NotebookOutput, type NotebookRun } from "./runner";
import { supportLabel, verdictBundle, type Verdict } from "./verdict";
import { escapeHtml } from "../util/html";

export interface ReportResult {
  /** Absolute path of `index.html`. */
  index: string;
  /** Absolute paths of the per-notebook pages, in the order of `runs`. */
  pages: string[];
}

/** Copy plotly.js (the `plotly.js-dist-min` bundle) to `file`, unless an identical-size copy is already there. */
export function copyPlotly(file: string): string {
  let source: string;
  try {
    source = require.resolve("plotly.js-dist-min");
  } catch {
    throw new Error("copyPlotly: the plotly.js-dist-min package is required but could not be resolved");
  }
  const size = fs.statSync(source).size;
  if (!fs.existsSync(file) || fs.statSync(file).size !== size) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(source, file);
  }
  return file;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A page name for a run that is unique among `runs` and safe as a file name. */
function pageNames(runs: NotebookRun[]): string[] {
  const used = new Set<string>(["index"]);
  return runs.map((r) => {
    const base = r.name.replace(/[^A-Za-z0-9._-]+/g, "_") || "notebook";
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}-${k}`;
    used.add(name);
    return name;
  });
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 6px 8px; text-align: left; vertical-align: top; }
.ok { color: #2e7d32; font-weight: bold; } .failed { color: #c62828; font-weight: bold; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; white-space: pre-wrap; }
.cell { margin: 1em 0; } .prompt { color: #888; font-size: 0.8em; }
.output { margin: 0.3em 0 0.3em 1.5em; } .stderr { background: #fff5f5; } .error { background: #fdecea; color: #8b0000; }
.verdicts { margin: 0; padding-left: 1.2em; }
img { max-width: 100%; }
`;

function page(title: string, body: string, withPlotly: boolean): string {
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    withPlotly ? '<script src="vendor/plotly.min.js"></script>' : "",
    "</head><body>",
    body,
    "</body></html>",
    "",
  ].join("\n");
}

function verdictList(verdicts: Verdict[]): string {
  if (verdicts.length === 0) return "";
  return `<ul class="verdicts">${verdicts
    .map((v) => `<li><strong>${escapeHtml(supportLabel(v.supported))}</strong>: ${escapeHtml(v.hypothesis)}<br><small>${escapeHtml(v.text)}</small>${v.plan ? `<br><small>plan ${escapeHtml(v.plan.id)} · sha256 <code>${escapeHtml(v.plan.hash.slice(0, 16))}</code> · ${escapeHtml(v.plan.role)}</small>` : ""}</li>`)
    .join("")}</ul>`;
}

let plotCounter = 0;

function renderBundle(data: MimeBundle, renderMarkdown: (md: string) => string): string {
  const text = (mime: string) => joinLines(data[mime] as string | string[]);
  const plotly = data["application/vnd.plotly.v1+json"] as { data?: unknown; layout?: unknown; config?: unknown } | undefined;
  if (plotly && typeof plotly === "object") {
    const id = `plotly-figure-${++plotCounter}`;
    const json = JSON.stringify({ data: plotly.data ?? [], layout: plotly.layout ?? {}, config: plotly.config ?? {} }).replace(/</g, "\\u003c");
    return `<div id="${id}"></div><script>(function(){var f=${json};Plotly.newPlot("${id}",f.data,f.layout,f.config);})();</script>`;
  }
  if ("text/html" in data) return text("text/html");
  if ("image/png" in data) return `<img src="data:image/png;base64,${text("image/png").replace(/\s+/g, "")}">`;
  if ("image/jpeg" in data) return `<img src="data:image/jpeg;base64,${text("image/jpeg").replace(/\s+/g, "")}">`;
  if ("image/svg+xml" in data) return text("image/svg+xml");
  if ("text/markdown" in data) return renderMarkdown(text("text/markdown"));
  if ("text/plain" in data) return `<pre>${escapeHtml(text("text/plain"))}</pre>`;
  return "";
}

function renderOutput(out: NotebookOutput, renderMarkdown: (md: string) => string): string {
  switch (out.output_type) {
    case "stream":
      return `<pre class="output ${out.name === "stderr" ? "stderr" : "stdout"}">${escapeHtml(joinLines(out.text))}</pre>`;
    case "error":
      return `<pre class="output error">${escapeHtml(out.traceback.length > 0 ? out.traceback.join("\n") : `${out.ename}: ${out.evalue}`)}</pre>`;
    case "display_data":
    case "execute_result":
      return `<div class="output">${renderBundle(out.data, renderMarkdown)}</div>`;
    default:
      return "";
  }
}

function statusCell(run: NotebookRun): string {
  return run.ok ? '<span class="ok">ok</span>' : '<span class="failed">failed</span>';
}

function notebookPage(run: NotebookRun, renderMarkdown: (md: string) => string): string {
  const parts: string[] = [
    '<p><a href="index.html">&larr; all notebooks</a></p>',
    `<h1>${escapeHtml(run.name)}</h1>`,
    `<p>${statusCell(run)} · ${seconds(run.ms)} · ${run.cells.length} of ${run.codeCells} code cells run` +
      (run.failedCell ? ` · code cell ${run.failedCell.index} failed: <code>${escapeHtml(run.failedCell.error)}</code>` : "") +
      "</p>",
  ];
  if (run.verdicts.length > 0) {
    parts.push("<h2>Verdicts</h2>", ...run.verdicts.map((v) => verdictBundle(v)["text/html"] as string));
  }
  parts.push("<h2>Cells</h2>");
  for (const cell of run.notebook.cells) {
    const source = joinLines(cell.source);
    if (cell.cell_type === "markdown") {
      parts.push(`<div class="cell markdown">${renderMarkdown(source)}</div>`);
    } else if (cell.cell_type === "raw") {
      parts.push(`<div class="cell raw"><pre>${escapeHtml(source)}</pre></div>`);
    } else {
      const count = cell.execution_count ?? " ";
      parts.push(
        `<div class="cell code"><div class="prompt">In [${count}]:</div><pre><code>${escapeHtml(source)}</code></pre>` +
          (cell.outputs ?? []).map((o) => renderOutput(o, renderMarkdown)).join("") +
          "</div>",
      );
    }
  }
  return page(`${run.name} — notebook run`, parts.join("\n"), true);
}

function indexPage(runs: NotebookRun[], names: string[]): string {
  const failed = runs.filter((r) => !r.ok).length;
  const rows = runs.map(
    (r, k) =>
      `<tr><td><a href="${escapeHtml(names[k])}.html">${escapeHtml(r.name)}</a></td><td>${statusCell(r)}</td><td>${seconds(r.ms)}</td>` +
      `<td>${r.cells.length} / ${r.codeCells}</td>` +
      `<td>${r.failedCell ? `cell ${r.failedCell.index}: <code>${escapeHtml(r.failedCell.error)}</code>` : ""}</td>` +
      `<td>${verdictList(r.verdicts)}</td></tr>`,
  );
  const body = [
    "<h1>Notebook runs</h1>",
    `<p>${runs.length} notebook${runs.length === 1 ? "" : "s"}, ${runs.length - failed} ok, ${failed} failed · ` +
      `${escapeHtml(new Date().toISOString())}</p>`,
    "<table><thead><tr><th>notebook</th><th>status</th><th>time</th><th>code cells run</th><th>failed cell</th><th>verdicts</th></tr></thead>",
    `<tbody>${rows.join("\n")}</tbody></table>`,
  ].join("\n");
  return page("Notebook runs", body, false);
}

/** Write the report of `runs` into `outDir` (see the module comment). */
export async function writeReport(runs: NotebookRun[], outDir = "out/report"): Promise<ReportResult> {
  if (!Array.isArray(runs)) throw new TypeError(`writeReport: runs must be an array of NotebookRun, received ${describeValue(runs)}`);
  runs.forEach((r, k) => {
    if (r === null || typeof r !== "object" || typeof r.name !== "string" || !r.notebook || !Array.isArray(r.notebook.cells)) {
      throw new TypeError(`writeReport: runs[${k}] must be a NotebookRun (from runNotebook), received ${describeValue(r)}`);
    }
  });
  if (typeof outDir !== "string" || outDir === "") {
    throw new TypeError(`writeReport: outDir must be a non-empty string, received ${describeValue(outDir)}`);
  }
  const { marked } = await import("marked");
  const renderMarkdown = (md: string) => marked.parse(md, { async: false }) as string;
  const dir = path.resolve(outDir);
  fs.mkdirSync(dir, { recursive: true });
  copyPlotly(path.join(dir, "vendor", "plotly.min.js"));
  const names = pageNames(runs);
  const pages = runs.map((run, k) => {
    const file = path.join(dir, `${names[k]}.html`);
    fs.writeFileSync(file, notebookPage(run, renderMarkdown));
    return file;
  });
  const index = path.join(dir, "index.html");
  fs.writeFileSync(index, indexPage(runs, names));
  return { index, pages };
}
