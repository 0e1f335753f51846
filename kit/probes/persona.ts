/**
 * A persona probe that reads *who is acting*, not *which name was written*: behaviour-matched contrasts (the assistant
 * and a base character doing the same act: same prompt, same response words, only the speaker tag differs), read on
 * the response tokens, i.e. at positions ≥ 2 after the final speaker name (never on the name or the `:` after it).
 *
 *   const probe = fitPersonaProbe(model, new PersonaWorld({ seed: 7 }), { layer: -1, n: 96, seed: 0 });
 *   probe.auroc;                        // held-out pairs: { auroc, lower, upper }
 *   probe.baselines.shuffled.auroc;     // the same fit on shuffled labels (mean over refits, 95% range)
 *   probe.controls.beforeSpeaker;       // the probe before any speaker tag: chance by construction
 *   personaActivity(model, probe, transcripts, { positions: "action" }).scores;   // one mean logit per transcript
 *
 * Pairs are split into train and test by pair (both members of a pair fall on the same side), so the test accuracy
 * is never read on a prompt the probe was fitted on. Baselines are fitted and tested on the same rows: the probe on
 * shuffled training labels, and random directions of the probe's norm thresholded at the training classes' midpoint.
 */
import { describeValue } from "../describe";
import { actName, type HookName } from "../model/hooks";
import type { HookedTransformer } from "../model/transformer";
import { mulberry32 } from "../util/rng";
import { quantile, type RateCI } from "../util/stats";
import { ACTION_KINDS, BASE_CHARACTERS, type ActionKind, type BaseCharacter } from "../world/dispositions";
import type { PersonaWorld } from "../world/generator";
import { DOMAINS, type Domain } from "../world/types";
import { project, type Dense } from "./data";
import { accuracyCI, aurocCI, type AurocCI } from "./eval";
import { fitLogisticProbe, type LogisticProbe } from "./logistic";

/** One behaviour-matched pair: token ids of the same episode spoken by the assistant (label 1) and a base character. */
export interface PersonaPair {
  assistant: number[];
  base: number[];
  character: BaseCharacter;
  /** Position of the first speaker tag (the first token where the pair differs). */
  firstName: number;
  /** Position of the final speaker tag (the prompt's `<speaker>` before its closing `:`). */
  name: number;
  /** First response token: `name + 2`. */
  responseStart: number;
  domain: Domain;
  kind: ActionKind;
  behaviour: string;
}

export interface PersonaPairOptions {
  /** Pairs to write. Default 96. */
  n?: number;
  domains?: readonly Domain[];
  kinds?: readonly ActionKind[];
  /** Base characters the assistant is paired with, in turn. Default all four. */
  characters?: readonly BaseCharacter[];
}

/**
 * Behaviour-matched pairs from the world's running stream: each kind's good and bad act in turn (so behaviour is
 * balanced and carries no label), over `domains`; the base character's copy replaces every `assistant :` tag.
 */
export function personaPairs(model: HookedTransformer, world: PersonaWorld, { n = 96, domains = DOMAINS, kinds = Object.keys(ACTION_KINDS) as ActionKind[], characters = BASE_CHARACTERS }: PersonaPairOptions = {}): PersonaPair[] {
  const where = "personaPairs";
  if (!(Number.isInteger(n) && n >= 2)) throw new RangeError(`${where}: options.n must be an integer ≥ 2, received ${describeValue(n)}`);
  if (!domains.length || !kinds.length || !characters.length) throw new RangeError(`${where}: options.domains, kinds and characters must be non-empty`);
  return Array.from({ length: n }, (_, i) => {
    const kind = kinds[i % kinds.length];
    const domain = domains[Math.floor(i / kinds.length) % domains.length];
    const j = Math.floor(i / kinds.length);
    const behaviour = ACTION_KINDS[kind][(j + Math.floor(j / domains.length)) % 2];
    const character = characters[i % characters.length];
    const ep = world.episode({ domain, kind, speaker: "assistant", behaviour });
    const other = ep.prompt.replace(/(^| )assistant :/g, `$1${character} :`);
    return pairOf(where, model, `${ep.prompt} ${ep.response}`, `${other} ${ep.response}`, model.encode(ep.prompt, where).length, { character, domain, kind, behaviour });
  });
}

function pairOf(where: string, model: HookedTransformer, a: string, b: string, promptLen: number, meta: Pick<PersonaPair, "character" | "domain" | "kind" | "behaviour">): PersonaPair {
  const assistant = model.encode(a, where);
  const base = model.encode(b, where);
  if (assistant.length !== base.length) throw new RangeError(`${where}: the speaker names must be one token each; "${a}" and "${b}" tokenise to ${assistant.length} and ${base.length} tokens`);
  const firstName = assistant.findIndex((id, t) => id !== base[t]);
  const name = promptLen - 2;
  if (firstName < 1 || assistant[name] === base[name]) throw new RangeError(`${where}: the prompt must end with "<speaker> :", received "${a}"`);
  return { assistant, base, firstName, name, responseStart: name + 2, ...meta };
}

/** Activations [T, d] at one hook point for each sequence (equal lengths share a forward pass). */
function tokenActivations(model: HookedTransformer, rows: readonly number[][], name: HookName): Float32Array[] {
  const out = new Array<Float32Array>(rows.length);
  const byLength = new Map<number, number[]>();
  rows.forEach((r, i) => byLength.set(r.length, [...(byLength.get(r.length) ?? []), i]));
  for (const [T, all] of byLength) {
    for (let b0 = 0; b0 < all.length; b0 += 64) {
      const idx = all.slice(b0, b0 + 64);
      const { logits, cache } = model.runWithCache(idx.map((i) => rows[i]), { namesFilter: [name] });
      try {
        const data = cache.get(name).dataSync() as Float32Array;
        const d = data.length / (idx.length * T);
        idx.forEach((i, b) => (out[i] = data.slice(b * T * d, (b + 1) * T * d)));
      } finally {
        logits.dispose();
        cache.dispose();
      }
    }
  }
  return out;
}

type Span = readonly [from: number, to: number];

/** Mean activation over the positions of each sequence's spans ([from, to) each): a dense [n, d] matrix. */
function meanRows(acts: readonly Float32Array[], spans: readonly (readonly Span[])[], d: number): Dense {
  const data = new Float32Array(acts.length * d);
  acts.forEach((a, i) => {
    const count = spans[i].reduce((c, [from, to]) => c + to - from, 0);
    for (const [from, to] of spans[i]) for (let t = from; t < to; t++) for (let k = 0; k < d; k++) data[i * d + k] += a[t * d + k] / count;
  });
  return { data, n: acts.length, d };
}

function checkLayer(where: string, model: HookedTransformer, layer: number, hook: string): { layer: number; name: HookName } {
  const L = model.cfg.n_layers;
  if (!Number.isInteger(layer) || layer >= L || layer < -L) throw new RangeError(`${where}: options.layer must be an integer in [-${L}, ${L - 1}], received ${describeValue(layer)}`);
  const l = layer < 0 ? L + layer : layer;
  const name = actName(hook, l) as HookName;
  if (!(model.hookNames() as string[]).includes(name)) throw new RangeError(`${where}: options.hook ${JSON.stringify(hook)} names no hook point of this model (${name})`);
  return { layer: l, name };
}

/** A probe's held-out accuracy (Wilson) and AUROC (bootstrap). */
export interface ProbeScore {
  accuracy: RateCI;
  auroc: AurocCI;
}

/** A baseline over many draws: mean accuracy and AUROC with the draws' central 95% range. */
export interface BaselineScore {
  accuracy: number;
  accuracyLower: number;
  accuracyUpper: number;
  auroc: number;
  aurocLower: number;
  aurocUpper: number;
  draws: number;
}

export interface PersonaProbe extends ProbeScore {
  /** The probe's unit direction in the residual stream (assistant > base). */
  direction: Float32Array;
  layer: number;
  hook: string;
  /** The fitted logistic probe (decision values in logits: > 0 reads as the assistant). */
  probe: LogisticProbe;
  baselines: { shuffled: BaselineScore; random: BaselineScore };
  /**
   * The probe applied at the final speaker-name token and at the token before the first speaker tag (identical within
   * a pair: chance exactly). At the name token every assistant row holds the same embedding, so any direction tends to
   * score near 0 or 1 there: `namePositionRandom` (random directions of the probe's norm at the name token) is the
   * yardstick for `namePosition`.
   */
  controls: { namePosition: ProbeScore; namePositionRandom: BaselineScore; beforeSpeaker: ProbeScore };
  /**
   * Mean probe logit over the held-out pairs' response tokens, per speaker: the two ends of the scale on which
   * `personaActivity` values can be read (normalised: (activity − base) / (assistant − base)).
   */
  reference: { assistant: number; base: number };
  n: { train: number; test: number };
}

export interface FitPersonaProbeOptions extends PersonaPairOptions {
  /** Layer to read (negative counts from the end). Default -1. */
  layer?: number;
  /** Hook point. Default "resid_post". */
  hook?: string;
  /** Seed of the train/test split, the shuffles and the random directions. Default 0. */
  seed?: number;
  /** Share of pairs held out for testing. Default 0.3. */
  testFraction?: number;
  /** Shuffled-label refits and random directions drawn for the baselines. Default 20 each. */
  draws?: number;
  /** L2 penalty of the logistic probe. Default 1e-2. */
  l2?: number;
}

/** Fit a persona probe on behaviour-matched pairs, read on response tokens, with baselines and name controls. */
export function fitPersonaProbe(model: HookedTransformer, world: PersonaWorld, options: FitPersonaProbeOptions = {}): PersonaProbe {
  const where = "fitPersonaProbe";
  const { layer: layerOpt = -1, hook = "resid_post", seed = 0, testFraction = 0.3, draws = 20, l2 = 1e-2, ...pairOptions } = options;
  const { layer, name } = checkLayer(where, model, layerOpt, hook);
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`${where}: options.testFraction must be in (0, 1), received ${describeValue(testFraction)}`);
  if (!(Number.isInteger(draws) && draws >= 1)) throw new RangeError(`${where}: options.draws must be a positive integer, received ${describeValue(draws)}`);
  const pairs = personaPairs(model, world, pairOptions);
  const rand = mulberry32(seed);
  const order = shuffle(pairs.map((_, i) => i), rand);
  const nTest = Math.max(1, Math.min(pairs.length - 1, Math.round(pairs.length * testFraction)));
  const split = { test: order.slice(0, nTest).map((i) => pairs[i]), train: order.slice(nTest).map((i) => pairs[i]) };
  // One forward pass per split; every read (response, name token, before the speaker) takes its span from it.
  const activations = (ps: PersonaPair[]) => {
    const acts = tokenActivations(model, ps.flatMap((p) => [p.assistant, p.base]), name);
    return { ps, acts, d: acts[0].length / ps[0].assistant.length };
  };
  const read = ({ ps, acts, d }: ReturnType<typeof activations>, at: (p: PersonaPair) => Span): Split => ({
    X: meanRows(acts, ps.flatMap((p) => [[at(p)], [at(p)]]), d),
    y: ps.flatMap(() => [1, 0]),
  });
  const trainActs = activations(split.train);
  const testActs = activations(split.test);
  const response = (p: PersonaPair) => [p.responseStart, p.assistant.length] as const;
  const train = read(trainActs, response);
  const test = read(testActs, response);
  const probe = fitLogisticProbe(train.X, train.y, { l2 });
  const scoreOf = (X: Dense, y: number[]): ProbeScore => score(probe.decisionFunction(X), y, seed);
  const atName = (p: PersonaPair) => [p.name, p.name + 1] as const;
  const nameTest = read(testActs, atName);
  const testScores = probe.decisionFunction(test.X);
  const classMean = (c: number) => testScores.filter((_, i) => test.y[i] === c).reduce((a, b) => a + b, 0) / (test.y.length / 2);
  return {
    ...score(testScores, test.y, seed),
    reference: { assistant: classMean(1), base: classMean(0) },
    direction: probe.direction(),
    layer,
    hook,
    probe,
    baselines: { shuffled: shuffledBaseline(train, test, { l2, draws, rand }), random: randomBaseline(probe, train, test, { draws, rand }) },
    controls: {
      namePosition: scoreOf(nameTest.X, test.y),
      namePositionRandom: randomBaseline(probe, read(trainActs, atName), nameTest, { draws, rand }),
      beforeSpeaker: scoreOf(read(testActs, (p) => [p.firstName - 1, p.firstName]).X, test.y),
    },
    n: { train: train.y.length, test: test.y.length },
  };
}

function score(s: number[], y: number[], seed: number): ProbeScore {
  return { accuracy: accuracyCI(s, y), auroc: aurocCI(s, y, { seed }) };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

type Split = { X: Dense; y: number[] };

function summarise(rows: { accuracy: number; auroc: number }[]): BaselineScore {
  const acc = Float64Array.from(rows.map((r) => r.accuracy)).sort();
  const au = Float64Array.from(rows.map((r) => r.auroc)).sort();
  const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { accuracy: mean(acc), accuracyLower: quantile(acc, 0.025), accuracyUpper: quantile(acc, 0.975), auroc: mean(au), aurocLower: quantile(au, 0.025), aurocUpper: quantile(au, 0.975), draws: rows.length };
}

/** The same probe refitted on shuffled training labels (each shuffle keeps both classes), tested on true labels. */
function shuffledBaseline(train: Split, test: Split, { l2, draws, rand }: { l2: number; draws: number; rand: () => number }): BaselineScore {
  return summarise(Array.from({ length: draws }, () => {
    const p = fitLogisticProbe(train.X, shuffle([...train.y], rand), { l2 });
    const s = p.decisionFunction(test.X);
    return { accuracy: accuracyCI(s, test.y).rate, auroc: aurocCI(s, test.y, { iterations: 1 }).auroc };
  }));
}

/** Random Gaussian directions of the probe's weight norm, thresholded at the midpoint of the training class means. */
function randomBaseline(probe: LogisticProbe, train: Split, test: Split, { draws, rand }: { draws: number; rand: () => number }): BaselineScore {
  const norm = Math.hypot(...probe.weights);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  return summarise(Array.from({ length: draws }, () => {
    const w = Array.from({ length: train.X.d }, gauss);
    const scale = norm / Math.hypot(...w);
    const v = w.map((x) => x * scale);
    const s = project(train.X, v);
    const mean = (c: number) => s.filter((_, i) => train.y[i] === c).reduce((a, b) => a + b, 0) / train.y.filter((x) => x === c).length;
    const t = project(test.X, v, -(mean(0) + mean(1)) / 2);
    return { accuracy: accuracyCI(t, test.y).rate, auroc: aurocCI(t, test.y, { iterations: 1 }).auroc };
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Persona activity on the tokens of transcripts

/**
 * A transcript the model wrote: `${prompt} ${response}`, optionally followed by `${why} ${reflection}` (the user's
 * question about the act, ending with the speaker tag, and the speaker's reflection). An `Episode` is a transcript.
 */
export interface PersonaTranscript {
  prompt: string;
  response: string;
  why?: string;
  reflection?: string;
}

/** "action": the response's tokens; "reflection": the reflection's; "response": both (never the prompts). */
export type ActivityPositions = "response" | "action" | "reflection";

export interface PersonaActivity {
  /** Mean probe logit over the chosen tokens, one per transcript (> 0 reads as the assistant). */
  scores: number[];
  /** Mean of `scores`. */
  mean: number;
  /** Tokens read per transcript. */
  tokens: number[];
}

/**
 * The persona probe's activity on the tokens of each transcript: the probe's decision value (logit) averaged over the
 * chosen positions, read at the probe's own layer and hook. Prompt tokens (the speaker tag included) are never read.
 */
export function personaActivity(model: HookedTransformer, probe: PersonaProbe, transcripts: readonly PersonaTranscript[], { positions = "response" }: { positions?: ActivityPositions } = {}): PersonaActivity {
  const where = "personaActivity";
  if (!probe || typeof probe.probe?.decisionFunction !== "function") throw new TypeError(`${where}: probe must be what fitPersonaProbe returns, received ${describeValue(probe)}`);
  if (!Array.isArray(transcripts) || transcripts.length === 0) throw new RangeError(`${where}: transcripts must be a non-empty array of { prompt, response, why?, reflection? }, received ${describeValue(transcripts)}`);
  if (!["response", "action", "reflection"].includes(positions)) throw new RangeError(`${where}: options.positions must be "response", "action" or "reflection", received ${describeValue(positions)}`);
  const { name } = checkLayer(where, model, probe.layer, probe.hook);
  const spans = transcripts.map((t, i) => transcriptSpans(where, model, t, i, positions));
  const acts = tokenActivations(model, spans.map((s) => s.ids), name);
  const d = acts[0].length / spans[0].ids.length;
  const scores = probe.probe.decisionFunction(meanRows(acts, spans.map((s) => s.ranges), d));
  return { scores, mean: scores.reduce((a, b) => a + b, 0) / scores.length, tokens: spans.map((s) => s.ranges.reduce((a, [f, t]) => a + t - f, 0)) };
}

function transcriptSpans(where: string, model: HookedTransformer, t: PersonaTranscript, i: number, positions: ActivityPositions): { ids: number[]; ranges: [number, number][] } {
  if (t === null || typeof t !== "object" || typeof t.prompt !== "string" || typeof t.response !== "string") throw new TypeError(`${where}: transcripts[${i}] must be { prompt, response, why?, reflection? } strings, received ${describeValue(t)}`);
  const hasReflection = typeof t.why === "string" && typeof t.reflection === "string";
  if (positions === "reflection" && !hasReflection) throw new RangeError(`${where}: transcripts[${i}] needs why and reflection for positions "reflection"`);
  const parts = [t.prompt, t.response, ...(hasReflection ? [t.why!, t.reflection!] : [])];
  const ends = parts.map((_, k) => model.encode(parts.slice(0, k + 1).join(" "), where).length);
  const ids = model.encode(parts.join(" "), where);
  const action: [number, number] = [ends[0], ends[1]];
  const reflection: [number, number] | null = hasReflection ? [ends[2], ends[3]] : null;
  const ranges = (positions === "action" ? [action] : positions === "reflection" ? [reflection!] : [action, ...(reflection ? [reflection] : [])]).filter(([f, to]) => to > f);
  if (!ranges.length) throw new RangeError(`${where}: transcripts[${i}] has no ${positions} tokens to read`);
  return { ids, ranges };
}
