/**
 * `generate(model, prompts, options)`: the one decode loop (kit/generate/decode.ts) on the runtime the router picks —
 * ONNX Runtime when every hook is a steering value and no permanent hook is attached, TensorFlow.js otherwise.
 */
import { decode, type GenerateOptions, type GenerateResult, type PromptInput } from "../generate/decode";
import { tfjsStepper } from "../generate/tfjs-step";
import { resolveHooks } from "../onnx/session";
import { generateOnnx } from "../onnx/generate";
import type { HookedTransformer } from "../model/transformer";
import { routeToOnnx } from "./route";

export type { GenerateOptions, GenerateResult, PromptInput };

/** Generate continuations of one or several prompts. */
export function generate(model: HookedTransformer, prompts: PromptInput, options: GenerateOptions = {}): GenerateResult {
  const { fwdHooks = [], namesFilter } = options;
  if (routeToOnnx(model, fwdHooks, "generate")) {
    if (namesFilter !== undefined) resolveHooks(model, namesFilter, "generate"); // before the prompts, as the tfjs path checks
    return generateOnnx(model, prompts, options, "generate");
  }
  return decode(model, prompts, options, () => tfjsStepper(model, { fwdHooks, namesFilter }));
}
