/**
 * Text fitting for figure specs: Plotly neither wraps titles nor avoids colliding category labels, so the figure
 * functions size their text here, before any browser draws it. Widths are estimated from per-character widths of
 * Arial/DejaVu Sans (the figures' font) with a safety factor; `test/figure-layout.test.ts` checks the result in
 * Chromium (no text clipped by the figure, no two texts overlapping).
 */

/** Width of the figure a spec is laid out for when its layout gives none (what `show()` and `savePng` use). */
export const DEFAULT_WIDTH = 720;

/** Plotly's title font is 1.4 × the layout font (13 px here). */
const TITLE_SIZE = 13 * 1.4;
/** Line height of multi-line Plotly text, in ems. */
const LINE_EM = 1.3;
/** Pixels between the figure top and the title, and between the title and the plot area. */
const GAP_ABOVE = 8;
const GAP_BELOW = 16;

/** Estimated width in pixels of one line of Plotly text (HTML entities count as one character, tags as none). */
export function textWidth(text: string, fontSize: number): number {
  const plain = text.replace(/<[^>]*>/g, "").replace(/&(?:#\d+|#x[0-9a-f]+|[a-z]+);/gi, "x");
  let em = 0;
  for (const ch of plain) {
    if ("iljtf.,:;'|!()[] ".includes(ch)) em += 0.3;
    else if ("mwMW@%".includes(ch)) em += 0.85;
    else if (/[A-Z]/.test(ch)) em += 0.68;
    else if (/[0-9]/.test(ch)) em += 0.56;
    else if (ch.charCodeAt(0) > 0x2000) em += 0.8; // arrows, Greek-like symbols, ▸ ◇ ␣
    else em += 0.54;
  }
  return em * fontSize * 1.08;
}

/** Break `text` at spaces into lines no wider than `maxWidth` (a single longer word stays whole on its line). */
export function wrapText(text: string, maxWidth: number, fontSize: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/ +/)) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, fontSize) > maxWidth) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/**
 * A title wrapped to the figure's width, with the top margin that holds its lines (`extra` lines, such as a
 * subtitle, are added below it as given). Returns the layout's `title` and `margin.t`.
 */
export function fittedTitle(text: string, { width = DEFAULT_WIDTH, height = 480, extra = "" }: { width?: number; height?: number; extra?: string } = {}): { title: Record<string, unknown>; top: number } {
  const lines = text ? wrapText(text, width - 60, TITLE_SIZE) : [];
  const extraLines = extra ? extra.split("<br>").length : 0;
  const n = lines.length + extraLines;
  const full = [...lines, ...(extra ? [extra] : [])].join("<br>");
  const top = n === 0 ? 30 : Math.ceil(GAP_ABOVE + GAP_BELOW + n * TITLE_SIZE * LINE_EM);
  // Plotly anchors a multi-line title by its first line and lets the others flow down: the first line's bottom sits
  // one line below GAP_ABOVE, the last line ends GAP_BELOW above the plot area (clear of the top tick label).
  return { title: { text: full, x: 0.5, xanchor: "center", yref: "container", y: 1 - (GAP_ABOVE + TITLE_SIZE * LINE_EM) / height, yanchor: "bottom" }, top };
}

/**
 * Tick labels for `labels.length` categories sharing `span` pixels: kept level when each fits its slot, else wrapped at
 * spaces (at most 3 lines), else turned by 90° (and set 2 px smaller when even that collides). Returns the axis
 * fields to spread into a Plotly axis (`tickangle`, `ticktext` when wrapped, `tickfont` when smaller, `automargin`).
 */
export function categoryTicks(labels: string[], span: number, fontSize = 13): { ticktext: string[]; tickangle: number; automargin: true; tickfont?: { size: number } } {
  const slot = (span / Math.max(1, labels.length)) * 0.85;
  const widest = Math.max(0, ...labels.map((l) => textWidth(l, fontSize)));
  if (widest <= slot) return { ticktext: labels, tickangle: 0, automargin: true };
  const wrapped = labels.map((l) => wrapText(l, slot, fontSize));
  if (wrapped.every((ls) => ls.length <= 3 && ls.every((line) => textWidth(line, fontSize) <= slot))) {
    return { ticktext: wrapped.map((ls) => ls.join("<br>")), tickangle: 0, automargin: true };
  }
  const size = slot >= fontSize * LINE_EM ? fontSize : Math.max(8, Math.floor(slot / LINE_EM));
  return { ticktext: labels, tickangle: -90, automargin: true, ...(size !== fontSize ? { tickfont: { size } } : {}) };
}

/** Room a colour bar with a side title takes on the right of the plot. */
const COLORBAR_ROOM = 110;

type Layout = Record<string, unknown>;
type Axis = { tickvals?: unknown[]; ticktext?: string[]; tickangle?: number; scaleanchor?: string } & Record<string, unknown>;

/**
 * The last step of every figure function: wrap the title to the figure's width (keeping a `<br>`-separated subtitle
 * as given) and size the top margin for it; fit categorical x tick labels to their slots; let axes push the margins
 * for their ticks (`automargin`); put a horizontal legend at the bottom of the figure, under the axis title; put
 * colour-bar titles on the bar's side. Mutates and returns `fig`.
 */
export function fitFigure<F extends { data: Record<string, unknown>[]; layout: Layout }>(fig: F): F {
  const layout = fig.layout;
  const width = typeof layout.width === "number" ? layout.width : DEFAULT_WIDTH;
  const height = typeof layout.height === "number" ? layout.height : 480;
  const margin = { ...(layout.margin as Record<string, number>) };
  const raw = String((layout.title as { text?: unknown } | undefined)?.text ?? "");
  const [main, ...rest] = raw.split("<br>");
  const { title, top } = fittedTitle(main, { width, height, extra: rest.join("<br>") });
  layout.title = title;
  margin.t = Math.max(top, 30);
  const hasColorbar = fig.data.some((t) => t.colorbar !== undefined && t.showscale !== false);
  const barLength = height - margin.t - (margin.b ?? 80);
  for (const t of fig.data) {
    const cb = t.colorbar as { title?: { text?: string } & Record<string, unknown> } | undefined;
    if (cb?.title) cb.title = { ...cb.title, text: wrapText(String(cb.title.text ?? ""), barLength * 0.9, 13).join("<br>"), side: "right" };
  }
  const x = layout.xaxis as Axis | undefined;
  if (x && Array.isArray(x.ticktext) && x.visible !== false) {
    let span = width - (margin.l ?? 80) - (margin.r ?? 30) - (hasColorbar ? COLORBAR_ROOM : 0);
    if ((layout.yaxis as Axis | undefined)?.scaleanchor) span = Math.min(span, height - margin.t - (margin.b ?? 80));
    Object.assign(x, categoryTicks(x.ticktext, span, 13));
  }
  for (const key of ["xaxis", "yaxis"]) {
    const axis = layout[key] as Axis | undefined;
    if (axis && axis.visible !== false) axis.automargin = true;
  }
  const legend = layout.legend as { orientation?: string } | undefined;
  if (legend?.orientation === "h") layout.legend = { orientation: "h", x: 0, xanchor: "left", y: 0, yanchor: "bottom", yref: "container" };
  layout.margin = margin;
  return fig;
}
