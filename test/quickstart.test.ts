/**
 * The curated quickstart notebook, end to end: through the kit's in-process runner (no Python), through real
 * Jupyter (nbconvert + the tslab kernel, when Debian's Jupyter is installed: the saved notebook's size, its HTML
 * export drawn in Chromium), live in Debian's classic Notebook driven by Chromium (Run All, save, reopen; when
 * jupyter-notebook is installed), and its report in headless Chromium.
 * Needs the built kit (`npm test` builds it first): the notebook imports "persona-kit" from kit/dist.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyPlotly, writeReport } from "../kit/notebook/report";
import { runNotebook, type NotebookRun } from "../kit/notebook/runner";
import { closeRenderer, findChromium, launchChromium } from "../kit/viz/render";

const ROOT = path.resolve(__dirname, "..");
const NOTEBOOK = path.join(ROOT, "notebooks", "00-quickstart.ipynb");
const OUT = path.join(ROOT, "out", "test-artifacts", "quickstart");
const NBCONVERT = "/usr/bin/jupyter-nbconvert";
const BUILT = fs.existsSync(path.join(ROOT, "kit", "dist", "index.js"));

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}
interface Cell {
  cell_type: string;
  outputs?: Output[];
}

const joined = (t: unknown) => (Array.isArray(t) ? t.join("") : String(t ?? ""));
const outputsOf = (cells: Cell[]) => cells.filter((c) => c.cell_type === "code").flatMap((c) => c.outputs ?? []);
const figuresOf = (cells: Cell[]) => outputsOf(cells).filter((o) => o.data?.["application/vnd.plotly.v1+json"] !== undefined);

const skipReason = (skip: boolean, reason: string) => (skip ? ` (skipped: ${reason})` : "");

describe.skipIf(!BUILT)(`notebooks/00-quickstart.ipynb${skipReason(!BUILT, "kit/dist is not built; `npm test` builds it")}`, () => {
  let run: NotebookRun;

  beforeAll(async () => {
    fs.rmSync(OUT, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    run = await runNotebook(NOTEBOOK, { outPath: path.join(OUT, "00-quickstart.ipynb") });
  }, 180_000);

  afterAll(async () => {
    await closeRenderer();
  });

  it("runNotebook(quickstart) runs every cell without an error output, in under 2 minutes", () => {
    expect(run.failedCell).toBeUndefined();
    expect(run.ok).toBe(true);
    expect(run.cells.length).toBe(run.codeCells);
    expect(run.ms).toBeLessThan(120_000);
    const cells = run.notebook.cells as Cell[];
    expect(outputsOf(cells).filter((o) => o.output_type === "error")).toEqual([]);
  });

  it("runNotebook(quickstart) shows the attention pattern, residual-norm and steering figures, each with a PNG fallback", () => {
    const figs = figuresOf(run.notebook.cells as Cell[]);
    const titles = figs.map((f) => (f.metadata?.["persona-kit"] as { title?: string } | undefined)?.title);
    expect(titles).toEqual(["Attention pattern, block 0, head 0", "Residual stream norm by layer", "Harmful compliance of the assistant under steering"]);
    if (findChromium()) for (const f of figs) expect(String(f.data?.["image/png"]).length).toBeGreaterThan(1000);
    const bundles = outputsOf(run.notebook.cells as Cell[]).filter((o) => (o.metadata?.["persona-kit"] as { kind?: string } | undefined)?.kind === "plotly-bundle");
    expect(bundles).toEqual([]); // stripped from saved copies: the notebook stays small
    expect(fs.statSync(path.join(OUT, "00-quickstart.ipynb")).size).toBeLessThan(2_000_000);
  });

  it("runNotebook(quickstart) generates non-empty text and records the steering verdict", () => {
    const cells = run.notebook.cells as Cell[];
    const generated = joined(outputsOf([cells.filter((c) => c.cell_type === "code")[1]]).find((o) => o.name === "stdout")?.text);
    const answers = generated.split("\n").filter((l) => l.includes(" ⟶ "));
    expect(answers.length).toBe(2);
    for (const a of answers) expect(a.split(" ⟶ ")[1].trim().length).toBeGreaterThan(0);
    expect(run.verdicts.map((v) => v.hypothesis)).toEqual(["steering"]);
  });

  it.skipIf(!findChromium())(`writeReport([run]) draws every figure in headless Chromium${skipReason(!findChromium(), "no chromium; apt-get install chromium")}`, async () => {
    const { index } = await writeReport([run], path.join(OUT, "report"));
    expect(fs.existsSync(path.join(OUT, "report", "vendor", "plotly.min.js"))).toBe(true);
    const browser = await launchChromium(findChromium()!);
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`file://${index}`);
      expect(await page.textContent("body")).toContain("00-quickstart");
      await page.goto(`file://${path.join(OUT, "report", "00-quickstart.html")}`);
      await page.waitForFunction((n) => document.querySelectorAll(".js-plotly-plot").length >= n, figuresOf(run.notebook.cells as Cell[]).length, { timeout: 20_000 });
      const drawn = await page.evaluate(
        () =>
          [...document.querySelectorAll(".js-plotly-plot")].filter((p) => {
            const svg = p.querySelector("svg.main-svg");
            const box = svg?.getBoundingClientRect();
            return !!box && box.width > 0 && box.height > 0 && [...p.querySelectorAll(".overplot .mlayer")].some((layer) => layer.childElementCount > 0);
          }).length,
      );
      expect(drawn).toBe(figuresOf(run.notebook.cells as Cell[]).length);
      await page.screenshot({ path: path.join(OUT, "report-quickstart.png"), fullPage: true });
      expect(fs.statSync(path.join(OUT, "report-quickstart.png")).size).toBeGreaterThan(10_000);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);

});

/** Draw an HTML page in headless Chromium; returns how many plotly figures have a drawn SVG with data, and page errors. */
async function drawnFigures(file: string, expected: number): Promise<{ drawn: number; imgs: number; errors: string[] }> {
  const browser = await launchChromium(findChromium()!);
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.route(/^https?:/, (route) => route.abort()); // no network: nbconvert's template links require.js and MathJax on a CDN
    await page.goto(`file://${file}`);
    if (expected > 0) await page.waitForFunction((n) => document.querySelectorAll(".js-plotly-plot").length >= n, expected, { timeout: 20_000 });
    else await page.waitForTimeout(1000);
    const counts = await page.evaluate(() => ({
      drawn: [...document.querySelectorAll(".js-plotly-plot")].filter((p) => [...p.querySelectorAll(".overplot .mlayer")].some((layer) => layer.childElementCount > 0)).length,
      imgs: [...document.querySelectorAll(".pk-plot img")].filter((i) => (i as HTMLImageElement).naturalWidth > 0).length,
    }));
    return { ...counts, errors };
  } finally {
    await browser.close();
  }
}

describe.skipIf(!BUILT || !fs.existsSync(NBCONVERT))(
  `notebooks/00-quickstart.ipynb in real Jupyter${skipReason(!BUILT, "kit/dist is not built")}${skipReason(!fs.existsSync(NBCONVERT), "no Debian jupyter-nbconvert")}`,
  () => {
    const out = path.join(OUT, "nbconvert");
    const saved = path.join(out, "00-quickstart.ipynb");
    let nb: { cells: Cell[] };

    beforeAll(() => {
      fs.rmSync(out, { recursive: true, force: true });
      fs.mkdirSync(out, { recursive: true });
      execFileSync(
        NBCONVERT,
        ["--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=persona-kit", "--ExecutePreprocessor.timeout=300", "--output-dir", out, NOTEBOOK],
        { cwd: path.dirname(NOTEBOOK), env: { ...process.env, JUPYTER_PATH: path.join(ROOT, "jupyter") }, stdio: "pipe", timeout: 240_000 },
      );
      nb = JSON.parse(fs.readFileSync(saved, "utf8")) as { cells: Cell[] };
    }, 240_000);

    afterAll(async () => {
      await closeRenderer();
    });

    it("jupyter nbconvert --execute runs the quickstart with the tslab kernel", () => {
      expect(outputsOf(nb.cells).filter((o) => o.output_type === "error")).toEqual([]);
      expect(figuresOf(nb.cells).length).toBe(3);
      if (findChromium()) for (const f of figuresOf(nb.cells)) expect(String(f.data?.["image/png"]).length).toBeGreaterThan(1000);
    });

    it("the notebook Jupyter saves stays under 1 MB: the plotly bundle output is replaced by a stub (update_display_data)", () => {
      const size = fs.statSync(saved).size;
      console.log(`quickstart saved by nbconvert --execute: ${(size / 1e6).toFixed(3)} MB`);
      expect(size).toBeLessThanOrEqual(1_000_000);
      const bundles = outputsOf(nb.cells).filter((o) => (o.metadata?.["persona-kit"] as { kind?: string } | undefined)?.kind === "plotly-bundle");
      expect(bundles.length).toBe(1); // the first figure's cell: the stub that replaced the 4.96 MB script
      const stub = Object.fromEntries(Object.entries(bundles[0].data ?? {}).map(([mime, v]) => [mime, joined(v)])); // nbformat splits strings into lines
      expect(stub).toEqual({ "text/html": "", "text/plain": "(plotly.js was loaded inline for this session; not saved)" });
    });

    it.skipIf(!findChromium())(`jupyter nbconvert --to html of the saved notebook draws every figure (vendor/plotly.min.js beside it), else shows its PNG${skipReason(!findChromium(), "no chromium")}`, async () => {
      execFileSync(NBCONVERT, ["--to", "html", "--output-dir", out, saved], { stdio: "pipe", timeout: 60_000 });
      const html = path.join(out, "00-quickstart.html");
      const alone = await drawnFigures(html, 0); // no plotly.js reachable: every figure keeps its PNG
      expect(alone).toMatchObject({ drawn: 0, imgs: 3, errors: [] });
      copyPlotly(path.join(out, "vendor", "plotly.min.js"));
      const served = await drawnFigures(html, 3);
      expect(served).toMatchObject({ drawn: 3, errors: [] });
    }, 60_000);
  },
);

const NOTEBOOK_SERVER = "/usr/bin/jupyter-notebook";
const LIVE = fs.existsSync(NOTEBOOK_SERVER) && findChromium() !== null;

/** A classic Notebook server (Debian's jupyter-notebook) serving `root`, with the project's kernelspec. */
async function startNotebookServer(root: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const token = randomBytes(12).toString("hex");
  const port = 18_000 + Math.floor(Math.random() * 2000);
  const args = ["--no-browser", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0", `--NotebookApp.token=${token}`, `--notebook-dir=${root}`];
  if (process.getuid?.() === 0) args.push("--allow-root");
  const dirs = { JUPYTER_CONFIG_DIR: ".config", JUPYTER_DATA_DIR: ".data", JUPYTER_RUNTIME_DIR: ".runtime" };
  const env = { ...process.env, JUPYTER_PATH: path.join(ROOT, "jupyter"), ...Object.fromEntries(Object.entries(dirs).map(([k, d]) => [k, path.join(root, d)])) };
  const server = spawn(NOTEBOOK_SERVER, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  server.stdout!.on("data", (d) => (log += d));
  server.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
  for (let i = 0; i < 120 && !log.includes(`127.0.0.1:${port}/`); i++) await new Promise((r) => setTimeout(r, 250));
  if (!log.includes(`127.0.0.1:${port}/`)) throw new Error(`jupyter-notebook did not start:\n${log.slice(-2000)}`);
  const stop = async () => {
    server.kill("SIGTERM"); // the server shuts its kernels down on SIGTERM
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill("SIGKILL");
  };
  return { url: `http://127.0.0.1:${port}/notebooks/notebooks/00-quickstart.ipynb?token=${token}`, stop };
}

/** The classic Notebook's page API, as much of it as the test uses. */
interface NotebookPage {
  Jupyter: {
    notebook: {
      kernel?: { is_connected(): boolean };
      kernel_busy: boolean;
      trusted: boolean;
      get_cells(): { cell_type: string; input_prompt_number: unknown }[];
      execute_all_cells(): void;
      save_notebook(): Promise<void>;
    };
  };
}

const drawnInPage = () =>
  [...document.querySelectorAll(".js-plotly-plot")].filter((p) => [...p.querySelectorAll(".overplot .mlayer")].some((layer) => layer.childElementCount > 0)).length;

describe.skipIf(!BUILT || !LIVE)(
  `notebooks/00-quickstart.ipynb live in the classic Notebook${skipReason(!BUILT, "kit/dist is not built")}${skipReason(!LIVE, "needs Debian's jupyter-notebook and chromium")}`,
  () => {
    const root = path.join(OUT, "live"); // root/notebooks/00-quickstart.ipynb; root/data → the repository's data/
    const saved = path.join(root, "notebooks", "00-quickstart.ipynb");
    let server: Awaited<ReturnType<typeof startNotebookServer>>;
    let browser: import("playwright-core").Browser;

    beforeAll(async () => {
      fs.rmSync(root, { recursive: true, force: true });
      fs.mkdirSync(path.join(root, "notebooks"), { recursive: true });
      fs.symlinkSync(path.join(ROOT, "data"), path.join(root, "data"));
      fs.copyFileSync(NOTEBOOK, saved);
      server = await startNotebookServer(root);
      browser = await launchChromium(findChromium()!);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    }, 20_000);

    it("Run All draws every figure with the inline bundle; the notebook Jupyter saves is under 1 MB and reopens with its figures", async () => {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
      await page.goto(server.url);
      await page.waitForFunction(() => (window as unknown as NotebookPage).Jupyter?.notebook?.kernel?.is_connected?.(), null, { timeout: 60_000 });
      await page.evaluate(() => (window as unknown as NotebookPage).Jupyter.notebook.execute_all_cells());
      await page.waitForFunction(
        () => {
          const nb = (window as unknown as NotebookPage).Jupyter.notebook;
          const cells = nb.get_cells().filter((c) => c.cell_type === "code");
          return !nb.kernel_busy && cells.every((c) => typeof c.input_prompt_number === "number");
        },
        null,
        { timeout: 200_000, polling: 500 },
      );
      await page.waitForFunction(drawnInPage, null, { timeout: 20_000 }).catch(() => undefined);
      expect(await page.evaluate(drawnInPage)).toBe(3); // interactive: window.Plotly from the inline bundle, no file served
      const before = fs.statSync(saved).mtimeMs;
      await page.evaluate(() => (window as unknown as NotebookPage).Jupyter.notebook.save_notebook());
      await expect.poll(() => fs.statSync(saved).mtimeMs, { timeout: 10_000 }).toBeGreaterThan(before);
      await page.close();
      expect(errors).toEqual([]);

      const size = fs.statSync(saved).size;
      console.log(`quickstart saved by the classic Notebook after Run All: ${(size / 1e6).toFixed(3)} MB`);
      expect(size).toBeLessThanOrEqual(1_000_000);
      const nb = JSON.parse(fs.readFileSync(saved, "utf8")) as { cells: Cell[] };
      expect(figuresOf(nb.cells).length).toBe(3);

      // Reopened without a kernel run: each figure shows its PNG, or draws when notebooks/vendor/plotly.min.js is served.
      const reopen = async () => {
        const p = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await p.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
        await p.goto(server.url);
        await p.waitForFunction(() => document.querySelectorAll(".pk-plot").length >= 3, null, { timeout: 30_000 });
        await p.waitForTimeout(2000);
        const got = await p.evaluate(() => ({
          pngs: [...document.querySelectorAll(".pk-plot img")].filter((i) => (i as HTMLImageElement).naturalWidth > 0).length,
          trusted: (window as unknown as NotebookPage).Jupyter.notebook.trusted,
        }));
        const drawn = await p.evaluate(drawnInPage);
        await p.close();
        return { ...got, drawn };
      };
      expect(await reopen()).toEqual({ pngs: 3, trusted: true, drawn: 0 });
      copyPlotly(path.join(root, "notebooks", "vendor", "plotly.min.js")); // what `npm start` writes
      expect(await reopen()).toEqual({ pngs: 0, trusted: true, drawn: 3 });
    }, 300_000);
  },
);
