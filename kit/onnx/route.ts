/**
 * Automatic routing between the TensorFlow.js path and the ONNX Runtime path.
 *
 * `model.runWithCache` and `generate` ask `routeToOnnx` first (`run` and `runWithHooks` stay on TensorFlow.js: they
 * are the reference the hooks are checked against; `runOnnx` is their ONNX twin). The ONNX path serves a call
 * when no gradient is needed (no gradient tape is recording), the model has no permanent hooks, and every temporary
 * hook is a steering hook the graph can take as an input (made by `steeringHook`); cached activations are
 * always expressible (every hook point is a graph output). Anything else — a hook that must run arbitrary JS,
 * training — runs on TensorFlow.js.
 *
 * One switch forces either path: `setInferencePath("tfjs")` (never ONNX), `"onnx"` (always, and an error naming the
 * obstacle when the call cannot run there), `"auto"` (the default). The environment variable
 * `PERSONA_KIT_INFERENCE=tfjs|onnx|auto` sets the starting value.
 */
import type { tf } from "../backend";
import type { GenerateOptions, GenerateResult, PromptInput } from "../generate/generate";
import type { ActivationCache } from "../model/cache";
import type { FwdHook, HookFilter } from "../model/hooks";
import { taping } from "../model/ops";
import type { HookedTransformer, TokensInput } from "../model/transformer";
import { generateOnnx } from "./generate";
import { runWithCacheOnnx } from "./run";
import { resolveHooks } from "./session";
import { steeringOf, type OnnxSteer } from "./steer";

export type InferencePath = "auto" | "onnx" | "tfjs";
const PATHS: readonly InferencePath[] = ["auto", "onnx", "tfjs"];

function initialPath(): InferencePath {
  const v = typeof process !== "undefined" ? process.env?.PERSONA_KIT_INFERENCE : undefined;
  return v !== undefined && (PATHS as readonly string[]).includes(v) ? (v as InferencePath) : "auto";
}

let current: InferencePath = initialPath();

/** Choose the inference path for every later call; returns the previous setting. */
export function setInferencePath(path: InferencePath): InferencePath {
  if (!PATHS.includes(path)) throw new RangeError(`setInferencePath: path must be "auto", "onnx" or "tfjs", received ${JSON.stringify(path)}`);
  const prev = current;
  current = path;
  return prev;
}

export function getInferencePath(): InferencePath {
  return current;
}

/** Run `fn` with the inference path set to `path`, restoring the previous setting afterwards (also on errors). */
export function withInferencePath<T>(path: InferencePath, fn: () => T): T {
  const prev = setInferencePath(path);
  try {
    return fn();
  } finally {
    current = prev;
  }
}

/** Why the ONNX path cannot serve a call, or null when it can. */
export function onnxObstacle(model: HookedTransformer, fwdHooks: readonly FwdHook[] = []): string | null {
  if (taping()) return "a gradient tape is recording (the ONNX graph has no gradients)";
  if (model.numHooks > 0) return `the model has ${model.numHooks} permanent hook${model.numHooks > 1 ? "s" : ""} (JS functions)`;
  for (const [i, h] of fwdHooks.entries()) if (!steeringOf(h)) return `fwdHooks[${i}] is a JS hook function (only steeringHook hooks compile into the graph)`;
  return null;
}

/** Whether this call goes to ONNX Runtime under the current setting; throws when "onnx" is forced but impossible. */
export function routeToOnnx(model: HookedTransformer, fwdHooks: readonly FwdHook[] | undefined, where: string): boolean {
  if (current === "tfjs") return false;
  const why = onnxObstacle(model, fwdHooks ?? []);
  if (why === null) return true;
  if (current === "onnx") throw new Error(`${where}: the ONNX path is forced (setInferencePath("onnx")) but ${why}; setInferencePath("auto") falls back to TensorFlow.js`);
  return false;
}

function steersOf(fwdHooks: readonly FwdHook[] | undefined): OnnxSteer[] {
  return (fwdHooks ?? []).map((h) => steeringOf(h)!);
}

/** `model.runWithCache` on ONNX Runtime (call after `routeToOnnx` said yes). */
export function routedRunWithCache(
  model: HookedTransformer,
  input: TokensInput,
  { namesFilter, fwdHooks }: { namesFilter?: HookFilter; fwdHooks?: readonly FwdHook[] },
): { logits: tf.Tensor3D; cache: ActivationCache } {
  const names = namesFilter === undefined ? undefined : resolveHooks(model, namesFilter, "runWithCache"); // tfjs's error messages
  return runWithCacheOnnx(model, input, { namesFilter: names ?? (() => true), steer: steersOf(fwdHooks), where: "runWithCache" });
}

/** `generate` on ONNX Runtime. */
export function routedGenerate(model: HookedTransformer, prompts: PromptInput, options: GenerateOptions): GenerateResult {
  if (options.namesFilter !== undefined) resolveHooks(model, options.namesFilter, "generate");
  return generateOnnx(model, prompts, options, "generate");
}
