/**
 * LoRA adapters on a model: add, list, switch, merge into the base weights and unmerge (kit/model/lora.ts has the
 * math; kit/lora/peft.ts reads and writes PEFT's format). The active adapter is part of every forward pass, in every
 * runtime, so hooks, caches, generation and training all see the adapted model.
 *
 *   addAdapter(model, { r: 8, alpha: 16, targetModules: ["q_proj", "v_proj"] });   // active, B = 0: the base model
 *   await sft(model, conversations, { steps: 100 });                               // trains only A and B
 *   mergeAdapter(model); unmergeAdapter(model); setAdapter(model, null);            // base again
 */
import { tf } from "../backend";
import { describeValue } from "../describe";
import { initLoraTensors, LoraAdapter, selectModules, type LoraConfig } from "../model/lora";
import type { HookedTransformer } from "../model/transformer";

export interface AddAdapterOptions extends Partial<LoraConfig> {
  /** Adapter name; default "default" (PEFT's). */
  name?: string;
  /** Seeds A's initialisation; default 0. */
  seed?: number;
  /** Make it the active adapter; default true. */
  activate?: boolean;
}

/** PEFT's default target modules per model family (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`). */
export function defaultTargetModules(model: HookedTransformer): string[] {
  return model.cfg.family === "gpt2" ? ["c_attn"] : ["q_proj", "v_proj"];
}

/** Check and complete a LoRA config (PEFT's defaults: r 8, alpha 8, dropout 0). */
export function loraConfig(fn: string, model: HookedTransformer, o: Partial<LoraConfig>): LoraConfig {
  const { r = 8, alpha = 8, dropout = 0, targetModules = defaultTargetModules(model), useRslora = false, layersToTransform = null } = o;
  const problems: string[] = [];
  if (!Number.isInteger(r) || r <= 0) problems.push(`r must be a positive integer, received ${describeValue(r)}`);
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) problems.push(`alpha must be a finite number, received ${describeValue(alpha)}`);
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) problems.push(`dropout must be a number in [0, 1), received ${describeValue(dropout)}`);
  if (typeof targetModules !== "string" && !(Array.isArray(targetModules) && targetModules.length > 0 && targetModules.every((t) => typeof t === "string"))) {
    problems.push(`targetModules must be a non-empty array of module names, a regular expression string or "all-linear", received ${describeValue(targetModules)}`);
  }
  if (layersToTransform !== null && !(Array.isArray(layersToTransform) && layersToTransform.every((l) => Number.isInteger(l) && l >= 0 && l < model.cfg.n_layers))) {
    problems.push(`layersToTransform must be null or layer indices in [0, ${model.cfg.n_layers}), received ${describeValue(layersToTransform)}`);
  }
  if (problems.length) throw new RangeError(`${fn}: invalid LoRA config:\n  - ${problems.join("\n  - ")}`);
  return { r, alpha, dropout, targetModules, useRslora, layersToTransform };
}

/**
 * Attach a fresh adapter (A seeded as PEFT initialises it, B = 0: the model's outputs are unchanged until it trains)
 * and, by default, make it active. Returns it.
 */
export function addAdapter(model: HookedTransformer, options: AddAdapterOptions = {}): LoraAdapter {
  const { name = "default", seed = 0, activate = true, ...rest } = options;
  const config = loraConfig("addAdapter", model, rest);
  const modules = selectModules(model.cfg, config, "addAdapter");
  return attachAdapter("addAdapter", model, name, config, modules, initLoraTensors(modules, config.r, seed), activate);
}

/** Attach an adapter built from tensors (kit names, kit layout), replacing none: a name in use is an error. */
export function attachAdapter(
  fn: string,
  model: HookedTransformer,
  name: string,
  config: LoraConfig,
  modules: LoraAdapter["modules"],
  tensors: ReadonlyMap<string, Float32Array>,
  activate: boolean,
): LoraAdapter {
  if (typeof name !== "string" || name.length === 0) throw new TypeError(`${fn}: name must be a non-empty string, received ${describeValue(name)}`);
  if (model.adapters.byName.has(name)) throw new RangeError(`${fn}: the model already has an adapter named ${JSON.stringify(name)}; removeAdapter(model, ${JSON.stringify(name)}) first or pass another name`);
  const adapter = new LoraAdapter(name, config, modules, tensors, `pk-lora-${modelTag(model)}`);
  model.adapters.byName.set(name, adapter);
  if (activate) setAdapter(model, name);
  return adapter;
}

let tags = 0;
const modelTags = new WeakMap<HookedTransformer, number>();
function modelTag(model: HookedTransformer): number {
  let t = modelTags.get(model);
  if (t === undefined) modelTags.set(model, (t = ++tags));
  return t;
}

/** Adapter names, with which one is active and whether it is merged. */
export function listAdapters(model: HookedTransformer): { name: string; active: boolean; merged: boolean; r: number; targets: number }[] {
  return [...model.adapters.byName.values()].map((a) => ({ name: a.name, active: model.adapters.active === a.name, merged: a.merged, r: a.config.r, targets: a.targets.size }));
}

/** Make `name` the active adapter, or none (null: the base model). Refused while an adapter is merged. */
export function setAdapter(model: HookedTransformer, name: string | null): void {
  const current = model.adapters.active === null ? null : model.adapters.byName.get(model.adapters.active);
  if (current?.merged && current.name !== name) throw new Error(`setAdapter: adapter ${JSON.stringify(current.name)} is merged into the weights; unmergeAdapter(model) first`);
  if (name !== null && !model.adapters.byName.has(name)) {
    throw new RangeError(`setAdapter: no adapter named ${JSON.stringify(name)}; the model has ${describeNames(model)}`);
  }
  model.adapters.active = name;
}

/** Detach an adapter and free its tensors (refused while it is merged). */
export function removeAdapter(model: HookedTransformer, name: string): void {
  const a = model.adapters.byName.get(name);
  if (!a) throw new RangeError(`removeAdapter: no adapter named ${JSON.stringify(name)}; the model has ${describeNames(model)}`);
  if (a.merged) throw new Error(`removeAdapter: adapter ${JSON.stringify(name)} is merged into the weights; unmergeAdapter(model) first`);
  if (model.adapters.active === name) model.adapters.active = null;
  model.adapters.byName.delete(name);
  a.dispose();
}

function describeNames(model: HookedTransformer): string {
  const names = [...model.adapters.byName.keys()];
  return names.length ? `adapters ${names.map((n) => JSON.stringify(n)).join(", ")}` : "no adapters";
}

function activeAdapter(fn: string, model: HookedTransformer): LoraAdapter {
  const name = model.adapters.active;
  if (name === null) throw new Error(`${fn}: the model has no active adapter (setAdapter(model, name) first); it has ${describeNames(model)}`);
  return model.adapters.byName.get(name)!;
}

/** Add the active adapter's `scale · A @ B` into its base weights; the forward pass then skips the adapter. */
export function mergeAdapter(model: HookedTransformer): void {
  const a = activeAdapter("mergeAdapter", model);
  if (a.merged) throw new Error(`mergeAdapter: adapter ${JSON.stringify(a.name)} is already merged`);
  for (const w of a.targets.keys()) tf.tidy(() => model.param(w).assign(tf.add(model.param(w), a.delta(w))));
  a.merged = true;
}

/** Subtract the merged adapter's product from the base weights again (equal to the originals up to rounding). */
export function unmergeAdapter(model: HookedTransformer): void {
  const a = activeAdapter("unmergeAdapter", model);
  if (!a.merged) throw new Error(`unmergeAdapter: adapter ${JSON.stringify(a.name)} is not merged`);
  for (const w of a.targets.keys()) tf.tidy(() => model.param(w).assign(tf.sub(model.param(w), a.delta(w))));
  a.merged = false;
}
