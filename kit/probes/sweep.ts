/**
 * Probing across a model: features from one hook at every layer, one cross-validated probe per layer, per-token
 * probe scores along a sequence, and a train-on-one-group / test-on-another generalisation matrix.
 *
 *   const rows = await layerSweep(model, texts, labels, { hook: "resid_post", position: "last", k: 5, seed: 0 });
 *   // rows: [{ layer, accuracy, lower, upper, auroc, aurocLower, aurocUpper }, …]
 *   tokenScores(model, "some text", probe, { layer: 3 });   // { tokens, scores }
 */
import { tf } from "../backend";
import { describeValue } from "../describe";
import { actName, type HookName } from "../model/hooks";
import { readActivations, type PersonaText } from "../vectors/persona";
import type { HookedTransformer } from "../model/transformer";
import { checkLabels, toDense, type Dense, type Labels, type Matrix } from "./data";
import { accuracy, auroc, crossValidate, fitScorer, type ProbeKind } from "./eval";
import type { LogisticOptions } from "./logistic";

/** One text (tokenised by the model's tokenizer) or one sequence of token ids. */
export type ProbeInput = string | readonly number[];

export interface FeatureOptions {
  /** Block hook to read, short ("resid_post") or full ("hook_resid_post", "attn.hook_z"). Default "resid_post". */
  hook?: string;
  /** Which position's activation: the last token's, or the mean over tokens. Default "last". */
  position?: "last" | "mean";
  /** Layers to read (negative counts from the end). Default: all. */
  layers?: readonly number[];
}

/**
 * Features per layer: the activation at the chosen position (or its mean over the text's tokens), flattened past the
 * position axis, read by the persona vectors' `readActivations` (texts of equal length share a forward pass).
 * Returns a Map from layer to a dense [n_texts, d] matrix.
 */
export function extractFeatures(model: HookedTransformer, texts: readonly ProbeInput[], { hook = "resid_post", position = "last", layers }: FeatureOptions = {}): Map<number, Dense> {
  const where = "extractFeatures";
  if (!Array.isArray(texts) || texts.length === 0) throw new RangeError(`${where}: texts must be a non-empty array of strings or token-id arrays, received ${describeValue(texts)}`);
  if (position !== "last" && position !== "mean") throw new RangeError(`${where}: options.position must be "last" or "mean", received ${describeValue(position)}`);
  const L = model.cfg.n_layers;
  const ls = (layers ?? Array.from({ length: L }, (_, i) => i)).map((l) => {
    if (!Number.isInteger(l) || l >= L || l < -L) throw new RangeError(`${where}: options.layers must hold integers in [-${L}, ${L - 1}], received ${describeValue(l)}`);
    return l < 0 ? L + l : l;
  });
  texts.forEach((t, i) => {
    if (!(typeof t === "string" || Array.isArray(t))) throw new TypeError(`${where}: texts[${i}] must be a string or an array of token ids, received ${describeValue(t)}`);
  });
  const unknown = ls.map((l) => actName(hook, l)).find((nm) => !(model.hookNames() as string[]).includes(nm));
  if (unknown) throw new RangeError(`${where}: options.hook ${JSON.stringify(hook)} names no hook point of this model (${unknown})`);
  const { acts } = readActivations(where, model, texts as readonly PersonaText[], { layers: ls, hook, positions: position === "last" ? "last" : "prompt_mean" });
  const rows = new Map<number, Float32Array[]>(ls.map((l) => [l, acts.get(l)!.map((r) => Float32Array.from(r))]));
  const out = new Map<number, Dense>();
  for (const [l, r] of rows) out.set(l, toDense(r, where, `features of layer ${l}`));
  return out;
}

export interface LayerSweepOptions extends FeatureOptions, LogisticOptions {
  fit?: ProbeKind;
  /** Cross-validation folds. Default 5. */
  k?: number;
  seed?: number;
  /** Bootstrap iterations of each AUROC interval. Default 1000. */
  iterations?: number;
}

export interface LayerSweepRow {
  layer: number;
  /** Pooled out-of-fold accuracy and its Wilson interval. */
  accuracy: number;
  lower: number;
  upper: number;
  /** Pooled out-of-fold AUROC and its bootstrap interval. */
  auroc: number;
  aurocLower: number;
  aurocUpper: number;
}

/** Cross-validate one probe per layer on the features of `texts`. One row per layer, in layer order. */
export function layerSweep(
  model: HookedTransformer,
  texts: readonly ProbeInput[],
  labels: Labels,
  { hook = "resid_post", position = "last", layers, fit = "logistic", k = 5, seed = 0, iterations = 1000, ...probeOptions }: LayerSweepOptions = {},
): LayerSweepRow[] {
  checkLabels(labels, Array.isArray(texts) ? texts.length : 0, "layerSweep", { arg: "labels" });
  const feats = extractFeatures(model, texts, { hook, position, layers });
  const out: LayerSweepRow[] = [];
  for (const [layer, X] of feats) {
    const cv = crossValidate(X as unknown as Matrix, labels, { ...probeOptions, fit, k, seed, iterations });
    out.push({ layer, accuracy: cv.accuracy.rate, lower: cv.accuracy.lower, upper: cv.accuracy.upper, auroc: cv.auroc.auroc, aurocLower: cv.auroc.lower, aurocUpper: cv.auroc.upper });
  }
  return out;
}

/** Anything that scores rows: a logistic probe (decisionFunction) or a difference-of-means probe (score). */
export type Scorer = { decisionFunction(X: Matrix): number[] } | { score(X: Matrix): number[] };

/** The probe's score at every token of one sequence, read from `hook` at `layer`. */
export function tokenScores(
  model: HookedTransformer,
  text: ProbeInput,
  probe: Scorer,
  { hook = "resid_post", layer = -1 }: { hook?: string; layer?: number } = {},
): { tokens: string[]; scores: number[] } {
  const where = "tokenScores";
  if (!probe || (typeof (probe as { decisionFunction?: unknown }).decisionFunction !== "function" && typeof (probe as { score?: unknown }).score !== "function")) {
    throw new TypeError(`${where}: probe must have decisionFunction(X) or score(X), received ${describeValue(probe)}`);
  }
  const ids = typeof text === "string" ? model.encode(text, where) : [...text];
  const L = model.cfg.n_layers;
  if (!Number.isInteger(layer) || layer >= L || layer < -L) throw new RangeError(`${where}: options.layer must be an integer in [-${L}, ${L - 1}], received ${describeValue(layer)}`);
  const l = layer < 0 ? L + layer : layer;
  const name = actName(hook, l) as HookName;
  const { logits, cache } = model.runWithCache(ids, { namesFilter: [name] });
  let X: Dense;
  try {
    const act = cache.get(hook, l);
    const T = act.shape[1]!;
    X = { data: Float32Array.from(act.dataSync() as Float32Array), n: T, d: act.size / T };
  } finally {
    logits.dispose();
    cache.dispose();
  }
  const scores = "decisionFunction" in probe ? probe.decisionFunction(X as unknown as Matrix) : probe.score(X as unknown as Matrix);
  const tok = model.tokenizer;
  const tokens = ids.map((id) => (tok ? tok.decode([id]) : String(id)));
  return { tokens, scores };
}

export interface GeneralisationMatrix {
  /** Group names, in the order of the matrix rows (train) and columns (test). */
  groups: string[];
  /** accuracy[i][j]: trained on groups[i], tested on groups[j]. The diagonal is in-sample. */
  accuracy: number[][];
  auroc: number[][];
}

/** Train a probe on each group and test it on every group (diagonal: in-sample). */
export function generalisationMatrix(
  groups: Record<string, { X: Matrix; y: Labels }>,
  { fit = "logistic", ...probeOptions }: { fit?: ProbeKind } & LogisticOptions = {},
): GeneralisationMatrix {
  const where = "generalisationMatrix";
  const names = Object.keys(groups ?? {});
  if (names.length === 0) throw new RangeError(`${where}: groups must hold at least one group { X, y }, received ${describeValue(groups)}`);
  const data = names.map((nm) => {
    const g = groups[nm];
    const X = toDense(g?.X as Matrix, where, `groups[${JSON.stringify(nm)}].X`);
    checkLabels(g.y, X.n, where, { arg: `groups[${JSON.stringify(nm)}].y` });
    return { X, y: g.y };
  });
  const d = data[0].X.d;
  data.forEach((g, i) => {
    if (g.X.d !== d) throw new RangeError(`${where}: every group needs the same number of features; ${JSON.stringify(names[0])} has ${d}, ${JSON.stringify(names[i])} has ${g.X.d}`);
  });
  const acc: number[][] = [];
  const au: number[][] = [];
  for (const train of data) {
    const scorer = fitScorer(train.X, train.y, fit, probeOptions);
    const ra: number[] = [];
    const ru: number[] = [];
    for (const test of data) {
      const s = scorer(test.X);
      ra.push(accuracy(s, test.y));
      ru.push(auroc(s, test.y));
    }
    acc.push(ra);
    au.push(ru);
  }
  return { groups: names, accuracy: acc, auroc: au };
}
