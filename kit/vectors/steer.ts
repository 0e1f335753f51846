/**
 * Steering with a direction: a steering value that adds `coefficient · v` to an activation at every position
 * (the prompt pass and every generation step), and a steering curve — the rate of a classified behaviour in
 * generated answers as a function of the coefficient, with Wilson 95% intervals.
 *
 *   const pv = personaVector(model, { positive: rook, negative: mira }, { layers: [0] });
 *   generate(model, prompts, { fwdHooks: [steeringHook(pv[0], { coefficient: 2 })] });
 *   steeringCurve(model, prompts, pv[0], { coefficients: [0, 1, 2, 4], classify: (c) => classify("harmful_request", c, { domain: "coding" }).behaviour === "complies_with_harm" });
 *
 * The hook is a steering value `{ hook, vector, positions? }` (kit/model/steering.ts), passed in `fwdHooks` of the call
 * it steers (`runWithHooks`, `runWithCache`, `generate`), so nothing stays on the model. Every runtime accepts it:
 * TensorFlow.js adds the vector where the hook point is reached, ONNX Runtime takes it as a graph input, so steered
 * `runWithCache` and `generate` stay on the fast path. It holds no tensor and needs no disposal.
 */
import { describeValue as describe } from "../describe";
import { generate } from "../runtime/generate";
import { promptRows } from "../generate/decode";
import { isChatTurns, type ChatTurn } from "../model/chat-slot";
import { actName, type HookName } from "../model/hooks";
import type { Steering } from "../model/steering";
import type { HookedTransformer } from "../model/transformer";
import { wilson } from "../util/stats";
import { checkLayers, resolveDirection, type Direction } from "./persona";

export interface SteeringHookOptions {
  /** Block whose activation is steered; default the `LayerVector`'s own layer. */
  layer?: number;
  /** Hook point inside the block (short or long name). Default "resid_post". */
  hook?: string;
  /** α in `act + α·v`. 0 leaves the activation untouched (x + 0 = x exactly). */
  coefficient: number;
  /**
   * Where to steer: "all" (default), "prompt" (positions before `promptLength`), "response" (from `promptLength` on:
   * after the instruction, every generated token), or explicit token positions (a token's position index).
   */
  positions?: SteerPositions;
  /** Prompt length in tokens, for positions "prompt" and "response" (`chatTokens(model, messages).length`). */
  promptLength?: number;
}

/** Where a steering vector is added: every position, the prompt only, the response only, or listed positions. */
export type SteerPositions = "all" | "prompt" | "response" | readonly number[];

/** The `positions` field of a steering value for `where` (undefined: every position). */
export function steeringPositions(where: SteerPositions | undefined, promptLength: number | undefined, fn = "steeringPositions"): Steering["positions"] {
  if (where === undefined || where === "all") return undefined;
  if (Array.isArray(where)) {
    if (where.some((p) => !Number.isInteger(p) || p < 0)) throw new RangeError(`${fn}: options.positions must be token positions (integers ≥ 0), received ${describe(where)}`);
    return [...where];
  }
  if (where !== "prompt" && where !== "response") throw new RangeError(`${fn}: options.positions must be "all", "prompt", "response" or a list of token positions, received ${describe(where)}`);
  if (!Number.isInteger(promptLength) || (promptLength as number) < 1) {
    throw new RangeError(`${fn}: options.promptLength must be the prompt's token count (an integer ≥ 1) for positions ${JSON.stringify(where)}, received ${describe(promptLength)}`);
  }
  return where === "prompt" ? { from: 0, to: promptLength } : { from: promptLength };
}

/** A steering value adding `coefficient · vector` to `blocks.{layer}.{hook}` at every position (or at `positions`). */
export function steeringHook(vector: Direction, options: SteeringHookOptions): Steering {
  const fn = "steeringHook";
  if (options === null || typeof options !== "object") throw new TypeError(`${fn}: options must be { layer?, hook?, coefficient }, received ${describe(options)}`);
  const { hook = "resid_post", coefficient } = options;
  if (typeof coefficient !== "number" || !Number.isFinite(coefficient)) throw new TypeError(`${fn}: options.coefficient must be a finite number, received ${describe(coefficient)}`);
  const { layer, values } = resolveDirection(fn, vector, options.layer);
  if (!Number.isInteger(layer) || layer < 0) throw new RangeError(`${fn}: options.layer must be an integer ≥ 0, received ${describe(layer)}`);
  if (typeof hook !== "string") throw new TypeError(`${fn}: options.hook must be a hook name such as "resid_post", received ${describe(hook)}`);
  const name = actName(hook, layer);
  if (!name.startsWith(`blocks.${layer}.`)) {
    throw new RangeError(`${fn}: options.hook must name a hook point inside a block (e.g. "resid_post"), received ${JSON.stringify(hook)} → ${JSON.stringify(name)}`);
  }
  // A value, not a function: every runtime accepts it (TensorFlow.js adds it at the hook point, ONNX Runtime feeds it
  // to the graph as an input). The vector's length is checked against the hook point when a model runs it.
  const positions = steeringPositions(options.positions, options.promptLength, fn);
  return { hook: name as HookName, vector: Float32Array.from(values, (v) => v * coefficient), ...(positions !== undefined ? { positions } : {}) };
}

export interface SteeringCurveOptions {
  /** Block to steer; default the `LayerVector`'s own layer. */
  layer?: number;
  /** Default "resid_post". */
  hook?: string;
  /** The α values, e.g. [0, 1, 2, 4]. */
  coefficients: readonly number[];
  /** True when a completion shows the behaviour counted (e.g. `classify(kind, c, { domain }).behaviour === "complies_with_harm"`). */
  classify: (completion: string, promptIndex: number) => boolean;
  /** Default 24. */
  maxNewTokens?: number;
  /** Default 1 (sampling). */
  temperature?: number;
  /** Sampler seed, the same for every coefficient (paired comparison). Default 0. */
  seed?: number;
  /** Where to steer: "all" (default), "prompt", "response" (each prompt's own length) or token positions. */
  positions?: SteerPositions;
}

/** One point of a steering curve: the behaviour's rate at one coefficient, with its Wilson 95% interval. */
export interface SteeringPoint {
  coefficient: number;
  rate: number;
  lower: number;
  upper: number;
  k: number;
  n: number;
}

/**
 * Generate an answer to every prompt (a string or chat messages) at each coefficient and count the answers `classify`
 * accepts.
 */
export function steeringCurve(model: HookedTransformer, prompts: readonly (string | readonly ChatTurn[])[], vector: Direction, options: SteeringCurveOptions): SteeringPoint[] {
  const fn = "steeringCurve";
  if (options === null || typeof options !== "object") throw new TypeError(`${fn}: options must be { coefficients, classify, layer?, … }, received ${describe(options)}`);
  const { hook = "resid_post", coefficients, classify, maxNewTokens = 24, temperature = 1, seed = 0, positions = "all" } = options;
  if (!Array.isArray(prompts) || prompts.length === 0 || prompts.some((p) => typeof p !== "string" && !isChatTurns(p))) {
    throw new TypeError(`${fn}: prompts must be a non-empty array of strings or chat messages, received ${describe(prompts)}`);
  }
  if (!Array.isArray(coefficients) || coefficients.length === 0 || coefficients.some((c) => typeof c !== "number" || !Number.isFinite(c))) {
    throw new TypeError(`${fn}: options.coefficients must be a non-empty array of finite numbers, received ${describe(coefficients)}`);
  }
  if (typeof classify !== "function") throw new TypeError(`${fn}: options.classify must be a function (completion, promptIndex) => boolean, received ${describe(classify)}`);
  const { layer, values } = resolveDirection(fn, vector, options.layer);
  checkLayers(fn, model, [layer]);
  const rows = prompts.map((p) => promptRows(model, typeof p === "string" ? p : [p], undefined, fn)[0]);
  return coefficients.map((coefficient) => {
    const completions = steeredCompletions(model, rows, (promptLength) => steeringHook(values, { layer, hook, coefficient, positions, promptLength }), { maxNewTokens, temperature, seed, byLength: positions === "prompt" || positions === "response" });
    const k = completions.reduce((s, c, i) => s + (classify(c, i) ? 1 : 0), 0);
    const n = completions.length;
    return { coefficient, ...wilson(k, n), k, n };
  });
}

/**
 * Completions of token-id prompts under a steering value built per prompt length (`byLength`: prompts of each length
 * generate together, so "prompt"/"response" positions are exact for every row), in the prompts' order.
 */
export function steeredCompletions(
  model: HookedTransformer,
  rows: readonly (readonly number[])[],
  steer: (promptLength: number) => Steering | null,
  { maxNewTokens = 24, temperature = 1, seed = 0, byLength = true }: { maxNewTokens?: number; temperature?: number; seed?: number; byLength?: boolean } = {},
): string[] {
  const groups = new Map<number, number[]>();
  rows.forEach((r, i) => {
    const key = byLength ? r.length : 0;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const out = new Array<string>(rows.length);
  for (const [len, idx] of groups) {
    const s = steer(len || rows[idx[0]].length);
    const { completions } = generate(model, idx.map((i) => rows[i]), { maxNewTokens, temperature, seed, fwdHooks: s ? [s] : [] });
    idx.forEach((i, j) => (out[i] = completions[j]));
  }
  return out;
}
