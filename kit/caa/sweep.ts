/**
 * CAA layer × multiplier sweeps: the mean probability of the behaviour-matching answer with `multiplier · v_layer`
 * added after the instruction, for each layer and multiplier (Rimsky et al. 2024, Fig. 3–4), and their figures.
 *
 *   const sw = caaSweep(model, testItems, cv, { layers: [0, 1], multipliers: [-2, -1, 0, 1, 2] });
 *   show(caaSweepFigure(sw)); show(caaSweepHeatmap(sw));
 */
import type { CaaItem } from "../datasets/caa";
import { describeValue as describe } from "../describe";
import type { HookedTransformer } from "../model/transformer";
import { heatmapFigure, lineByLayerFigure, type Figure } from "../viz/figures";
import { checkLayers, type PersonaVector } from "../vectors/persona";
import type { SteerPositions } from "../vectors/steer";
import { abScores, meanMatching } from "./ab";

export interface CaaSweepOptions {
  layers: readonly number[];
  multipliers: readonly number[];
  /** Default "response" (after the instruction, as CAA steers). */
  positions?: SteerPositions;
  system?: string;
  /** Default "resid_post". */
  hook?: string;
}

export interface CaaSweep {
  layers: number[];
  multipliers: number[];
  /** pMatching[layer index][multiplier index]: mean probability of the matching answer. */
  pMatching: number[][];
  /** Unsteered mean, for reference. */
  baseline: number;
}

export function caaSweep(model: HookedTransformer, items: readonly CaaItem[], vectors: PersonaVector, options: CaaSweepOptions): CaaSweep {
  const fn = "caaSweep";
  if (!options || !Array.isArray(options.multipliers) || options.multipliers.length === 0 || options.multipliers.some((m) => !Number.isFinite(m))) {
    throw new TypeError(`${fn}: options.multipliers must be a non-empty array of finite numbers, received ${describe(options?.multipliers)}`);
  }
  const layers = checkLayers(fn, model, options.layers);
  for (const l of layers) if (!vectors[l]) throw new RangeError(`${fn}: vectors has no entry for layer ${l} (has ${Object.keys(vectors).join(", ")})`);
  const { positions = "response", system, hook = "resid_post" } = options;
  const baseline = meanMatching(abScores(model, items, { system }));
  const pMatching = layers.map((l) =>
    options.multipliers.map((m) => (m === 0 ? baseline : meanMatching(abScores(model, items, { system, steer: { vector: vectors[l], coefficient: m, positions, hook } })))),
  );
  return { layers, multipliers: [...options.multipliers], pMatching, baseline };
}

/** p(matching answer) against the multiplier, one line per layer. */
export function caaSweepFigure(sweep: CaaSweep, { title = "CAA: p(answer matching behaviour) by multiplier" }: { title?: string } = {}): Figure {
  return lineByLayerFigure(
    sweep.layers.map((l, i) => ({ name: `layer ${l}`, values: sweep.pMatching[i] })),
    { title, yTitle: "p(matching)", xTitle: "multiplier", x: sweep.multipliers, yRange: [0, 1] },
  );
}

/** The sweep as a layer × multiplier heatmap. */
export function caaSweepHeatmap(sweep: CaaSweep, { title = "CAA: p(matching) by layer and multiplier" }: { title?: string } = {}): Figure {
  return heatmapFigure(sweep.pMatching, { x: sweep.multipliers, y: sweep.layers, title, xTitle: "multiplier", yTitle: "layer", colorbarTitle: "p(matching)", zmin: 0, zmax: 1 });
}
