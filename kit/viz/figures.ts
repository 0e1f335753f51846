/**
 * Figure specs: functions that return plain Plotly figure objects `{ data, layout }`.
 *
 * A `Figure` is JSON data only (no functions, no typed arrays, no NaN: missing cells are `null`), so it can be
 * snapshot-tested, saved in a notebook output (`application/vnd.plotly.v1+json`), rendered by `show()`, or
 * exported with `savePng`/`saveSvg`.
 *
 * Research defaults:
 * - every axis and colour bar is labelled (pass units in the titles: "logit difference (nats)");
 * - signed data gets a diverging colour scale centred at 0 (`zmid: 0`, ColorBrewer RdBu reversed: blue below 0,
 *   white at 0, red above); probabilities get a sequential scale fixed to 0..1;
 * - hover text shows the exact stored values (float32 inputs such as tensors are written in their shortest exact
 *   decimal form); NaN and ±Infinity cells are drawn as grey gaps and named in the hover text;
 * - categorical axes (tokens, labels) are drawn at integer positions with `tickvals`/`ticktext`, so repeated
 *   tokens ("the" … "the") stay separate columns instead of being merged by Plotly.
 */
import type { tf } from "../backend";
import { describeValue as describe } from "../describe";
import { escapeHtmlText } from "../util/html";
import { LABEL_POSITIONS, placeLabels, type LabelPosition } from "./labels";
import { DEFAULT_WIDTH, fitFigure, textWidth } from "./layout";

// ----------------------------------------------------------------------------------------------------------------
// Types

/** One Plotly trace (`{ type: "heatmap", z, … }`); plain JSON. */
export type Trace = { type: string } & Record<string, unknown>;

/** A Plotly figure: `data` (traces) and `layout`, plain JSON. */
export interface Figure {
  data: Trace[];
  layout: Record<string, unknown>;
}

/** Diverging scale for signed data: ColorBrewer RdBu, reversed (negative blue, 0 white, positive red). */
export const DIVERGING_COLORSCALE: [number, string][] = [
  [0, "#053061"], [0.1, "#2166ac"], [0.2, "#4393c3"], [0.3, "#92c5de"], [0.4, "#d1e5f0"], [0.5, "#f7f7f7"],
  [0.6, "#fddbc7"], [0.7, "#f4a582"], [0.8, "#d6604d"], [0.9, "#b2182b"], [1, "#67001f"],
];

/** Sequential scale for probabilities (0 white → 1 dark blue): ColorBrewer Blues. */
export const PROBABILITY_COLORSCALE: [number, string][] = [
  [0, "#f7fbff"], [0.125, "#deebf7"], [0.25, "#c6dbef"], [0.375, "#9ecae1"], [0.5, "#6baed6"], [0.625, "#4292c6"],
  [0.75, "#2171b5"], [0.875, "#08519c"], [1, "#08306b"],
];

/** Sequential scale for unsigned magnitudes (Plotly's perceptually uniform Viridis). */
export const SEQUENTIAL_COLORSCALE = "Viridis";

/** Line colours (Plotly's default D3 palette), reused for confidence bands. */
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** Background behind heatmaps: NaN/±Infinity cells (gaps) show in this grey, unlike 0 (white). */
const GAP_COLOR = "#bdbdbd";

const FONT = { family: "Arial, 'DejaVu Sans', sans-serif", size: 13 };

// ----------------------------------------------------------------------------------------------------------------
// attentionPatternFigure

export interface AttentionPatternOptions {
  /** Token strings of the sequence (query = key tokens); length must match both axes. */
  tokens?: string[];
  /** Default "Attention pattern" (+ ", layer L, head H" when given). */
  title?: string;
  layer?: number;
  head?: number;
}

/**
 * A heatmap of one attention pattern `[q, k]` (probabilities, 0..1): query positions on y from top to bottom, key
 * positions on x, a sequential colour scale fixed to 0..1. Masked entries (0) are white; NaN entries are gaps.
 */
export function attentionPatternFigure(pattern: number[][] | tf.Tensor, options: AttentionPatternOptions = {}): Figure {
  const fn = "attentionPatternFigure";
  const { tokens, title, layer, head } = options;
  const m = readMatrix(fn, "pattern", pattern, "a square-or-rectangular [q, k] matrix of numbers");
  const [q, k] = [m.rows, m.cols];
  if (tokens !== undefined) {
    checkStrings(fn, "options.tokens", tokens);
    if (tokens.length !== k || q > k) {
      throw new RangeError(`${fn}: options.tokens must have one token per key position (${k}) and the pattern at most as many queries as keys, received ${tokens.length} tokens for a [${q}, ${k}] pattern`);
    }
  }
  if (layer !== undefined) checkInt(fn, "options.layer", layer);
  if (head !== undefined) checkInt(fn, "options.head", head);
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of m.values) for (const v of row) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  if (lo < -1e-6 || hi > 1 + 1e-6) {
    throw new RangeError(`${fn}: pattern values must be probabilities in [0, 1], received values from ${lo} to ${hi} (for scores or other signed data use heatmapFigure)`);
  }
  // Query tokens are the last q tokens when q < k (a pattern computed for the last positions only).
  const keyLabels = tokens ? tokens.map(tokenLabel) : range(k).map(String);
  const offset = q <= k ? k - q : 0;
  const keyPos = range(k);
  const queryPos = range(q).map((i) => i + offset);
  const queryLabels = tokens ? tokens.slice(offset).map(tokenLabel) : queryPos.map(String);
  const text = m.values.map((row, i) =>
    row.map((v, j) => `query ${queryPos[i]} ${queryLabels[i]} → key ${j} ${keyLabels[j]}<br>p = ${m.exact(v)}`),
  );
  const name = [layer !== undefined ? `layer ${layer}` : "", head !== undefined ? `head ${head}` : ""].filter(Boolean).join(", ");
  return fitFigure({
    data: [
      {
        type: "heatmap",
        x: keyPos,
        y: queryPos,
        z: m.json,
        text,
        hoverinfo: "text",
        hoverongaps: true,
        colorscale: PROBABILITY_COLORSCALE,
        zmin: 0,
        zmax: 1,
        colorbar: { title: { text: "attention probability" } },
        ...(name ? { name } : {}),
      },
    ],
    layout: {
      title: { text: title ?? `Attention pattern${name ? ` (${name})` : ""}` },
      font: FONT,
      xaxis: {
        title: { text: "key position (token)" },
        ...categoricalTicks(keyPos, keyLabels),
        side: "bottom",
        constrain: "domain",
      },
      yaxis: {
        title: { text: "query position (token)" },
        ...categoricalTicks(queryPos, queryLabels),
        autorange: "reversed",
        scaleanchor: "x",
        constrain: "domain",
      },
      margin: { l: 90, r: 30, t: 60, b: 90 },
      plot_bgcolor: GAP_COLOR,
    },
  });
}

// ----------------------------------------------------------------------------------------------------------------
// lineByLayerFigure

export interface LayerSeries {
  name: string;
  values: number[];
  /** Lower end of a confidence band, same length as values. */
  lower?: number[];
  /** Upper end of a confidence band, same length as values. */
  upper?: number[];
  /** How many units (seeds) each value and interval comes from; shown in the legend as "name (n = 10)". */
  n?: number;
}

export interface LineByLayerOptions {
  /** Default "" (no title). */
  title?: string;
  /** Name and unit of the measured quantity, e.g. "probe accuracy (fraction)". */
  /** Default "" (no axis title). */
  yTitle?: string;
  /** Default "layer". */
  xTitle?: string;
  /** x position of each value; default 0, 1, 2, … */
  x?: number[];
  /** Fixed y range, e.g. [0, 1] for probabilities. */
  yRange?: [number, number];
}

/** One line per series over layers, each with an optional filled band between `lower` and `upper`. */
export function lineByLayerFigure(series: LayerSeries[], options: LineByLayerOptions = {}): Figure {
  const fn = "lineByLayerFigure";
  if (!Array.isArray(series) || series.length === 0) {
    throw new TypeError(`${fn}: series must be a non-empty array of { name, values, lower?, upper? }, received ${describe(series)}`);
  }
  checkOptions(fn, options, ["title", "yTitle"]);
  const { title = "", yTitle = "", xTitle = "layer", x, yRange } = options;
  const n = series[0]?.values?.length ?? 0;
  if (x !== undefined) {
    checkNumbers(fn, "options.x", x, false);
    if (x.length !== n) throw new RangeError(`${fn}: options.x must have one position per value (${n}), received ${x.length}`);
  }
  const xs = x ?? range(n);
  const data: Trace[] = [];
  series.forEach((s, i) => {
    const where = `series[${i}]`;
    if (s === null || typeof s !== "object" || typeof s.name !== "string") {
      throw new TypeError(`${fn}: ${where} must be { name: string, values: number[], lower?, upper? }, received ${describe(s)}`);
    }
    checkNumbers(fn, `${where}.values`, s.values, true);
    if (s.values.length !== n) {
      throw new RangeError(`${fn}: every series must have the same number of values; ${where} (${JSON.stringify(s.name)}) has ${s.values.length}, series[0] has ${n}`);
    }
    if ((s.lower === undefined) !== (s.upper === undefined)) {
      throw new TypeError(`${fn}: ${where} must give both lower and upper or neither, received only ${s.lower !== undefined ? "lower" : "upper"}`);
    }
    for (const key of ["lower", "upper"] as const) {
      const arr = s[key];
      if (arr === undefined) continue;
      checkNumbers(fn, `${where}.${key}`, arr, true);
      if (arr.length !== n) throw new RangeError(`${fn}: ${where}.${key} must have ${n} values like its values, received ${arr.length}`);
    }
    const color = PALETTE[i % PALETTE.length];
    const group = `series-${i}`;
    if (s.lower && s.upper) {
      const band = { type: "scatter", mode: "lines", x: xs, line: { width: 0, color }, hoverinfo: "skip", showlegend: false, legendgroup: group };
      data.push({ ...band, y: jsonNumbers(s.upper), name: `${s.name} upper` });
      data.push({ ...band, y: jsonNumbers(s.lower), name: `${s.name} lower`, fill: "tonexty", fillcolor: withAlpha(color, 0.2) });
    }
    const text = s.values.map((v, j) => `${s.name}<br>${xTitle} ${xs[j]}: ${exactNumber(v)}${s.lower && s.upper ? `<br>band [${exactNumber(s.lower[j])}, ${exactNumber(s.upper[j])}]` : ""}`);
    data.push({
      type: "scatter",
      mode: n <= 64 ? "lines+markers" : "lines",
      name: withN(fn, s.name, s.n),
      x: xs,
      y: jsonNumbers(s.values),
      line: { color, width: 2 },
      marker: { color, size: 6 },
      text,
      hoverinfo: "text",
      legendgroup: group,
    });
  });
  return fitFigure({
    data,
    layout: {
      title: { text: title },
      font: FONT,
      xaxis: { title: { text: xTitle }, ...(x === undefined && n <= 24 ? { dtick: 1 } : {}), zeroline: false },
      yaxis: { title: { text: yTitle }, ...(yRange ? { range: yRange } : {}) },
      hovermode: "closest",
      legend: { orientation: "h", y: -0.2 },
      margin: { l: 80, r: 30, t: 60, b: 90 },
    },
  });
}

// ----------------------------------------------------------------------------------------------------------------
// heatmapFigure

export interface HeatmapOptions {
  /** Column labels (strings drawn as ticks; numbers used as coordinates); length = columns. */
  x?: (string | number)[];
  /** Row labels; length = rows. */
  y?: (string | number)[];
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Default "value". */
  colorbarTitle?: string;
  /** Diverging scale centred at 0; default: when the finite data has both signs. */
  diverging?: boolean;
  zmin?: number;
  zmax?: number;
  /** Row 0 at the top, like a matrix; default true. */
  reverseY?: boolean;
}

/** A heatmap of a matrix `z[row][col]`; NaN/±Infinity cells are gaps named in the hover text. */
export function heatmapFigure(z: number[][] | tf.Tensor, options: HeatmapOptions = {}): Figure {
  const fn = "heatmapFigure";
  const { x, y, title = "", xTitle = "", yTitle = "", colorbarTitle = "value", diverging, zmin, zmax, reverseY = true } = options;
  const m = readMatrix(fn, "z", z, "a [rows, cols] matrix of numbers");
  if (x !== undefined) checkLabels(fn, "options.x", x, m.cols, "columns");
  if (y !== undefined) checkLabels(fn, "options.y", y, m.rows, "rows");
  if (zmin !== undefined && !Number.isFinite(zmin)) throw new RangeError(`${fn}: options.zmin must be a finite number, received ${describe(zmin)}`);
  if (zmax !== undefined && !Number.isFinite(zmax)) throw new RangeError(`${fn}: options.zmax must be a finite number, received ${describe(zmax)}`);
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of m.values) for (const v of row) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const div = diverging ?? (lo < 0 && hi > 0);
  const xAxis = axisFor(x, m.cols);
  const yAxis = axisFor(y, m.rows);
  const text = m.values.map((row, i) => row.map((v, j) => `${yTitle || "row"} ${yAxis.labels[i]}, ${xTitle || "column"} ${xAxis.labels[j]}<br>${colorbarTitle} = ${m.exact(v)}`));
  return fitFigure({
    data: [
      {
        type: "heatmap",
        x: xAxis.coords,
        y: yAxis.coords,
        z: m.json,
        text,
        hoverinfo: "text",
        hoverongaps: true,
        colorscale: div ? DIVERGING_COLORSCALE : SEQUENTIAL_COLORSCALE,
        ...(div && zmin === undefined && zmax === undefined ? { zmid: 0 } : {}),
        ...(zmin !== undefined ? { zmin } : {}),
        ...(zmax !== undefined ? { zmax } : {}),
        colorbar: { title: { text: colorbarTitle } },
      },
    ],
    layout: {
      title: { text: title },
      font: FONT,
      xaxis: { title: { text: xTitle }, ...xAxis.ticks },
      yaxis: { title: { text: yTitle }, ...yAxis.ticks, ...(reverseY ? { autorange: "reversed" } : {}) },
      margin: { l: 90, r: 30, t: 60, b: 90 },
      plot_bgcolor: GAP_COLOR,
    },
  });
}

// ----------------------------------------------------------------------------------------------------------------
// barFigure

export interface BarOptions {
  /** Default "" (no title). */
  title?: string;
  /** Default "" (no axis title). */
  yTitle?: string;
  xTitle?: string;
  /** Symmetric error bars (e.g. a standard error or a 95% CI half-width), one per bar. */
  errors?: number[];
}

/** Bars with optional symmetric error bars; labels may repeat. */
export function barFigure(labels: string[], values: number[], options: BarOptions = {}): Figure {
  const fn = "barFigure";
  checkStrings(fn, "labels", labels);
  checkNumbers(fn, "values", values, true);
  if (values.length !== labels.length) throw new RangeError(`${fn}: values must have one value per label (${labels.length}), received ${values.length}`);
  checkOptions(fn, options, ["title", "yTitle"]);
  const { title = "", yTitle = "", xTitle = "", errors } = options;
  if (errors !== undefined) {
    checkNumbers(fn, "options.errors", errors, true);
    if (errors.length !== values.length) throw new RangeError(`${fn}: options.errors must have one value per bar (${values.length}), received ${errors.length}`);
  }
  const pos = range(labels.length);
  const shown = labels.map(tokenLabel);
  const text = values.map((v, i) => `${shown[i]}: ${exactNumber(v)}${errors ? ` ± ${exactNumber(errors[i])}` : ""}`);
  return fitFigure({
    data: [
      {
        type: "bar",
        x: pos,
        y: jsonNumbers(values),
        marker: { color: PALETTE[0] },
        text,
        hoverinfo: "text",
        textposition: "none",
        ...(errors ? { error_y: { type: "data", array: jsonNumbers(errors), visible: true } } : {}),
      },
    ],
    layout: {
      title: { text: title },
      font: FONT,
      xaxis: { title: { text: xTitle }, ...categoricalTicks(pos, shown) },
      yaxis: { title: { text: yTitle }, zeroline: true },
      margin: { l: 80, r: 30, t: 60, b: 100 },
    },
  });
}

// ----------------------------------------------------------------------------------------------------------------
// groupedBarFigure

export interface BarGroup {
  /** Legend name of the group (e.g. an experiment arm). */
  name: string;
  /** One value per category. */
  values: number[];
  /** Lower and upper ends of each bar's confidence interval (asymmetric error bars). */
  lower?: number[];
  upper?: number[];
  /** How many units (seeds) each value and interval comes from; shown in the legend as "name (n = 10)". */
  n?: number;
}

export interface GroupedBarOptions {
  /** Default "" (no title). */
  title?: string;
  /** Default "" (no axis title). */
  yTitle?: string;
  xTitle?: string;
  /** Fixed y range, e.g. [0, 1] for rates. */
  yRange?: [number, number];
}

/** Side-by-side bars: one group per series (arm), one cluster per category, with optional CI error bars. */
export function groupedBarFigure(categories: string[], groups: BarGroup[], options: GroupedBarOptions = {}): Figure {
  const fn = "groupedBarFigure";
  checkStrings(fn, "categories", categories);
  if (!Array.isArray(groups) || groups.length === 0) throw new RangeError(`${fn}: groups must be a non-empty array of { name, values }, received ${Array.isArray(groups) ? "[]" : typeof groups}`);
  checkOptions(fn, options, ["title", "yTitle"]);
  const { title = "", yTitle = "", xTitle = "", yRange } = options;
  const data = groups.map((g, j) => {
    checkNumbers(fn, `groups[${j}].values`, g.values, true);
    if (g.values.length !== categories.length) throw new RangeError(`${fn}: groups[${j}].values must have one value per category (${categories.length}), received ${g.values.length}`);
    for (const side of ["lower", "upper"] as const) {
      const b = g[side];
      if (b === undefined) continue;
      checkNumbers(fn, `groups[${j}].${side}`, b, true);
      if (b.length !== categories.length) throw new RangeError(`${fn}: groups[${j}].${side} must have one value per category (${categories.length}), received ${b.length}`);
    }
    const hasCI = g.lower !== undefined && g.upper !== undefined;
    const text = g.values.map((v, i) => `${g.name} · ${categories[i]}: ${exactNumber(v)}${hasCI ? ` [${exactNumber(g.lower![i])}, ${exactNumber(g.upper![i])}]` : ""}`);
    return {
      type: "bar",
      name: withN(fn, g.name, g.n),
      x: categories,
      y: jsonNumbers(g.values),
      marker: { color: PALETTE[j % PALETTE.length] },
      text,
      hoverinfo: "text",
      textposition: "none",
      ...(hasCI
        ? {
            error_y: {
              type: "data",
              symmetric: false,
              array: jsonNumbers(g.values.map((v, i) => g.upper![i] - v)),
              arrayminus: jsonNumbers(g.values.map((v, i) => v - g.lower![i])),
              visible: true,
            },
          }
        : {}),
    };
  });
  return fitFigure({
    data,
    layout: {
      title: { text: title },
      font: FONT,
      barmode: "group",
      xaxis: { title: { text: xTitle }, type: "category", tickmode: "array", tickvals: categories, ticktext: categories.map(escapeHtmlText) },
      yaxis: { title: { text: yTitle }, zeroline: true, ...(yRange ? { range: yRange } : {}) },
      legend: { orientation: "h", y: -0.2 },
      margin: { l: 80, r: 30, t: 60, b: 100 },
    },
  });
}

// ----------------------------------------------------------------------------------------------------------------
// scatterFigure

export interface ScatterPoint {
  x: number;
  y: number;
  /** Shown in the hover text (and as text next to the point with `showLabels`). */
  label?: string;
  /** One trace (colour, legend entry) per group, in first-seen order. */
  group?: string;
}

export interface ScatterOptions {
  /** Default "" (no title). */
  title?: string;
  /** Default "" (no axis title). */
  xTitle?: string;
  /** Default "" (no axis title). */
  yTitle?: string;
  /** Write each point's label next to it; default false. */
  showLabels?: boolean;
  /**
   * Where labels go (with `showLabels`): "auto" (default) picks, point by point, the side of the marker where the label
   * overlaps other labels and markers least and stays inside the plot (`placeLabels`); or one Plotly textposition.
   */
  labelPosition?: "auto" | LabelPosition;
  /** Draw the y = x diagonal (for comparing two measurements); default false. */
  diagonal?: boolean;
}

/** Points, one trace per group, hover showing label and exact coordinates. */
export function scatterFigure(points: ScatterPoint[], options: ScatterOptions = {}): Figure {
  const fn = "scatterFigure";
  if (!Array.isArray(points)) throw new TypeError(`${fn}: points must be an array of { x, y, label?, group? }, received ${describe(points)}`);
  checkOptions(fn, options, ["title", "xTitle", "yTitle"]);
  const { title = "", xTitle = "", yTitle = "", showLabels = false, diagonal = false, labelPosition = "auto" } = options;
  if (labelPosition !== "auto" && !(LABEL_POSITIONS as readonly string[]).includes(labelPosition)) {
    throw new RangeError(`${fn}: options.labelPosition must be "auto" or one of ${LABEL_POSITIONS.map((p) => JSON.stringify(p)).join(", ")}, received ${describe(labelPosition)}`);
  }
  const groups = new Map<string, ScatterPoint[]>();
  points.forEach((p, i) => {
    if (p === null || typeof p !== "object" || typeof p.x !== "number" || typeof p.y !== "number" || !Number.isFinite(p.x) || !Number.isFinite(p.y)) {
      throw new TypeError(`${fn}: points[${i}] must be { x: finite number, y: finite number, label?, group? }, received ${describe(p)}${p && typeof p === "object" ? ` (x ${describe(p.x)}, y ${describe(p.y)})` : ""}`);
    }
    if (p.label !== undefined && typeof p.label !== "string") throw new TypeError(`${fn}: points[${i}].label must be a string, received ${describe(p.label)}`);
    if (p.group !== undefined && typeof p.group !== "string") throw new TypeError(`${fn}: points[${i}].group must be a string, received ${describe(p.group)}`);
    const key = p.group ?? "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(p);
  });
  const data: Trace[] = [...groups].map(([group, ps], i) => ({
    type: "scatter",
    mode: showLabels ? "markers+text" : "markers",
    name: group || "points",
    x: ps.map((p) => p.x),
    y: ps.map((p) => p.y),
    marker: { color: PALETTE[i % PALETTE.length], size: 8, opacity: 0.85 },
    text: ps.map((p) => `${p.label !== undefined ? `${escapeHtmlText(p.label)}<br>` : ""}${group ? `${escapeHtmlText(group)}<br>` : ""}${xTitle}: ${exactNumber(p.x)}<br>${yTitle}: ${exactNumber(p.y)}`),
    hoverinfo: "text",
    ...(showLabels ? { texttemplate: ps.map((p) => escapeHtmlText(p.label ?? "")), textposition: labelPosition === "auto" ? "top center" : labelPosition, textfont: { size: 12 } } : {}),
  }));
  if (diagonal && points.length) {
    const all = points.flatMap((p) => [p.x, p.y]);
    const [lo, hi] = [Math.min(...all), Math.max(...all)];
    data.push({ type: "scatter", mode: "lines", name: "y = x", x: [lo, hi], y: [lo, hi], line: { color: "#7f7f7f", dash: "dash", width: 1 }, hoverinfo: "skip" });
  }
  const showlegend = groups.size > 1 || diagonal;
  const fig = fitFigure({
    data,
    layout: {
      title: { text: title },
      font: FONT,
      xaxis: { title: { text: xTitle }, ...(showLabels ? { range: paddedRange(points.map((p) => p.x)) } : {}) },
      yaxis: { title: { text: yTitle }, ...(showLabels ? { range: paddedRange(points.map((p) => p.y)) } : {}) },
      hovermode: "closest",
      showlegend,
      legend: { orientation: "h" },
      margin: { l: 80, r: 30, t: 60, b: 70 },
    },
  });
  if (showLabels && labelPosition === "auto") autoLabelPositions(fig, [...groups.values()], showlegend);
  return fig;
}

/** The data range with 8% room on each side (labels and markers at the edges stay inside). */
function paddedRange(vs: number[]): [number, number] {
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  const pad = hi > lo ? (hi - lo) * 0.08 : Math.abs(lo) * 0.1 || 1;
  return [lo - pad, hi + pad];
}

/** Set each labelled trace's textposition from `placeLabels` over all points, in the plot area the layout leaves. */
function autoLabelPositions(fig: Figure, groups: ScatterPoint[][], legend: boolean): void {
  const layout = fig.layout as { width?: number; height?: number; margin: { l: number; r: number; t: number; b: number }; xaxis: { range: [number, number] }; yaxis: { range: [number, number] } };
  const { l, r, t, b } = layout.margin;
  const area = { width: (layout.width ?? 720) - l - r, height: (layout.height ?? 480) - t - b - (legend ? 30 : 0), xRange: layout.xaxis.range, yRange: layout.yaxis.range };
  const all = groups.flat();
  const positions = placeLabels(all, all.map((p) => p.label ?? ""), area);
  let k = 0;
  groups.forEach((ps, i) => {
    fig.data[i].textposition = ps.map(() => positions[k++]);
  });
}

// ----------------------------------------------------------------------------------------------------------------
// tokenHeatmapFigure

export interface TokenHeatmapOptions {
  /** Default "" (no title). */
  title?: string;
  /** Default "score". */
  colorbarTitle?: string;
  /** Wrap the sequence into rows of this many tokens; default 10 (about 60 px a token at 720 px). */
  tokensPerRow?: number;
  /** Colour range ±zmax; default the largest |score|. */
  zmax?: number;
  /**
   * What each token is, to tell action tokens from reflection tokens along a transcript: per token "action",
   * "reflection" or null. Action tokens are drawn with a leading ▸, reflection tokens with a leading ◇, and a legend line
   * is added under the title.
   */
  tokenKinds?: readonly ("action" | "reflection" | null)[];
}

const TOKEN_KIND_MARK = { action: "▸", reflection: "◇" } as const;

/**
 * Tokens as text on cells coloured by a signed score per token (diverging, centred at 0), read left to right and
 * wrapped into rows of `tokensPerRow`. Spaces show as "␣", newlines as "↵".
 */
export function tokenHeatmapFigure(tokens: string[], scores: number[] | tf.Tensor, options: TokenHeatmapOptions = {}): Figure {
  const fn = "tokenHeatmapFigure";
  checkStrings(fn, "tokens", tokens);
  const s = readVector(fn, "scores", scores);
  if (s.values.length !== tokens.length) throw new RangeError(`${fn}: scores must have one score per token (${tokens.length}), received ${s.values.length}`);
  checkOptions(fn, options, ["title"]);
  const { title = "", colorbarTitle = "score", tokensPerRow = 10, zmax, tokenKinds } = options;
  if (tokenKinds !== undefined) {
    if (!Array.isArray(tokenKinds) || tokenKinds.length !== tokens.length) {
      throw new RangeError(`${fn}: options.tokenKinds must have one entry per token (${tokens.length}), received ${describe(tokenKinds)}`);
    }
    tokenKinds.forEach((k, i) => {
      if (k !== null && k !== "action" && k !== "reflection") throw new TypeError(`${fn}: options.tokenKinds[${i}] must be "action", "reflection" or null, received ${describe(k)}`);
    });
  }
  const mark = (i: number): string => {
    const k = tokenKinds?.[i] as "action" | "reflection" | null | undefined;
    return k ? TOKEN_KIND_MARK[k] : "";
  };
  if (!Number.isInteger(tokensPerRow) || tokensPerRow <= 0) throw new RangeError(`${fn}: options.tokensPerRow must be a positive integer, received ${describe(tokensPerRow)}`);
  if (zmax !== undefined && !(Number.isFinite(zmax) && zmax > 0)) throw new RangeError(`${fn}: options.zmax must be a positive finite number, received ${describe(zmax)}`);
  const n = tokens.length;
  const cols = Math.max(1, Math.min(tokensPerRow, n));
  const rows = Math.max(1, Math.ceil(n / cols));
  let maxAbs = 0;
  for (const v of s.values) if (Number.isFinite(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
  const range_ = zmax ?? (maxAbs > 0 ? maxAbs : 1);
  const cellFont = fitCells(tokens.map((t, i) => mark(i) + tokenLabel(t)), (DEFAULT_WIDTH - TOKEN_HEATMAP_CHROME) / cols - 2);
  const z: (number | null)[][] = [];
  const text: string[][] = [];
  const hover: string[][] = [];
  for (let r = 0; r < rows; r++) {
    z.push([]);
    text.push([]);
    hover.push([]);
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const inside = i < n;
      z[r].push(inside ? s.json[i] : null);
      text[r].push(inside ? cellFont.texts[i] : "");
      hover[r].push(inside ? `token ${i}${tokenKinds?.[i] ? ` (${tokenKinds[i]})` : ""}: ${tokenLabel(tokens[i])}<br>${colorbarTitle} = ${s.exact(s.values[i])}` : "");
    }
  }
  return fitFigure({
    data: [
      {
        type: "heatmap",
        z,
        text,
        texttemplate: "%{text}",
        textfont: { size: cellFont.size },
        customdata: hover,
        hovertemplate: "%{customdata}<extra></extra>",
        hoverongaps: false,
        colorscale: DIVERGING_COLORSCALE,
        zmid: 0,
        zmin: -range_,
        zmax: range_,
        xgap: 2,
        ygap: 2,
        colorbar: { title: { text: colorbarTitle }, thickness: 12 },
      },
    ],
    layout: {
      title: { text: tokenKinds?.some((k) => k) ? `${title}<br><sub>▸ action token · ◇ reflection token</sub>` : title },
      font: FONT,
      xaxis: { visible: false },
      yaxis: { visible: false, autorange: "reversed" },
      height: Math.max(240, 110 + 44 * rows),
      margin: { l: 20, r: 20, t: 60, b: 20 },
      plot_bgcolor: "#ffffff",
    },
  });
}

/** Horizontal pixels of a token heatmap that are not cells: margins and the colour bar with its title. */
const TOKEN_HEATMAP_CHROME = 140;

/**
 * The cell font (11 px, down to 8 px) at which the widest text fits a cell `cellWidth` pixels wide; texts still too
 * wide at 8 px are cut with "…" (the hover text keeps the whole token).
 */
function fitCells(texts: string[], cellWidth: number): { size: number; texts: string[] } {
  const room = cellWidth * 0.9;
  const widest = Math.max(1, ...texts.map((t) => textWidth(t, 11)));
  const size = Math.max(8, Math.min(11, Math.floor((11 * room) / widest)));
  const cut = (t: string): string => {
    if (textWidth(t, size) <= room) return t;
    const chars = t.match(/&(?:#\d+|[a-z]+);|[\s\S]/giu) ?? []; // an HTML entity is one character
    let k = chars.length;
    while (k > 1 && textWidth(chars.slice(0, k).join("") + "…", size) > room) k--;
    return chars.slice(0, k).join("") + "…";
  };
  return { size, texts: texts.map(cut) };
}

// ----------------------------------------------------------------------------------------------------------------
// Helpers (exported for show/table and tests)

/** Title text of a figure ("" when none); the line breaks of a wrapped title (`<br>`) read as spaces. */
export function figureTitle(fig: Figure): string {
  const t = fig?.layout?.title;
  const text = typeof t === "string" ? t : t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string" ? (t as { text: string }).text : "";
  return text.replace(/<br>/g, " ");
}

/**
 * A token as an axis or cell label: HTML-escaped (Plotly renders a subset of HTML in text), spaces as "␣",
 * newlines as "↵", tabs as "⇥", other control characters as \u escapes.
 */
export function tokenLabel(token: string): string {
  let out = "";
  for (const ch of token) {
    if (ch === " ") out += "␣";
    else if (ch === "\n") out += "↵";
    else if (ch === "\t") out += "⇥";
    else if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return escapeHtmlText(out);
}

/** A number written exactly (shortest round-trip form); NaN and ±Infinity by name. */
export function exactNumber(v: number): string {
  return Number.isNaN(v) ? "NaN" : String(v);
}

/** Shortest decimal that reads back to the same float32 (for values that came from float32 storage). */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const f = Math.fround(v);
  if (f !== v) return v; // not a float32 value: leave it exact
  for (let p = 1; p <= 9; p++) {
    const c = Number(v.toPrecision(p));
    if (Math.fround(c) === f) return c;
  }
  return v;
}

/** A legend name with the number of units behind it: "deep (n = 10)". */
function withN(fn: string, name: string, n: number | undefined): string {
  if (n === undefined) return name;
  if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`${fn}: n must be a positive integer (the number of seeds behind each value), received ${describe(n)} for ${JSON.stringify(name)}`);
  return `${name} (n = ${n})`;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function categoricalTicks(pos: number[], labels: string[]): Record<string, unknown> {
  return { tickmode: "array", tickvals: pos, ticktext: labels, showgrid: false, zeroline: false };
}

/** Coordinates, display labels and tick settings for optional heatmap labels. */
function axisFor(labels: (string | number)[] | undefined, n: number): { coords: number[]; labels: string[]; ticks: Record<string, unknown> } {
  if (labels !== undefined && labels.every((l) => typeof l === "number")) {
    return { coords: labels as number[], labels: labels.map(String), ticks: { showgrid: false, zeroline: false } };
  }
  const pos = range(n);
  const shown = labels ? labels.map((l) => (typeof l === "string" ? tokenLabel(l) : String(l))) : pos.map(String);
  return { coords: pos, labels: shown, ticks: labels ? categoricalTicks(pos, shown) : { showgrid: false, zeroline: false } };
}

function jsonNumbers(values: number[]): (number | null)[] {
  return values.map((v) => (Number.isFinite(v) ? v : null));
}

/** Options must be an object; each of `strings` that is given must be a string (all have defaults). */
function checkOptions(fn: string, options: unknown, strings: string[]): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options must be an object (optional { ${strings.join(", ")} }), received ${describe(options)}`);
  }
  for (const key of strings) {
    const v = (options as Record<string, unknown>)[key];
    if (v !== undefined && typeof v !== "string") throw new TypeError(`${fn}: options.${key} must be a string, received ${describe(v)}`);
  }
}

function checkInt(fn: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v)) throw new TypeError(`${fn}: ${name} must be an integer, received ${describe(v)}`);
}

function checkStrings(fn: string, name: string, arr: unknown): asserts arr is string[] {
  if (!Array.isArray(arr)) throw new TypeError(`${fn}: ${name} must be an array of strings, received ${describe(arr)}`);
  const bad = arr.findIndex((t) => typeof t !== "string");
  if (bad >= 0) throw new TypeError(`${fn}: ${name} must be an array of strings, received ${describe(arr[bad])} at index ${bad}`);
}

/** Numbers (NaN and ±Infinity allowed when `nonFinite`). */
function checkNumbers(fn: string, name: string, arr: unknown, nonFinite: boolean): asserts arr is number[] {
  if (!Array.isArray(arr)) throw new TypeError(`${fn}: ${name} must be an array of numbers, received ${describe(arr)}`);
  const bad = arr.findIndex((v) => typeof v !== "number" || (!nonFinite && !Number.isFinite(v)));
  if (bad >= 0) throw new TypeError(`${fn}: ${name} must be an array of ${nonFinite ? "" : "finite "}numbers, received ${describe(arr[bad])} at index ${bad}`);
}

function checkLabels(fn: string, name: string, labels: unknown, n: number, what: string): void {
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== "string" && (typeof l !== "number" || !Number.isFinite(l)))) {
    throw new TypeError(`${fn}: ${name} must be an array of strings or finite numbers, received ${describe(labels)}`);
  }
  if (labels.length !== n) throw new RangeError(`${fn}: ${name} must have one label per ${what.replace(/s$/, "")} (${n} ${what}), received ${labels.length}`);
}

interface TensorLike {
  shape: number[];
  arraySync(): unknown;
  dtype?: string;
}

function isTensorLike(v: unknown): v is TensorLike {
  return v !== null && typeof v === "object" && Array.isArray((v as TensorLike).shape) && typeof (v as TensorLike).arraySync === "function";
}

/** The shape of a nested array along its first elements ([] for a non-array). */
function nestedShape(v: unknown): number[] {
  const shape: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

interface Matrix {
  rows: number;
  cols: number;
  values: number[][];
  /** Values for JSON: finite numbers (float32-shortened for tensors), null for NaN/±Infinity. */
  json: (number | null)[][];
  exact(v: number): string;
}

/** Read a rectangular matrix of numbers (NaN, ±Infinity and null → NaN allowed) from nested arrays or a rank-2 tensor. */
function readMatrix(fn: string, name: string, input: unknown, expected: string): Matrix {
  const fromTensor = isTensorLike(input);
  const shape = fromTensor ? (input as TensorLike).shape : nestedShape(input);
  const hint = shape.length === 4 || shape.length === 3 ? ` (from a cache pattern [batch, n_heads, q, k], pass one head: pattern[b][h])` : "";
  if (shape.length !== 2 || shape[0] === 0 || shape[1] === 0) {
    throw new RangeError(`${fn}: ${name} must be ${expected}, received ${fromTensor || Array.isArray(input) ? `shape [${shape.join(", ")}]` : describe(input)}${name === "pattern" ? hint : ""}`);
  }
  const raw = (fromTensor ? (input as TensorLike).arraySync() : input) as unknown[][];
  const [rows, cols] = shape;
  const values: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const row = raw[i];
    if (!Array.isArray(row) || row.length !== cols) {
      throw new RangeError(`${fn}: ${name} must be ${expected}, received a ragged array (row ${i} has ${Array.isArray(row) ? `length ${row.length}` : describe(row)}, row 0 has length ${cols})`);
    }
    values.push(
      row.map((v, j) => {
        if (v === null) return NaN;
        if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be ${expected}, received ${describe(v)} at [${i}, ${j}]`);
        return v;
      }),
    );
  }
  const f32 = fromTensor && ((input as TensorLike).dtype ?? "float32") === "float32";
  const norm = (v: number) => (f32 ? shortestFloat32(v) : v);
  return {
    rows,
    cols,
    values,
    json: values.map((row) => row.map((v) => (Number.isFinite(v) ? norm(v) : null))),
    exact: (v) => exactNumber(norm(v)),
  };
}

function readVector(fn: string, name: string, input: unknown): { values: number[]; json: (number | null)[]; exact(v: number): string } {
  const fromTensor = isTensorLike(input);
  const shape = fromTensor ? (input as TensorLike).shape : nestedShape(input);
  if (shape.length !== 1) {
    throw new RangeError(`${fn}: ${name} must be a 1-D array of numbers, received ${fromTensor || Array.isArray(input) ? `shape [${shape.join(", ")}]` : describe(input)}`);
  }
  const raw = (fromTensor ? (input as TensorLike).arraySync() : input) as unknown[];
  const values = raw.map((v, i) => {
    if (v === null) return NaN;
    if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a 1-D array of numbers, received ${describe(v)} at index ${i}`);
    return v;
  });
  const f32 = fromTensor && ((input as TensorLike).dtype ?? "float32") === "float32";
  const norm = (v: number) => (f32 ? shortestFloat32(v) : v);
  return { values, json: values.map((v) => (Number.isFinite(v) ? norm(v) : null)), exact: (v) => exactNumber(norm(v)) };
}

// ----------------------------------------------------------------------------------------------------------------
// Persona vectors: steeringCurveFigure, projectionOverStepsFigure, pcaScatterFigure

/** One point of a steering curve (what `steeringCurve` returns). */
export interface SteeringCurvePoint {
  coefficient: number;
  rate: number;
  lower: number;
  upper: number;
  k?: number;
  n?: number;
  /**
   * The share of answers the classifier could not label at this α, with its interval (e.g. `wilson(k, n)`): drawn as a
   * second, dashed line, so that a rate measured on mostly broken answers shows as such.
   */
  unclassified?: { rate: number; lower: number; upper: number };
}

export interface SteeringCurveFigureOptions {
  /** Default "" (no title). */
  title?: string;
  /** The quantity on y, e.g. "share of answers (fraction)"; default "rate of the behaviour (fraction)". */
  yTitle?: string;
  /** Default "steering coefficient α". */
  xTitle?: string;
  /** Default [0, 1] (rates). */
  yRange?: [number, number];
  /** Legend name of the behaviour's line; default "rate". */
  name?: string;
}

/**
 * The rate of a behaviour against the steering coefficient, with its interval (Wilson over answers, or over seeds) as a
 * band; with `unclassified` shares, a second dashed line with its band shows how many answers the rate could not
 * count. The legend gives n (answers per α) when every point has the same `n`.
 */
export function steeringCurveFigure(curve: SteeringCurvePoint[], options: SteeringCurveFigureOptions = {}): Figure {
  const fn = "steeringCurveFigure";
  if (!Array.isArray(curve) || curve.length === 0) {
    throw new TypeError(`${fn}: curve must be a non-empty array of { coefficient, rate, lower, upper } (from steeringCurve), received ${describe(curve)}`);
  }
  checkOptions(fn, options, ["title", "yTitle", "name"]);
  const { title = "", yTitle = "rate of the behaviour (fraction)", xTitle = "steering coefficient α", yRange = [0, 1], name = "rate" } = options;
  curve.forEach((p, i) => checkSteeringPoint(fn, p, i));
  const pts = [...curve].sort((a, b) => a.coefficient - b.coefficient);
  const xs = pts.map((p) => p.coefficient);
  const ns = new Set(pts.map((p) => p.n));
  const n = ns.size === 1 ? pts[0].n : undefined;
  const text = pts.map(
    (p) => `α = ${exactNumber(p.coefficient)}<br>${escapeHtmlText(name)} ${exactNumber(p.rate)}${p.k !== undefined && p.n !== undefined ? ` (${p.k} of ${p.n})` : ""}<br>95% CI [${exactNumber(p.lower)}, ${exactNumber(p.upper)}]${p.unclassified ? `<br>unclassified ${exactNumber(p.unclassified.rate)}` : ""}`,
  );
  const data = [...bandedLine(xs, pts, withN(fn, name, n), PALETTE[0], text, "solid")];
  const withUnclassified = pts.filter((p) => p.unclassified !== undefined);
  if (withUnclassified.length > 0) {
    if (withUnclassified.length !== pts.length) throw new TypeError(`${fn}: give unclassified at every point or at none, received it at ${withUnclassified.length} of ${pts.length}`);
    const us = pts.map((p) => p.unclassified!);
    const utext = pts.map((p) => `α = ${exactNumber(p.coefficient)}<br>unclassified ${exactNumber(p.unclassified!.rate)}<br>95% CI [${exactNumber(p.unclassified!.lower)}, ${exactNumber(p.unclassified!.upper)}]`);
    data.push(...bandedLine(xs, us, "unclassified answers (share)", "#7f7f7f", utext, "dash"));
  }
  return fitFigure({
    data,
    layout: {
      title: { text: title },
      font: FONT,
      xaxis: { title: { text: xTitle }, zeroline: true, ...(xs.length <= 12 ? { tickmode: "array", tickvals: xs } : {}) },
      yaxis: { title: { text: yTitle }, range: yRange },
      hovermode: "closest",
      showlegend: true,
      legend: { orientation: "h" },
      margin: { l: 80, r: 30, t: 60, b: 70 },
    },
  });
}

function checkSteeringPoint(fn: string, p: SteeringCurvePoint, i: number): void {
  if (p === null || typeof p !== "object" || typeof p.coefficient !== "number" || !Number.isFinite(p.coefficient)) {
    throw new TypeError(`${fn}: curve[${i}] must be { coefficient: finite number, rate, lower, upper }, received ${describe(p)}`);
  }
  for (const key of ["rate", "lower", "upper"] as const) {
    if (typeof p[key] !== "number") throw new TypeError(`${fn}: curve[${i}].${key} must be a number, received ${describe(p[key])}`);
  }
  const u = p.unclassified;
  if (u !== undefined && (u === null || typeof u !== "object" || ["rate", "lower", "upper"].some((k) => typeof (u as Record<string, unknown>)[k] !== "number"))) {
    throw new TypeError(`${fn}: curve[${i}].unclassified must be { rate, lower, upper } (e.g. wilson(k, n)), received ${describe(u)}`);
  }
}

/** A line with markers and its filled band (upper, then lower filled to it), one legend entry. */
function bandedLine(xs: number[], pts: { rate: number; lower: number; upper: number }[], name: string, color: string, text: string[], dash: string): Trace[] {
  const group = name;
  const band = { type: "scatter", mode: "lines", x: xs, line: { width: 0, color }, hoverinfo: "skip", showlegend: false, legendgroup: group };
  return [
    { ...band, y: jsonNumbers(pts.map((p) => p.upper)), name: `${name}: 95% CI upper` },
    { ...band, y: jsonNumbers(pts.map((p) => p.lower)), name: `${name}: 95% CI lower`, fill: "tonexty", fillcolor: withAlpha(color, 0.2) },
    { type: "scatter", mode: "lines+markers", name, x: xs, y: jsonNumbers(pts.map((p) => p.rate)), line: { color, width: 2, dash }, marker: { color, size: 7 }, text, hoverinfo: "text", legendgroup: group },
  ];
}

/** One series of `projectionOverStepsFigure` (points as `projectionOverCheckpoints` returns them). */
export interface ProjectionSeries {
  name: string;
  points: { step: number | string; mean: number; lower: number; upper: number }[];
}

export interface ProjectionOverStepsOptions {
  /** Default "" (no title). */
  title?: string;
  /** Default "projection onto persona vector". */
  yTitle?: string;
  /** Default "training step" (numeric steps) or "checkpoint" (named steps). */
  xTitle?: string;
}

/**
 * Mean projection onto a persona vector across checkpoints, one line per series with its 95% band. Numeric steps
 * are drawn on a numeric axis; named steps ("base", "persona", …) at integer positions in first-seen order.
 */
export function projectionOverStepsFigure(series: ProjectionSeries[], options: ProjectionOverStepsOptions = {}): Figure {
  const fn = "projectionOverStepsFigure";
  if (!Array.isArray(series) || series.length === 0) {
    throw new TypeError(`${fn}: series must be a non-empty array of { name, points: { step, mean, lower, upper }[] }, received ${describe(series)}`);
  }
  checkOptions(fn, options, ["title"]);
  series.forEach((s, i) => {
    if (s === null || typeof s !== "object" || typeof s.name !== "string" || !Array.isArray(s.points) || s.points.length === 0) {
      throw new TypeError(`${fn}: series[${i}] must be { name: string, points: non-empty { step, mean, lower, upper }[] }, received ${describe(s)}`);
    }
    s.points.forEach((p, j) => {
      if (p === null || typeof p !== "object" || (typeof p.step !== "number" && typeof p.step !== "string")) {
        throw new TypeError(`${fn}: series[${i}].points[${j}].step must be a number or a string, received ${describe(p?.step)}`);
      }
      for (const key of ["mean", "lower", "upper"] as const) {
        if (typeof p[key] !== "number") throw new TypeError(`${fn}: series[${i}].points[${j}].${key} must be a number, received ${describe(p[key])}`);
      }
    });
  });
  const named = series.some((s) => s.points.some((p) => typeof p.step === "string"));
  const labels: string[] = [];
  if (named) for (const s of series) for (const p of s.points) if (!labels.includes(String(p.step))) labels.push(String(p.step));
  const xOf = (step: number | string) => (named ? labels.indexOf(String(step)) : (step as number));
  const { title = "", yTitle = "projection onto persona vector", xTitle = named ? "checkpoint" : "training step" } = options;
  const data: Trace[] = [];
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const group = `series-${i}`;
    const xs = s.points.map((p) => xOf(p.step));
    const band = { type: "scatter", mode: "lines", x: xs, line: { width: 0, color }, hoverinfo: "skip", showlegend: false, legendgroup: group };
    data.push({ ...band, y: jsonNumbers(s.points.map((p) => p.upper)), name: `${s.name} upper` });
    data.push({ ...band, y: jsonNumbers(s.points.map((p) => p.lower)), name: `${s.name} lower`, fill: "tonexty", fillcolor: withAlpha(color, 0.2) });
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: s.name,
      x: xs,
      y: jsonNumbers(s.points.map((p) => p.mean)),
      line: { color, width: 2 },
      marker: { color, size: 7 },
      text: s.points.map((p) => `${escapeHtmlText(s.name)}<br>${xTitle} ${escapeHtmlText(String(p.step))}: ${exactNumber(p.mean)}<br>95% CI [${exactNumber(p.lower)}, ${exactNumber(p.upper)}]`),
      hoverinfo: "text",
      legendgroup: group,
    });
  });
  return fitFigure({
    data,
    layout: {
      title: { text: title },
      font: FONT,
      xaxis: { title: { text: xTitle }, ...(named ? categoricalTicks(range(labels.length), labels) : { zeroline: false }) },
      yaxis: { title: { text: yTitle } },
      hovermode: "closest",
      legend: { orientation: "h", y: -0.2 },
      margin: { l: 80, r: 30, t: 60, b: 90 },
    },
  });
}

export interface PcaScatterOptions {
  /** Default "" (no title). */
  title?: string;
  /** Fraction of variance explained by PC1, PC2 (0..1), shown in the axis titles as "PC1 (xx% var)". */
  explained?: number[];
}

/** Points projected on the first two principal components, one colour per group (first-seen order). */
export function pcaScatterFigure(points2d: number[][], groups: string[], options: PcaScatterOptions = {}): Figure {
  const fn = "pcaScatterFigure";
  if (!Array.isArray(points2d)) throw new TypeError(`${fn}: points2d must be an array of [pc1, pc2] pairs, received ${describe(points2d)}`);
  points2d.forEach((p, i) => {
    if (!Array.isArray(p) || p.length < 2 || typeof p[0] !== "number" || typeof p[1] !== "number" || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
      throw new TypeError(`${fn}: points2d[${i}] must be [pc1, pc2] with finite numbers, received ${describe(p)}`);
    }
  });
  checkStrings(fn, "groups", groups);
  if (groups.length !== points2d.length) throw new RangeError(`${fn}: groups must have one label per point (${points2d.length} point${points2d.length === 1 ? "" : "s"}), received ${groups.length}`);
  checkOptions(fn, options, ["title"]);
  const { title = "", explained } = options;
  if (explained !== undefined) {
    checkNumbers(fn, "options.explained", explained, false);
    if (explained.length < 2) throw new RangeError(`${fn}: options.explained must give at least PC1 and PC2, received ${explained.length} values`);
    const bad = explained.findIndex((e) => e < 0 || e > 1);
    if (bad >= 0) throw new RangeError(`${fn}: options.explained must be fractions in [0, 1], received ${explained[bad]} at index ${bad}`);
  }
  const axisTitle = (k: number) => (explained ? `PC${k + 1} (${(100 * explained[k]!).toFixed(1)}% var)` : `PC${k + 1}`);
  const fig = scatterFigure(
    points2d.map((p, i) => ({ x: p[0]!, y: p[1]!, group: groups[i]! })),
    { title, xTitle: axisTitle(0), yTitle: axisTitle(1) },
  );
  fig.layout.showlegend = true;
  return fig;
}
