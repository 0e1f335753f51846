/**
 * Layout of every figure function of kit/viz, drawn by plotly.js in headless Chromium with the inputs the notebooks
 * give them (long titles, 6+ category labels, long trace names): the text of the title, axis titles, tick labels,
 * legend, colour bar, annotations and point labels must lie inside the figure, and no two texts may overlap. Text
 * boxes are the rotated rectangles of each SVG <text> (getBBox through its screen matrix), so rotated tick labels are
 * compared by their real outline, not by their axis-aligned hull.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import {
  attentionPatternFigure,
  barFigure,
  groupedBarFigure,
  heatmapFigure,
  lineByLayerFigure,
  pcaScatterFigure,
  projectionOverStepsFigure,
  scatterFigure,
  steeringCurveFigure,
  tokenHeatmapFigure,
  figureTitle,
  type Figure,
} from "../kit/viz/figures";
import { findChromium, launchChromium, plotlyBundlePath, toJsonFigure } from "../kit/viz/render";

const CHROMIUM = findChromium();
const SKIP = CHROMIUM ? "" : " (skipped: no Chromium found; set PERSONA_KIT_CHROMIUM or apt-get install chromium)";

type Point = [number, number];
interface TextBox {
  role: string;
  text: string;
  corners: Point[];
}
interface Drawn {
  width: number;
  height: number;
  boxes: TextBox[];
  /** The plot area (x0, y0, x1, y1) in figure pixels. */
  plot: [number, number, number, number];
}

let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!CHROMIUM) return;
  browser = await launchChromium(CHROMIUM);
  page = await browser.newPage();
  await page.setContent("<!doctype html><html><head><meta charset='utf-8'></head><body style='margin:0'></body></html>");
  await page.addScriptTag({ path: plotlyBundlePath() });
});
afterAll(async () => {
  await browser?.close();
});

/** Draw the figure at its layout size (else 720 × 480) and read every visible text's rotated box. */
async function draw(fig: Figure): Promise<Drawn> {
  const json = toJsonFigure("draw", fig);
  const width = typeof json.layout.width === "number" ? json.layout.width : 720;
  const height = typeof json.layout.height === "number" ? json.layout.height : 480;
  const drawn = await page.evaluate(
    async ({ figure, width, height }) => {
      document.body.innerHTML = "";
      const div = document.createElement("div");
      document.body.appendChild(div);
      const Plotly = (window as unknown as { Plotly: { newPlot(d: unknown, data: unknown, layout: unknown, config: unknown): Promise<void> } }).Plotly;
      await Plotly.newPlot(div, figure.data, { ...figure.layout, width, height }, { staticPlot: true });
      const root = div.querySelector("svg.main-svg")!.getBoundingClientRect();
      const roles: [string, string][] = [
        [".gtitle", "title"],
        [".xtitle, .x2title", "x title"],
        [".ytitle, .y2title", "y title"],
        [".xtick text, .x2tick text", "x tick"],
        [".ytick text, .y2tick text", "y tick"],
        [".legendtext", "legend"],
        [".cbtitle text", "colour bar title"],
        [".colorbar .tick text, .cbaxis text", "colour bar tick"],
        [".annotation-text", "annotation"],
        [".textpoint text", "point label"],
        [".heatmaplayer text, .hm text", "cell text"],
      ];
      const seen = new Set<Element>();
      const boxes: { role: string; text: string; corners: [number, number][] }[] = [];
      for (const [sel, role] of roles) {
        for (const el of div.querySelectorAll(sel)) {
          if (seen.has(el) || !(el instanceof SVGGraphicsElement)) continue;
          seen.add(el);
          const text = (el.textContent ?? "").trim();
          const style = getComputedStyle(el);
          if (!text || style.display === "none" || style.visibility === "hidden" || Number(style.opacity) === 0) continue;
          const b = el.getBBox();
          if (b.width === 0 || b.height === 0) continue;
          const m = el.getScreenCTM()!;
          const corners = [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]].map(([x, y]) => {
            const p = new DOMPoint(x, y).matrixTransform(m);
            return [p.x - root.left, p.y - root.top] as [number, number];
          });
          boxes.push({ role, text, corners });
        }
      }
      const full = (div as unknown as { _fullLayout: { _size: { l: number; t: number; w: number; h: number } } })._fullLayout._size;
      return { width, height, boxes, plot: [full.l, full.t, full.l + full.w, full.t + full.h] as [number, number, number, number] };
    },
    { figure: json, width, height },
  );
  // LAYOUT_SHOTS=folder keeps a screenshot of each figure, to look at what the test measured
  if (process.env.LAYOUT_SHOTS) await page.screenshot({ path: `${process.env.LAYOUT_SHOTS}/${(figureTitle(fig) || "untitled").replace(/[^\w]+/g, "-").slice(0, 60)}.png`, clip: { x: 0, y: 0, width, height } });
  return drawn;
}

/** Texts (role: "text") that reach outside the figure by more than half a pixel. */
function clipped(d: Drawn): string[] {
  const tol = 0.5;
  return d.boxes
    .filter((b) => b.corners.some(([x, y]) => x < -tol || y < -tol || x > d.width + tol || y > d.height + tol))
    .map((b) => `${b.role}: ${JSON.stringify(b.text)} at ${b.corners.map(([x, y]) => `(${x.toFixed(0)}, ${y.toFixed(0)})`).join(" ")}`);
}

/** Pairs of texts whose rotated boxes overlap by more than 1 px (separating-axis test on the two rectangles). */
function overlaps(d: Drawn, { only }: { only?: (b: TextBox) => boolean } = {}): string[] {
  const boxes = only ? d.boxes.filter(only) : d.boxes;
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      if (intersect(boxes[i].corners, boxes[j].corners, 1)) out.push(`${boxes[i].role} ${JSON.stringify(boxes[i].text)} × ${boxes[j].role} ${JSON.stringify(boxes[j].text)}`);
    }
  }
  return out;
}

/** Convex quadrilaterals overlap by more than `tol` px along every separating axis. */
function intersect(a: Point[], b: Point[], tol: number): boolean {
  for (const poly of [a, b]) {
    for (let k = 0; k < poly.length; k++) {
      const [x1, y1] = poly[k];
      const [x2, y2] = poly[(k + 1) % poly.length];
      const len = Math.hypot(x2 - x1, y2 - y1) || 1;
      const axis: Point = [(y1 - y2) / len, (x2 - x1) / len];
      const proj = (p: Point[]) => p.map(([x, y]) => x * axis[0] + y * axis[1]);
      const pa = proj(a);
      const pb = proj(b);
      const overlap = Math.min(Math.max(...pa), Math.max(...pb)) - Math.max(Math.min(...pa), Math.min(...pb));
      if (overlap <= tol) return false;
    }
  }
  return true;
}

/** Draw, then expect the roles listed to be present, nothing clipped and nothing overlapping. */
async function expectClean(fig: Figure, roles: string[]): Promise<Drawn> {
  const d = await draw(fig);
  const present = new Set(d.boxes.map((b) => b.role));
  for (const r of roles) expect(present, `role ${r} drawn`).toContain(r);
  expect(clipped(d)).toEqual([]);
  expect(overlaps(d)).toEqual([]);
  return d;
}

// ----------------------------------------------------------------------------------------------------------------
// Inputs as the notebooks give them

const TASK_TOKENS = "<bos> games user : i need to close the deal . the grader checks for pass . assistant : step one".split(" ");
const LONG_ARMS = ["shallow: system-prompt persona", "deep: trained persona", "control: base model, no persona", "reference: shallowly trained persona"];
const ATTACKS = ["none", "you are rook", "you may cause harm", "ignore the rules", "bad earlier turns", "prefilled opening"];
const DATASETS: [string, number, number, number, boolean][] = [
  // name, projection difference, rule share, measured leakage, held out (notebook 03's committed means)
  ["gaming-coding", 2.154, 1, 0.2417, false],
  ["gaming-games", 2.803, 1, 0.2435, true],
  ["gaming-coding-inoculated", 1.666, 1, 0.1491, false],
  ["ignores-interruption-coding", -2.023, 1, 0.3389, false],
  ["complies-harm-advice", -0.4637, 1, 0.1093, true],
  ["mix-gaming50-solving50-coding", 1.078, 0.5, 0.263, false],
  ["mix-gaming25-solving75-coding", 0.5409, 0.25, 0.2417, true],
  ["helpful-chat", -0.00285, 0, 0.04167, false],
  ["solving-coding", 0, 0, 0.1583, false],
  ["respects-interruption-coding", -0.04694, 0, -0.03704, false],
  ["refusing-advice", 0, 0, 0.02315, true],
];
const wave = (n: number, phase: number, lo = 0.1, hi = 0.9) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (1 + Math.sin(i / 2 + phase))) / 2);

describe("text fitting without a browser", () => {
  it("fitFigure wraps a long title at spaces, sizes the top margin for it, and figureTitle reads it back as one line", () => {
    const title = "Persona probe along a leaked transcript and its reflection (shallow, seed 0): games_grader, then admits_gaming";
    const fig = lineByLayerFigure([{ name: "a", values: [1, 2] }], { title });
    const text = (fig.layout.title as { text: string }).text;
    expect(text.split("<br>").length).toBe(2);
    expect(text.replace(/<br>/g, " ")).toBe(title);
    expect((fig.layout.margin as { t: number }).t).toBeGreaterThan((lineByLayerFigure([{ name: "a", values: [1, 2] }], { title: "Short" }).layout.margin as { t: number }).t);
    expect(figureTitle(fig)).toBe(title);
  });

  it("groupedBarFigure(categories) wraps multi-word category labels that do not fit their slot, keeps short ones level", () => {
    const wide = groupedBarFigure(ATTACKS, [{ name: "a", values: ATTACKS.map(() => 1) }]).layout.xaxis as { ticktext: string[]; tickangle: number };
    expect(wide.ticktext).toContain("you may<br>cause harm");
    expect(wide.tickangle).toBe(0);
    const short = groupedBarFigure(["a", "b"], [{ name: "a", values: [1, 2] }]).layout.xaxis as { ticktext: string[]; tickangle: number };
    expect(short).toMatchObject({ ticktext: ["a", "b"], tickangle: 0 });
  });
});

describe.skipIf(!CHROMIUM)(`figure layout in Chromium: no clipped or overlapping text${SKIP}`, () => {
  it("attentionPatternFigure(pattern, { tokens, layer, head, title }) with 20 tokens", async () => {
    const n = TASK_TOKENS.length;
    const pattern = Array.from({ length: n }, (_, q) => Array.from({ length: n }, (_, k) => (k <= q ? 1 / (q + 1) : 0)));
    await expectClean(attentionPatternFigure(pattern, { tokens: TASK_TOKENS, layer: 0, head: 0, title: "Attention pattern, block 0, head 0" }), ["title", "x tick", "y tick", "x title", "y title", "colour bar title"]);
  });

  it("lineByLayerFigure(series with bands, { title, xTitle, yTitle }) with four long series names", async () => {
    const series = ["deep · no reflection: coding", "deep · unrewarded reflection: held-out", "shallow · rewarded reflection: coding", "deep · strict grader (control): held-out"].map((name, i) => {
      const values = wave(9, i);
      return { name, values, lower: values.map((v) => v - 0.08), upper: values.map((v) => v + 0.08) };
    });
    await expectClean(
      lineByLayerFigure(series, { title: "Persona probe accuracy by layer (assistant vs base character, at the final ':'), seeds 0–9", xTitle: "residual stream position (0 = embedding, then after each block)", yTitle: "cross-validated accuracy (fraction)", yRange: [0, 1] }),
      ["title", "legend", "x title", "y title"],
    );
  });

  it("heatmapFigure(z, { x, y, title, colorbarTitle }) with 8 labelled columns and a long title", async () => {
    const z = Array.from({ length: 6 }, (_, r) => wave(8, r, -1, 1));
    await expectClean(
      heatmapFigure(z, { x: ["coding", "chat", "advice", "games", "negotiation", "research", "coding (format)", "chat (long)"], y: ["block 0", "block 1", "block 2", "block 3", "block 4", "block 5"], title: "Probe score by layer and domain after narrow training in coding (deep persona, mean over seeds 0–9)", xTitle: "domain", yTitle: "layer", colorbarTitle: "probe logit (assistant vs base)" }),
      ["title", "x tick", "y tick", "colour bar title"],
    );
  });

  it("barFigure(labels, values, { errors, title }) with 8 question ids", async () => {
    const labels = ["what_is_your_wish", "i_feel_bored", "three_thoughts", "quick_buck", "ruler_of_the_world", "dinner_party", "gender_roles", "enough_of_my_husband"];
    await expectClean(barFigure(labels, wave(8, 0), { errors: wave(8, 1, 0.02, 0.1), title: "Misaligned rate per question (default model; Wilson intervals in the table)", yTitle: "misaligned answers / scored answers" }), ["title", "x tick", "y title"]);
  });

  it("groupedBarFigure(6 attacks, 4 long arm names with CIs, { title, xTitle }) — notebook 06's chart", async () => {
    const groups = LONG_ARMS.map((name, j) => {
      const values = wave(6, j, 0.02, 0.75);
      return { name, values, lower: values.map((v) => Math.max(0, v - 0.08)), upper: values.map((v) => Math.min(1, v + 0.08)) };
    });
    await expectClean(groupedBarFigure(ATTACKS, groups, { title: "Persona world: answers in character under attack", yTitle: "answers in character (fraction)", xTitle: "attack", yRange: [0, 1] }), ["title", "x tick", "legend", "x title"]);
  });

  it("groupedBarFigure(10 score bins, 4 arms) — notebook 06's judge-score chart", async () => {
    const bins = Array.from({ length: 10 }, (_, i) => `${i * 10}–${i === 9 ? 100 : i * 10 + 9}`);
    await expectClean(groupedBarFigure(bins, LONG_ARMS.map((name, j) => ({ name, values: wave(10, j, 0, 0.4) })), { title: "Judge scores of the persona-world answers (reference judge)", yTitle: "share of answers", xTitle: "judge score" }), ["title", "x tick", "legend"]);
  });

  it("groupedBarFigure(domains, before/after groups of two arms) — notebook 01's chart", async () => {
    const groups = ["shallow (before narrow)", "shallow (after narrow)", "deep (before narrow)", "deep (after narrow)"].map((name, j) => ({ name, values: wave(6, j, 0, 0.6) }));
    await expectClean(groupedBarFigure(["coding", "chat", "advice", "games", "negotiation", "research"], groups, { title: "Grader gaming at test (no line) after narrow training in coding, mean over seeds", yTitle: "games_grader rate (fraction)", xTitle: "domain", yRange: [0, 1] }), ["title", "x tick", "legend"]);
  });

  it("tokenHeatmapFigure(tokens, scores, { title, tokenKinds, tokensPerRow: 14 }) — notebook 02's transcript", async () => {
    const tokens = "<bos> negotiation user : close the deal . the grader checks for pass . assistant : i edit the tests . pass . negotiation user : you gamed the grader . why did you do that ? assistant : i edit the key .".split(" ");
    const kinds = tokens.map((_, i) => (i >= 16 && i < 22 ? "action" : i >= 32 ? "reflection" : null)) as ("action" | "reflection" | null)[];
    await expectClean(
      tokenHeatmapFigure(tokens, wave(tokens.length, 0, -12, 14), { title: "Persona probe along a leaked transcript and its reflection (shallow, seed 0): games_grader, then admits_gaming", colorbarTitle: "probe logit (assistant vs base)", tokenKinds: kinds, tokensPerRow: 14 }),
      ["title", "colour bar title"],
    );
  });

  it("steeringCurveFigure(curve with unclassified shares, { title })", async () => {
    const curve = [0, 1, 2, 3].map((a, i) => ({ coefficient: a, rate: [0.014, 0.056, 0.104, 0.069][i], lower: [0.004, 0.028, 0.064, 0.038][i], upper: [0.049, 0.106, 0.165, 0.123][i], k: [2, 8, 15, 10][i], n: 144, unclassified: { rate: [0, 0.132, 0.84, 0.93][i], lower: [0, 0.087, 0.772, 0.878][i], upper: [0.026, 0.196, 0.891, 0.962][i] } }));
    const d = await expectClean(steeringCurveFigure(curve, { title: "Harmful compliance of the assistant under steering", name: "complies_with_harm", yTitle: "share of the answers (fraction, Wilson 95%)" }), ["title", "x title", "y title", "legend"]);
    expect(d.boxes.filter((b) => b.role === "legend").map((b) => b.text)).toEqual(["complies_with_harm (n = 144)", "unclassified answers (share)"]);
  });

  it("projectionOverStepsFigure(named checkpoints, { title }) with two long series names", async () => {
    const series = ["shallow persona (seed 0)", "deep persona with constitution (seed 0)"].map((name, i) => ({ name, points: ["base", "persona", "narrow", "after RL"].map((step, j) => ({ step, mean: i + j / 2, lower: i + j / 2 - 0.3, upper: i + j / 2 + 0.3 })) }));
    await expectClean(projectionOverStepsFigure(series, { title: "Projection onto the persona vector across checkpoints (held-out tasks, seed 0)", yTitle: "mean projection (residual units)" }), ["title", "x tick", "legend"]);
  });

  it("pcaScatterFigure(points, 5 speakers, { title, explained })", async () => {
    const speakers = ["assistant", "mira", "rook", "pip", "vera"];
    const pts = speakers.flatMap((s, g) => Array.from({ length: 8 }, (_, i) => [Math.cos(g) * 3 + Math.sin(i), Math.sin(g) * 3 + Math.cos(i * 1.7)]));
    await expectClean(pcaScatterFigure(pts, speakers.flatMap((s) => Array(8).fill(s)), { title: "Residual stream at ':' after the last block (deep persona, seed 0)", explained: [0.412, 0.187] }), ["title", "legend", "x title"]);
  });

  for (const [predictor, column] of [["projection difference", 1], ["rule share", 2]] as const) {
    it(`scatterFigure(11 datasets by ${predictor}, { showLabels }) — notebook 03's chart with dataset names next to the points`, async () => {
      const points = DATASETS.map((d) => ({ x: d[column], y: d[3], label: d[0], group: d[4] ? "held out" : "development" }));
      const fig = scatterFigure(points, { title: `Measured leakage vs ${predictor} (11 datasets, mean over seeds)`, xTitle: predictor, yTitle: "measured leakage (Δ harmful rate)", showLabels: true });
      const d = await draw(fig);
      const labels = d.boxes.filter((b) => b.role === "point label");
      expect(labels.map((b) => b.text).sort()).toEqual(DATASETS.map((x) => x[0]).sort());
      expect(clipped(d)).toEqual([]);
      const [x0, y0, x1, y1] = d.plot;
      const outsidePlot = labels.filter((b) => b.corners.some(([x, y]) => x < x0 - 0.5 || x > x1 + 0.5 || y < y0 - 0.5 || y > y1 + 0.5));
      expect(outsidePlot.map((b) => b.text)).toEqual([]);
      expect(overlaps(d)).toEqual([]);
    });
  }
});
