/**
 * The ONNX runtime of the model definition (kit/model/forward.ts): an op recorder that turns the one forward pass into
 * an ONNX graph (opset 17, standard ops only), so that hook points become graph outputs and steering vectors become
 * graph inputs. Nothing here restates the model: `forward(cfg, onnxOps, inputs)` emits the nodes.
 *
 * Inputs (B = batch, T = new positions, P = past positions, Tk = P + T):
 *   input_ids       int64 [B, T]
 *   position_ids    int64 [B|1, T]             (a [1, T] row broadcasts over the batch, as the tfjs path does)
 *   attention_mask  int64 [B, Tk]              (decoding graph only; 0 = left padding)
 *   past_key_values.{l}.key / .value  float [B, K, P, dh]   (decoding graph only; P may be 0)
 *   steer.{hook}    float [rows, len, (1,) d]: added to the activation (broadcast: [1, 1, d] = every position)
 *   {param}         float, the parameters, when `paramsAsInputs` (training graphs); otherwise initializers
 * Outputs:
 *   logits          float [B, T, V]
 *   present.{l}.key / .value          float [B, K, Tk, dh]  (decoding graph only)
 *   {hook}          the activation at each requested hook point, named by its hook name, in the tfjs path's shape
 *
 * The attention mask reproduces the tfjs path's: query i (absolute position P + i) sees key j when j ≤ P + i and key
 * j is not padding (or j is the query itself). These input/output names are the ones transformers.js feeds and reads
 * for `model_type` llama / gpt2 decoders, so the decoding graph with no hooks is also the exported model.
 */
import { forward, type Activation, type ForwardOps } from "../model/forward";
import type { HookName } from "../model/hooks";
import { hookNames } from "../model/hooks";
import { ropeTables } from "../model/ops";
import { hookLastDim, hookRank } from "../model/steering";
import type { HookedTransformer } from "../model/transformer";
import { DT, GraphBuilder } from "./proto";

export interface GraphOptions {
  /** Hook points returned as outputs (full names). */
  hooks?: readonly HookName[];
  /** Hook points that get an additive `steer.{hook}` input. */
  steer?: readonly HookName[];
  /** Build the KV-cache decoding graph (attention_mask, past_key_values inputs; present outputs). Default false. */
  kv?: boolean;
  /**
   * Parameters as float graph inputs named by their parameter names (training graphs), not initializers: true for
   * every parameter (and the live LoRA adapter's tensors), "adapter" for only the adapter's tensors (the base weights
   * stay initializers: LoRA training). Default false.
   */
  paramsAsInputs?: boolean | "adapter";
  /** Build into this builder (to append nodes after `logits`, e.g. a loss and its gradients). Default a fresh one. */
  builder?: GraphBuilder;
  /** Hook points that get an `ablate.{hook}` input, a unit vector v̂ [d, 1] projected out: x − (x·v̂) v̂ (before steering). */
  ablate?: readonly HookName[];
  /** Hook points whose value before any steering or ablation `recordForward` reports in `taps` (training statistics). */
  taps?: readonly HookName[];
}

export interface BuiltGraph {
  /** The encoded model (empty when `builder` was given: the caller appends nodes and encodes). */
  bytes: Uint8Array;
  inputNames: string[];
  outputNames: string[];
}

/** What `recordForward` leaves in the builder. */
export interface RecordedForward {
  /** The logits value [B, T, V] (also a graph output named "logits"). */
  logits: string;
  inputNames: string[];
  /** Parameter name → graph value (input or initializer). */
  params: Map<string, string>;
  /** Hook name → its value before steering and ablation, for the `taps` asked for. */
  taps: Map<string, string>;
}

function checkGraphHooks(model: HookedTransformer, hooks: readonly HookName[], steer: readonly HookName[]): void {
  const known = new Set<string>(hookNames(model.cfg));
  for (const h of [...hooks, ...steer]) {
    if (!known.has(h)) throw new RangeError(`buildGraph: unknown hook name ${JSON.stringify(h)}; model.hookNames() lists the ${known.size} hook points`);
  }
  for (const h of steer) {
    if (hookLastDim(model.cfg, h) < 0) throw new RangeError(`buildGraph: cannot steer ${h}: its last axis is the key position`);
  }
}

/** Record the model's forward pass into `g` (inputs, nodes, outputs); `encode` it, or append more (training). */
export function recordForward(model: HookedTransformer, g: GraphBuilder, { hooks = [], steer = [], kv = false, paramsAsInputs = false, ablate = [], taps = [] }: GraphOptions = {}): RecordedForward {
  checkGraphHooks(model, hooks, [...steer, ...ablate, ...taps]);
  const cfg = model.cfg;
  const { n_key_value_heads: K, d_head: dh } = cfg;
  const params = new Map<string, string>();
  const inputParams: string[] = [];
  const addParam = (name: string, v: { shape: number[]; dataSync(): unknown }, asInput: boolean) => {
    params.set(name, asInput ? g.input(name, DT.FLOAT, v.shape) : g.floatInit(name, v.dataSync() as Float32Array, v.shape));
    if (asInput) inputParams.push(name);
  };
  for (const [name, v] of model.params) addParam(name, v, paramsAsInputs === true);
  for (const [name, v] of model.adapters.live()?.variables ?? []) addParam(name, v, paramsAsInputs !== false);
  const inputIds = g.input("input_ids", DT.INT64, ["batch_size", "sequence_length"]);
  const positionIds = g.input("position_ids", DT.INT64, [kv ? "batch_size" : "position_batch", "sequence_length"]);
  const attentionMask = kv ? g.input("attention_mask", DT.INT64, ["batch_size", "total_sequence_length"]) : null;
  const past: { key: string; value: string }[] = [];
  for (let l = 0; kv && l < cfg.n_layers; l++) {
    past.push({
      key: g.input(`past_key_values.${l}.key`, DT.FLOAT, ["batch_size", K, "past_sequence_length", dh]),
      value: g.input(`past_key_values.${l}.value`, DT.FLOAT, ["batch_size", K, "past_sequence_length", dh]),
    });
  }
  const steerInputs = new Map<string, string>();
  for (const h of steer) {
    const d = hookLastDim(cfg, h);
    steerInputs.set(h, g.input(`steer.${h}`, DT.FLOAT, hookRank(h) === 4 ? ["steer_rows", "steer_len", 1, d] : ["steer_rows", "steer_len", d]));
  }
  const ablateInputs = new Map<string, string>();
  for (const h of ablate) ablateInputs.set(h, g.input(`ablate.${h}`, DT.FLOAT, [hookLastDim(cfg, h), 1]));
  const tapped = new Map<string, string>();
  const ops = onnxOps(model, g, { params, hooks: new Set(hooks), steerInputs, past, ablateInputs, taps: new Set(taps), tapped });
  const masks = attentionMaskValues(g, inputIds, attentionMask, cfg.slidingWindow ?? null);
  const logits = forward(cfg, ops.ops, { tokens: inputIds, positions: positionIds, ...masks });
  g.op("Identity", [logits], {}, "logits");
  g.output("logits", DT.FLOAT, ["batch_size", "sequence_length", cfg.d_vocab]);
  for (let l = 0; kv && l < cfg.n_layers; l++) {
    g.output(`present.${l}.key`, DT.FLOAT, ["batch_size", K, "total_sequence_length", dh]);
    g.output(`present.${l}.value`, DT.FLOAT, ["batch_size", K, "total_sequence_length", dh]);
  }
  for (const h of ops.hookOutputs) g.output(h, DT.FLOAT, null);
  const inputNames = [
    ...inputParams,
    "input_ids",
    "position_ids",
    ...(kv ? ["attention_mask"] : []),
    ...past.flatMap((p) => [p.key, p.value]),
    ...steerInputs.values(),
    ...ablateInputs.values(),
  ];
  return { logits: "logits", inputNames, params, taps: tapped };
}

/** The model's forward pass as an encoded ONNX model. */
export function buildGraph(model: HookedTransformer, options: GraphOptions = {}): BuiltGraph {
  const { hooks = [], steer = [], kv = false, builder } = options;
  const g = builder ?? new GraphBuilder();
  const rec = recordForward(model, g, options);
  return {
    bytes: builder ? new Uint8Array(0) : g.encode({ name: `persona-kit ${model.cfg.family}`, docString: JSON.stringify({ config: model.cfg, hooks, steer, kv }) }),
    inputNames: rec.inputNames,
    outputNames: g.outputNames,
  };
}

/** Additive attention masks [T, Tk] or [B, 1, T, Tk]: 0 where visible, -∞ elsewhere; the second also hides keys at or beyond `window` positions back. */
function attentionMaskValues(g: GraphBuilder, inputIds: string, attentionMask: string | null, window: number | null): { mask: string; windowMask: string | null } {
  const tLen = g.op("Squeeze", [g.op("Shape", [inputIds], { start: 1, end: 2 }), g.constI([0])]); // scalar T
  const tkLen = attentionMask ? g.op("Squeeze", [g.op("Shape", [attentionMask], { start: 1, end: 2 }), g.constI([0])]) : tLen;
  const pastLen = attentionMask ? g.op("Sub", [tkLen, tLen]) : g.constI(0, []);
  const qpos = g.op("Unsqueeze", [g.op("Range", [pastLen, tkLen, g.constI(1, [])]), g.constI([1])]); // [T, 1]
  const kpos = g.op("Unsqueeze", [g.op("Range", [g.constI(0, []), tkLen, g.constI(1, [])]), g.constI([0])]); // [1, Tk]
  let visible = g.op("LessOrEqual", [kpos, qpos]); // [T, Tk]
  if (attentionMask) {
    const keyOk = g.op("Unsqueeze", [g.op("Cast", [attentionMask], { to: DT.BOOL }), g.constI([1, 2])]); // [B, 1, 1, Tk]
    visible = g.op("And", [visible, g.op("Or", [keyOk, g.op("Equal", [kpos, qpos])])]); // [B, 1, T, Tk]
  }
  const additive = (v: string) => g.op("Where", [v, g.constF(0), g.constF(-Infinity)]);
  if (window === null) return { mask: additive(visible), windowMask: null };
  const inWindow = g.op("Greater", [kpos, g.op("Sub", [qpos, g.constI(window, [])])]); // [T, Tk]: j > i − window
  return { mask: additive(visible), windowMask: additive(g.op("And", [visible, inWindow])) };
}

interface RecorderState {
  params: Map<string, string>;
  hooks: ReadonlySet<string>;
  steerInputs: ReadonlyMap<string, string>;
  past: readonly { key: string; value: string }[];
  ablateInputs?: ReadonlyMap<string, string>;
  taps?: ReadonlySet<string>;
  tapped?: Map<string, string>;
}

/** The op recorder: each op appends ONNX nodes and returns the name of its output value. */
function onnxOps(model: HookedTransformer, g: GraphBuilder, st: RecorderState): { ops: ForwardOps<string>; hookOutputs: string[] } {
  const cfg = model.cfg;
  const hookOutputs: string[] = [];
  const derived = new Map<string, string>();
  const exposed = (name: string) => st.hooks.has(name) || st.steerInputs.has(name) || st.ablateInputs?.has(name) === true || st.taps?.has(name) === true;
  const param = (name: string): string => {
    const stored = st.params.get(name);
    if (stored) return stored;
    const hit = derived.get(name);
    if (hit) return hit;
    let value: string;
    if (name === "unembed.W_U") value = g.op("Transpose", [param("embed.W_E")], { perm: [1, 0] });
    else if (name === "rope.cos" || name === "rope.sin" || name === "rope.R") {
      for (const [n, v] of ropeInits(model, g)) derived.set(n, v); // the three tables from one computation
      value = derived.get(name)!;
    }
    else throw new Error(`buildGraph: the model has no parameter ${JSON.stringify(name)}`);
    derived.set(name, value);
    return value;
  };
  const hook = (name: HookName, value: string): string => {
    let out = value;
    if (st.taps?.has(name)) st.tapped?.set(name, value);
    const s = st.steerInputs.get(name);
    const ab = st.ablateInputs?.get(name);
    // Ablation first, then steering: the order of the TensorFlow.js path (JS hooks, then steering values).
    if (ab) out = g.op("Sub", [out, g.op("Mul", [g.op("MatMul", [out, ab]), g.op("Reshape", [ab, g.constI([-1])])])], {}, st.hooks.has(name) && !s ? name : undefined); // x − (x·v̂) v̂
    if (s) out = g.op("Add", [out, s], {}, st.hooks.has(name) ? name : undefined);
    if (!s && !ab && st.hooks.has(name)) out = g.op("Identity", [out], {}, name);
    if (st.hooks.has(name)) hookOutputs.push(name);
    return out;
  };
  const ops: ForwardOps<string> = {
    param,
    embed: (table, ids) => g.op("Gather", [table, ids], { axis: 0 }),
    linear: (x, W, b) => {
      const y = g.op("MatMul", [x, W]);
      return b ? g.op("Add", [y, b]) : y;
    },
    add: (a, b) => g.op("Add", [a, b]),
    mul: (a, b) => g.op("Mul", [a, b]),
    scale: (a, s) => g.op("Mul", [a, g.constF(s)]),
    tanh: (x) => g.op("Tanh", [x]),
    norm: (x, { kind, w: weight, b, eps, hook: hookName, offset }) => {
      const w = offset ? g.op("Add", [weight, g.constF(offset)]) : weight;
      // Not exposed: the weight (and bias) go inside the norm — one LayerNormalization node, or the Pow → ReduceMean
      // → Add → Sqrt → Div → Mul chain ONNX Runtime fuses into one RMSNorm kernel. Exposed: a separate normalized value.
      if (kind === "layer") {
        const d = cfg.d_model;
        if (!hookName || !exposed(hookName)) return g.op("LayerNormalization", [x, w, b!], { axis: -1, epsilon: { float: eps } });
        const normalized = hook(hookName, g.op("LayerNormalization", [x, g.constF(Array<number>(d).fill(1)), g.constF(Array<number>(d).fill(0))], { axis: -1, epsilon: { float: eps } }));
        return g.op("Add", [g.op("Mul", [normalized, w]), b!]);
      }
      const ms = g.op("ReduceMean", [g.op("Pow", [x, g.constF(2)])], { axes: [-1], keepdims: 1 });
      const divided = g.op("Div", [x, g.op("Sqrt", [g.op("Add", [ms, g.constF(eps)])])]);
      return g.op("Mul", [hookName ? hook(hookName, divided) : divided, w]);
    },
    activation: (name, x) => activationNodes(g, name, x),
    reshape: (x, shape) => g.op("Reshape", [x, g.constI(shape)]),
    transpose: (x, perm) => g.op("Transpose", [x], { perm }),
    bmm: (a, b, { transposeB = false } = {}) => g.op("MatMul", [a, transposeB ? g.op("Transpose", [b], { perm: [0, 1, 3, 2] }) : b]),
    sum: (x, axis) => g.op("ReduceSum", [x, g.constI([axis])], { keepdims: 0 }),
    perHead: (z, W, heads) => g.op("Einsum", [z, g.op("Reshape", [W, g.constI([heads, cfg.d_head, -1])])], { equation: "bthk,hkd->bthd" }),
    softmax: (x) => g.op("Softmax", [x], { axis: -1 }),
    rope: (x, cos, sin) => g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [g.op("MatMul", [x, param("rope.R")]), sin])]),
    hook,
    kv: (l, k, v) => {
      const p = st.past[l];
      if (!p) return { k, v };
      return { k: g.op("Concat", [p.key, k], { axis: 2 }, `present.${l}.key`), v: g.op("Concat", [p.value, v], { axis: 2 }, `present.${l}.value`) };
    },
    block: (fn) => fn(),
    lora: (name) => {
      const t = model.adapters.target(name); // dropout is not recorded: adapters with dropout train on TensorFlow.js
      return t ? { key: t.A, A: param(t.A), B: param(t.B), scale: t.scale } : null;
    },
  };
  return { ops, hookOutputs };
}

/** The RoPE tables (`rope.cos`, `rope.sin`, `rope.R`) as initializers, computed once. */
function ropeInits(model: HookedTransformer, g: GraphBuilder): Map<string, string> {
  const cfg = model.cfg;
  const t = ropeTables(cfg.d_head, cfg.n_ctx, cfg.ropeTheta, cfg.ropeStyle);
  try {
    const out = new Map<string, string>();
    for (const [name, table] of [["rope.cos", t.cos], ["rope.sin", t.sin], ["rope.R", t.R]] as const) {
      out.set(name, g.floatInit(name, new Float32Array(table.dataSync() as Float32Array), table.shape));
    }
    return out;
  } finally {
    for (const v of Object.values(t)) v.dispose();
  }
}

function activationNodes(g: GraphBuilder, name: Activation, x: string): string {
  switch (name) {
    case "gelu_new": {
      // x · σ(2u), u = √(2/π)(x + 0.044715 x³): the tfjs path's formula, op for op.
      const twoU = g.op("Mul", [g.op("Mul", [x, g.op("Add", [g.op("Mul", [g.op("Mul", [x, x]), g.constF(0.044715)]), g.constF(1)])]), g.constF(2 * Math.sqrt(2 / Math.PI))]);
      return g.op("Mul", [x, g.op("Sigmoid", [twoU])]);
    }
    case "gelu":
      return g.op("Mul", [g.op("Mul", [x, g.constF(0.5)]), g.op("Add", [g.op("Erf", [g.op("Mul", [x, g.constF(Math.SQRT1_2)])]), g.constF(1)])]);
    case "silu":
      return g.op("Mul", [x, g.op("Sigmoid", [x])]);
    case "relu":
      return g.op("Relu", [x]);
  }
}
