/**
 * LoRA adapters in PEFT's format: a folder with `adapter_config.json` (peft_type "LORA", r, lora_alpha,
 * lora_dropout, target_modules, …) and `adapter_model.safetensors` with PEFT's tensor names and layout:
 *
 *   base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight   [r, in]    (nn.Linear(in, r).weight)
 *   base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight   [out, r]
 *   base_model.model.transformer.h.0.attn.c_attn.lora_B.weight       [3·d, r]   (GPT-2: fused Q|K|V outputs)
 *
 * The kit keeps A [in, r] and B [r, out] (x @ A @ B, as its weights are [in, out]); GPT-2's c_attn B is split into
 * W_Q, W_K and W_V's column blocks. A kit model with interleaved RoPE pairs (llama2.c) gets q/k B columns permuted as
 * kit/io/hf.ts permutes the weights, so adapters follow their base model through `saveModel`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeValue } from "../describe";
import { concatCols, interleavedToHalvesOrder, permuteHeadCols, sliceCols, transpose2d } from "../io/hf";
import { resolveAdapterFolder, type HubOptions } from "../io/hub";
import { readSafetensors, writeSafetensors, type TensorToWrite } from "../io/safetensors";
import { loraTensorNames, selectModules, type LoraConfig, type LoraModule } from "../model/lora";
import type { HookedTransformer } from "../model/transformer";
import { attachAdapter, loraConfig } from "./adapter";
import type { LoraAdapter } from "../model/lora";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";
const PREFIX = "base_model.model.";

export interface SaveAdapterOptions {
  /** Which adapter; default the active one. */
  name?: string;
  /** Written as `base_model_name_or_path`; default null. */
  baseModel?: string | null;
}

/** Write an adapter as a PEFT folder (`adapter_config.json` + `adapter_model.safetensors`) that PEFT and `loadAdapter` read. */
export function saveAdapter(model: HookedTransformer, dir: string, { name, baseModel = null }: SaveAdapterOptions = {}): void {
  const fn = "saveAdapter";
  const key = name ?? model.adapters.active;
  const a = key === null ? undefined : model.adapters.byName.get(key);
  if (!a) throw new RangeError(`${fn}: ${key === null ? "the model has no active adapter; pass { name }" : `no adapter named ${JSON.stringify(key)}`}`);
  const tensors = new Map<string, TensorToWrite>();
  for (const m of a.modules) {
    const names = loraTensorNames(m);
    const r = a.config.r;
    const A = a.variables.get(names.A)!.dataSync() as Float32Array; // [in, r]
    tensors.set(`${PREFIX}${m.hf}.lora_A.weight`, { shape: [r, m.inDim], data: transpose2d(A, m.inDim, r) });
    const parts = names.B.map((b, i) => ({ data: hfOrder(model, m.weights[i], a.variables.get(b)!.dataSync() as Float32Array, r, "toHf"), cols: m.outDims[i] }));
    const total = m.outDims.reduce((x, y) => x + y, 0);
    tensors.set(`${PREFIX}${m.hf}.lora_B.weight`, { shape: [total, r], data: transpose2d(concatCols(parts, r), r, total) });
  }
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors, { format: "pt" });
  fs.writeFileSync(path.join(dir, ADAPTER_CONFIG), JSON.stringify(peftConfig(model, a.config, baseModel), null, 2) + "\n");
}

function peftConfig(model: HookedTransformer, c: LoraConfig, baseModel: string | null): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: typeof c.targetModules === "string" ? c.targetModules : [...c.targetModules],
    layers_to_transform: c.layersToTransform ? [...c.layersToTransform] : null,
    layers_pattern: null,
    fan_in_fan_out: model.cfg.family === "gpt2",
    bias: "none",
    use_rslora: c.useRslora,
    use_dora: false,
    modules_to_save: null,
    init_lora_weights: true,
    rank_pattern: {},
    alpha_pattern: {},
    inference_mode: true,
  };
}

/** B [r, out] of a q/k weight between the kit's RoPE pairing and Hugging Face's rotate-half order (identity otherwise). */
function hfOrder(model: HookedTransformer, weight: string, B: Float32Array, r: number, dir: "toHf" | "toKit"): Float32Array {
  const cfg = model.cfg;
  const qk = weight.endsWith("attn.W_Q") ? cfg.n_heads : weight.endsWith("attn.W_K") ? cfg.n_key_value_heads : 0;
  if (cfg.family !== "llama" || cfg.ropeStyle !== "interleaved" || qk === 0) return B;
  const order = interleavedToHalvesOrder(cfg.d_head);
  if (dir === "toHf") return permuteHeadCols(B, r, qk, order);
  const inverse = new Array<number>(order.length);
  order.forEach((o, i) => (inverse[o] = i));
  return permuteHeadCols(B, r, qk, inverse);
}

export interface LoadAdapterOptions extends HubOptions {
  /** Name it takes on the model; default "default" (PEFT's). */
  name?: string;
  /** Make it active; default true. */
  activate?: boolean;
}

/** Load a PEFT LoRA adapter (a folder or a hub id) onto `model` and, by default, make it active. */
export async function loadAdapter(model: HookedTransformer, source: string, options: LoadAdapterOptions = {}): Promise<LoraAdapter> {
  const { name, activate, ...hub } = options;
  const dir = await resolveAdapterFolder(source, hub);
  return loadAdapterFolder(model, dir, { name, activate });
}

/** `loadAdapter` for a local folder (synchronous). */
export function loadAdapterFolder(model: HookedTransformer, dir: string, { name = "default", activate = true }: { name?: string; activate?: boolean } = {}): LoraAdapter {
  const fn = "loadAdapter";
  const config = readPeftConfig(fn, model, dir);
  const weightsPath = path.join(dir, ADAPTER_WEIGHTS);
  if (!fs.existsSync(weightsPath)) {
    const bin = fs.existsSync(path.join(dir, "adapter_model.bin")) ? " (it has adapter_model.bin: persona-kit reads safetensors only)" : "";
    throw new Error(`${fn}: ${dir} has no ${ADAPTER_WEIGHTS}${bin}`);
  }
  const file = readSafetensors(weightsPath);
  const modules = selectModules(model.cfg, config, `${fn}: ${path.join(dir, ADAPTER_CONFIG)}`);
  const problems: string[] = [];
  const expected = new Set<string>();
  const kit = new Map<string, Float32Array>();
  for (const m of modules) readModule(model, m, config.r, file, weightsPath, expected, kit, problems);
  for (const n of file.keys()) {
    if (!expected.has(n)) problems.push(`tensor ${n} in ${weightsPath} is not a LoRA tensor of a module its target_modules ${JSON.stringify(config.targetModules)} select on this ${model.cfg.family} model (${model.cfg.n_layers} layers)`);
  }
  if (problems.length) throw new RangeError(`${fn}: the adapter in ${dir} does not fit the model:\n  - ${problems.slice(0, 8).join("\n  - ")}${problems.length > 8 ? `\n  - … ${problems.length - 8} more` : ""}`);
  return attachAdapter(fn, model, name, config, modules, kit, activate);
}

function readModule(
  model: HookedTransformer,
  m: LoraModule,
  r: number,
  file: ReturnType<typeof readSafetensors>,
  where: string,
  expected: Set<string>,
  kit: Map<string, Float32Array>,
  problems: string[],
): void {
  const names = loraTensorNames(m);
  const total = m.outDims.reduce((x, y) => x + y, 0);
  const aName = `${PREFIX}${m.hf}.lora_A.weight`;
  const bName = `${PREFIX}${m.hf}.lora_B.weight`;
  expected.add(aName).add(bName);
  const a = file.get(aName);
  const b = file.get(bName);
  const check = (n: string, t: typeof a, shape: number[]): boolean => {
    if (!t) problems.push(`tensor ${n} [${shape}] is missing from ${where}`);
    else if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
      problems.push(`tensor ${n} has shape [${t.shape}], expected [${shape}] (r = ${r}; the base module is [${m.inDim} → ${total}])`);
    } else return true;
    return false;
  };
  const okA = check(aName, a, [r, m.inDim]);
  const okB = check(bName, b, [total, r]);
  if (!okA || !okB) return;
  kit.set(names.A, transpose2d(a!.data, r, m.inDim));
  const full = transpose2d(b!.data, total, r); // [r, total]
  let start = 0;
  names.B.forEach((bn, i) => {
    kit.set(bn, hfOrder(model, m.weights[i], sliceCols(full, r, total, start, m.outDims[i]), r, "toKit"));
    start += m.outDims[i];
  });
}

/** Read and check `adapter_config.json`; every unsupported field is named. */
export function readPeftConfig(fn: string, model: HookedTransformer, dir: string): LoraConfig {
  const file = path.join(dir, ADAPTER_CONFIG);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${fn}: cannot read ${file}: ${code === "ENOENT" ? "no such file (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)" : (e as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new TypeError(`${fn}: ${file} must hold a JSON object, received ${describeValue(raw)}`);
  const problems: string[] = [];
  if (raw.peft_type !== undefined && raw.peft_type !== "LORA") problems.push(`peft_type must be "LORA", received ${JSON.stringify(raw.peft_type)}`);
  if (raw.bias !== undefined && raw.bias !== "none") problems.push(`bias ${JSON.stringify(raw.bias)} is not supported (only "none")`);
  if (raw.use_dora === true) problems.push(`use_dora (DoRA) is not supported`);
  if (raw.lora_bias === true) problems.push(`lora_bias is not supported`);
  for (const k of ["exclude_modules", "target_parameters", "layer_replication"]) {
    const v = raw[k];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) problems.push(`${k} ${JSON.stringify(v)} is not supported`);
  }
  if (Array.isArray(raw.modules_to_save) && raw.modules_to_save.length) problems.push(`modules_to_save ${JSON.stringify(raw.modules_to_save)} is not supported`);
  for (const k of ["rank_pattern", "alpha_pattern"]) {
    const v = raw[k];
    if (v && typeof v === "object" && Object.keys(v).length) problems.push(`${k} ${JSON.stringify(v)} is not supported (one rank and alpha for every module)`);
  }
  if (raw.layers_pattern !== undefined && raw.layers_pattern !== null && raw.layers_to_transform === null) problems.push(`layers_pattern without layers_to_transform is not supported`);
  if (problems.length) throw new RangeError(`${fn}: ${file}:\n  - ${problems.join("\n  - ")}`);
  const layers = raw.layers_to_transform;
  try {
    return loraConfig(fn, model, {
      r: raw.r as number,
      alpha: (raw.lora_alpha as number | undefined) ?? 8,
      dropout: (raw.lora_dropout as number | undefined) ?? 0,
      targetModules: (raw.target_modules ?? undefined) as string[] | string | undefined,
      useRslora: raw.use_rslora === true,
      layersToTransform: typeof layers === "number" ? [layers] : Array.isArray(layers) ? (layers as number[]) : null,
    });
  } catch (e) {
    throw new RangeError(`${(e as Error).message.replace(`${fn}: `, `${fn}: ${file}: `)}`);
  }
}
