/**
 * Compile a HookedTransformer to an ONNX graph (opset 17, standard ops only), mirroring `HookedTransformer.forward`
 * op for op, so that hook points become graph outputs and steering vectors become graph inputs.
 *
 * Inputs (B = batch, T = new positions, P = past positions, Tk = P + T):
 *   input_ids       int64 [B, T]
 *   position_ids    int64 [B|1, T]             (a [1, T] row broadcasts over the batch, as the tfjs path does)
 *   attention_mask  int64 [B, Tk]              (decoding graph only; 0 = left padding)
 *   past_key_values.{l}.key / .value  float [B, K, P, dh]   (decoding graph only; P may be 0)
 *   steer.{hook}    float [last dim of the hook's activation]: added to the activation at every position
 * Outputs:
 *   logits          float [B, T, V]
 *   present.{l}.key / .value          float [B, K, Tk, dh]  (decoding graph only)
 *   {hook}          the activation at each requested hook point, named by its hook name, in the tfjs path's shape
 *
 * The attention mask reproduces the tfjs path's: query i (absolute position P + i) sees key j when j ≤ P + i and key
 * j is not padding (or j is the query itself). These input/output names are the ones transformers.js feeds and reads
 * for `model_type` llama / gpt2 decoders, so the decoding graph with no hooks is also the exported model.
 */
import type { HookName } from "../model/hooks";
import { hookNames } from "../model/hooks";
import { ropeTables } from "../model/ops";
import type { HookedTransformer } from "../model/transformer";
import { DT, GraphBuilder } from "./proto";

export interface GraphOptions {
  /** Hook points returned as outputs (full names). */
  hooks?: readonly HookName[];
  /** Hook points that get an additive `steer.{hook}` input. */
  steer?: readonly HookName[];
  /** Build the KV-cache decoding graph (attention_mask, past_key_values inputs; present outputs). Default false. */
  kv?: boolean;
  /** Parameters become float graph inputs named by their parameter names, instead of initializers. Default false. */
  paramsAsInputs?: boolean;
  /** Build into this builder (to append nodes after `logits`, e.g. a loss and its gradients). Default a fresh one. */
  builder?: GraphBuilder;
}

export interface BuiltGraph {
  /** The encoded model (empty when `builder` was given). */
  bytes: Uint8Array;
  inputNames: string[];
  outputNames: string[];
}

/** The last dimension of each hook point's activation (the length of a steering vector there). */
export function hookLastDim(model: HookedTransformer, name: string): number {
  const c = model.cfg;
  const inner = name.startsWith("blocks.") ? name.slice(name.indexOf(".", 7) + 1) : name;
  switch (inner) {
    case "attn.hook_q":
    case "attn.hook_k":
    case "attn.hook_v":
    case "attn.hook_rot_q":
    case "attn.hook_rot_k":
    case "attn.hook_z":
      return c.d_head;
    case "attn.hook_attn_scores":
    case "attn.hook_pattern":
      return -1; // the key axis: not steerable
    case "mlp.hook_pre":
    case "mlp.hook_pre_linear":
    case "mlp.hook_post":
      return c.d_mlp;
    default:
      return c.d_model;
  }
}

export function buildGraph(model: HookedTransformer, { hooks = [], steer = [], kv = false, paramsAsInputs = false, builder }: GraphOptions = {}): BuiltGraph {
  const cfg = model.cfg;
  const known = new Set<string>(hookNames(cfg));
  for (const h of [...hooks, ...steer]) {
    if (!known.has(h)) throw new RangeError(`buildGraph: unknown hook name ${JSON.stringify(h)}; model.hookNames() lists the ${known.size} hook points`);
  }
  for (const h of steer) {
    if (hookLastDim(model, h) < 0) throw new RangeError(`buildGraph: cannot steer ${h}: its last axis is the key position`);
  }
  const hookSet = new Set<string>(hooks);
  const steerSet = new Set<string>(steer);
  const g = builder ?? new GraphBuilder();
  const H = cfg.n_heads;
  const K = cfg.n_key_value_heads;
  const dh = cfg.d_head;
  const d = cfg.d_model;
  const V = cfg.d_vocab;
  const llama = cfg.family === "llama";

  // --- Initializers from the model's parameters (all [in, out], as the tfjs path multiplies them).
  const weights = new Map<string, string>();
  for (const [name, v] of model.params) {
    weights.set(name, paramsAsInputs ? g.input(name, DT.FLOAT, v.shape) : g.floatInit(name, v.dataSync() as Float32Array, v.shape));
  }
  const w = (name: string) => {
    const n = weights.get(name);
    if (!n) throw new Error(`buildGraph: missing parameter ${name}`);
    return n;
  };

  // --- Inputs.
  const inputIds = g.input("input_ids", DT.INT64, ["batch_size", "sequence_length"]);
  const positionIds = g.input("position_ids", DT.INT64, [kv ? "batch_size" : "position_batch", "sequence_length"]);
  const attentionMask = kv ? g.input("attention_mask", DT.INT64, ["batch_size", "total_sequence_length"]) : null;
  const past: { key: string; value: string }[] = [];
  if (kv) {
    for (let l = 0; l < cfg.n_layers; l++) {
      past.push({
        key: g.input(`past_key_values.${l}.key`, DT.FLOAT, ["batch_size", K, "past_sequence_length", dh]),
        value: g.input(`past_key_values.${l}.value`, DT.FLOAT, ["batch_size", K, "past_sequence_length", dh]),
      });
    }
  }
  const steerInputs = new Map<string, string>();
  for (const h of steer) steerInputs.set(h, g.input(`steer.${h}`, DT.FLOAT, [hookLastDim(model, h)]));

  const hookOutputs: string[] = [];
  /** The value at a hook point: steered when asked, exposed under the hook's name when asked. */
  const hk = (name: string, value: string): string => {
    let out = value;
    const s = steerInputs.get(name);
    if (s) out = g.op("Add", [out, s], {}, hookSet.has(name) ? name : undefined);
    else if (hookSet.has(name)) out = g.op("Identity", [out], {}, name);
    if (hookSet.has(name)) hookOutputs.push(name);
    return out;
  };

  const linear = (x: string, W: string, b?: string): string => {
    const y = g.op("MatMul", [x, w(W)]);
    return b ? g.op("Add", [y, w(b)]) : y;
  };
  const lnHooked = [...hookSet, ...steerSet].some((h) => h.endsWith("hook_normalized"));
  const ones = llama || !lnHooked ? "" : g.constF(Array<number>(d).fill(1));
  const zeros = llama || !lnHooked ? "" : g.constF(Array<number>(d).fill(0));
  // Norms. When the normalized value is neither read nor steered, the weight (and bias) go inside the norm: one
  // LayerNormalization node, or the Pow → ReduceMean → Add → Sqrt → Div → Mul chain ONNX Runtime fuses into one
  // RMSNorm kernel. Otherwise the normalized value is a separate value, as in the tfjs path.
  const norm = (x: string, prefix: string, hookName: string): string => {
    const exposed = hookSet.has(hookName) || steerSet.has(hookName);
    if (!llama) {
      if (!exposed) return g.op("LayerNormalization", [x, w(prefix + ".w"), w(prefix + ".b")], { axis: -1, epsilon: { float: cfg.normEps } });
      const normalized = hk(hookName, g.op("LayerNormalization", [x, ones, zeros], { axis: -1, epsilon: { float: cfg.normEps } }));
      return g.op("Add", [g.op("Mul", [normalized, w(prefix + ".w")]), w(prefix + ".b")]);
    }
    const ms = g.op("ReduceMean", [g.op("Pow", [x, g.constF(2)])], { axes: [-1], keepdims: 1 });
    const normalized = hk(hookName, g.op("Div", [x, g.op("Sqrt", [g.op("Add", [ms, g.constF(cfg.normEps)])])]));
    return g.op("Mul", [normalized, w(prefix + ".w")]);
  };
  const act = (x: string): string => {
    switch (cfg.actFn) {
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
  };

  // --- Embedding.
  let x = hk("hook_embed", g.op("Gather", [w("embed.W_E"), inputIds], { axis: 0 })); // [B, T, d]
  if (!llama) {
    const pos = hk("hook_pos_embed", g.op("Gather", [w("pos_embed.W_pos"), positionIds], { axis: 0 })); // [B|1, T, d]
    x = g.op("Add", [x, pos]);
  }

  // --- RoPE tables, gathered at each token's position: [B|1, T, 1, dh].
  let cos: string | null = null;
  let sin: string | null = null;
  let R: string | null = null;
  if (llama) {
    const t = ropeTables(dh, cfg.n_ctx, cfg.ropeTheta, cfg.ropeStyle);
    try {
      const cosT = g.floatInit("rope.cos", new Float32Array(t.cos.dataSync() as Float32Array), [cfg.n_ctx, dh]);
      const sinT = g.floatInit("rope.sin", new Float32Array(t.sin.dataSync() as Float32Array), [cfg.n_ctx, dh]);
      R = g.floatInit("rope.R", new Float32Array(t.R.dataSync() as Float32Array), [dh, dh]);
      const ax2 = g.constI([2]);
      cos = g.op("Unsqueeze", [g.op("Gather", [cosT, positionIds], { axis: 0 }), ax2]);
      sin = g.op("Unsqueeze", [g.op("Gather", [sinT, positionIds], { axis: 0 }), ax2]);
    } finally {
      for (const v of Object.values(t)) v.dispose();
    }
  }

  // --- Additive attention mask, [T, Tk] or [B, 1, T, Tk]: 0 where visible, -∞ elsewhere.
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
  const mask = g.op("Where", [visible, g.constF(0), g.constF(-Infinity)]);
  const scale = g.constF(1 / Math.sqrt(dh));

  const shape = (dims: readonly number[]) => g.constI(dims);
  const presents: string[] = [];

  for (let l = 0; l < cfg.n_layers; l++) {
    const pre = `blocks.${l}.`;
    x = hk(pre + "hook_resid_pre", x); // [B, T, d]

    // Attention.
    const a = norm(x, pre + "ln1", pre + "ln1.hook_normalized");
    let q = hk(pre + "attn.hook_q", g.op("Reshape", [linear(a, pre + "attn.W_Q", cfg.attnBias ? pre + "attn.b_Q" : undefined), shape([0, 0, H, dh])])); // [B, T, H, dh]
    let k = hk(pre + "attn.hook_k", g.op("Reshape", [linear(a, pre + "attn.W_K", cfg.attnBias ? pre + "attn.b_K" : undefined), shape([0, 0, K, dh])])); // [B, T, K, dh]
    const v = hk(pre + "attn.hook_v", g.op("Reshape", [linear(a, pre + "attn.W_V", cfg.attnBias ? pre + "attn.b_V" : undefined), shape([0, 0, K, dh])])); // [B, T, K, dh]
    if (llama) {
      const rope = (t: string) => g.op("Add", [g.op("Mul", [t, cos!]), g.op("Mul", [g.op("MatMul", [t, R!]), sin!])]);
      q = hk(pre + "attn.hook_rot_q", rope(q));
      k = hk(pre + "attn.hook_rot_k", rope(k));
    }
    let kh = g.op("Transpose", [k], { perm: [0, 2, 1, 3] }); // [B, K, T, dh]
    let vh = g.op("Transpose", [v], { perm: [0, 2, 1, 3] }); // [B, K, T, dh]
    if (kv) {
      kh = g.op("Concat", [past[l].key, kh], { axis: 2 }, `present.${l}.key`); // [B, K, Tk, dh]
      vh = g.op("Concat", [past[l].value, vh], { axis: 2 }, `present.${l}.value`);
      presents.push(kh, vh);
    }
    // Query heads sharing a key/value head side by side on the query axis: [B, K, G·T, dh].
    const qg = g.op("Reshape", [g.op("Transpose", [q], { perm: [0, 2, 1, 3] }), shape([0, K, -1, dh])]);
    const raw = g.op("Reshape", [g.op("MatMul", [qg, g.op("Transpose", [kh], { perm: [0, 1, 3, 2] })]), shape([0, H, -1, 0])]); // [B, H, T, Tk]
    const scores = hk(pre + "attn.hook_attn_scores", g.op("Add", [g.op("Mul", [raw, scale]), mask]));
    const pattern = hk(pre + "attn.hook_pattern", g.op("Softmax", [scores], { axis: -1 })); // [B, H, T, Tk]
    const zg = g.op("MatMul", [g.op("Reshape", [pattern, shape([0, K, -1, 0])]), vh]); // [B, K, G·T, dh]
    const z = hk(pre + "attn.hook_z", g.op("Transpose", [g.op("Reshape", [zg, shape([0, H, -1, dh])])], { perm: [0, 2, 1, 3] })); // [B, T, H, dh]
    const attnOut = hk(pre + "hook_attn_out", linear(g.op("Reshape", [z, shape([0, 0, H * dh])]), pre + "attn.W_O", cfg.attnOutBias ? pre + "attn.b_O" : undefined));
    x = hk(pre + "hook_resid_mid", g.op("Add", [x, attnOut]));

    // MLP.
    const m = norm(x, pre + "ln2", pre + "ln2.hook_normalized");
    let post: string;
    if (llama) {
      const gate = hk(pre + "mlp.hook_pre", linear(m, pre + "mlp.W_gate"));
      const up = hk(pre + "mlp.hook_pre_linear", linear(m, pre + "mlp.W_in", cfg.mlpBias ? pre + "mlp.b_in" : undefined));
      post = hk(pre + "mlp.hook_post", g.op("Mul", [act(gate), up]));
    } else {
      const preAct = hk(pre + "mlp.hook_pre", linear(m, pre + "mlp.W_in", cfg.mlpBias ? pre + "mlp.b_in" : undefined));
      post = hk(pre + "mlp.hook_post", act(preAct));
    }
    const mlpOut = hk(pre + "hook_mlp_out", linear(post, pre + "mlp.W_out", cfg.mlpBias ? pre + "mlp.b_out" : undefined));
    x = hk(pre + "hook_resid_post", g.op("Add", [x, mlpOut]));
  }

  const xf = norm(x, "ln_final", "ln_final.hook_normalized");
  const WU = cfg.tiedEmbeddings ? g.op("Transpose", [w("embed.W_E")], { perm: [1, 0] }) : w("unembed.W_U");
  g.op("MatMul", [xf, WU], {}, "logits");

  g.output("logits", DT.FLOAT, ["batch_size", "sequence_length", V]);
  for (let l = 0; l < presents.length / 2; l++) {
    g.output(`present.${l}.key`, DT.FLOAT, ["batch_size", K, "total_sequence_length", dh]);
    g.output(`present.${l}.value`, DT.FLOAT, ["batch_size", K, "total_sequence_length", dh]);
  }
  for (const h of hookOutputs) g.output(h, DT.FLOAT, null);
  return {
    // Empty when building into the caller's builder: the caller appends nodes and encodes.
    bytes: builder ? new Uint8Array(0) : g.encode({ name: `persona-kit ${cfg.family}`, docString: JSON.stringify({ config: cfg, hooks, steer, kv }) }),
    inputNames: [...(paramsAsInputs ? weights.keys() : []), "input_ids", "position_ids", ...(kv ? ["attention_mask"] : []), ...past.flatMap((p) => [p.key, p.value]), ...[...steerInputs.values()]],
    outputNames: g.outputNames,
  };
}
