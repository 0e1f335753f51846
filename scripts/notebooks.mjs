#!/usr/bin/env node
// Runs the curated notebooks (notebooks/*.ipynb, top level only) headless in this process through tslab's executor
// (`runNotebook`; no Python, no Jupyter), and for each one: writes the executed copy back in place (curated
// notebooks are committed with their last run's outputs) and to <out>/notebooks/, signs it so Jupyter trusts its
// outputs, and prints a status line. Then copies plotly.js to notebooks/vendor/plotly.min.js (what figure outputs
// load; gitignored), writes the HTML report to <out>/report/, and exits 1 when any notebook failed, naming the cell.
//
//   npm run notebooks [-- NAME…] [--no-report] [--no-sign] [--out DIR] [--timeout-per-cell SECONDS]
//
// NAME matches a notebook's file name or stem. --out DIR is the output root (default "out"). Run through
// `npm run notebooks`, which builds the kit first.
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { copyPlotly, runNotebook, signNotebook, writeReport } from "persona-kit";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const notebooksDir = path.join(root, "notebooks");
const usage = "usage: npm run notebooks [-- NAME…] [--no-report] [--no-sign] [--out DIR] [--timeout-per-cell SECONDS]";

function parseArgs(argv) {
  const opts = { names: [], report: true, sign: true, out: "out", timeoutPerCellMs: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--no-report") opts.report = false;
    else if (a === "--no-sign") opts.sign = false;
    else if (a === "--out" || a === "--timeout-per-cell") {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) fail(`notebooks: ${a} needs a value\n${usage}`);
      if (a === "--out") opts.out = v;
      else {
        const s = Number(v);
        if (!(s >= 0)) fail(`notebooks: --timeout-per-cell must be a number of seconds ≥ 0, received ${JSON.stringify(v)}`);
        opts.timeoutPerCellMs = s * 1000;
      }
    } else if (a === "-h" || a === "--help") {
      console.log(usage);
      process.exit(0);
    } else if (a.startsWith("-")) fail(`notebooks: unknown option ${a}\n${usage}`);
    else opts.names.push(a);
  }
  return opts;
}

function fail(message, code = 2) {
  console.error(message);
  process.exit(code);
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

const opts = parseArgs(process.argv.slice(2));
const outRoot = path.resolve(root, opts.out);
const all = fs.existsSync(notebooksDir)
  ? fs.readdirSync(notebooksDir).filter((f) => f.endsWith(".ipynb") && fs.statSync(path.join(notebooksDir, f)).isFile()).sort()
  : [];
let selected = all;
if (opts.names.length > 0) {
  const unknown = opts.names.filter((n) => !all.some((f) => f === n || f === `${n}.ipynb`));
  if (unknown.length > 0) {
    fail(`notebooks: no notebook named ${unknown.map((n) => JSON.stringify(n)).join(", ")} in notebooks/; available: ${all.map((f) => f.replace(/\.ipynb$/, "")).join(", ") || "none"}`);
  }
  selected = all.filter((f) => opts.names.some((n) => f === n || f === `${n}.ipynb`));
}
if (selected.length === 0) {
  console.log("notebooks: no notebooks in notebooks/ (nothing to run)");
}

copyPlotly(path.join(notebooksDir, "vendor", "plotly.min.js"));
const runs = [];
const started = performance.now();
for (const file of selected) {
  const src = path.join(notebooksDir, file);
  const run = await runNotebook(src, { outPath: src, timeoutPerCellMs: opts.timeoutPerCellMs });
  const copy = path.join(outRoot, "notebooks", file);
  fs.mkdirSync(path.dirname(copy), { recursive: true });
  fs.copyFileSync(src, copy);
  let signed = "";
  if (opts.sign) {
    try {
      await signNotebook(src); // the copy has the same content, hence the same signature
      signed = ", signed";
    } catch (e) {
      signed = `, NOT signed (${e.message})`;
    }
  }
  runs.push(run);
  const status = run.ok ? "ok    " : "FAILED";
  const detail = run.ok ? "" : ` (cell ${run.failedCell.index}: ${run.failedCell.error})`;
  console.log(`${status} ${run.name.padEnd(28)} ${seconds(run.ms).padStart(8)}  ${run.cells.length}/${run.codeCells} code cells${signed}${detail}`);
}

if (opts.report) {
  const { index } = await writeReport(runs, path.join(outRoot, "report"));
  console.log(`report: ${path.relative(process.cwd(), index)}`);
}
const failed = runs.filter((r) => !r.ok);
console.log(`${runs.length} notebook(s), ${runs.length - failed.length} ok, ${failed.length} failed, ${seconds(performance.now() - started)}`);
for (const r of failed) console.error(`notebook ${r.name}: cell ${r.failedCell.index} failed: ${r.failedCell.error}`);
process.exit(failed.length > 0 ? 1 : 0);
