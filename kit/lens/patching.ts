/**
 * Activation patching and attribution patching over layers × positions (× heads).
 *
 * Activation patching runs the corrupt prompt with one site's activation taken from the clean run and records the
 * metric's change, metric(patched) − metric(corrupt): one forward pass per site, batched (the corrupt prompt repeated
 * once per site, each row patching its own site). Attribution patching estimates the same change to first order,
 * (clean − corrupt activation) · ∂metric/∂activation at the corrupt run, summed over the site: one forward and one
 * backward pass in all (Nanda, "Attribution patching", 2023).
 */
import { tf } from "../backend";
import type { HookName } from "../model/hooks";
import type { HookedTransformer, TokensInput } from "../model/transformer";
import { heatmapFigure, tokenLabel, type Figure } from "../viz/figures";
import { tidyValue } from "./tidy";
import { gradOf, type Metric } from "./grad";
import { patchSites, siteCells, toGrid, type PatchingGrid, type PatchSites } from "./sites";

export interface PatchingOptions {
  /** Hook kinds to patch, each over every layer: "resid_pre" (default), "attn_out", "mlp_out", "z", "result", … */
  hooks?: readonly string[];
  /** Positions patched one at a time (default every position; negative counts from the end), or "all" at once. */
  positions?: readonly number[] | "all";
  layers?: readonly number[];
  /** A metric of the logits: one value per row (e.g. logitDiffMetric(answer, wrong)). */
  metric: Metric;
  /** Rows per forward pass (activation patching; default 32). */
  batchSize?: number;
}

export interface PatchingResult {
  /** One grid per hook kind, in the order asked. */
  grids: PatchingGrid[];
  /** The metric on the clean and on the corrupt prompt. */
  clean: number;
  corrupt: number;
}

function oneRow(model: HookedTransformer, input: TokensInput, where: string, what: string): tf.Tensor2D {
  const t = model.toTokens(input, where);
  if (t.shape[0] !== 1) {
    t.dispose();
    throw new RangeError(`${where}: ${what} must be one sequence, received ${t.shape[0]} rows`);
  }
  return t;
}

function metricOf(model: HookedTransformer, tokens: tf.Tensor2D, metric: Metric, where: string): number {
  return tidyValue(() => {
    const m = metric(model.forward(tokens, {}));
    if (m.size !== 1) throw new RangeError(`${where}: metric must give one value per row, received shape [${m.shape}] for 1 row`);
    return m.dataSync()[0];
  });
}

/** Mask [R, T, (heads,) 1] with 1 at each row's cell. */
function cellMask(cells: readonly { pos: number[]; head: number | null }[], T: number, heads: number | null): tf.Tensor {
  const H = heads ?? 1;
  const data = new Float32Array(cells.length * T * H);
  cells.forEach((c, r) => {
    for (const p of c.pos) {
      if (c.head === null) data[r * T + p] = 1;
      else data[(r * T + p) * H + c.head] = 1;
    }
  });
  return tf.tensor(data, heads === null ? [cells.length, T, 1] : [cells.length, T, H, 1]);
}

/** Check the prompts and compute the clean activations at every site's hook and both baselines. */
function prepare(model: HookedTransformer, clean: TokensInput, corrupt: TokensInput, opts: PatchingOptions, where: string) {
  const cleanT = oneRow(model, clean, where, "clean");
  const corruptT = oneRow(model, corrupt, where, "corrupt");
  const T = cleanT.shape[1];
  if (corruptT.shape[1] !== T) {
    cleanT.dispose();
    corruptT.dispose();
    throw new RangeError(`${where}: clean and corrupt must have the same length, received ${T} and ${corruptT.shape[1]} tokens`);
  }
  const kinds = opts.hooks ?? ["resid_pre"];
  const sites = kinds.map((k) => patchSites(model, k, T, opts, where));
  return { cleanT, corruptT, T, kinds, sites };
}

/** Activation patching: the metric's change when each site of the corrupt run takes its clean activation. */
export function activationPatching(model: HookedTransformer, clean: TokensInput, corrupt: TokensInput, opts: PatchingOptions): PatchingResult {
  const where = "activationPatching";
  const { batchSize = 32 } = opts;
  const { cleanT, corruptT, T, kinds, sites } = prepare(model, clean, corrupt, opts, where);
  const cleanActs = new Map<HookName, tf.Tensor>();
  try {
    tf.tidy(() => void model.forward(cleanT, { cacheFilter: sites.flatMap((s) => s.names), cacheOut: cleanActs }));
    const base = { clean: metricOf(model, cleanT, opts.metric, where), corrupt: metricOf(model, corruptT, opts.metric, where) };
    const grids = sites.map((s, i) => toGrid(kinds[i], s, s.names.map((name) => patchLayer(model, corruptT, name, cleanActs.get(name)!, s, T, opts.metric, batchSize).map((v) => v - base.corrupt))));
    return { grids, ...base };
  } finally {
    for (const t of cleanActs.values()) t.dispose();
    cleanT.dispose();
    corruptT.dispose();
  }
}

function patchLayer(model: HookedTransformer, corruptT: tf.Tensor2D, name: HookName, cleanAct: tf.Tensor, s: PatchSites, T: number, metric: Metric, batchSize: number): number[] {
  const cells = siteCells(s, T);
  const out: number[] = [];
  for (let start = 0; start < cells.length; start += batchSize) {
    const chunk = cells.slice(start, start + batchSize);
    const values = tidyValue(() => {
      const mask = cellMask(chunk, T, s.heads);
      const tokens = tf.tile(corruptT, [chunk.length, 1]) as tf.Tensor2D;
      const patch = (act: tf.Tensor) => tf.add(tf.mul(act, tf.sub(1, mask)), tf.mul(cleanAct, mask));
      const m = metric(model.forward(tokens, { fwdHooks: [[name, patch]] }));
      if (m.size !== chunk.length) throw new RangeError(`activationPatching: metric must give one value per row, received shape [${m.shape}] for ${chunk.length} rows`);
      return Array.from(m.dataSync());
    });
    out.push(...values);
  }
  return out;
}

/** Attribution patching: the first-order estimate of activation patching's effects, from one backward pass. */
export function attributionPatching(model: HookedTransformer, clean: TokensInput, corrupt: TokensInput, opts: PatchingOptions): PatchingResult {
  const where = "attributionPatching";
  const { cleanT, corruptT, T, kinds, sites } = prepare(model, clean, corrupt, opts, where);
  const names = [...new Set(sites.flatMap((s) => s.names))];
  const cleanActs = new Map<HookName, tf.Tensor>();
  let g: ReturnType<typeof gradOf> | null = null;
  try {
    tf.tidy(() => void model.forward(cleanT, { cacheFilter: names, cacheOut: cleanActs }));
    g = gradOf(model, corruptT, { hooks: names, metric: opts.metric });
    const gg = g;
    const grids = sites.map((s, i) =>
      toGrid(kinds[i], s, s.names.map((name) => tidyValue(() => {
        const contrib = tf.mul(tf.sub(cleanActs.get(name)!, gg.activations.get(name)!), gg.grads.get(name)!); // [1, T, (H,) x]
        const perPos = tf.sum(contrib, -1).squeeze([0]); // [T] or [T, H]
        const rows = siteCells(s, T).map((c) => {
          const vals = perPos.arraySync() as number[] | number[][];
          return c.pos.reduce((acc, p) => acc + (c.head === null ? (vals as number[])[p] : (vals as number[][])[p][c.head]), 0);
        });
        return rows;
      }))),
    );
    return { grids, clean: metricOf(model, cleanT, opts.metric, where), corrupt: g.metric[0] };
  } finally {
    g?.dispose();
    for (const t of cleanActs.values()) t.dispose();
    cleanT.dispose();
    corruptT.dispose();
  }
}

/**
 * A patching grid as a heatmap: layers (rows) × positions (columns; × heads for per-head hooks), diverging colours
 * centred at 0. `normalize` divides by clean − corrupt (1 = the patch restores the clean metric fully).
 */
export function patchingFigure(result: PatchingResult, { hook, tokens, title, normalize = true }: { hook?: string; tokens?: string[]; title?: string; normalize?: boolean } = {}): Figure {
  const grid = hook === undefined ? result.grids[0] : result.grids.find((g) => g.hook === hook);
  if (!grid) throw new RangeError(`patchingFigure: no grid for hook ${JSON.stringify(hook)}; the result has ${result.grids.map((g) => JSON.stringify(g.hook)).join(", ")}`);
  const denom = normalize ? result.clean - result.corrupt : 1;
  const posLabels = grid.positions === "all" ? ["all positions"] : grid.positions.map((p) => `${p}: ${tokens?.[p] !== undefined ? tokenLabel(tokens[p]) : p}`);
  const x = grid.heads === null ? posLabels : posLabels.flatMap((p) => Array.from({ length: grid.heads! }, (_, h) => (posLabels.length === 1 ? `H${h}` : `${p} H${h}`)));
  const z = grid.values.map((row) => row.flat().map((v) => v / denom));
  return heatmapFigure(z, {
    x,
    y: grid.layers.map((l) => `L${l}`),
    title: title ?? `Activation patching: ${grid.hook}`,
    xTitle: grid.heads === null ? "position: token" : "head",
    yTitle: "layer",
    colorbarTitle: normalize ? "effect / (clean − corrupt)" : "metric change",
    diverging: true,
  });
}
