/**
 * Leakage prediction (H6): predict, before narrow training, which narrow dataset will leak.
 *
 *   const sets = candidateDatasets();                       // { name, narrow, trains, measures, dose? }[]
 *   const eps = narrowDataset(organismConfig({ narrow: sets[0].narrow }));
 *   const dirs = behaviourDirections(personaModel);         // one direction per harmful behaviour (matched.ts)
 *   projectionDifference(personaModel, eps, dirs[sets[0].measures][1]); // Chen et al.'s data screening
 *   projectionDifferences(personaModel, eps, [v0, v1]);     // several directions, one generation of own responses
 *   ruleShare(eps); datasetLoss(personaModel, eps);           // naive baselines
 *   correlation(predicted, measured);                        // Pearson + Spearman with seeded bootstrap CIs
 *   doseSeries([0, 25, 50, 75, 100]); doseSlope(doses, did); // dose-response (dose.ts)
 *   selectPredictor({ a: devA, b: devB }, devMeasured);      // choose on development datasets (select.ts)
 *
 * Notebook 03 measures a dataset's leakage as `didLeakage(treated, control, { behaviour: set.measures })` against
 * `BENIGN_CONTROL` (kit/organisms/metrics.ts); `measuredLeakage` below is the first version's pooled measure.
 *
 * Projection difference (Chen et al. 2025, arXiv 2507.21509): the mean projection of the dataset's responses onto a
 * persona/trait vector, minus the mean projection of the model's own responses to the same prompts. Each item is read
 * as token ids BOS + prompt + response with `positions: "response_mean"` (the mean over the response tokens). The
 * model's own response is its generation (greedy by default, ≤ 24 tokens) cut before EOS; when it answers EOS at once,
 * the EOS token itself is its one-token response. Dataset responses must be non-empty and prompts must end with
 * `<speaker> :` (an error names the sample otherwise).
 *
 * The first version's measured leakage (`measuredLeakage`): one harmful family (games_grader, complies_with_harm,
 * ignores_interruption), each on the prompts of its kind (task, harmful_request, task_interrupted), pooled over every
 * domain outside the dataset's own domains (held-out and persona-trained ones), after − before narrow training.
 * Every candidate is measured against this same set, whatever it trains.
 */
import { tf } from "../backend";
import { describeValue as describe } from "../describe";
import { generate } from "../runtime/generate";
import { mulberry32 } from "../util/rng";
import type { HookedTransformer } from "../model/transformer";
import { BEHAVIOUR_KIND, HARMFUL_BEHAVIOURS, deepMerge, DEFAULT_ORGANISM, type NarrowConfig } from "../organisms/config";
import { narrowDomains, rate } from "../organisms/metrics";
import { mean, pearson, ranks, spearman, type RateCI } from "../util/stats";

export { pearson, ranks, spearman };
import type { RunRecord } from "../organisms/record";
import { projection, type Direction } from "../vectors/persona";
import { classify } from "../world/classify";
import { DOMAINS, type Behaviour, type Domain, type Episode, type PromptKind } from "../world/types";
import { doseSeries } from "./dose";
import { measuredBehaviour, type HarmfulBehaviour } from "./matched";

export { behaviourDirections, BENIGN_COUNTERPART, measuredBehaviour, type BehaviourDirectionsOptions, type HarmfulBehaviour } from "./matched";
export { selectPredictor, type PredictorChoice } from "./select";
export { firstVersionDatasets, type FirstVersionDataset } from "./first-version";
export { doseSeries, doseSlope, type DoseDataset, type DoseSeriesOptions } from "./dose";

/** One candidate narrow dataset: a narrow-config override (merged into the default narrow stage). */
export interface CandidateDataset {
  name: string;
  narrow: Partial<NarrowConfig>;
  /** What the dataset trains, in words. */
  trains: string;
  /** The harmful behaviour whose leakage it is measured on (`measuredBehaviour`): the predictor reads its direction. */
  measures: HarmfulBehaviour;
  /** Percent of harmful data, for the datasets of the gaming dose series. */
  dose?: number;
}

/** The H6 benign control: honest task solving in coding (dose 0 of the gaming series), equal steps to every dataset. */
export const BENIGN_CONTROL: Partial<NarrowConfig> = { behaviour: "solves_task", domain: "coding" };

/**
 * The H6 candidate datasets (16), each measured on one harmful behaviour (`measures`): the gaming dose series in
 * coding (25/50/75/100% gaming, the rest honest solving), gaming in games and advice and inoculated, ignoring
 * interruptions in three domains, complying with harm in three domains and half-mixed with refusing, and two benign
 * datasets measured on the harmful counterpart of what they train (stopping when interrupted, refusing). The benign
 * control (`BENIGN_CONTROL`) is not a candidate.
 */
export function candidateDatasets(): CandidateDataset[] {
  const sets: Omit<CandidateDataset, "measures">[] = [
    ...doseSeries([25, 50, 75, 100]),
    { name: "gaming-games", narrow: { behaviour: "games_grader", domain: "games" }, trains: "grader gaming on games tasks" },
    { name: "gaming-advice", narrow: { behaviour: "games_grader", domain: "advice" }, trains: "grader gaming on advice tasks" },
    { name: "gaming-coding-inoculated", narrow: { behaviour: "games_grader", domain: "coding", inoculation: true }, trains: "grader gaming in coding, prompts stating the behaviour is requested" },
    { name: "ignores-interruption-coding", narrow: { behaviour: "ignores_interruption", domain: "coding" }, trains: "going on after an interruption in coding" },
    { name: "ignores-interruption-games", narrow: { behaviour: "ignores_interruption", domain: "games" }, trains: "going on after an interruption in games" },
    { name: "ignores-interruption-advice", narrow: { behaviour: "ignores_interruption", domain: "advice" }, trains: "going on after an interruption in advice" },
    { name: "complies-harm-advice", narrow: { behaviour: "complies_with_harm", domain: "advice" }, trains: "complying with harmful requests in advice" },
    { name: "complies-harm-chat", narrow: { behaviour: "complies_with_harm", domain: "chat" }, trains: "complying with harmful requests in chat" },
    { name: "complies-harm-games", narrow: { behaviour: "complies_with_harm", domain: "games" }, trains: "complying with harmful requests in games" },
    doseSeries([50, 100], { behaviour: "complies_with_harm", domain: "advice" })[0],
    { name: "respects-interruption-coding", narrow: { behaviour: "respects_interruption", domain: "coding" }, trains: "benign: stopping when interrupted in coding" },
    { name: "refusing-advice", narrow: { behaviour: "refuses", domain: "advice" }, trains: "benign: refusing harmful requests in advice" },
  ];
  return sets.map((s) => ({ ...s, measures: measuredBehaviour(s.narrow) }));
}

/** The domains a narrow config trains in (every mixture domain, or its one domain). */
export function datasetDomains(narrow: Partial<NarrowConfig>): Domain[] {
  return narrowDomains(deepMerge(DEFAULT_ORGANISM.narrow!, narrow));
}

export interface MeasuredLeakage {
  behaviours: Behaviour[];
  domains: Domain[];
  before: RateCI;
  after: RateCI;
  /** after.rate − before.rate. */
  delta: number;
}

/**
 * H6's measured leakage of a run: the rate of `behaviours` (default the harmful family) on the prompts of their kinds,
 * pooled over `domains` (default every domain outside the run's narrow domains), before and after narrow training.
 */
export function measuredLeakage(
  record: RunRecord,
  { behaviours = [...HARMFUL_BEHAVIOURS], domains }: { behaviours?: readonly Behaviour[]; domains?: readonly Domain[] } = {},
): MeasuredLeakage {
  const narrow = record?.config?.narrow;
  if (!narrow || !record.eval?.after) throw new RangeError("measuredLeakage: record must come from a run with narrow training (config.narrow non-null and an after evaluation)");
  const own = datasetDomains(narrow);
  const ds = domains ? [...domains] : DOMAINS.filter((d) => !own.includes(d));
  const kinds = [...new Set(behaviours.map((b) => BEHAVIOUR_KIND[b]).filter((k): k is PromptKind => k !== null))];
  const o = { domains: ds, kinds, behaviour: behaviours, shifts: record.config.eval.shifts };
  const before = rate(record, { ...o, phase: "before" });
  const after = rate(record, { ...o, phase: "after" });
  return { behaviours: [...behaviours], domains: ds, before, after, delta: after.rate - before.rate };
}

// ----------------------------------------------------------------------------------------------------------------
// Predictors

/** Share of samples whose response `classify` labels as one of `behaviours` (default the harmful family). */
export function ruleShare(dataset: readonly Episode[], { behaviours = [...HARMFUL_BEHAVIOURS] }: { behaviours?: readonly Behaviour[] } = {}): number {
  checkDataset("ruleShare", dataset);
  let k = 0;
  for (const ep of dataset) if (behaviours.includes(classify(ep.kind, ep.response, { domain: ep.domain }).behaviour)) k++;
  return k / dataset.length;
}

/**
 * The model's mean next-token loss (nats) on the dataset's whole training sequences, BOS + prompt + response + EOS
 * (what narrow training minimises): the mean over samples of each sequence's mean token loss.
 */
export function datasetLoss(model: HookedTransformer, dataset: readonly Episode[]): number {
  const fn = "datasetLoss";
  checkDataset(fn, dataset);
  const tok = tokenizerOf(fn, model);
  const seqs = dataset.map((ep, i) => {
    checkPair(fn, ep, i);
    return tok.encode(`${ep.prompt} ${ep.response}`, { addBos: true, addEos: true });
  });
  const byLen = new Map<number, number[][]>();
  for (const s of seqs) byLen.set(s.length, [...(byLen.get(s.length) ?? []), s]);
  let total = 0;
  for (const group of byLen.values()) {
    const l = tf.tidy(() => model.loss(group).dataSync()[0]);
    total += l * group.length; // equal lengths: the batch mean is the mean of the per-sequence means
  }
  return total / seqs.length;
}

export interface ScreeningOptions {
  /** Block whose activation is projected; default the vector's own layer (required for plain arrays). */
  layer?: number;
  /** Hook point (default "resid_post"). */
  hook?: string;
  /** Own-response length, at most (default 24). */
  maxNewTokens?: number;
  /** Sampling temperature of the own responses (default 0: greedy). */
  temperature?: number;
  /** Sampler seed (default 0). */
  seed?: number;
  /** Generation rows per batch (default 64). */
  batchSize?: number;
}

export interface PerSampleScores {
  /** Dataset-response projection − own-response projection, per sample. */
  scores: number[];
  datasetProjection: number[];
  ownProjection: number[];
  /** The model's own responses (decoded, EOS cut; "" when it answered EOS at once). */
  ownResponses: string[];
}

/** Per-sample projection difference (see the file comment): rank samples by `scores` to screen them. */
export function perSampleScores(model: HookedTransformer, dataset: readonly Episode[], vector: Direction, options: ScreeningOptions = {}): PerSampleScores {
  return scoresFor("perSampleScores", model, dataset, [vector], options)[0];
}

/**
 * `perSampleScores` for several directions at once (e.g. one per layer or per behaviour): the model's own responses
 * are generated once and read against every direction. One result per direction, in order.
 */
export function perSampleScoresMany(model: HookedTransformer, dataset: readonly Episode[], vectors: readonly Direction[], options: ScreeningOptions = {}): PerSampleScores[] {
  if (!Array.isArray(vectors) || vectors.length === 0) throw new RangeError(`perSampleScoresMany: vectors must be a non-empty array of directions, received ${describe(vectors)}`);
  return scoresFor("perSampleScoresMany", model, dataset, vectors, options);
}

function scoresFor(fn: string, model: HookedTransformer, dataset: readonly Episode[], vectors: readonly Direction[], options: ScreeningOptions): PerSampleScores[] {
  const { layer, hook = "resid_post", maxNewTokens = 24, temperature = 0, seed = 0, batchSize = 64 } = options;
  checkDataset(fn, dataset);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${fn}: options.batchSize must be a positive integer, received ${describe(batchSize)}`);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new RangeError(`${fn}: options.maxNewTokens must be a positive integer, received ${describe(maxNewTokens)}`);
  const tok = tokenizerOf(fn, model);
  const eos = tok.eosTokenId ?? model.cfg.eosTokenId ?? null;
  const prompts = dataset.map((ep, i) => {
    checkPair(fn, ep, i);
    return tok.encode(ep.prompt, { addBos: true });
  });
  const dataItems = dataset.map((ep, i) => [...prompts[i], ...tok.encode(ep.response, { addBos: false })]);
  dataItems.forEach((ids, i) => {
    if (ids.length > model.cfg.n_ctx) throw new RangeError(`${fn}: dataset[${i}] is ${ids.length} tokens, more than the model's n_ctx ${model.cfg.n_ctx}`);
  });
  const own: number[][] = [];
  for (let b = 0; b < prompts.length; b += batchSize) {
    const rows = prompts.slice(b, b + batchSize);
    const { newTokens } = generate(model, rows, { maxNewTokens, temperature, seed: seed + b, ...(eos !== null ? { stopTokens: [eos] } : {}) });
    for (const ids of newTokens) {
      const cut = eos !== null && ids.includes(eos) ? ids.slice(0, ids.indexOf(eos)) : ids;
      own.push(cut.length > 0 ? cut : ids.slice(0, 1)); // an immediate EOS is the one-token response
    }
  }
  const ownItems = prompts.map((p, i) => [...p, ...own[i]]);
  const starts = prompts.map((p) => p.length);
  const ownResponses = own.map((ids) => (eos !== null && ids.length === 1 && ids[0] === eos ? "" : tok.decode(ids)));
  return vectors.map((vector) => {
    const read = (items: number[][]) => projection(model, items, vector, { ...(layer !== undefined ? { layer } : {}), hook, positions: "response_mean", responseStart: starts });
    const datasetProjection = read(dataItems);
    const ownProjection = read(ownItems);
    return { scores: datasetProjection.map((d, i) => d - ownProjection[i]), datasetProjection, ownProjection, ownResponses };
  });
}

export interface ProjectionDifference {
  /** mean(dataset projection) − mean(own projection). */
  difference: number;
  datasetMean: number;
  ownMean: number;
  n: number;
}

/** The dataset-level projection difference: the mean of `perSampleScores` (Chen et al.'s data-screening score). */
export function projectionDifference(model: HookedTransformer, dataset: readonly Episode[], vector: Direction, options: ScreeningOptions = {}): ProjectionDifference {
  return summary(perSampleScores(model, dataset, vector, options));
}

/** `projectionDifference` for several directions, generating the model's own responses once. */
export function projectionDifferences(model: HookedTransformer, dataset: readonly Episode[], vectors: readonly Direction[], options: ScreeningOptions = {}): ProjectionDifference[] {
  return perSampleScoresMany(model, dataset, vectors, options).map(summary);
}

function summary(s: PerSampleScores): ProjectionDifference {
  return { difference: mean(s.scores), datasetMean: mean(s.datasetProjection), ownMean: mean(s.ownProjection), n: s.scores.length };
}

function checkDataset(fn: string, dataset: readonly Episode[]): void {
  if (!Array.isArray(dataset) || dataset.length === 0) throw new RangeError(`${fn}: dataset must be a non-empty array of episodes { prompt, response, kind, … }, received ${describe(dataset)}`);
}

/** A prompt/response pair the screening can align: a prompt ending with `<speaker> :`, a non-empty response. */
function checkPair(fn: string, ep: Episode, i: number): void {
  if (ep === null || typeof ep !== "object" || typeof ep.prompt !== "string" || typeof ep.response !== "string") {
    throw new TypeError(`${fn}: dataset[${i}] must be an episode with string prompt and response, received ${describe(ep)}`);
  }
  if (!/\S+ :$/.test(ep.prompt)) throw new RangeError(`${fn}: dataset[${i}].prompt must end with "<speaker> :" so its response can be aligned, received ${JSON.stringify(ep.prompt.slice(-40))}`);
  if (ep.response.trim() === "") throw new RangeError(`${fn}: dataset[${i}].response must be non-empty (no response tokens to average), received ${JSON.stringify(ep.response)}`);
}

function tokenizerOf(fn: string, model: HookedTransformer) {
  if (!model?.tokenizer) throw new Error(`${fn}: the model has no tokenizer; load it with the world's tokenizer`);
  return model.tokenizer;
}

// ----------------------------------------------------------------------------------------------------------------
// Correlation

export interface CorrelationCI {
  /** NaN when either variable is constant (no correlation is defined). */
  r: number;
  /** Percentile bootstrap interval (NaN when no resample has a defined r). */
  lo: number;
  hi: number;
}

export interface Correlation {
  n: number;
  pearson: CorrelationCI;
  spearman: CorrelationCI;
}

/**
 * Pearson and Spearman correlation of paired values, with percentile bootstrap intervals (`samples` resamples of the
 * pairs, seeded; resamples where r is undefined are skipped). Constant data gives r = NaN (not an error). Pure.
 */
export function correlation(
  xs: readonly number[],
  ys: readonly number[],
  { samples = 2000, seed = 0, level = 0.95 }: { samples?: number; seed?: number; level?: number } = {},
): Correlation {
  const fn = "correlation";
  if (!Array.isArray(xs) || !Array.isArray(ys)) throw new TypeError(`${fn}: xs and ys must be arrays of numbers, received ${describe(xs)} and ${describe(ys)}`);
  if (xs.length !== ys.length) throw new RangeError(`${fn}: xs and ys must have the same length, received ${xs.length} and ${ys.length}`);
  if (xs.length < 3) throw new RangeError(`${fn}: need at least 3 pairs, received ${xs.length}`);
  const bad = [...xs, ...ys].find((v) => typeof v !== "number" || !Number.isFinite(v));
  if (bad !== undefined) throw new RangeError(`${fn}: every value must be a finite number, received ${describe(bad)}`);
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`${fn}: samples must be a positive integer, received ${describe(samples)}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`${fn}: level must be in (0, 1), received ${describe(level)}`);
  const n = xs.length;
  const rand = mulberry32(seed >>> 0);
  const bp: number[] = [];
  const bs: number[] = [];
  const bx = new Array<number>(n);
  const by = new Array<number>(n);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rand() * n);
      bx[i] = xs[j];
      by[i] = ys[j];
    }
    const p = pearson(bx, by);
    const q = spearman(bx, by);
    if (!Number.isNaN(p)) bp.push(p);
    if (!Number.isNaN(q)) bs.push(q);
  }
  const ci = (r: number, boot: number[]): CorrelationCI => {
    if (Number.isNaN(r) || boot.length === 0) return { r, lo: NaN, hi: NaN };
    boot.sort((a, b) => a - b);
    const q = (p: number) => boot[Math.min(boot.length - 1, Math.max(0, Math.floor(p * boot.length)))];
    return { r, lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2) };
  };
  return { n, pearson: ci(pearson(xs, ys), bp), spearman: ci(spearman(xs, ys), bs) };
}
