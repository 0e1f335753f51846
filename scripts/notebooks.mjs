#!/usr/bin/env node
// Runs the curated notebooks (the CURATED list below; other .ipynb files in notebooks/ are named, not run) headless in this process through tslab's executor
// (`runNotebook`; no Python, no Jupyter), and for each one: writes the executed copy back in place (curated
// notebooks are committed with their last run's outputs) and to <out>/notebooks/, signs it so Jupyter trusts its
// outputs, and prints a status line. Then copies plotly.js to notebooks/vendor/plotly.min.js (what figure outputs
// load; gitignored), writes the HTML report to <out>/report/, and, after a full curated run with no failure, generates
// docs/results.md from the results records the notebooks' `decide` calls wrote to out/results/ (cleared at the start of
// a full run). Exits 1 when any notebook failed, naming the cell.
//
//   npm run notebooks [-- NAME|PATH…] [--no-report] [--no-sign] [--out DIR] [--timeout-per-cell SECONDS]
//                     [--idle-timeout SECONDS] [--progress-every SECONDS]
//
// NAME matches a curated notebook's file name or stem; PATH is any .ipynb file (relative to where npm was started),
// e.g. `npm run notebooks -- notebooks/mine.ipynb`. --out DIR is the output root (default "out"). Cells have no time
// limit unless --timeout-per-cell is given; --idle-timeout stops a cell that wrote nothing for that long (stuck);
// every --progress-every seconds (default 30) a running cell's time and its last output go to stderr, so a slow
// cell is told from a stuck one. Run through `npm run notebooks`, which builds the kit first when kit/dist is stale.
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { copyPlotly, runNotebook, signNotebook, writeReport, writeResultsPage } from "persona-kit";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const notebooksDir = path.join(root, "notebooks");
const usage =
  "usage: npm run notebooks [-- NAME|PATH…] [--no-report] [--no-sign] [--out DIR] [--timeout-per-cell SECONDS] [--idle-timeout SECONDS] [--progress-every SECONDS]";
/** The curated notebooks `npm start` runs, in order (notebooks/README.md describes each). */
const CURATED = [
  "00-quickstart",
  "01-shallow-vs-deep-persona",
  "10-size-check",
  "02-probes-and-persona-vectors",
  "03-leakage-prediction",
  "04-rl-reward-hacking-and-reflection",
  "05-inoculation-prompting",
  "06-api-persona-robustness",
  "07-persona-vectors-and-caa",
  "08-emergent-misalignment-eval",
  "09-logit-lens-and-patching",
];
const SECONDS_OPTIONS = { "--timeout-per-cell": "timeoutPerCellMs", "--idle-timeout": "idleTimeoutMs", "--progress-every": "progressEveryMs" };

function parseArgs(argv) {
  const opts = { names: [], report: true, sign: true, out: "out", timeoutPerCellMs: 0, idleTimeoutMs: 0, progressEveryMs: 30_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--no-report") opts.report = false;
    else if (a === "--no-sign") opts.sign = false;
    else if (a === "--out" || a in SECONDS_OPTIONS) {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) fail(`notebooks: ${a} needs a value\n${usage}`);
      if (a === "--out") opts.out = v;
      else {
        const s = Number(v);
        if (!(v.trim() !== "" && s >= 0)) fail(`notebooks: ${a} must be a number of seconds ≥ 0 (0 = off), received ${JSON.stringify(v)}`);
        opts[SECONDS_OPTIONS[a]] = s * 1000;
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
const inFolder = fs.existsSync(notebooksDir)
  ? fs.readdirSync(notebooksDir).filter((f) => f.endsWith(".ipynb") && fs.statSync(path.join(notebooksDir, f)).isFile()).sort()
  : [];
const curated = CURATED.map((n) => `${n}.ipynb`).filter((f) => inFolder.includes(f));
/** Absolute paths of the notebooks to run: curated names, or .ipynb paths relative to where npm was started. */
function selectNotebooks(names) {
  if (names.length === 0) {
    const others = inFolder.filter((f) => !curated.includes(f));
    if (others.length > 0) console.log(`notebooks: running the ${curated.length} curated notebooks; not run: ${others.join(", ")} (run one with \`npm run notebooks -- notebooks/${others[0]}\`)`);
    return curated.map((f) => path.join(notebooksDir, f));
  }
  const cwd = process.env.INIT_CWD ?? process.cwd();
  return names.map((n) => {
    const byName = inFolder.find((f) => f === n || f === `${n}.ipynb`);
    if (byName && !n.includes("/") && !n.includes(path.sep)) return path.join(notebooksDir, byName);
    const p = path.resolve(cwd, n);
    if (n.endsWith(".ipynb") && fs.existsSync(p) && fs.statSync(p).isFile()) return p;
    const near = inFolder.map((f) => f.replace(/\.ipynb$/, ""));
    return fail(`notebooks: no notebook ${JSON.stringify(n)}: not a name in notebooks/ (${near.join(", ") || "none"}) nor an .ipynb file at ${p}`);
  });
}
const selected = selectNotebooks(opts.names);
if (selected.length === 0) console.log("notebooks: no notebooks in notebooks/ (nothing to run)");

const progressLine = (p) =>
  `  … ${p.name} cell ${p.index}: running ${seconds(p.ms)}, last output ${seconds(p.idleMs)} ago${p.lastLine ? `: ${p.lastLine.slice(0, 80)}` : ""}\n`;
copyPlotly(path.join(notebooksDir, "vendor", "plotly.min.js"));
// The results records of a full curated run come from this run only (each notebook's `decide` writes one).
const resultsDir = path.join(root, "out", "results");
const fullRun = opts.names.length === 0 && selected.length > 0;
if (fullRun) fs.rmSync(resultsDir, { recursive: true, force: true });
const runs = [];
const started = performance.now();
for (const src of selected) {
  const file = path.basename(src);
  const run = await runNotebook(src, {
    outPath: src,
    timeoutPerCellMs: opts.timeoutPerCellMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    progressEveryMs: opts.progressEveryMs,
    onProgress: (p) => process.stderr.write(progressLine(p)),
  });
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
if (fullRun && failed.length === 0 && fs.existsSync(resultsDir)) {
  const page = writeResultsPage({ resultsDir, previous: path.join(root, "data", "results", "previous-verdicts.json"), out: path.join(root, "docs", "results.md"), notebooks: selected });
  console.log(`results: ${path.relative(process.cwd(), page.file)} from ${page.records} run record(s) in out/results`);
}
console.log(`${runs.length} notebook(s), ${runs.length - failed.length} ok, ${failed.length} failed, ${seconds(performance.now() - started)}`);
for (const r of failed) console.error(`notebook ${r.name}: cell ${r.failedCell.index} failed: ${r.failedCell.error}`);
process.exit(failed.length > 0 ? 1 : 0);
