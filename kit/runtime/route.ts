/**
 * Choosing the runtime, above kit/model and kit/onnx: `model.runWithCache` (through the router slot of
 * kit/model/router.ts, installed when this module loads) and `generate` run on ONNX Runtime when they can, else on
 * TensorFlow.js.
 *
 * The ONNX path serves a call when no gradient is needed (no gradient tape is recording), the model has no permanent
 * hooks, and every temporary hook is a steering value (`steeringHook` makes one), which the graph takes as an input;
 * cached activations are always expressible (every hook point is a graph output). Anything else — a hook that must
 * run arbitrary JS, training — runs on TensorFlow.js. `run` and `runWithHooks` stay on TensorFlow.js: they are the
 * reference the hooks are defined against (`runOnnx` is their ONNX twin).
 *
 * One switch forces either path: `setInferencePath("tfjs")` (never ONNX), `"onnx"` (always, and an error naming the
 * obstacle when the call cannot run there), `"auto"` (the default). The environment variable
 * `PERSONA_KIT_INFERENCE=tfjs|onnx|auto` sets the starting value; `withInferencePath(path, fn)` scopes a setting.
 */
import type { FwdHook, HookFilter } from "../model/hooks";
import { taping } from "../model/ops";
import { installRouter } from "../model/router";
import { isSteering } from "../model/steering";
import type { HookedTransformer } from "../model/transformer";
import { runWithCacheOnnx } from "../onnx/run";
import { resolveHooks } from "../onnx/session";
import { steeringOnly } from "../onnx/generate";

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
  for (const [i, h] of fwdHooks.entries()) if (!isSteering(h)) return `fwdHooks[${i}] is a JS hook function (only steering values compile into the graph)`;
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

installRouter({
  runWithCache(model, input, { namesFilter, fwdHooks }: { namesFilter?: HookFilter; fwdHooks?: readonly FwdHook[] }) {
    if (!routeToOnnx(model, fwdHooks, "runWithCache")) return null;
    const names = namesFilter === undefined ? undefined : resolveHooks(model, namesFilter, "runWithCache"); // tfjs's error messages
    return runWithCacheOnnx(model, input, { namesFilter: names ?? (() => true), steer: steeringOnly(fwdHooks, "runWithCache"), where: "runWithCache" });
  },
});
