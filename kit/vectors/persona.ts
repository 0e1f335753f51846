/**
 * Persona vectors (Chen et al. 2025, arXiv 2507.21509): a trait direction is the difference of mean activations
 * between texts that show the trait and texts that do not, per layer, at one hook point (default the residual
 * stream after each block).
 *
 *   const pv = personaVector(model, { positive: rookPrompts, negative: miraPrompts }, { layers: [0] });
 *   pv[0].vector;   // Float32Array [d_model]: mean(pos) − mean(neg) at blocks.0.hook_resid_post, last token
 *   projection(model, heldOut, pv[0]);   // number[]: scalar projection of each text onto the unit vector
 *
 * Positions: `"last"` reads the last token (where the model is about to answer: world prompts end with
 * `<speaker> :`); `"prompt_mean"` averages every prompt position (BOS included); `"response_mean"` averages the
 * response positions (Chen et al.'s choice), which needs `{ prompt, response }` items or `responseStart`.
 * Texts of different lengths are run in batches of equal length; every tensor is disposed before returning.
 */
import { tf } from "../backend";
import { describeValue as describe } from "../describe";
import { actName, type HookName } from "../model/hooks";
import type { HookedTransformer } from "../model/transformer";
import { chatPromptResponse } from "../chat/template";
import { isChatTurns, type ChatTurn } from "../model/chat-slot";
import { warnUnknownTokens } from "../tokenizers/unknown";

/** Where in each text activations are read. */
export type PersonaPositions = "last" | "prompt_mean" | "response_mean";

/** A prompt and its response; the response's tokens follow the prompt's (no BOS between them). */
export interface PromptResponse {
  prompt: string;
  response: string;
}

/** Chat messages and the assistant's response: the prompt rendered by the model's chat template with the generation prompt. */
export interface ChatPromptResponse {
  prompt: readonly ChatTurn[];
  response: string;
}

/**
 * A text, its token ids, a prompt/response pair, or a conversation whose last turn is the assistant's (read as
 * `{ prompt: earlier turns, response: last turn }`).
 */
export type PersonaText = string | readonly number[] | PromptResponse | ChatPromptResponse | readonly ChatTurn[];

/** Contrastive sets: texts that show the trait, texts that do not. */
export interface ContrastSets {
  positive: readonly PersonaText[];
  negative: readonly PersonaText[];
}

/** One contrastive pair (e.g. the same question under a trait-eliciting and a trait-suppressing system prompt). */
export interface ContrastPair {
  pos: PersonaText;
  neg: PersonaText;
}

export interface ReadOptions {
  /** Hook point inside each block, short or long name (`"resid_post"`, `"hook_resid_post"`, `"attn_out"`…). Default "resid_post". */
  hook?: string;
  /** Default "last". */
  positions?: PersonaPositions;
  /**
   * Token index where the response starts, for string or token-id items with `positions: "response_mean"` (or the
   * end of the prompt for `"prompt_mean"`): one number for every text, or one per text (positives then negatives for
   * `personaVector`). Ignored for `{ prompt, response }` items, whose boundary is known.
   */
  responseStart?: number | readonly number[];
}

export interface PersonaVectorOptions extends ReadOptions {
  /** Blocks to compute a vector at; default all. */
  layers?: readonly number[];
}

/** A persona vector at one layer. */
export interface LayerVector {
  layer: number;
  /** The full hook name, e.g. "blocks.0.hook_resid_post". */
  hookName: string;
  /** mean(positive) − mean(negative), [d]. */
  vector: Float32Array;
  /** Euclidean norm of `vector`. */
  norm: number;
  /** Number of positive and negative texts. */
  nPositive: number;
  nNegative: number;
}

/** Persona vectors by layer: `pv[layer].vector`. */
export type PersonaVector = Record<number, LayerVector>;

/** A direction: a Float32Array/number[] of length d, a 1-D tensor, or a `LayerVector` (its layer is used by default). */
export type Direction = Float32Array | readonly number[] | tf.Tensor | LayerVector;

export interface ProjectionOptions extends ReadOptions {
  /** Block to read; default the `LayerVector`'s own layer (required for plain arrays and tensors). */
  layer?: number;
}

const POSITIONS: readonly PersonaPositions[] = ["last", "prompt_mean", "response_mean"];

/**
 * Chen et al.'s persona vector: per layer, the mean activation over `positive` texts minus the mean over `negative`
 * texts. Accepts `{ positive, negative }` sets or `{ pos, neg }[]` pairs.
 */
export function personaVector(model: HookedTransformer, data: ContrastSets | readonly ContrastPair[], options: PersonaVectorOptions = {}): PersonaVector {
  const fn = "personaVector";
  const { layers = Array.from({ length: model.cfg.n_layers }, (_, i) => i), hook = "resid_post", positions = "last", responseStart } = options;
  let positive: readonly PersonaText[];
  let negative: readonly PersonaText[];
  if (Array.isArray(data)) {
    (data as readonly ContrastPair[]).forEach((p, i) => {
      if (p === null || typeof p !== "object" || !("pos" in p) || !("neg" in p)) {
        throw new TypeError(`${fn}: pairs[${i}] must be { pos, neg }, received ${describe(p)}`);
      }
    });
    positive = (data as readonly ContrastPair[]).map((p) => p.pos);
    negative = (data as readonly ContrastPair[]).map((p) => p.neg);
  } else if (data !== null && typeof data === "object" && Array.isArray((data as ContrastSets).positive) && Array.isArray((data as ContrastSets).negative)) {
    ({ positive, negative } = data as ContrastSets);
  } else {
    throw new TypeError(`${fn}: data must be { positive: text[], negative: text[] } or { pos, neg }[] pairs, received ${describe(data)}`);
  }
  if (positive.length === 0 || negative.length === 0) {
    throw new RangeError(`${fn}: need at least one positive and one negative text, received ${positive.length} positive and ${negative.length} negative`);
  }
  const ls = checkLayers(fn, model, layers);
  const starts = splitStarts(fn, responseStart, positive.length, negative.length);
  const pos = readActivations(fn, model, positive, { layers: ls, hook, positions, responseStart: starts[0], warnUnknown: false });
  const neg = readActivations(fn, model, negative, { layers: ls, hook, positions, responseStart: starts[1], warnUnknown: false });
  if ([...positive, ...negative].some((t) => !Array.isArray(t) || isChatTurns(t))) warnUnknownTokens(fn, model.tokenizer, [...pos.rows, ...neg.rows]);
  const out: PersonaVector = {};
  for (const l of ls) {
    const mp = meanOf(pos.acts.get(l)!);
    const mn = meanOf(neg.acts.get(l)!);
    const vector = new Float32Array(mp.length);
    let sq = 0;
    for (let i = 0; i < mp.length; i++) {
      vector[i] = mp[i] - mn[i];
      sq += vector[i] * vector[i];
    }
    out[l] = { layer: l, hookName: pos.names.get(l)!, vector, norm: Math.sqrt(sq), nPositive: positive.length, nNegative: negative.length };
  }
  return out;
}

/** Scalar projection of each text's activation (at `layer`, `hook`, `positions`) onto the unit vector along `vector`. */
export function projection(model: HookedTransformer, texts: readonly PersonaText[], vector: Direction, options: ProjectionOptions = {}): number[] {
  const fn = "projection";
  if (!Array.isArray(texts)) throw new TypeError(`${fn}: texts must be an array of strings, token-id arrays or { prompt, response }, received ${describe(texts)}`);
  if (texts.length === 0) return [];
  const { layer, values } = resolveDirection(fn, vector, options.layer);
  const { hook = "resid_post", positions = "last", responseStart } = options;
  const [l] = checkLayers(fn, model, [layer]);
  const unit = unitVector(fn, values);
  const { acts } = readActivations(fn, model, texts, { layers: [l], hook, positions, responseStart });
  const rows = acts.get(l)!;
  if (rows[0].length !== unit.length) {
    throw new RangeError(`${fn}: vector must have one value per activation dimension (${rows[0].length} at ${actName(hook, l)}), received ${unit.length}`);
  }
  return rows.map((a) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * unit[i];
    return s;
  });
}

// ----------------------------------------------------------------------------------------------------------------
// Shared helpers (also used by steer.ts and monitor.ts)

/** The values and layer of a direction argument; errors name `fn`. Tensors are read, not disposed. */
export function resolveDirection(fn: string, vector: Direction, layer: number | undefined): { layer: number; values: Float32Array } {
  let values: Float32Array;
  let own: number | undefined;
  if (vector instanceof Float32Array) values = vector;
  else if (vector instanceof tf.Tensor) {
    if (vector.rank !== 1) throw new RangeError(`${fn}: vector tensor must be 1-D [d], received shape [${vector.shape}]`);
    values = new Float32Array(vector.dataSync() as ArrayLike<number>);
  } else if (Array.isArray(vector)) {
    if (vector.some((v) => typeof v !== "number")) throw new TypeError(`${fn}: vector must be an array of numbers, received ${describe(vector)}`);
    values = Float32Array.from(vector as readonly number[]);
  } else if (vector !== null && typeof vector === "object" && (vector as LayerVector).vector instanceof Float32Array) {
    values = (vector as LayerVector).vector;
    own = (vector as LayerVector).layer;
  } else {
    throw new TypeError(`${fn}: vector must be a Float32Array, number[], 1-D tf.Tensor or a personaVector entry { layer, vector }, received ${describe(vector)}`);
  }
  if (values.length === 0) throw new RangeError(`${fn}: vector is empty`);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`${fn}: vector must be finite, received ${values[bad]} at index ${bad}`);
  const l = layer ?? own;
  if (l === undefined) throw new TypeError(`${fn}: options.layer is required when vector is not a personaVector entry, received undefined`);
  return { layer: l, values };
}

/** The resolved block hook name at a layer, checked against the model. */
export function blockHook(fn: string, model: HookedTransformer, hook: string, layer: number): HookName {
  if (typeof hook !== "string" || hook.length === 0) throw new TypeError(`${fn}: options.hook must be a hook name such as "resid_post", received ${describe(hook)}`);
  const name = actName(hook, layer);
  const names = model.hookNames();
  if (!(names as string[]).includes(name) || !name.startsWith(`blocks.${layer}.`)) {
    throw new RangeError(`${fn}: options.hook must name a hook point inside block ${layer} (e.g. "resid_post" → blocks.${layer}.hook_resid_post), received ${JSON.stringify(hook)} → ${JSON.stringify(name)}`);
  }
  return name as HookName;
}

export function checkLayers(fn: string, model: HookedTransformer, layers: readonly number[]): number[] {
  if (!Array.isArray(layers) || layers.length === 0) throw new TypeError(`${fn}: options.layers must be a non-empty array of block indices, received ${describe(layers)}`);
  const n = model.cfg.n_layers;
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= n) throw new RangeError(`${fn}: layer must be an integer in [0, ${n - 1}], received ${describe(l)}`);
  }
  return [...new Set(layers)];
}

function unitVector(fn: string, v: Float32Array): Float64Array {
  let sq = 0;
  for (const x of v) sq += x * x;
  const norm = Math.sqrt(sq);
  if (!(norm > 0)) throw new RangeError(`${fn}: vector has norm 0; a projection needs a non-zero direction`);
  return Float64Array.from(v, (x) => x / norm);
}

function meanOf(rows: Float64Array[]): Float64Array {
  const out = new Float64Array(rows[0].length);
  for (const r of rows) for (let i = 0; i < r.length; i++) out[i] += r[i];
  for (let i = 0; i < out.length; i++) out[i] /= rows.length;
  return out;
}

function splitStarts(fn: string, rs: number | readonly number[] | undefined, nPos: number, nNeg: number): [number | readonly number[] | undefined, number | readonly number[] | undefined] {
  if (rs === undefined || typeof rs === "number") return [rs, rs];
  if (!Array.isArray(rs) || rs.length !== nPos + nNeg) {
    throw new RangeError(`${fn}: options.responseStart must be one number or one per text (${nPos} positive + ${nNeg} negative = ${nPos + nNeg}), received ${describe(rs)}`);
  }
  return [rs.slice(0, nPos), rs.slice(nPos)];
}

interface Item {
  ids: number[];
  from: number;
  to: number;
}

/** Token ids and the [from, to) position range read for one text. */
function toItem(fn: string, model: HookedTransformer, text: PersonaText, i: number, positions: PersonaPositions, rs: number | readonly number[] | undefined): Item {
  let ids: number[];
  let start: number | undefined;
  const tok = () => {
    if (!model.tokenizer) throw new Error(`${fn}: texts[${i}] is text but the model has no tokenizer; pass token ids with options.responseStart`);
    return model.tokenizer;
  };
  if (typeof text === "string") ids = tok().encode(text);
  else if (isChatTurns(text)) {
    const last = text[text.length - 1];
    if (last.role !== "assistant" || text.length < 2) throw new RangeError(`${fn}: texts[${i}] is a conversation; its last turn must be the assistant's answer after at least one other turn, received ${text.length} turns ending with ${JSON.stringify(last.role)}`);
    ({ ids, responseStart: start } = chatPromptResponse(model, text.slice(0, -1), last.content));
  } else if (Array.isArray(text)) ids = [...(text as readonly number[])];
  else if (text !== null && typeof text === "object" && (typeof (text as PromptResponse).prompt === "string" || isChatTurns((text as PromptResponse).prompt)) && typeof (text as PromptResponse).response === "string") {
    const { prompt, response } = text as PromptResponse | ChatPromptResponse;
    if (typeof prompt !== "string") ({ ids, responseStart: start } = chatPromptResponse(model, prompt, response));
    else {
      const p = tok().encode(prompt);
      ids = [...p, ...tok().encode(response, { addBos: false })];
      start = p.length;
    }
  } else {
    throw new TypeError(`${fn}: texts[${i}] must be a string, token ids or { prompt, response }, received ${describe(text)}`);
  }
  if (ids.length === 0) throw new RangeError(`${fn}: texts[${i}] has no tokens`);
  if (ids.length > model.cfg.n_ctx) throw new RangeError(`${fn}: texts[${i}] has ${ids.length} tokens, more than n_ctx ${model.cfg.n_ctx}`);
  if (start === undefined && rs !== undefined) {
    start = typeof rs === "number" ? rs : rs[i];
    if (!Number.isInteger(start)) throw new TypeError(`${fn}: options.responseStart must be an integer (token index), received ${describe(start)} for texts[${i}]`);
  }
  const T = ids.length;
  if (positions === "last") return { ids, from: T - 1, to: T };
  if (positions === "prompt_mean") {
    const end = start ?? T;
    if (end < 1 || end > T) throw new RangeError(`${fn}: the prompt of texts[${i}] must span 1..${T} tokens, received responseStart ${end}`);
    return { ids, from: 0, to: end };
  }
  if (start === undefined) {
    throw new TypeError(`${fn}: positions "response_mean" needs { prompt, response } items or options.responseStart, received ${describe(text)} without responseStart`);
  }
  if (start < 0 || start >= T) throw new RangeError(`${fn}: responseStart of texts[${i}] must be in [0, ${T - 1}] (its length is ${T}), received ${start}`);
  return { ids, from: start, to: T };
}

/**
 * Per text and layer, the activation averaged over the chosen positions (float64 for exact means), flattened past the
 * position axis. Texts of equal length share a forward pass (batches of up to 64). Used by `personaVector`,
 * `projection` and the probes' `extractFeatures`.
 */
export function readActivations(
  fn: string,
  model: HookedTransformer,
  texts: readonly PersonaText[],
  { layers, hook, positions, responseStart, warnUnknown = true }: { layers: readonly number[]; hook: string; positions: PersonaPositions; responseStart?: number | readonly number[]; warnUnknown?: boolean },
): { acts: Map<number, Float64Array[]>; names: Map<number, HookName>; rows: number[][] } {
  if (!POSITIONS.includes(positions)) throw new RangeError(`${fn}: options.positions must be one of ${POSITIONS.map((p) => JSON.stringify(p)).join(", ")}, received ${describe(positions)}`);
  if (Array.isArray(responseStart) && responseStart.length !== texts.length) {
    throw new RangeError(`${fn}: options.responseStart must be one number or one per text (${texts.length}), received ${responseStart.length} values`);
  }
  const names = new Map(layers.map((l) => [l, blockHook(fn, model, hook, l)] as const));
  const items = texts.map((t, i) => toItem(fn, model, t, i, positions, responseStart));
  if (warnUnknown && texts.some((t) => !Array.isArray(t) || isChatTurns(t))) warnUnknownTokens(fn, model.tokenizer, items.map((it) => it.ids));
  const byLength = new Map<number, number[]>();
  items.forEach((it, i) => {
    if (!byLength.has(it.ids.length)) byLength.set(it.ids.length, []);
    byLength.get(it.ids.length)!.push(i);
  });
  const acts = new Map<number, Float64Array[]>(layers.map((l) => [l, new Array<Float64Array>(texts.length)]));
  const maxBatch = 64;
  for (const [T, all] of byLength) {
    for (let b0 = 0; b0 < all.length; b0 += maxBatch) {
      const idx = all.slice(b0, b0 + maxBatch);
      const { logits, cache } = model.runWithCache(
        idx.map((i) => items[i].ids),
        { namesFilter: [...names.values()] },
      );
      try {
        for (const l of layers) {
          const act = cache.get(names.get(l)!);
          // [batch, position, …]: everything past the position axis is flattened into d (hook_z: n_heads · d_head).
          const qk = /hook_(pattern|attn_scores)$/.test(names.get(l)!); // [batch, head, query, key]: no position axis 1
          if (qk || act.rank < 3 || act.shape[1] !== T) throw new RangeError(`${fn}: options.hook must be a [batch, position, …] activation; ${names.get(l)} has shape [${act.shape}]`);
          const d = act.shape.slice(2).reduce((a, b) => a * b, 1);
          const data = act.dataSync() as Float32Array;
          idx.forEach((i, b) => {
            const { from, to } = items[i];
            const m = new Float64Array(d);
            for (let t = from; t < to; t++) {
              const off = (b * T + t) * d;
              for (let k = 0; k < d; k++) m[k] += data[off + k];
            }
            for (let k = 0; k < d; k++) m[k] /= to - from;
            acts.get(l)![i] = m;
          });
        }
      } finally {
        logits.dispose();
        cache.dispose();
      }
    }
  }
  return { acts, names, rows: items.map((it) => it.ids) };
}
