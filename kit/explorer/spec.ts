/**
 * What the explorer page is told about a model (explorer.json): the shapes its decode loop needs, the graph's hook
 * outputs and steering inputs, and the persona vectors and probes to show, in plain JSON numbers.
 */
import { describeValue as describe } from "../describe";
import { actName, type HookName } from "../model/hooks";
import { hookLastDim, hookRank } from "../model/steering";
import type { HookedTransformer } from "../model/transformer";
import type { DiffOfMeans } from "../probes/diffmeans";
import type { LogisticProbe } from "../probes/logistic";
import type { LayerVector, PersonaVector } from "../vectors/persona";

/** A vector to steer with: a `LayerVector` (its hook; every layer), a `PersonaVector` (its layers), or values. */
export type ExplorerVector = LayerVector | PersonaVector | { vector: ArrayLike<number>; layer: number; hook?: string };

/** A probe to score tokens with, read at `blocks.{layer}.{hook}` (hook default "resid_post"). */
export interface ExplorerProbe {
  probe: LogisticProbe | DiffOfMeans | { weights: ArrayLike<number>; bias: number };
  layer: number;
  hook?: string;
}

export interface ExplorerOptions {
  /** Persona vectors by name; each gets a steering slider and a projection heatmap. */
  vectors?: Record<string, ExplorerVector>;
  /** Probes by name; each colours the tokens. */
  probes?: Record<string, ExplorerProbe>;
  /** Example prompts (the first is generated on load). Default one empty-ish prompt per the tokenizer. */
  prompts?: readonly string[];
  /** New tokens per generation (default 24). */
  maxNewTokens?: number;
}

export interface VectorSpec { name: string; hook: string; layers: Record<string, number[]>; defaultLayer: number }
export interface ProbeSpec { name: string; hook: string; layer: number; weights: number[]; bias: number; center: number; kind: "logistic" | "diffmeans" | "linear" }

export interface ExplorerSpec {
  shape: { L: number; H: number; K: number; dh: number; d: number; V: number; nCtx: number; eos: number | null };
  vectors: VectorSpec[];
  probes: ProbeSpec[];
  /** Full hook names with a `steer.{hook}` graph input, and the input's width. */
  steerHooks: { name: HookName; d: number }[];
  /** Full hook names returned by the graph. */
  outputs: HookName[];
  prompts: string[];
  maxNewTokens: number;
}

/** The inner hook name ("hook_resid_post", "attn.hook_z") of a short or full name at `layer`. */
function innerHook(fn: string, hook: string, layer: number): string {
  const full = actName(hook, layer);
  const prefix = `blocks.${layer}.`;
  if (!full.startsWith(prefix)) throw new RangeError(`${fn}: hook must name a hook point inside a block (e.g. "resid_post"), received ${JSON.stringify(hook)}`);
  return full.slice(prefix.length);
}

function vectorSpec(fn: string, model: HookedTransformer, name: string, v: ExplorerVector): VectorSpec {
  const L = model.cfg.n_layers;
  const all = (values: ArrayLike<number>) => Object.fromEntries(Array.from({ length: L }, (_, l) => [String(l), Array.from(values)]));
  let spec: VectorSpec;
  if (v && typeof v === "object" && "vector" in v && typeof (v as { layer?: unknown }).layer === "number") {
    const lv = v as LayerVector | { vector: ArrayLike<number>; layer: number; hook?: string };
    const hook = "hookName" in lv ? lv.hookName : (lv.hook ?? "resid_post");
    spec = { name, hook: innerHook(fn, hook, lv.layer), layers: all(lv.vector), defaultLayer: lv.layer };
  } else if (v && typeof v === "object" && Object.values(v).length > 0 && Object.values(v).every((x) => x && typeof x === "object" && "vector" in x && "hookName" in x)) {
    const layers = Object.values(v as PersonaVector);
    spec = { name, hook: innerHook(fn, layers[0].hookName, layers[0].layer), layers: Object.fromEntries(layers.map((x) => [String(x.layer), Array.from(x.vector)])), defaultLayer: layers[Math.floor(layers.length / 2)].layer };
  } else {
    throw new TypeError(`${fn}: options.vectors.${name} must be a LayerVector, a PersonaVector or { vector, layer, hook? }, received ${describe(v)}`);
  }
  const d = hookLastDim(model.cfg, `blocks.0.${spec.hook}`);
  if (hookRank(spec.hook) !== 3) throw new RangeError(`${fn}: options.vectors.${name} steers ${spec.hook}, a per-head hook point; the explorer steers [batch, position, d] hook points such as resid_post`);
  for (const [l, values] of Object.entries(spec.layers)) {
    if (!(Number(l) >= 0 && Number(l) < L)) throw new RangeError(`${fn}: options.vectors.${name} has layer ${l}, expected a layer in [0, ${L})`);
    if (values.length !== d) throw new RangeError(`${fn}: options.vectors.${name} at layer ${l} must have ${d} values (the width of ${spec.hook}), received ${values.length}`);
  }
  return spec;
}

function probeSpec(fn: string, model: HookedTransformer, name: string, p: ExplorerProbe): ProbeSpec {
  const L = model.cfg.n_layers;
  if (!p || typeof p !== "object" || !p.probe || !Number.isInteger(p.layer) || p.layer < 0 || p.layer >= L) {
    throw new TypeError(`${fn}: options.probes.${name} must be { probe, layer (an integer in [0, ${L})), hook? }, received ${describe(p)}`);
  }
  const hook = innerHook(fn, p.hook ?? "resid_post", p.layer);
  const q = p.probe as Partial<LogisticProbe & DiffOfMeans> & { weights?: ArrayLike<number>; bias?: number };
  let spec: Omit<ProbeSpec, "name" | "hook" | "layer">;
  if (q.direction instanceof Float32Array && typeof q.threshold === "number") spec = { weights: Array.from(q.direction), bias: 0, center: q.threshold, kind: "diffmeans" };
  else if (q.weights && typeof q.bias === "number") spec = { weights: Array.from(q.weights), bias: q.bias, center: 0, kind: typeof q.decisionFunction === "function" ? "logistic" : "linear" };
  else throw new TypeError(`${fn}: options.probes.${name}.probe must be a LogisticProbe, a DiffOfMeans or { weights, bias }, received ${describe(p.probe)}`);
  const d = hookLastDim(model.cfg, `blocks.${p.layer}.${hook}`);
  if (spec.weights.length !== d) throw new RangeError(`${fn}: options.probes.${name} must have ${d} weights (the width of ${hook}), received ${spec.weights.length}`);
  return { name, hook, layer: p.layer, ...spec };
}

/** explorer.json for `model` and the chosen vectors and probes; `fn` names the public function in errors. */
export function explorerSpec(model: HookedTransformer, { vectors = {}, probes = {}, prompts, maxNewTokens = 24 }: ExplorerOptions = {}, fn = "exportExplorer"): ExplorerSpec {
  const c = model.cfg;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new RangeError(`${fn}: options.maxNewTokens must be an integer ≥ 1, received ${describe(maxNewTokens)}`);
  const vs = Object.entries(vectors).map(([n, v]) => vectorSpec(fn, model, n, v));
  const ps = Object.entries(probes).map(([n, p]) => probeSpec(fn, model, n, p));
  const L = c.n_layers;
  const steerHooks = [...new Set(vs.map((v) => v.hook))].flatMap((h) => Array.from({ length: L }, (_, l) => ({ name: `blocks.${l}.${h}` as HookName, d: hookLastDim(c, h) })));
  const outputs = [...new Set([
    ...Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_post`),
    ...Array.from({ length: L }, (_, l) => `blocks.${l}.attn.hook_pattern`),
    ...ps.map((p) => `blocks.${p.layer}.${p.hook}`),
  ])] as HookName[];
  const eos = model.tokenizer?.eosTokenId ?? c.eosTokenId ?? null;
  return {
    shape: { L, H: c.n_heads, K: c.n_key_value_heads, dh: c.d_head, d: c.d_model, V: c.d_vocab, nCtx: c.n_ctx, eos },
    vectors: vs,
    probes: ps,
    steerHooks,
    outputs,
    prompts: [...(prompts ?? [""])],
    maxNewTokens,
  };
}
