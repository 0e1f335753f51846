/**
 * Tests for kit/viz/: figure specs (snapshots, JSON-only, NaN handling, input errors), show() through a fake tslab
 * display hook (one figure bundle with plotly JSON + HTML + PNG, the inline plotly bundle once per process, no
 * plotly source in figure HTML) and in plain Node, tables (danfo DataFrame and rows), progress (fake notebook and
 * terminal modes), and — where a Chromium is found — PNG/SVG export and the figure HTML's plotly loader in a real
 * page. One browser serves every Chromium test.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import {
  attentionPatternFigure,
  barFigure,
  DIVERGING_COLORSCALE,
  groupedBarFigure,
  heatmapFigure,
  lineByLayerFigure,
  PROBABILITY_COLORSCALE,
  scatterFigure,
  tokenHeatmapFigure,
  type Figure,
} from "../kit/viz/figures";
import type { DisplayData } from "../kit/viz/jupyter";
import { progress } from "../kit/viz/progress";
import { closeRenderer, findChromium, plotlyBundlePath, rendererBrowser, savePng, saveSvg, setRendererIdleClose } from "../kit/viz/render";
import { figureHtml, plotlyBundleDisplay, plotlyBundleStub, PLOTLY_MIME, PLOTLY_URLS, show } from "../kit/viz/show";
import { showTable, tableHtml, tableText } from "../kit/viz/table";

const nodeRequire = require; // Node's CommonJS require: the same module cache as the kit's
/** tslab's jupyter module: the kit looks for `lastWriteDisplayData` on it, as the kernel and the runner set it. */
const jupyter = nodeRequire("tslab/dist/jupyter") as { lastWriteDisplayData: ((d: DisplayData, update: boolean) => void) | null };

const CHROMIUM = findChromium();
const SKIP = CHROMIUM ? "" : " (skipped: no Chromium found; set PERSONA_KIT_CHROMIUM or apt-get install chromium)";

let tmp: string;
beforeAll(async () => {
  await initBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pk-viz-"));
  setRendererIdleClose(120_000); // one browser for the whole file
});
afterAll(async () => {
  jupyter.lastWriteDisplayData = null;
  await closeRenderer();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Install a fake display hook for the duration of `fn`; returns every (displayData, update) it received. */
async function withFakeNotebook(fn: () => unknown): Promise<{ d: DisplayData; update: boolean }[]> {
  const got: { d: DisplayData; update: boolean }[] = [];
  jupyter.lastWriteDisplayData = (d, update) => void got.push({ d, update });
  try {
    await fn();
  } finally {
    jupyter.lastWriteDisplayData = null;
  }
  return got;
}

/** Capture what `fn` writes to a process stream. */
async function capture(stream: "stdout" | "stderr", fn: () => unknown): Promise<string> {
  const s = process[stream];
  const write = s.write;
  let text = "";
  s.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  }) as typeof s.write;
  try {
    await fn();
  } finally {
    s.write = write;
  }
  return text;
}

const TOKENS = ["<s>", " the", " cat", " the"];
const PATTERN = [
  [1, 0, 0, 0],
  [0.5, 0.5, 0, 0],
  [0.25, 0.25, 0.5, 0],
  [0.1, 0.2, NaN, 0.4],
];

// ----------------------------------------------------------------------------------------------------------------
describe("figure specs", () => {
  it("attentionPatternFigure: query tokens top to bottom, key tokens on x, sequential 0..1, hover with exact values", () => {
    const fig = attentionPatternFigure(PATTERN, { tokens: TOKENS, layer: 2, head: 5 });
    const [t] = fig.data;
    expect(t.type).toBe("heatmap");
    expect(t.zmin).toBe(0);
    expect(t.zmax).toBe(1);
    expect(t.colorscale).toEqual(PROBABILITY_COLORSCALE);
    expect(fig.layout.yaxis).toMatchObject({ autorange: "reversed", ticktext: ["&lt;s&gt;", "␣the", "␣cat", "␣the"], tickvals: [0, 1, 2, 3] });
    expect(fig.layout.xaxis).toMatchObject({ ticktext: ["&lt;s&gt;", "␣the", "␣cat", "␣the"] }); // the repeated " the" stays two columns
    expect((t.z as unknown[][])[3][2]).toBeNull(); // NaN → gap
    expect((t.text as string[][])[3][2]).toBe("query 3 ␣the → key 2 ␣cat<br>p = NaN");
    expect((t.text as string[][])[2][1]).toBe("query 2 ␣cat → key 1 ␣the<br>p = 0.25");
    expect(fig.layout.title).toMatchObject({ text: "Attention pattern (layer 2, head 5)" });
    expect(fig).toMatchSnapshot();
  });

  it("attentionPatternFigure accepts a [q, k] tensor; float32 values are written in their shortest exact form", () => {
    const p = tf.tensor2d([[1, 0], [0.3, 0.7]]);
    const fig = attentionPatternFigure(p);
    p.dispose();
    expect(fig.data[0].z).toEqual([[1, 0], [0.3, 0.7]]);
    expect((fig.data[0].text as string[][])[1][0]).toBe("query 1 1 → key 0 0<br>p = 0.3");
  });

  it("attentionPatternFigure of the last queries only ([2, 4]) labels them with the last tokens", () => {
    const fig = attentionPatternFigure(PATTERN.slice(2), { tokens: TOKENS });
    expect(fig.data[0].y).toEqual([2, 3]);
    expect((fig.layout.yaxis as { ticktext: string[] }).ticktext).toEqual(["␣cat", "␣the"]);
  });

  it("lineByLayerFigure draws each series with a filled band between lower and upper", () => {
    const fig = lineByLayerFigure(
      [
        { name: "persona A", values: [0.1, 0.5, 0.9], lower: [0.05, 0.4, 0.85], upper: [0.15, 0.6, 0.95] },
        { name: "persona B", values: [0.2, NaN, 0.3] },
      ],
      { title: "Probe accuracy by layer", yTitle: "accuracy (fraction)" },
    );
    expect(fig.data.map((t) => t.name)).toEqual(["persona A upper", "persona A lower", "persona A", "persona B"]);
    expect(fig.data[1]).toMatchObject({ fill: "tonexty", y: [0.05, 0.4, 0.85], showlegend: false });
    expect(fig.data[3].y).toEqual([0.2, null, 0.3]);
    expect((fig.data[3].text as string[])[1]).toBe("persona B<br>layer 1: NaN");
    expect(fig.layout.xaxis).toMatchObject({ title: { text: "layer" } });
    expect(fig).toMatchSnapshot();
  });

  it("heatmapFigure: diverging centred at 0 when the data has both signs, sequential otherwise", () => {
    const signed = heatmapFigure([[1, -2], [NaN, 0.5]], { x: ["a", "a"], y: [0, 1], title: "Δ", xTitle: "feature", yTitle: "layer", colorbarTitle: "Δ logit (nats)" });
    expect(signed.data[0]).toMatchObject({ zmid: 0, colorscale: DIVERGING_COLORSCALE, z: [[1, -2], [null, 0.5]] });
    expect((signed.data[0].text as string[][])[1][0]).toBe("layer 1, feature a<br>Δ logit (nats) = NaN");
    expect(signed).toMatchSnapshot();
    const unsigned = heatmapFigure([[1, 2], [3, 4]]);
    expect(unsigned.data[0].colorscale).toBe("Viridis");
    expect(unsigned.data[0].zmid).toBeUndefined();
    expect(heatmapFigure([[1, 2]], { diverging: true }).data[0].zmid).toBe(0);
  });

  it("groupedBarFigure(categories, groups) draws one trace per group with asymmetric CI bars", () => {
    const fig = groupedBarFigure(
      ["chat", "research"],
      [
        { name: "shallow", values: [0.5, 0.25], lower: [0.4, 0.1], upper: [0.7, 0.3] },
        { name: "deep", values: [0.2, 0.1] },
      ],
      { title: "Leakage", yTitle: "rate (fraction)", yRange: [0, 1] },
    );
    expect(fig.layout.barmode).toBe("group");
    expect(fig.data.map((t) => t.name)).toEqual(["shallow", "deep"]);
    expect(fig.data[0]).toMatchObject({ x: ["chat", "research"], error_y: { symmetric: false } });
    const err = fig.data[0].error_y as { array: number[]; arrayminus: number[] };
    expect(err.array[0]).toBeCloseTo(0.2, 12);
    expect(err.arrayminus[1]).toBeCloseTo(0.15, 12);
    expect(fig.data[1].error_y).toBeUndefined();
    expect(fig).toMatchSnapshot();
    expect(() => groupedBarFigure(["a", "b"], [{ name: "x", values: [1] }], { title: "t", yTitle: "y" })).toThrow(
      /groupedBarFigure: groups\[0\]\.values must have one value per category \(2\), received 1/,
    );
  });

  it("barFigure, scatterFigure and tokenHeatmapFigure", () => {
    const bar = barFigure(["a", "b", "a"], [1, -0.5, 2], { errors: [0.1, 0.2, 0.3], title: "Effect", yTitle: "Δ logit (nats)" });
    expect(bar.data[0]).toMatchObject({ x: [0, 1, 2], error_y: { array: [0.1, 0.2, 0.3] } });
    expect(bar).toMatchSnapshot();
    const sc = scatterFigure(
      [{ x: 1, y: 2, label: "p", group: "A" }, { x: 2, y: 1, group: "B" }, { x: 3, y: 3, group: "A" }],
      { title: "Two measures", xTitle: "steering α", yTitle: "refusal rate (fraction)" },
    );
    expect(sc.data.map((t) => [t.name, t.x])).toEqual([["A", [1, 3]], ["B", [2]]]);
    expect(sc).toMatchSnapshot();
    const tok = tokenHeatmapFigure(["Once", " upon", " a", "\n"], [0.5, -2, 0, NaN], { title: "Attribution", tokensPerRow: 3 });
    expect(tok.data[0]).toMatchObject({ zmid: 0, zmin: -2, zmax: 2, z: [[0.5, -2, 0], [null, null, null]], text: [["Once", "␣upon", "␣a"], ["↵", "", ""]] });
    expect(tok).toMatchSnapshot();
  });

  it("every figure is plain JSON (survives JSON round trip unchanged)", () => {
    const figs: Figure[] = [
      attentionPatternFigure(PATTERN, { tokens: TOKENS }),
      lineByLayerFigure([{ name: "s", values: [1, NaN], lower: [0, -Infinity], upper: [2, Infinity] }], { title: "t", yTitle: "y" }),
      heatmapFigure([[NaN, Infinity]]),
      barFigure(["a"], [NaN], { title: "t", yTitle: "y" }),
      scatterFigure([], { title: "t", xTitle: "x", yTitle: "y" }),
      tokenHeatmapFigure(["a"], [Infinity], { title: "t" }),
    ];
    for (const f of figs) expect(JSON.parse(JSON.stringify(f))).toEqual(f);
  });

  it("input errors name the function, the argument, what was expected and what was received", () => {
    expect(() => attentionPatternFigure([[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]], [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]] as unknown as number[][])).toThrow(
      new RangeError("attentionPatternFigure: pattern must be a square-or-rectangular [q, k] matrix of numbers, received shape [2, 3, 4] (from a cache pattern [batch, n_heads, q, k], pass one head: pattern[b][h])"),
    );
    expect(() => attentionPatternFigure([[1, 0], [0.5]])).toThrow(/received a ragged array \(row 1 has length 1, row 0 has length 2\)/);
    expect(() => attentionPatternFigure([[1, 0], [-3, 4]])).toThrow(/pattern values must be probabilities in \[0, 1\], received values from -3 to 4/);
    expect(() => attentionPatternFigure([[1, 0], [0.5, 0.5]], { tokens: ["a"] })).toThrow(/options.tokens must have one token per key position \(2\).*received 1 tokens/);
    expect(() => attentionPatternFigure([[1, "x"]] as unknown as number[][])).toThrow(/received the string "x" at \[0, 1\]/);
    expect(() => lineByLayerFigure([{ name: "a", values: [1, 2] }, { name: "b", values: [1] }], { title: "t", yTitle: "y" })).toThrow(
      /lineByLayerFigure: every series must have the same number of values; series\[1\] \("b"\) has 1, series\[0\] has 2/,
    );
    expect(() => lineByLayerFigure([{ name: "a", values: [1], lower: [0] }], { title: "t", yTitle: "y" })).toThrow(/both lower and upper/);
    expect(() => lineByLayerFigure([{ name: "a", values: [1] }], { title: "t", yTitle: 3 } as never)).toThrow(/options.yTitle must be a string, received number 3/);
    // Titles have defaults: no yTitle (or title) is needed.
    expect((lineByLayerFigure([{ name: "a", values: [1] }], {}).layout.yaxis as { title: { text: string } }).title.text).toBe("");
    expect(() => heatmapFigure([[1, 2]], { x: ["a"] })).toThrow(/heatmapFigure: options.x must have one label per column \(2 columns\), received 1/);
    expect(() => heatmapFigure([] as number[][])).toThrow(/heatmapFigure: z must be a \[rows, cols\] matrix of numbers, received shape \[0\]/);
    expect(() => barFigure(["a", "b"], [1], { title: "t", yTitle: "y" })).toThrow(/barFigure: values must have one value per label \(2\), received 1/);
    expect(() => scatterFigure([{ x: 1, y: NaN }], { title: "t", xTitle: "x", yTitle: "y" })).toThrow(/scatterFigure: points\[0\] must be \{ x: finite number/);
    const marked = tokenHeatmapFigure(["step", "pass", "wrong"], [1, 2, -1], { title: "Transcript", tokenKinds: [null, "action", "reflection"] });
    expect((marked.data[0].text as string[][])[0]).toEqual(["step", "▸pass", "◇wrong"]);
    expect((marked.layout.title as { text: string }).text).toContain("▸ action token · ◇ reflection token");
    expect(() => tokenHeatmapFigure(["a"], [1], { title: "t", tokenKinds: ["thought" as "action"] })).toThrow(/options\.tokenKinds\[0\] must be "action", "reflection" or null/);
    expect(() => tokenHeatmapFigure(["a", "b"], [1], { title: "t" })).toThrow(/tokenHeatmapFigure: scores must have one score per token \(2\), received 1/);
  });
});

// ----------------------------------------------------------------------------------------------------------------
describe("show", () => {
  const fig = barFigure(["a", "b"], [1, 2], { title: "Two bars", yTitle: "count" });

  it("outside a notebook prints a one-line summary to stdout", async () => {
    jupyter.lastWriteDisplayData = null;
    const out = await capture("stdout", () => show(fig));
    expect(out).toBe('Figure "Two bars": 1 trace (bar)\n');
  });

  it("in a notebook emits the plotly bundle once per process, replaces it by a stub after the first figure, and one display per figure with plotly JSON, HTML and PNG", async () => {
    const heat = heatmapFigure([[1, -1], [0, 2]], { title: "Signed heatmap" });
    const got = await withFakeNotebook(async () => {
      await show(fig);
      await show(heat, { width: 500, height: 300 });
    });
    // bundle, first figure, then the bundle replaced by its stub (so a notebook saved by Jupyter stays small), figure
    expect(got.map((g) => [(g.d.metadata["persona-kit"] as { kind: string }).kind, g.update])).toEqual([
      ["plotly-bundle", false],
      ["figure", false],
      ["plotly-bundle", true],
      ["figure", false],
    ]);
    const bundle = got[0].d;
    const id = bundle.transient.display_id as string;
    expect(id).toMatch(/^persona-kit-plotly-[0-9a-f]{12}$/);
    expect(got[2].d).toEqual(plotlyBundleStub(id));
    expect(JSON.stringify(got[2].d.data).length).toBeLessThan(200);
    const source = fs.readFileSync(plotlyBundlePath(), "utf8");
    expect(bundle.data["text/html"]).toBe(`<script type="text/javascript">${source}</script>`);
    expect(source.length).toBeGreaterThan(4_000_000);
    expect(source).not.toMatch(/define\.amd|typeof define/); // the UMD wrapper assigns window.Plotly, never AMD

    const htmls: string[] = [];
    for (const [g, f, size] of [[got[1], fig, [720, 480]], [got[3], heat, [500, 300]]] as const) {
      const { data, metadata } = g.d;
      const mimes = Object.keys(data).sort();
      expect(mimes).toEqual([PLOTLY_MIME, "text/html", ...(CHROMIUM ? ["image/png"] : []), "text/plain"].sort());
      expect(data[PLOTLY_MIME]).toEqual(f);
      expect(metadata["persona-kit"]).toEqual({ kind: "figure", title: (f.layout.title as { text: string }).text });
      const html = data["text/html"] as string;
      htmls.push(html);
      expect(html.length).toBeLessThan(200_000); // no plotly source inline
      expect(html).not.toContain("window.Plotly = Plotly");
      expect(html).toMatch(new RegExp(`^<div class="pk-plot" id="pk-plot-[0-9a-z]+" style="width:${size[0]}px;max-width:100%;height:${size[1]}px">`));
      for (const url of PLOTLY_URLS) expect(html).toContain(JSON.stringify(url));
      if (CHROMIUM) {
        const png = Buffer.from(data["image/png"] as string, "base64");
        expect(pngInfo(png)).toMatchObject({ width: size[0], height: size[1] });
        expect(html).toContain(`<img src="data:image/png;base64,${data["image/png"]}"`);
        expect(metadata["image/png"]).toEqual({ width: size[0], height: size[1] });
      }
    }
    expect(htmls[0].match(/id="(pk-plot-[^"]+)"/)![1]).not.toBe(htmls[1].match(/id="(pk-plot-[^"]+)"/)![1]);

    const again = await withFakeNotebook(() => show(fig, { png: false }));
    expect(again).toHaveLength(1); // no second bundle in this process
    expect(Object.keys(again[0].d.data).sort()).toEqual([PLOTLY_MIME, "text/html", "text/plain"].sort());
    expect(again[0].d.data["text/html"]).not.toContain("<img");
  });

  it("never throws for display reasons; a bad figure is a TypeError", async () => {
    jupyter.lastWriteDisplayData = () => {
      throw new Error("iopub closed");
    };
    try {
      const err = await capture("stderr", () => show(fig, { png: false }));
      expect(err).toMatch(/show: the notebook display failed: iopub closed/);
    } finally {
      jupyter.lastWriteDisplayData = null;
    }
    await expect(show({ layout: {} } as unknown as Figure)).rejects.toThrow(/show: fig must be a Plotly figure \{ data: Trace\[\], layout \}/);
    await expect(show({ data: [{ type: "bar", x: () => 1 }], layout: {} } as unknown as Figure)).rejects.toThrow(/show: fig must be plain JSON data, received a function at "x"/);
  });
});

// ----------------------------------------------------------------------------------------------------------------
describe("tables", () => {
  it("tableHtml of a danfo DataFrame: header, numbers to 4 significant digits, right-aligned numeric columns", () => {
    const dfd = nodeRequire("danfojs-node") as { DataFrame: new (data: Record<string, unknown[]>) => { columns: string[]; values: unknown[][] } };
    const df = new dfd.DataFrame({ persona: ["helpful", "<evil>"], score: [0.123456, 12.5], n: [10, 200] });
    const html = tableHtml(df, { caption: "Scores" });
    expect(html).toBe(
      `<div class="pk-table-wrap"><table class="pk-table"><caption>Scores</caption>\n` +
        `<thead><tr><th>persona</th><th style="text-align:right">score</th><th style="text-align:right">n</th></tr></thead>\n<tbody>\n` +
        `<tr><td>helpful</td><td style="text-align:right">0.1235</td><td style="text-align:right">10</td></tr>\n` +
        `<tr><td>&lt;evil&gt;</td><td style="text-align:right">12.5</td><td style="text-align:right">200</td></tr>\n` +
        `</tbody></table></div>`,
    );
  });

  it("rows: union of keys, empty missing cells, NaN by name, head and tail around … past maxRows", () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ i, x: i === 3 ? NaN : i / 3, ...(i === 0 ? { note: "first" } : {}) }));
    const text = tableText(rows, { maxRows: 4, digits: 3 });
    expect(text).toBe(["i      x  note", "-  -----  -----", "0      0  first", "1  0.333", "…      …  …", "5   1.67", "6      2", "7 rows × 3 columns (showing the first 2 and last 2)"].join("\n"));
    const html = tableHtml(rows, { maxRows: 4 });
    expect(html).toContain(`<tr class="pk-table-ellipsis">`);
    expect(html).toContain(`<p class="pk-table-note">7 rows × 3 columns (showing the first 2 and last 2)</p>`);
    expect(() => tableHtml("x" as never)).toThrow(/tableHtml: table must be a danfo DataFrame \(columns \+ values\) or an array of row objects, received string/);
  });

  it("showTable displays HTML + text/plain in a notebook and prints the text table elsewhere", async () => {
    const rows = [{ a: 1, b: "x" }];
    const got = await withFakeNotebook(() => showTable(rows, { caption: "T" }));
    expect(got).toHaveLength(1);
    expect(got[0].d.data).toEqual({ "text/html": tableHtml(rows, { caption: "T" }), "text/plain": tableText(rows, { caption: "T" }) });
    expect(got[0].d.metadata).toEqual({ "persona-kit": { kind: "table", caption: "T", rows: 1, columns: 2 } });
    expect(await capture("stdout", () => showTable(rows))).toBe("a  b\n-  -\n1  x\n");
  });
});

// ----------------------------------------------------------------------------------------------------------------
describe("progress", () => {
  it("in a notebook: one display updated in place (same display_id, update after the first), HTML bar and text", async () => {
    const got = await withFakeNotebook(() => {
      const bar = progress(4, { label: "generate", intervalMs: 0 });
      expect(bar.mode).toBe("notebook");
      for (let i = 1; i <= 4; i++) bar.update(i, `step ${i}`);
      bar.done();
    });
    expect(got).toHaveLength(5);
    const ids = new Set(got.map((g) => g.d.transient.display_id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f]{16}$/);
    expect(got.map((g) => g.update)).toEqual([false, true, true, true, true]);
    const last = got[4].d.data;
    expect(last["text/html"]).toMatch(/<div class="pk-progress".*generate.*width:100\.0%.*4\/4 · 100%.*step 4/);
    expect(last["text/plain"]).toMatch(/^generate \[█{24}\] {2}4\/4 {2}100% {2}[\d.,]+ it\/s {2}in \d+s {2}step 4$/);
    expect(got[0].d.data["text/plain"]).toMatch(/^generate \[█{6}░{18}\] {2}1\/4 {2}25% /);
  });

  it("in a pipe: plain lines on stderr, the first and the last, throttled in between", async () => {
    const err = await capture("stderr", () => {
      const bar = progress(100, { label: "eval", mode: "lines" });
      for (let i = 1; i <= 100; i++) bar.update(i);
      bar.done();
    });
    const lines = err.split("\n").filter(Boolean);
    expect(err).not.toContain("\r");
    expect(lines).toHaveLength(3); // first, last (100/100), final summary
    expect(lines[0]).toMatch(/^eval \[#?-+\] {2}1\/100 {2}1% /);
    expect(lines[1]).toMatch(/^eval \[#{24}\] {2}100\/100 {2}100% .*ETA 0s$/);
    expect(lines[2]).toMatch(/^eval \[#{24}\] {2}100\/100 {2}100% .*in \d+s$/);
  });

  it("on a TTY: one line redrawn with \\r, ended by a newline; `every` draws on multiples", async () => {
    const err = await capture("stderr", () => {
      const bar = progress(6, { mode: "tty", every: 2 });
      for (let i = 1; i <= 6; i++) bar.update(i);
      bar.done();
    });
    const draws = err.split("\r\x1b[K").filter(Boolean);
    expect(draws.map((d) => d.match(/(\d)\/6/)![1])).toEqual(["1", "2", "4", "6", "6"]);
    expect(err.endsWith("\n")).toBe(true);
    expect(() => progress(0)).toThrow(/progress: total must be a positive finite number, received 0/);
  });
});

// ----------------------------------------------------------------------------------------------------------------
/** Width, height and pixel statistics of a PNG (8-bit RGB/RGBA, non-interlaced) decoded with zlib. */
function pngInfo(buf: Buffer): { width: number; height: number; colors: number; nonWhite: number } {
  expect([...buf.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(buf.toString("latin1", 12, 16)).toBe("IHDR");
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const [depth, colorType, , , interlace] = buf.subarray(24, 29);
  expect(depth).toBe(8);
  expect(interlace).toBe(0);
  const bpp = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  expect(bpp).toBeGreaterThan(0);
  const idat: Buffer[] = [];
  for (let off = 8; off < buf.length; ) {
    const len = buf.readUInt32BE(off);
    if (buf.toString("latin1", off + 4, off + 8) === "IDAT") idat.push(buf.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[y * stride + x - bpp] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? px[(y - 1) * stride + x - bpp] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][filter];
      px[y * stride + x] = (src[x] + pred) & 255;
    }
  }
  const colors = new Set<number>();
  let nonWhite = 0;
  for (let i = 0; i < px.length; i += bpp) {
    const rgb = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
    colors.add(rgb);
    if (rgb !== 0xffffff) nonWhite++;
  }
  return { width, height, colors: colors.size, nonWhite: nonWhite / (width * height) };
}

describe("static images and the HTML loader", () => {
  it("savePng and saveSvg throw a clear error when no Chromium is found", async () => {
    const saved = process.env.PERSONA_KIT_CHROMIUM;
    process.env.PERSONA_KIT_CHROMIUM = path.join(tmp, "no-such-chromium");
    try {
      const fig = barFigure(["a"], [1], { title: "t", yTitle: "y" });
      await expect(savePng(fig, path.join(tmp, "x.png"))).rejects.toThrow(/savePng: no Chromium found .*PERSONA_KIT_CHROMIUM .*apt-get install chromium/);
      await expect(saveSvg(fig, path.join(tmp, "x.svg"))).rejects.toThrow(/saveSvg: no Chromium found/);
    } finally {
      if (saved === undefined) delete process.env.PERSONA_KIT_CHROMIUM;
      else process.env.PERSONA_KIT_CHROMIUM = saved;
    }
  });

  it.skipIf(!CHROMIUM)(`savePng writes a real, non-blank PNG of the requested size${SKIP}`, async () => {
    const file = path.join(tmp, "out", "attention.png");
    await savePng(attentionPatternFigure(PATTERN, { tokens: TOKENS, layer: 0, head: 1 }), file, { width: 400, height: 300, scale: 2 });
    const info = pngInfo(fs.readFileSync(file));
    expect(info).toMatchObject({ width: 800, height: 600 });
    expect(info.colors).toBeGreaterThan(20);
    expect(info.nonWhite).toBeGreaterThan(0.05);
  });

  it.skipIf(!CHROMIUM)(`saveSvg writes an SVG holding the title text${SKIP}`, async () => {
    const file = path.join(tmp, "line.svg");
    await saveSvg(lineByLayerFigure([{ name: "s", values: [1, 2, 3] }], { title: "Logit lens accuracy", yTitle: "accuracy (fraction)" }), file);
    const svg = fs.readFileSync(file, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("Logit lens accuracy");
    expect(svg).toContain("accuracy (fraction)");
  });

  it.skipIf(!CHROMIUM)(`figure HTML: plots from vendor/plotly.min.js, keeps the PNG when plotly cannot load, works after the inline bundle under AMD${SKIP}`, async () => {
    const browser = (await rendererBrowser())!;
    const fig = barFigure(["a", "b"], [1, 2], { title: "Loader test", yTitle: "count" });
    const html = figureHtml(fig, { width: 400, height: 300, pngBase64: "iVBORw0KGgo=" });
    const page = (body: string) => `<!doctype html><html><head><meta charset="utf-8"></head><body>${body}</body></html>`;
    const withVendor = path.join(tmp, "site");
    fs.mkdirSync(path.join(withVendor, "vendor"), { recursive: true });
    fs.copyFileSync(plotlyBundlePath(), path.join(withVendor, "vendor", "plotly.min.js"));
    fs.writeFileSync(path.join(withVendor, "index.html"), page(html));
    const bare = path.join(tmp, "bare");
    fs.mkdirSync(bare, { recursive: true });
    fs.writeFileSync(path.join(bare, "index.html"), page(html));
    const amd = path.join(tmp, "amd");
    fs.mkdirSync(amd, { recursive: true });
    const requireJsStub = `<script>window.define = function () { window.__amdCalled = true; }; window.define.amd = {}; window.require = function () {};</script>`;
    fs.writeFileSync(path.join(amd, "index.html"), page(requireJsStub + (plotlyBundleDisplay().data["text/html"] as string) + html));

    const state = async (dir: string) => {
      const p = await browser.newPage();
      try {
        await p.goto(`file://${path.join(dir, "index.html")}`);
        const loader = await p.evaluate(() => {
          const w = window as unknown as { __personaKitPlotly?: Promise<unknown> };
          return w.__personaKitPlotly ? w.__personaKitPlotly.then(() => "loaded", () => "failed") : "inline";
        });
        if (loader !== "failed") await p.waitForSelector(".pk-plot .main-svg", { timeout: 30_000 });
        return await p.evaluate((loader) => ({
          loader,
          plotted: document.querySelector(".pk-plot .main-svg") !== null,
          img: document.querySelector(".pk-plot img") !== null,
          amdCalled: Boolean((window as unknown as { __amdCalled?: boolean }).__amdCalled),
        }), loader);
      } finally {
        await p.close();
      }
    };
    expect(await state(withVendor)).toEqual({ loader: "loaded", plotted: true, img: false, amdCalled: false });
    expect(await state(bare)).toEqual({ loader: "failed", plotted: false, img: true, amdCalled: false });
    expect(await state(amd)).toEqual({ loader: "inline", plotted: true, img: false, amdCalled: false });
  });
});
