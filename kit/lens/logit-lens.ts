/**
 * The logit lens: the residual stream before each block (and after the last) through the final norm and the
 * unembedding, read as next-token predictions. At the last entry it is the model's own logits.
 */
import { tf } from "../backend";
import type { ActivationCache } from "../model/cache";
import type { HookedTransformer } from "../model/transformer";
import { tidyValue } from "./tidy";
import { heatmapFigure, PROBABILITY_COLORSCALE, tokenLabel, type Figure } from "../viz/figures";

export interface LensCell {
  id: number;
  /** The token's string (tokenizer piece), or `#id` without a tokenizer. */
  token: string;
  prob: number;
}

export interface LogitLens {
  /** One per stream entry: "0_pre" … "final_post". */
  labels: string[];
  /** [entries, B, T, V]: logits at every entry (the caller disposes them with `dispose()`). */
  logits: tf.Tensor4D;
  /** Row `row`'s top tokens per entry and position: [entries][T][topK]. */
  top: LensCell[][][];
  /** Row `row`'s probability of `target` per entry and position, [entries][T]; null without a target. */
  targetProb: number[][] | null;
  target: number | null;
  row: number;
  dispose(): void;
}

export interface LogitLensOptions {
  /** A token id whose probability to follow (e.g. the answer). */
  target?: number;
  /** Top tokens kept per cell (default 3). */
  topK?: number;
  /** Which batch row `top` and `targetProb` describe (default 0). */
  row?: number;
}

/** A token's display string. */
export function tokenString(model: HookedTransformer, id: number): string {
  return model.tokenizer?.idToToken(id) ?? `#${id}`;
}

/** The logit lens of a cache made by `model.runWithCache` (needs every `resid_pre` and the last `resid_post`). */
export function logitLens(model: HookedTransformer, cache: ActivationCache, { target, topK = 3, row = 0 }: LogitLensOptions = {}): LogitLens {
  if (target !== undefined && !(Number.isInteger(target) && target >= 0 && target < model.cfg.d_vocab)) {
    throw new RangeError(`logitLens: target must be a token id in [0, ${model.cfg.d_vocab}), received ${target}`);
  }
  const { resid, labels } = cache.accumulatedResid(undefined, { applyLn: true, model });
  const logits = tf.tidy(() => model.unembed(resid)) as tf.Tensor4D;
  resid.dispose();
  const [, B] = logits.shape;
  if (!(Number.isInteger(row) && row >= 0 && row < B)) {
    logits.dispose();
    throw new RangeError(`logitLens: row must be an integer in [0, ${B}), received ${row}`);
  }
  const { top, targetProb } = tidyValue(() => {
    const probs = tf.softmax(logits.gather([row], 1).squeeze([1])); // [entries, T, V]
    const k = tf.topk(probs, Math.min(topK, model.cfg.d_vocab));
    const ids = k.indices.arraySync() as number[][][];
    const ps = k.values.arraySync() as number[][][];
    const top = ids.map((e, i) => e.map((pos, t) => pos.map((id, j) => ({ id, token: tokenString(model, id), prob: ps[i][t][j] }))));
    const targetProb = target === undefined ? null : (probs.gather([target], 2).squeeze([2]).arraySync() as number[][]);
    return { top, targetProb };
  });
  return { labels, logits, top, targetProb, target: target ?? null, row, dispose: () => logits.dispose() };
}

/**
 * The logit lens as a heatmap: stream entries (rows, first block at the top) × positions (columns); the colour is
 * the target's probability (or the top token's when there is no target), each cell names the top token.
 */
export function logitLensFigure(lens: LogitLens, { tokens, title }: { tokens?: string[]; title?: string } = {}): Figure {
  const z = lens.targetProb ?? lens.top.map((e) => e.map((cell) => cell[0].prob));
  const T = z[0].length;
  if (tokens !== undefined && tokens.length !== T) throw new RangeError(`logitLensFigure: tokens must have one label per position (${T}), received ${tokens.length}`);
  const target = lens.target === null ? null : lens.top.flat(2).find((c) => c.id === lens.target)?.token ?? `#${lens.target}`;
  const colour = target === null ? "top-1 probability" : `p(${tokenLabel(target)})`;
  const fig = heatmapFigure(z, {
    x: (tokens ?? z[0].map((_, t) => String(t))).map((s, t) => `${t}: ${tokenLabel(s)}`),
    y: lens.labels,
    title: title ?? (target === null ? "Logit lens: top token by layer" : `Logit lens: probability of ${tokenLabel(target)} by layer`),
    xTitle: "position: input token",
    yTitle: "residual stream",
    colorbarTitle: colour,
    zmin: 0,
    zmax: 1,
    diverging: false,
  });
  const trace = fig.data[0];
  trace.hovertext = trace.text;
  trace.text = lens.top.map((e) => e.map((cell) => tokenLabel(cell[0].token)));
  trace.texttemplate = "%{text}";
  trace.colorscale = PROBABILITY_COLORSCALE;
  return fig;
}
