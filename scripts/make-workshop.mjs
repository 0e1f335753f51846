#!/usr/bin/env node
/**
 * Generate the workshop's exercise notebooks from its solution notebooks, so the two never drift apart.
 *
 *   node scripts/make-workshop.mjs           # write notebooks/workshop/NAME.ipynb for every solutions/NAME.ipynb
 *   node scripts/make-workshop.mjs --check   # exit 1 (naming the files) if a committed exercise notebook differs
 *   node scripts/make-workshop.mjs --run solutions|exercises|PATH… [--in-place]
 *       # execute notebooks headless in this process (the kit's runNotebook: no Python, no Jupyter; needs
 *       # `npm run build` once), print each check line and the run time per notebook, write the executed copy to
 *       # out/workshop/ (or, with --in-place, back into solution notebooks only); exit 1 if a cell fails
 *
 * The solution notebooks (notebooks/workshop/solutions/*.ipynb) are the source of truth. In each code cell, a region
 *
 *     // BEGIN SOLUTION: what to write
 *     …solution code…
 *     // END SOLUTION
 *
 * becomes, at the same indentation, `throw new Error("TODO: what to write");`, or — when the region holds lines
 * `// STUB: code` — those lines' code (e.g. a typed placeholder `// STUB: return [];`). In markdown cells a region
 * `<!-- BEGIN SOLUTION -->` … `<!-- END SOLUTION -->` (e.g. answers to discussion questions) is removed. Outputs and
 * execution counts are cleared. Output is written as Jupyter writes notebooks (keys sorted, one-space indent,
 * multi-line strings split into lines), so running the script twice changes nothing. Needs only Node (no build, no
 * npm). Exits 1 on an unmatched marker, naming the notebook and the cell.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const workshopDir = path.join(repo, "notebooks", "workshop");
const solutionsDir = path.join(workshopDir, "solutions");

const BEGIN = /^(\s*)\/\/\s*BEGIN SOLUTION\b:?\s*(.*)$/;
const END = /^\s*\/\/\s*END SOLUTION\s*$/;
const STUB = /^\s*\/\/\s*STUB:\s?(.*)$/;
// A region with the blank lines around it; the paragraphs on either side stay one blank line apart.
const MD_REGION = /\n*<!--\s*BEGIN SOLUTION\s*-->[\s\S]*?<!--\s*END SOLUTION\s*-->\n*/g;

const joinLines = (v) => (Array.isArray(v) ? v.join("") : (v ?? ""));
const splitLines = (s) => s.match(/[^\n]*\n|[^\n]+$/g) ?? [];

/** A code cell's source with each solution region replaced by its stub. */
export function stubSource(source, where) {
  const lines = source.split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = BEGIN.exec(lines[i]);
    if (!m) {
      if (END.test(lines[i])) throw new Error(`${where}: "// END SOLUTION" on line ${i + 1} without a BEGIN SOLUTION before it`);
      out.push(lines[i]);
      continue;
    }
    const [, indent, todo] = m;
    const stubs = [];
    let j = i + 1;
    for (; j < lines.length && !END.test(lines[j]); j++) {
      if (BEGIN.test(lines[j])) throw new Error(`${where}: a BEGIN SOLUTION on line ${j + 1} inside the region opened on line ${i + 1}`);
      const s = STUB.exec(lines[j]);
      if (s) stubs.push(s[1]);
    }
    if (j === lines.length) throw new Error(`${where}: "// BEGIN SOLUTION" on line ${i + 1} has no "// END SOLUTION"`);
    if (stubs.length) out.push(...stubs.map((s) => `${indent}${s}`));
    else out.push(`${indent}throw new Error(${JSON.stringify(`TODO: ${todo.trim() || "write this function"}`)});`);
    i = j;
  }
  return out.join("\n");
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

/** The exercise notebook (as file text) generated from a solution notebook's file text. */
export function exerciseNotebook(text, name) {
  const nb = JSON.parse(text);
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) throw new Error(`${name}: not an nbformat 4 notebook with a cells array`);
  delete nb.metadata?.signature;
  let regions = 0;
  nb.cells = nb.cells.map((cell, i) => {
    const c = structuredClone(cell);
    const src = joinLines(c.source);
    if (c.cell_type === "code") {
      const stubbed = stubSource(src, `${name} cell ${i + 1}`);
      if (stubbed !== src) regions++;
      c.source = splitLines(stubbed);
      c.outputs = [];
      c.execution_count = null;
    } else if (c.cell_type === "markdown") {
      c.source = splitLines(src.replace(MD_REGION, (m, at) => (at === 0 || at + m.length === src.length ? "" : "\n\n")));
    } else c.source = splitLines(src);
    if (c.metadata) {
      delete c.metadata.trusted;
      delete c.metadata.execution;
    }
    return c;
  });
  if (regions === 0) throw new Error(`${name}: no "// BEGIN SOLUTION" region in any code cell; an exercise notebook needs at least one`);
  return `${JSON.stringify(sortKeys(nb), null, 1)}\n`;
}

/** Every [solution path, exercise path, generated text]. */
export function generateAll() {
  const names = fs.readdirSync(solutionsDir).filter((f) => f.endsWith(".ipynb")).sort();
  if (names.length === 0) throw new Error(`no solution notebooks in ${path.relative(repo, solutionsDir)}`);
  return names.map((f) => [path.join(solutionsDir, f), path.join(workshopDir, f), exerciseNotebook(fs.readFileSync(path.join(solutionsDir, f), "utf8"), `solutions/${f}`)]);
}

/** Execute notebooks with the kit's runNotebook; print checks, skipped cells and time; 0 when every run succeeded. */
async function run(targets, inPlace) {
  const require = createRequire(import.meta.url);
  let kit;
  try {
    kit = require(path.join(repo, "kit", "dist", "index.js"));
  } catch (e) {
    console.error(`make-workshop --run: cannot load the built kit (kit/dist/index.js): ${e.message.split("\n")[0]}; run \`npm run build\` first`);
    return 1;
  }
  const files = targets.flatMap((t) => {
    if (t === "solutions" || t === "exercises") {
      const dir = t === "solutions" ? solutionsDir : workshopDir;
      return fs.readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort().map((f) => path.join(dir, f));
    }
    return [path.resolve(t)];
  });
  if (files.length === 0) {
    console.error("make-workshop --run: name solutions, exercises or notebook paths");
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    const isSolution = path.dirname(file) === solutionsDir;
    if (inPlace && !isSolution) {
      console.error(`make-workshop --run --in-place: only solution notebooks are saved in place (exercise notebooks are generated), not ${path.relative(repo, file)}`);
      return 2;
    }
    const outPath = inPlace ? file : path.join(repo, "out", "workshop", path.relative(workshopDir, file));
    const r = await kit.runNotebook(file, { outPath });
    const lines = [];
    for (const cell of r.notebook.cells) {
      for (const o of cell.outputs ?? []) {
        const check = o.output_type === "display_data" ? o.data[kit.CHECK_MIME] : undefined;
        const plain = o.output_type === "display_data" ? joinLines(o.data["text/plain"]) : "";
        if (check) lines.push(`  ${check.line}`);
        else if (plain.startsWith("⏭")) lines.push(`  ${plain}`);
      }
    }
    console.log(`${path.relative(repo, file)}: ${r.ok ? "ran" : `FAILED at code cell ${r.failedCell.index}: ${r.failedCell.error}`} in ${(r.ms / 1000).toFixed(1)} s → ${path.relative(repo, outPath)}`);
    for (const l of lines) console.log(l);
    if (!r.ok) failed++;
  }
  await kit.closeRenderer();
  return failed ? 1 : 0;
}

async function main(argv) {
  const runAt = argv.indexOf("--run");
  if (runAt >= 0) {
    const rest = argv.filter((a, i) => i !== runAt && a !== "--in-place");
    return run(rest, argv.includes("--in-place"));
  }
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length) {
    console.error(`make-workshop: unknown argument ${JSON.stringify(unknown[0])}; usage: node scripts/make-workshop.mjs [--check] | --run solutions|exercises|PATH… [--in-place]`);
    return 2;
  }
  let generated;
  try {
    generated = generateAll();
  } catch (e) {
    console.error(`make-workshop: ${e.message}`);
    return 1;
  }
  const expected = new Set(generated.map(([, out]) => path.basename(out)));
  const strays = fs.readdirSync(workshopDir).filter((f) => f.endsWith(".ipynb") && !expected.has(f));
  if (check) {
    const stale = generated.filter(([, out, text]) => !fs.existsSync(out) || fs.readFileSync(out, "utf8") !== text).map(([, out]) => path.relative(repo, out));
    const problems = [...stale.map((f) => `${f} differs from what its solution notebook generates`), ...strays.map((f) => `notebooks/workshop/${f} has no solution notebook in notebooks/workshop/solutions/`)];
    if (problems.length) {
      console.error(`make-workshop --check: ${problems.length} problem${problems.length > 1 ? "s" : ""}:\n  - ${problems.join("\n  - ")}\nrun \`node scripts/make-workshop.mjs\` and commit the result`);
      return 1;
    }
    console.log(`make-workshop --check: ${generated.length} exercise notebooks match their solutions`);
    return 0;
  }
  let written = 0;
  for (const [, out, text] of generated) {
    if (fs.existsSync(out) && fs.readFileSync(out, "utf8") === text) continue;
    fs.writeFileSync(out, text);
    written++;
  }
  console.log(`make-workshop: ${generated.length} exercise notebooks, ${written} written, ${generated.length - written} unchanged${strays.length ? `; not generated from a solution: ${strays.join(", ")}` : ""}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(`make-workshop: ${e?.stack ?? e}`);
      process.exitCode = 1;
    },
  );
}
