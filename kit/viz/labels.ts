/**
 * Positions for text labels next to scatter points: for each point in turn, the Plotly `textposition` (of eight
 * around the marker) whose estimated box overlaps the labels already placed and the other markers least, and stays
 * inside the plot area. Plotly draws the labels; this only chooses where, from the axis ranges and plot size the
 * figure will be drawn with.
 */
import { textWidth } from "./layout";

/** The plot area a scatter is drawn in: pixel size and the data ranges of its axes. */
export interface PlotArea {
  width: number;
  height: number;
  xRange: [number, number];
  yRange: [number, number];
}

type Box = [number, number, number, number]; // x0, y0, x1, y1 in pixels, y down

/** Preference order when several positions are equally free. */
export const LABEL_POSITIONS = ["top center", "bottom center", "middle right", "middle left", "top right", "top left", "bottom right", "bottom left"] as const;
export type LabelPosition = (typeof LABEL_POSITIONS)[number];

const MARKER_RADIUS = 5;
const LINE_HEIGHT = 15;

/** One `textposition` per point, in the order given; `labels[i]` is the text drawn next to point i (font `fontSize`). */
export function placeLabels(points: readonly { x: number; y: number }[], labels: readonly string[], area: PlotArea, fontSize = 12): LabelPosition[] {
  if (labels.length !== points.length) throw new RangeError(`placeLabels: labels must have one label per point (${points.length}), received ${labels.length}`);
  const px = points.map((p) => toPixels(p, area));
  const markers: Box[] = px.map(([x, y]) => [x - MARKER_RADIUS, y - MARKER_RADIUS, x + MARKER_RADIUS, y + MARKER_RADIUS]);
  const placed: Box[] = [];
  return px.map(([x, y], i) => {
    const w = textWidth(labels[i], fontSize);
    let best: { pos: LabelPosition; cost: number; box: Box } | null = null;
    for (const pos of LABEL_POSITIONS) {
      const box = labelBox(pos, x, y, w);
      const cost = outside(box, area) * 1000 + placed.reduce((s, b) => s + overlap(box, b), 0) + markers.reduce((s, b, j) => s + (j === i ? 0 : overlap(box, b)), 0);
      if (!best || cost < best.cost - 1e-9) best = { pos, cost, box };
    }
    placed.push(best!.box);
    return best!.pos;
  });
}

function toPixels({ x, y }: { x: number; y: number }, { width, height, xRange, yRange }: PlotArea): [number, number] {
  const fx = (x - xRange[0]) / (xRange[1] - xRange[0] || 1);
  const fy = (y - yRange[0]) / (yRange[1] - yRange[0] || 1);
  return [fx * width, (1 - fy) * height];
}

function labelBox(pos: LabelPosition, x: number, y: number, w: number): Box {
  const [v, h] = pos.split(" ");
  const gap = MARKER_RADIUS + 2;
  const x0 = h === "center" ? x - w / 2 : h === "right" ? x + (v === "middle" ? gap : 2) : x - w - (v === "middle" ? gap : 2);
  const y0 = v === "middle" ? y - LINE_HEIGHT / 2 : v === "top" ? y - gap - LINE_HEIGHT + (h === "center" ? 0 : 3) : y + gap - (h === "center" ? 0 : 3);
  return [x0, y0, x0 + w, y0 + LINE_HEIGHT];
}

function overlap(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Area of the box outside the plot area. */
function outside(b: Box, { width, height }: PlotArea): number {
  const area = (b[2] - b[0]) * (b[3] - b[1]);
  return area - overlap(b, [0, 0, width, height]);
}
