// A user's own script, type-checked by examples/typed/tsconfig.json against the kit's published types: the kit's
// result types go straight into showTable, and figure options need no titles.
import { lineByLayerFigure, showTable, type LayerSweepRow, type MweItem, type SteeringPoint } from "persona-kit";

export function report(points: SteeringPoint[], sweep: LayerSweepRow[], items: MweItem[]): void {
  showTable(points, { caption: "steering curve" });
  showTable(sweep);
  showTable(items, { maxRows: 10 });
  lineByLayerFigure([{ name: "accuracy", values: sweep.map((_, i) => i) }], {});
}
