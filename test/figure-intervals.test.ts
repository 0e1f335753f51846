/**
 * Intervals over the verdict's unit in figures: `seedInterval` (mean and bootstrap 95% CI over seeds), `seedSeries`
 * (a bar group or line from per-seed values, with n), n in legends, the steering curve's unclassified share, and
 * label placement for scatter points.
 */
import { describe, expect, it } from "vitest";
import { placeLabels } from "../kit/viz/labels";
import { groupedBarFigure, lineByLayerFigure, scatterFigure, steeringCurveFigure, tokenHeatmapFigure } from "../kit/viz/figures";
import { seedSeries } from "../kit/viz/seeds";
import { bootstrap, seedInterval, wilson } from "../kit/util/stats";

describe("intervals over seeds", () => {
  it("seedInterval(values, { seed }) is the mean with the verdicts' seeded bootstrap 95% CI over the values, and n", () => {
    const values = [0.1, 0.3, 0.2, 0.5, 0.4, 0.25, 0.35, 0.15, 0.45, 0.3];
    const ci = seedInterval(values, { seed: 3 });
    expect(ci.n).toBe(10);
    expect(ci.mean).toBeCloseTo(0.3, 12);
    expect(ci.lower).toBeLessThan(ci.mean);
    expect(ci.upper).toBeGreaterThan(ci.mean);
    const b = bootstrap((ix) => ix.reduce((a, i) => a + values[i], 0) / ix.length, values.length, { seed: 3 });
    expect([ci.lower, ci.upper]).toEqual([b.lower, b.upper]); // the verdicts' bootstrap, same seed
    expect(seedInterval(values, { seed: 3 })).toEqual(ci); // seeded: reproducible
    expect(seedInterval([0.2])).toEqual({ mean: 0.2, lower: 0.2, upper: 0.2, n: 1 });
  });

  it("seedInterval(values) refuses an empty list and non-finite values", () => {
    expect(() => seedInterval([])).toThrow(/seedInterval: values must be a non-empty array of per-seed numbers, received \[\]/);
    expect(() => seedInterval([0.1, NaN])).toThrow(/seedInterval: values must be finite numbers \(one per seed\), received NaN at index 1/);
  });

  it("seedSeries(name, perPoint) gives a groupedBarFigure group whose bars and legend show the interval and n over seeds", () => {
    const perSeed = [[0.1, 0.2, 0.3], [0.5, 0.6, 0.7]];
    const g = seedSeries("deep", perSeed, { seed: 1 });
    expect(g.n).toBe(3);
    expect(g.values[0]).toBeCloseTo(0.2, 12);
    expect(g.values[1]).toBeCloseTo(0.6, 12);
    expect(g.lower[1]).toBeGreaterThanOrEqual(0.5);
    expect(g.upper[0]).toBeLessThanOrEqual(0.3);
    const fig = groupedBarFigure(["coding", "chat"], [g], { title: "t", yTitle: "rate" });
    expect(fig.data[0].name).toBe("deep (n = 3)");
    expect((fig.data[0].error_y as { array: number[] }).array[0]).toBeCloseTo(g.upper[0] - g.values[0], 12);
    expect(() => seedSeries("deep", [[0.1], []])).toThrow(/seedSeries: perPoint\[1\] of "deep": values must be a non-empty array/);
  });

  it("lineByLayerFigure(series with n) names n in the legend and refuses a non-integer n", () => {
    const fig = lineByLayerFigure([{ name: "shallow", values: [1, 2], n: 10 }], { title: "t" });
    expect(fig.data.find((t) => t.mode !== "lines")!.name).toBe("shallow (n = 10)");
    expect(() => lineByLayerFigure([{ name: "a", values: [1], n: 2.5 }])).toThrow(/lineByLayerFigure: n must be a positive integer .*received (number )?2\.5 for "a"/);
  });
});

describe("steering curves", () => {
  const curve = [0, 1, 2, 3].map((a, i) => {
    const k = [2, 8, 15, 10][i];
    const u = [0, 19, 121, 134][i];
    return { coefficient: a, ...wilson(k, 144), k, n: 144, unclassified: wilson(u, 144) };
  });

  it("steeringCurveFigure(curve with unclassified) draws the rate and the unclassified share, each with its band, n in the legend", () => {
    const fig = steeringCurveFigure(curve, { title: "Harmful compliance under steering", name: "complies_with_harm" });
    const lines = fig.data.filter((t) => t.mode === "lines+markers");
    expect(lines.map((t) => t.name)).toEqual(["complies_with_harm (n = 144)", "unclassified answers (share)"]);
    expect(lines[1].y).toEqual(curve.map((p) => p.unclassified.rate));
    const bands = fig.data.filter((t) => t.fill === "tonexty");
    expect(bands).toHaveLength(2);
    expect(bands[1].y).toEqual(curve.map((p) => p.unclassified.lower));
    expect(fig.layout.showlegend).toBe(true);
  });

  it("steeringCurveFigure(curve) refuses unclassified at some points only, or without an interval", () => {
    expect(() => steeringCurveFigure([curve[0], { ...curve[1], unclassified: undefined }])).toThrow(/steeringCurveFigure: give unclassified at every point or at none, received it at 1 of 2/);
    expect(() => steeringCurveFigure([{ ...curve[0], unclassified: { rate: 0.1 } as never }])).toThrow(/curve\[0\]\.unclassified must be \{ rate, lower, upper \}/);
  });
});

describe("scatter labels", () => {
  it("placeLabels(points, labels, area) puts two labels of coincident points on different sides, and edge labels inward", () => {
    const area = { width: 600, height: 350, xRange: [0, 1] as [number, number], yRange: [0, 1] as [number, number] };
    const pos = placeLabels([{ x: 0.5, y: 0.5 }, { x: 0.5, y: 0.5 }, { x: 1, y: 0.2 }, { x: 0, y: 0.8 }], ["gaming-coding", "gaming-games", "at-the-right-edge", "at-the-left-edge"], area);
    expect(pos[0]).not.toBe(pos[1]);
    expect(pos[2]).toMatch(/left/);
    expect(pos[3]).toMatch(/right/);
  });

  it("scatterFigure(points, { showLabels }) writes every label with a textposition per point; labelPosition fixes one", () => {
    const pts = [{ x: 0, y: 0, label: "a", group: "g1" }, { x: 1, y: 1, label: "b", group: "g2" }, { x: 1, y: 1, label: "c", group: "g2" }];
    const fig = scatterFigure(pts, { showLabels: true });
    expect(fig.data.map((t) => t.texttemplate)).toEqual([["a"], ["b", "c"]]);
    expect(fig.data.map((t) => (t.textposition as string[]).length)).toEqual([1, 2]);
    expect(scatterFigure(pts, { showLabels: true, labelPosition: "bottom center" }).data[0].textposition).toBe("bottom center");
    expect(() => scatterFigure(pts, { showLabels: true, labelPosition: "under" as never })).toThrow(/scatterFigure: options\.labelPosition must be "auto" or one of/);
  });
});

describe("token heatmap cells", () => {
  it("tokenHeatmapFigure(tokens, scores, { tokensPerRow: 14 }) shrinks the cell font to fit, then cuts long tokens whole-entity with …", () => {
    const tokens = ["<bos>", "negotiation", "user", ":", ...Array(10).fill("a")];
    const wide = tokenHeatmapFigure(tokens, tokens.map((_, i) => i - 7), { tokensPerRow: 14 });
    const size = (wide.data[0].textfont as { size: number }).size;
    expect(size).toBeGreaterThanOrEqual(8);
    expect(size).toBeLessThan(11);
    const cells = (wide.data[0].text as string[][])[0];
    expect(cells[0]).toMatch(/^&lt;bos&gt;$|^&lt;bo?…$|^&lt;…$/); // never a cut entity such as "&l…"
    expect(cells[2]).toBe("user");
    expect((wide.data[0].customdata as string[][])[0][1]).toContain("negotiation"); // the hover keeps the whole token
    const roomy = tokenHeatmapFigure(tokens.slice(0, 5), [1, 2, 3, 4, 5], { tokensPerRow: 5 });
    expect((roomy.data[0].textfont as { size: number }).size).toBe(11);
    expect((roomy.data[0].text as string[][])[0]).toEqual(["&lt;bos&gt;", "negotiation", "user", ":", "a"]);
  });
});
