// @ts-check
/** The explorer's drawing: diverging colour scales centred at 0, SVG heatmaps with labelled axes, the token strip. */

const SVG = "http://www.w3.org/2000/svg";

/** Blue (negative) – white (0) – red (positive), |value| / scale clipped to 1. */
export function diverging(value, scale) {
  const t = scale > 0 ? Math.max(-1, Math.min(1, value / scale)) : 0;
  const a = Math.abs(t);
  const [r, g, b] = t >= 0 ? [178, 24, 43] : [33, 102, 172];
  const mix = (c) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svgEl(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * A heatmap: rows × cols of values, row and column labels, axis titles, colour centred at 0 (scale: max |value|).
 * @param {{ values: (number | null)[][], rowLabels: string[], colLabels: string[], xTitle: string, yTitle: string, title: string, scale?: number, width?: number }} o
 */
export function heatmap(o) {
  const rows = o.values.length;
  const cols = Math.max(1, ...o.values.map((r) => r.length));
  let scale = o.scale ?? 0;
  if (!scale) for (const r of o.values) for (const v of r) if (v !== null) scale = Math.max(scale, Math.abs(v));
  const left = 70, top = 24, bottom = 64, right = 60;
  const width = o.width ?? 560;
  const cw = Math.max(4, Math.min(28, (width - left - right) / cols));
  const ch = Math.max(4, Math.min(28, 220 / rows));
  const svg = svgEl("svg", { width: left + cw * cols + right, height: top + ch * rows + bottom, role: "img", "aria-label": o.title });
  svg.append(svgEl("title", {}, o.title));
  o.values.forEach((r, i) => r.forEach((v, j) => {
    if (v === null) return;
    const cell = svgEl("rect", { x: left + j * cw, y: top + i * ch, width: cw, height: ch, fill: diverging(v, scale) });
    cell.append(svgEl("title", {}, `${o.yTitle} ${o.rowLabels[i]}, ${o.xTitle} ${o.colLabels[j]}: ${v.toFixed(4)}`));
    svg.append(cell);
  }));
  o.rowLabels.forEach((lab, i) => svg.append(svgEl("text", { x: left - 4, y: top + i * ch + ch / 2 + 4, "text-anchor": "end", "font-size": 10 }, lab)));
  const every = Math.ceil(cols / 40);
  o.colLabels.forEach((lab, j) => {
    if (j % every) return;
    const x = left + j * cw + cw / 2, y = top + rows * ch + 6;
    svg.append(svgEl("text", { x, y, transform: `rotate(60 ${x} ${y})`, "font-size": 9 }, lab.slice(0, 10)));
  });
  svg.append(svgEl("text", { x: left + (cw * cols) / 2, y: top + rows * ch + bottom - 2, "text-anchor": "middle", "font-size": 11 }, o.xTitle));
  svg.append(svgEl("text", { x: 12, y: top + (rows * ch) / 2, transform: `rotate(-90 12 ${top + (rows * ch) / 2})`, "text-anchor": "middle", "font-size": 11 }, o.yTitle));
  svg.append(legend(left + cw * cols + 10, top, Math.max(40, ch * rows), scale));
  return svg;
}

/** A vertical colour bar from −scale to +scale with its three tick labels. */
function legend(x, y, h, scale) {
  const g = svgEl("g", { "aria-hidden": "true" });
  const n = 20;
  for (let i = 0; i < n; i++) g.append(svgEl("rect", { x, y: y + (i * h) / n, width: 10, height: h / n + 0.5, fill: diverging(scale * (1 - (2 * i + 1) / n), scale) }));
  for (const [v, yy] of [[scale, y + 8], [0, y + h / 2 + 4], [-scale, y + h]]) g.append(svgEl("text", { x: x + 13, y: yy, "font-size": 9 }, Number(v).toPrecision(2)));
  return g;
}

/** The token strip: one button per token, background = score − centre on a scale centred at 0. */
export function tokenStrip(tokens, scores, center, selected, onSelect, promptLength) {
  let scale = 0;
  for (const s of scores) if (s !== null) scale = Math.max(scale, Math.abs(s - center));
  const strip = el("div", { class: "strip", role: "listbox", "aria-label": "tokens; arrow keys move, the selected token's next-token probabilities are shown" });
  tokens.forEach((t, i) => {
    const s = scores[i];
    const b = el("button", {
      class: `tok${i >= promptLength ? " gen" : ""}`,
      role: "option",
      "aria-selected": i === selected,
      tabindex: i === selected ? 0 : -1,
      title: s === null ? `${t} (not fed to the model)` : `${t}: ${s.toFixed(4)}`,
      style: `background:${s === null ? "#eee" : diverging(s - center, scale)}`,
      "data-pos": i,
      on: { click: () => onSelect(i) },
    }, t);
    strip.append(b);
  });
  strip.addEventListener("keydown", (e) => {
    const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!d) return;
    e.preventDefault();
    onSelect(Math.max(0, Math.min(tokens.length - 2, selected + d)), true);
  });
  return strip;
}

/** Horizontal probability bars of the top next tokens. */
export function probBars(top, decodeToken) {
  const table = el("table", { class: "bars" }, el("caption", {}, "next-token probability"), el("tr", {}, el("th", { scope: "col" }, "token"), el("th", { scope: "col" }, "probability")));
  for (const { id, p } of top) {
    table.append(el("tr", {}, el("td", {}, decodeToken(id)), el("td", {}, el("span", { class: "bar", style: `width:${Math.round(p * 200)}px` }), ` ${p.toFixed(3)}`)));
  }
  return table;
}
