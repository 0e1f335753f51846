/**
 * Tests for kit/notebook/: the in-process notebook runner (outputs in order, execution counts, top-level await,
 * tslab displays and display updates, verdicts, the plotly-bundle strip, failures that stop a notebook and still
 * write the partial copy, compile errors, timeouts), the HTML report, and notebook signing checked by Jupyter's own
 * nbformat (skipped when Debian's /usr/bin/python3 lacks nbformat).
 *
 * Fixture notebooks are written into a temporary folder under out/ inside the repository, so that
 * `import { verdict } from "persona-kit"` in a cell resolves to the workspace package (kit/dist: run `npm run build`
 * first; `npm test` does).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNotebook, runNotebook, type Notebook, type NotebookCell, type NotebookRun } from "../kit/notebook/runner";
import { writeReport } from "../kit/notebook/report";
import { computeSignature, isNotebookTrusted, signNotebook } from "../kit/notebook/sign";
import { verdict, VERDICT_MIME } from "../kit/notebook/verdict";

const repo = path.resolve(__dirname, "..");
let dir = "";

const code = (source: string): NotebookCell => ({ cell_type: "code", metadata: {}, source, outputs: [], execution_count: null });
const markdown = (source: string): NotebookCell => ({ cell_type: "markdown", metadata: {}, source });

function writeFixture(name: string, cells: NotebookCell[], metadata: Record<string, unknown> = {}): string {
  const nb: Notebook = { nbformat: 4, nbformat_minor: 4, metadata, cells };
  const file = path.join(dir, `${name}.ipynb`);
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
  return file;
}

const text = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v));

beforeAll(() => {
  if (!fs.existsSync(path.join(repo, "kit", "dist", "notebook", "verdict.js"))) {
    throw new Error("kit/dist/notebook/verdict.js is missing: run `npm run build` before these tests (npm test does)");
  }
  fs.mkdirSync(path.join(repo, "out"), { recursive: true });
  dir = fs.mkdtempSync(path.join(repo, "out", "nbtest-"));
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("runNotebook", () => {
  let pass: NotebookRun;
  let fail: NotebookRun;

  beforeAll(async () => {
    const passPath = writeFixture(
      "pass",
      [
        markdown("# A passing notebook\n\nWith *markdown*."),
        code('import { verdict } from "persona-kit";\nconsole.log("hello from cell 1");'),
        code(
          'import * as tslab from "tslab";\n' +
            "const x = await new Promise<number>((resolve) => setTimeout(() => resolve(41), 5));\n" +
            'tslab.display.html("<b>bold</b>");\n' +
            "x + 1",
        ),
        code('verdict("H1: the runner works", "All outputs are present.", { supported: true });'),
      ],
      // Floats, an int, a bool and null in metadata exercise the signature's Python scalar formatting.
      { "persona-kit": { score: 1.5, tiny: 1e-7, big: 1e21, count: 3, flag: true, none: null } },
    );
    const failPath = writeFixture("fail", [
      markdown("A notebook whose second code cell throws."),
      code('console.log("one");'),
      code('console.log("two");\nthrow new RangeError("bad thing");'),
      code('console.log("three");'),
    ]);
    pass = await runNotebook(passPath, { outPath: path.join(dir, "executed", "pass.ipynb") });
    fail = await runNotebook(failPath, { outPath: path.join(dir, "executed", "fail.ipynb") });
  });

  it("runs a passing notebook: outputs in order, execution counts, verdict collected", () => {
    expect(pass.ok, JSON.stringify(pass.failedCell)).toBe(true);
    expect(pass.name).toBe("pass");
    expect(pass.codeCells).toBe(3);
    expect(pass.cells.map((c) => [c.index, c.cellIndex, c.ok])).toEqual([[1, 1, true], [2, 2, true], [3, 3, true]]);
    const saved = readNotebook(pass.outPath!);
    expect(saved.nbformat_minor).toBeGreaterThanOrEqual(5);
    expect(saved.cells.every((c) => typeof c.id === "string" && c.id.length > 0)).toBe(true);
    const [md, c1, c2, c3] = saved.cells;
    expect(md.cell_type).toBe("markdown");
    expect(md.outputs).toBeUndefined();
    expect([c1.execution_count, c2.execution_count, c3.execution_count]).toEqual([1, 2, 3]);
    expect(c1.outputs).toEqual([{ output_type: "stream", name: "stdout", text: ["hello from cell 1\n"] }]);
    expect(c2.outputs!.map((o) => o.output_type)).toEqual(["display_data", "execute_result"]);
    expect(c2.outputs![0]).toMatchObject({ data: { "text/html": ["<b>bold</b>"] } });
    expect(c2.outputs![1]).toMatchObject({ execution_count: 2, data: { "text/plain": ["42"] } });
    expect(c3.outputs).toHaveLength(1);
    const out = c3.outputs![0];
    expect(out.output_type).toBe("display_data");
    if (out.output_type !== "display_data") return;
    expect(Object.keys(out.data).sort()).toEqual([VERDICT_MIME, "text/html", "text/markdown", "text/plain"].sort());
    expect(out.data[VERDICT_MIME]).toEqual({ hypothesis: "H1: the runner works", text: "All outputs are present.", supported: true });
    expect(pass.verdicts).toEqual([{ hypothesis: "H1: the runner works", text: "All outputs are present.", supported: true }]);
    // nothing transient is saved
    expect(JSON.stringify(saved)).not.toContain("transient");
  });

  it("stops at a failing cell, records it, and still writes the partial copy", () => {
    expect(fail.ok).toBe(false);
    expect(fail.failedCell).toMatchObject({ index: 2, cellIndex: 2, ename: "RangeError", evalue: "bad thing", error: "RangeError: bad thing" });
    expect(fail.cells.map((c) => [c.index, c.ok])).toEqual([[1, true], [2, false]]);
    expect(fs.existsSync(fail.outPath!)).toBe(true);
    const saved = readNotebook(fail.outPath!);
    const [, c1, c2, c3] = saved.cells;
    expect(c1.outputs).toEqual([{ output_type: "stream", name: "stdout", text: ["one\n"] }]);
    expect(c2.execution_count).toBe(2);
    expect(c2.outputs!.map((o) => o.output_type)).toEqual(["stream", "error"]);
    const err = c2.outputs![1];
    if (err.output_type !== "error") throw new Error("expected an error output");
    expect(err.ename).toBe("RangeError");
    expect(err.evalue).toBe("bad thing");
    expect(err.traceback.join("\n")).toContain("RangeError: bad thing");
    expect(err.traceback.join("\n")).not.toMatch(/tslab[\\/]dist[\\/]executor/);
    expect(c3.execution_count).toBeNull();
    expect(c3.outputs).toEqual([]);
  });

  it("replaces a display by its display_id on update (also across cells) and strips the plotly bundle", async () => {
    const file = writeFixture("display", [
      code(
        'import * as tslab from "tslab";\n' +
          "const d = tslab.newDisplay();\n" +
          'd.text("first");\n' +
          'console.log("between");\n' +
          'd.text("second");\n' +
          'const jupyter = require("tslab/dist/jupyter");\n' +
          'jupyter.lastWriteDisplayData({ data: { "text/html": "<script>/* 4.8 MB of plotly */</script>" }, metadata: { "persona-kit": { kind: "plotly-bundle" } }, transient: {} }, false);\n' +
          'jupyter.lastWriteDisplayData({ data: { "text/html": "<div>figure</div>" }, metadata: { "persona-kit": { kind: "figure" } }, transient: {} }, false);',
      ),
      code('d.text("third, from cell 2");\nconsole.log("cell 2");'),
    ]);
    const run = await runNotebook(file, { outPath: path.join(dir, "executed", "display.ipynb") });
    expect(run.ok, JSON.stringify(run.failedCell)).toBe(true);
    const saved = readNotebook(run.outPath!);
    const [c1, c2] = saved.cells;
    expect(c1.outputs!.map((o) => [o.output_type, "data" in o ? text(o.data["text/plain"] ?? o.data["text/html"]) : text((o as { text: unknown }).text)])).toEqual([
      ["display_data", "third, from cell 2"],
      ["stream", "between\n"],
      ["display_data", "<div>figure</div>"],
    ]);
    expect(c2.outputs).toEqual([{ output_type: "stream", name: "stdout", text: ["cell 2\n"] }]);
    const outputsJson = JSON.stringify(saved.cells.map((c) => c.outputs));
    expect(outputsJson).not.toContain("plotly-bundle");
    expect(outputsJson).not.toContain("4.8 MB of plotly");
    expect(JSON.stringify(run.notebook.cells.map((c) => c.outputs))).not.toContain("plotly-bundle");
  });

  it("reports compile errors and timeouts as error outputs", async () => {
    const compile = await runNotebook(writeFixture("compile", [code('const n: number = "a string";')]));
    expect(compile.ok).toBe(false);
    expect(compile.failedCell).toMatchObject({ index: 1, cellIndex: 0, ename: "CompileError" });
    expect(compile.failedCell!.evalue).toContain("not assignable to type 'number'");
    const slow = await runNotebook(writeFixture("slow", [code('console.log("waiting");\nawait new Promise(() => {});')]), { timeoutPerCellMs: 300 });
    expect(slow.ok).toBe(false);
    expect(slow.failedCell).toMatchObject({ index: 1, ename: "TimeoutError" });
    expect(slow.notebook.cells[0].outputs![0]).toEqual({ output_type: "stream", name: "stdout", text: "waiting\n" });
  });

  it("runNotebook(path, { idleTimeoutMs }) stops a silent cell as stuck but lets a slow cell that shows progress finish", async () => {
    const stuck = await runNotebook(writeFixture("stuck", [code('console.log("step 1/3");\nawait new Promise(() => {});')]), { idleTimeoutMs: 300 });
    expect(stuck.failedCell).toMatchObject({ index: 1, ename: "StalledError" });
    expect(stuck.failedCell!.evalue).toMatch(/^the cell wrote nothing for 300 ms \(idleTimeoutMs\) after running \d+ ms and was interrupted as stuck; its last output was "step 1\/3"$/);
    // 30 steps of 100 ms (3 s in all) against a 2 s silence limit: slow, never silent once it runs.
    const slowSrc = 'for (let i = 1; i <= 30; i++) { await new Promise((r) => setTimeout(r, 100)); process.stderr.write(`step ${i}/30\\r`); }\nconsole.log("done");';
    const seen: { index: number; ms: number; idleMs: number; lastLine: string }[] = [];
    const cells = [code('console.log("warm up the converter");'), code(slowSrc)];
    const slow = await runNotebook(writeFixture("slow-progress", cells), { idleTimeoutMs: 2000, progressEveryMs: 500, onProgress: (p) => seen.push(p) });
    expect(slow.failedCell).toBeUndefined();
    expect(slow.cells[1]!.ms).toBeGreaterThan(3000);
    const during = seen.filter((p) => p.index === 2 && p.lastLine !== "");
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during[0]).toMatchObject({ name: "slow-progress", index: 2 });
    expect(during.every((p) => p.idleMs < 1000 && /^step \d+\/30$/.test(p.lastLine))).toBe(true);
    expect(JSON.stringify(slow.notebook.cells[1]!.outputs)).not.toContain("slow-progress");
  });

  it("runNotebook(path, { idleTimeoutMs: -1, onProgress: 1 }) names the option and what it received", async () => {
    await expect(runNotebook(path.join(dir, "pass.ipynb"), { onProgress: 1 as never })).rejects.toThrow(/options\.onProgress must be a function/);
    await expect(runNotebook(path.join(dir, "pass.ipynb"), { idleTimeoutMs: -1 })).rejects.toThrow(/idleTimeoutMs must be a number ≥ 0 \(0 = off\), received number -1/);
  });

  it("runNotebook(path) runs a cell using an earlier cell's name in object shorthand (tslab's converter misses it)", async () => {
    const run = await runNotebook(
      writeFixture("shorthand", [code("const positive = 3;\nconst negative = -1;"), code("const pair = { positive, negative };\nconsole.log(JSON.stringify(pair));")]),
    );
    expect(run.failedCell).toBeUndefined();
    expect(run.notebook.cells[1]!.outputs).toEqual([{ output_type: "stream", name: "stdout", text: '{"positive":3,"negative":-1}\n' }]);
    expect(text(run.notebook.cells[1]!.source)).toBe("const pair = { positive, negative };\nconsole.log(JSON.stringify(pair));");
  });

  it("validates its arguments with clear errors", async () => {
    await expect(runNotebook("")).rejects.toThrow(/runNotebook: path must be a non-empty string/);
    await expect(runNotebook(path.join(dir, "missing.ipynb"))).rejects.toThrow(/cannot read .*missing\.ipynb/);
    await expect(runNotebook(path.join(dir, "pass.ipynb"), { timeoutPerCellMs: -1 })).rejects.toThrow(/timeoutPerCellMs must be a number ≥ 0/);
    const bad = path.join(dir, "v3.ipynb");
    fs.writeFileSync(bad, JSON.stringify({ nbformat: 3, nbformat_minor: 0, worksheets: [] }));
    await expect(runNotebook(bad)).rejects.toThrow(/must be nbformat 4, received nbformat number 3/);
    expect(() => verdict("", "x")).toThrow(/verdict: hypothesis must be a non-empty string/);
    expect(() => verdict("H", "x", { supported: "yes" as never })).toThrow(/options.supported must be true, false or "inconclusive", received the string "yes"/);
  });

  it("writes a report listing each notebook with status, time, cells, failed cell and verdicts", async () => {
    const outDir = path.join(dir, "report");
    const { index, pages } = await writeReport([pass, fail], outDir);
    const html = fs.readFileSync(index, "utf8");
    expect(html).toContain('href="pass.html"');
    expect(html).toContain('href="fail.html"');
    expect(html).toMatch(/pass<\/a><\/td><td><span class="ok">ok<\/span><\/td><td>\d+\.\d s<\/td><td>3 \/ 3<\/td>/);
    expect(html).toMatch(/fail<\/a><\/td><td><span class="failed">failed<\/span><\/td><td>\d+\.\d s<\/td><td>2 \/ 3<\/td><td>cell 2: <code>RangeError: bad thing<\/code>/);
    expect(html).toContain("H1: the runner works");
    expect(pages.map((p) => path.basename(p))).toEqual(["pass.html", "fail.html"]);
    const page = fs.readFileSync(pages[0], "utf8");
    expect(page.match(/<script src="vendor\/plotly\.min\.js"><\/script>/g)).toHaveLength(1);
    expect(page).toContain("<h1>A passing notebook</h1>"); // markdown rendered by marked
    expect(page).toContain("hello from cell 1");
    expect(page).toContain("<b>bold</b>");
    expect(page).not.toMatch(/https?:\/\/cdn/);
    expect(fs.readFileSync(pages[1], "utf8")).toContain("RangeError: bad thing");
    expect(fs.statSync(path.join(outDir, "vendor", "plotly.min.js")).size).toBeGreaterThan(1_000_000);
  });

  const python = "/usr/bin/python3";
  const hasNbformat = fs.existsSync(python) && spawnSync(python, ["-c", "import nbformat.sign"]).status === 0;
  it.skipIf(!hasNbformat)(`signs notebooks so that Jupyter's NotebookNotary trusts them${hasNbformat ? "" : " — skipped: /usr/bin/python3 has no nbformat"}`, async () => {
    const dataDir = path.join(dir, "jupyter-data");
    const files = [pass.outPath!, fail.outPath!];
    for (const f of files) await signNotebook(f, { dataDir });
    expect(fs.statSync(path.join(dataDir, "notebook_secret")).mode & 0o777).toBe(0o600);
    expect(await isNotebookTrusted(files[0], { dataDir })).toBe(true);
    const check = spawnSync(
      python,
      ["-c", "import sys, nbformat\nfrom nbformat.sign import NotebookNotary\nn = NotebookNotary()\nfor p in sys.argv[1:]: print(n.check_signature(nbformat.read(p, 4)))", ...files],
      { env: { ...process.env, JUPYTER_DATA_DIR: dataDir }, encoding: "utf8" },
    );
    expect(check.stderr).not.toMatch(/Traceback/);
    expect(check.stdout.trim().split("\n")).toEqual(["True", "True"]);
    // A changed notebook is no longer trusted.
    const changed = path.join(dir, "changed.ipynb");
    fs.writeFileSync(changed, fs.readFileSync(files[0], "utf8").replace("hello from cell 1", "hello from cell one"));
    expect(await isNotebookTrusted(changed, { dataDir })).toBe(false);
  });

  it("computes nbformat's signature: rejoined lines, no stored signature, Python scalar formatting", () => {
    const secret = "s3cret";
    const a = `{"nbformat":4,"nbformat_minor":5,"metadata":{"x":1.0,"signature":"old"},"cells":[{"cell_type":"markdown","id":"a","metadata":{"trusted":true},"source":["a\\n","b"]}]}`;
    const b = `{"cells":[{"cell_type":"markdown","id":"a","metadata":{},"source":"a\\nb"}],"metadata":{"x":1.0},"nbformat":4,"nbformat_minor":5}`;
    expect(computeSignature(a, secret)).toBe(computeSignature(b, secret));
    expect(computeSignature(b, secret)).not.toBe(computeSignature(b.replace("1.0", "1"), secret)); // float 1.0 vs int 1, as Python reads them
  });
});
