/**
 * LoRA adapters on a model's linear weights (Hu et al. 2021, as PEFT computes them): a targeted weight W [in, out]
 * gives `y = x @ W (+ b) + scale · (dropout(x) @ A) @ B` with A [in, r], B [r, out] and scale = alpha / r (or
 * alpha / √r with rsLoRA). The model definition (kit/model/forward.ts) applies the adapter inside its one `linear`
 * helper, so every runtime (TensorFlow.js, the ONNX recorder, the gradient graphs) runs the adapted model.
 *
 * Modules are named as PEFT names them on the Hugging Face model (`model.layers.0.self_attn.q_proj`,
 * `transformer.h.0.attn.c_attn`); each maps to kit weights (kit/io/hf.ts's mapping). GPT-2's fused `c_attn`
 * ([d, 3d] Conv1D) has one A shared by W_Q, W_K and W_V and a B split into their column blocks.
 *
 * Kit tensor names (graph inputs when an adapter trains on ONNX Runtime): `blocks.0.attn.W_Q.lora_A` [in, r],
 * `blocks.0.attn.W_Q.lora_B` [r, out]; the shared A of a fused module is `blocks.0.attn.c_attn.lora_A`.
 */
import { tf } from "../backend";
import type { ModelConfig } from "./config";
import { mulberry32 } from "./params";

/** The adapter's hyperparameters, PEFT's `LoraConfig` fields in camelCase. */
export interface LoraConfig {
  /** Rank. */
  r: number;
  /** Scale numerator: scale = alpha / r (alpha / √r with `useRslora`). */
  alpha: number;
  /** Dropout on the adapter's input during training; default 0. */
  dropout: number;
  /** Module names (suffix match, as PEFT: "q_proj", "attn.c_proj"), a regular expression matched in full, or "all-linear". */
  targetModules: readonly string[] | string;
  useRslora: boolean;
  /** Only these layers (null: all). */
  layersToTransform: readonly number[] | null;
}

/** One module a LoRA can target: its PEFT (Hugging Face) name and the kit weights it covers, in output order. */
export interface LoraModule {
  /** Full Hugging Face module name, e.g. `model.layers.0.self_attn.q_proj`. */
  hf: string;
  layer: number;
  /** Kit weight names ([in, out] each), concatenated along the output axis in the HF module. */
  weights: string[];
  inDim: number;
  outDims: number[];
}

/** Every module of a config that PEFT's LoRA can target (the unembedding excluded, as "all-linear" excludes lm_head). */
export function loraModules(cfg: ModelConfig): LoraModule[] {
  const { d_model: d, d_head: dh, n_heads: H, n_key_value_heads: K, d_mlp: m } = cfg;
  const out: LoraModule[] = [];
  for (let l = 0; l < cfg.n_layers; l++) {
    const k = `blocks.${l}.`;
    const add = (hf: string, weights: string[], inDim: number, outDims: number[]) => out.push({ hf, layer: l, weights: weights.map((w) => k + w), inDim, outDims });
    if (cfg.family === "gpt2") {
      const h = `transformer.h.${l}.`;
      add(h + "attn.c_attn", ["attn.W_Q", "attn.W_K", "attn.W_V"], d, [H * dh, K * dh, K * dh]);
      add(h + "attn.c_proj", ["attn.W_O"], H * dh, [d]);
      add(h + "mlp.c_fc", ["mlp.W_in"], d, [m]);
      add(h + "mlp.c_proj", ["mlp.W_out"], m, [d]);
    } else {
      const h = `model.layers.${l}.`;
      add(h + "self_attn.q_proj", ["attn.W_Q"], d, [H * dh]);
      add(h + "self_attn.k_proj", ["attn.W_K"], d, [K * dh]);
      add(h + "self_attn.v_proj", ["attn.W_V"], d, [K * dh]);
      add(h + "self_attn.o_proj", ["attn.W_O"], H * dh, [d]);
      add(h + "mlp.gate_proj", ["mlp.W_gate"], d, [m]);
      add(h + "mlp.up_proj", ["mlp.W_in"], d, [m]);
      add(h + "mlp.down_proj", ["mlp.W_out"], m, [d]);
    }
  }
  return out;
}

/** PEFT's matching: a list entry matches a module whose name equals it or ends with "." + it; a string is a full-match regex. */
export function targetMatches(targets: LoraConfig["targetModules"], hf: string): boolean {
  if (targets === "all-linear") return true;
  if (typeof targets === "string") return new RegExp(`^(?:${targets})$`).test(hf);
  return targets.some((t) => hf === t || hf.endsWith("." + t));
}

/** The modules `config` selects on a model of `cfg`; a RangeError when none is selected. */
export function selectModules(cfg: ModelConfig, config: Pick<LoraConfig, "targetModules" | "layersToTransform">, where: string): LoraModule[] {
  const all = loraModules(cfg);
  const chosen = all.filter((m) => targetMatches(config.targetModules, m.hf) && (!config.layersToTransform || config.layersToTransform.includes(m.layer)));
  if (chosen.length === 0) {
    const names = [...new Set(all.map((m) => m.hf.split(".").slice(-2).join(".")))];
    throw new RangeError(`${where}: target modules ${JSON.stringify(config.targetModules)} match no module of this ${cfg.family} model; its modules are ${names.join(", ")}`);
  }
  return chosen;
}

/** The kit name of a module's A (shared by its weights) and of each weight's B. */
export function loraTensorNames(m: LoraModule): { A: string; B: string[] } {
  const A = m.weights.length === 1 ? `${m.weights[0]}.lora_A` : `blocks.${m.layer}.${m.hf.split(".").slice(-2).join(".")}.lora_A`;
  return { A, B: m.weights.map((w) => `${w}.lora_B`) };
}

/** What the forward pass needs at one targeted weight. */
export interface LoraTarget {
  /** Name of A (shared by the weights of a fused module: the forward computes `x @ A` once per input). */
  A: string;
  B: string;
  scale: number;
  dropout: number;
}

/** One adapter: its config, modules and variables (kit names). */
export class LoraAdapter {
  readonly variables = new Map<string, tf.Variable>();
  readonly targets = new Map<string, LoraTarget>();
  /** True while the adapter's product is added into the base weights (the forward then skips it). */
  merged = false;

  constructor(
    readonly name: string,
    readonly config: LoraConfig,
    readonly modules: LoraModule[],
    tensors: ReadonlyMap<string, Float32Array>,
    varPrefix: string,
  ) {
    const scale = config.useRslora ? config.alpha / Math.sqrt(config.r) : config.alpha / config.r;
    for (const m of modules) {
      const names = loraTensorNames(m);
      const shapes = [[names.A, [m.inDim, config.r]] as const, ...names.B.map((b, i) => [b, [config.r, m.outDims[i]]] as const)];
      for (const [n, shape] of shapes) {
        const data = tensors.get(n)!;
        this.variables.set(n, tf.tidy(() => tf.variable(tf.tensor(data, [...shape]), true, `${varPrefix}/${name}/${n}`)));
      }
      m.weights.forEach((w, i) => this.targets.set(w, { A: names.A, B: names.B[i], scale, dropout: config.dropout }));
    }
  }

  /** The update `scale · A @ B` [in, out] of one targeted weight. */
  delta(weight: string): tf.Tensor {
    const t = this.targets.get(weight)!;
    return tf.tidy(() => tf.mul(tf.matMul(this.variables.get(t.A)!, this.variables.get(t.B)!), t.scale));
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
  }
}

/** Fresh adapter tensors as PEFT initialises them by default: A ~ Kaiming-uniform(a = √5) (seeded), B = 0. */
export function initLoraTensors(modules: readonly LoraModule[], r: number, seed: number): Map<string, Float32Array> {
  const rand = mulberry32(seed);
  const out = new Map<string, Float32Array>();
  for (const m of modules) {
    const names = loraTensorNames(m);
    // nn.Linear(in, r) with kaiming_uniform_(a=√5): bound = 1/√in.
    const bound = 1 / Math.sqrt(m.inDim);
    const A = new Float32Array(m.inDim * r);
    for (let i = 0; i < A.length; i++) A[i] = (2 * rand() - 1) * bound;
    out.set(names.A, A);
    names.B.forEach((b, i) => out.set(b, new Float32Array(r * m.outDims[i])));
  }
  return out;
}

/** A model's adapters: named, at most one active; the forward pass asks it for the active adapter's targets. */
export class AdapterSet {
  readonly byName = new Map<string, LoraAdapter>();
  active: string | null = null;

  /** The active adapter, unless none is or it is merged into the weights. */
  live(): LoraAdapter | null {
    const a = this.active === null ? null : (this.byName.get(this.active) ?? null);
    return a && !a.merged ? a : null;
  }

  /** The adapter at weight `name` (null when none applies). */
  target(name: string): LoraTarget | null {
    return this.live()?.targets.get(name) ?? null;
  }

  /** An adapter tensor by kit name (`….lora_A`, `….lora_B`) of the live adapter. */
  variable(name: string): tf.Variable | undefined {
    return this.live()?.variables.get(name);
  }

  /** Data ids of the live adapter's variables (sessions compiled with an adapter are rebuilt when they change). */
  weightIds(): object[] {
    const a = this.live();
    return a ? [a, ...[...a.variables.values()].map((v) => (v as unknown as { dataId: object }).dataId)] : [];
  }
}
