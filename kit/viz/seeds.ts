/**
 * Figure series from per-seed values: the bridge between run records and `groupedBarFigure` / `lineByLayerFigure`,
 * so that bars and bands show the interval over the unit a verdict tests (seeds), not one pooled over samples.
 */
import { seedInterval } from "../util/stats";

/** A named series of means with their bootstrap 95% intervals over seeds; fits `BarGroup` and `LayerSeries`. */
export interface SeedSeries {
  name: string;
  values: number[];
  lower: number[];
  upper: number[];
  /** The number of seeds behind each point (the smallest, when points differ). */
  n: number;
}

/**
 * `perPoint[i]` holds one value per seed for point i (a category of a bar chart, a step of a line); returns the
 * series of their means and bootstrap 95% intervals over seeds (`seedInterval`, seeded), with n for the legend.
 */
export function seedSeries(name: string, perPoint: readonly (readonly number[])[], { seed = 0 }: { seed?: number } = {}): SeedSeries {
  if (typeof name !== "string") throw new TypeError(`seedSeries: name must be a string, received ${typeof name}`);
  if (!Array.isArray(perPoint) || perPoint.length === 0) throw new RangeError(`seedSeries: perPoint must be a non-empty array of per-seed value arrays, received ${Array.isArray(perPoint) ? "[]" : typeof perPoint}`);
  const cis = perPoint.map((values, i) => {
    try {
      return seedInterval(values as number[], { seed: seed + i });
    } catch (e) {
      throw new RangeError(`seedSeries: perPoint[${i}] of ${JSON.stringify(name)}: ${(e as Error).message.replace(/^seedInterval: /, "")}`);
    }
  });
  return { name, values: cis.map((c) => c.mean), lower: cis.map((c) => c.lower), upper: cis.map((c) => c.upper), n: Math.min(...cis.map((c) => c.n)) };
}
