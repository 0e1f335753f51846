/**
 * Training on ONNX Runtime: gradient graphs built from the forward graph (`buildGraph` with parameters as inputs) by
 * `appendGradients`, one graph per batch shape [B, T].
 *
 * - `lossGradGraph` / `OnnxLossGrad`: loss = Σ_t (−w_t · log p(target_t) + k_t · k3_t) / normaliser and its
 *   gradients with respect to every parameter, where k3 = exp(ref − log p) − (ref − log p) − 1 (the KL estimator the
 *   RL trainer uses, against reference log-probabilities `ref`). Next-token training is w = mask, no KL; the policy
 *   update is w = mask · advantage, k = mask · β.
 * - `OnnxTrainer`: one whole training step in one run: forward, masked next-token loss, backward, global gradient
 *   norm, clipping to `clipNorm`, and AdamW with decoupled weight decay exactly as `kit/train/adamw.ts` computes it
 *   (same bias correction, eps outside the corrected square root, same decay rule). Parameters and moments stay in
 *   Float32Arrays between steps; a step's new values are committed only when the caller accepts them (finite loss,
 *   gradient norm and update), so a NaN stops before anything changes.
 */
import { Tensor } from "onnxruntime-node";
import { tf } from "../backend";
import type { HookedTransformer } from "../model/transformer";
import type { AdamWState } from "../train/adamw";
import { defaultDecays } from "../train/adamw";
import type { Batch } from "../train/batches";
import { CLIP_EPS } from "../train/clip";
import { appendGradients } from "./autodiff";
import { recordForward } from "./graph";
import type { HookName } from "../model/hooks";
import { hookLastDim } from "../model/steering";
import { DT, GraphBuilder } from "./proto";
import { SyncSession } from "./session";

export interface LossGraphOptions {
  batchSize: number;
  seqLen: number;
  /** Add the k3 KL term (inputs `ref_logp` and `kl_weights`). Default false. */
  kl?: boolean;
  /**
   * Also output `entropy_sum` (Σ mask · entropy of p) and, with `kl`, `kl_sum` (Σ mask · k3), for an input `mask`
   * [B, T] (the RL trainer's statistics). Default false.
   */
  stats?: boolean;
  /** What trains: every parameter ("all", default) or only the live LoRA adapter ("adapter"; the base weights stay initializers). */
  trainable?: Trainable;
  /** Training-time interventions (preventative steering, kit/train/steer.ts): `steer.{hook}` and `ablate.{hook}` inputs. */
  steer?: readonly HookName[];
  ablate?: readonly HookName[];
  /**
   * Hook points whose projection on an input `monitor.{i}` [d, 1] (a unit vector) is averaged over the counted
   * tokens (Σ weights · x·v̂ / normaliser, x before steering) and output as `projection.{i}`.
   */
  monitor?: readonly HookName[];
}

export type Trainable = "all" | "adapter";

/** The variables that train: the model's parameters, or the live adapter's tensors. */
export function trainableVariables(model: HookedTransformer, trainable: Trainable = "all"): Map<string, tf.Variable> {
  if (trainable === "all") return model.params;
  const live = model.adapters.live();
  if (!live) throw new Error(`trainableVariables: the model has no active, unmerged LoRA adapter to train (addAdapter(model, …) first)`);
  return live.variables;
}

interface LossGraph {
  g: GraphBuilder;
  loss: string;
  grads: Map<string, string>;
  shapes: Map<string, number[]>;
}

/**
 * Forward graph (parameters as inputs) + the weighted next-token loss + the parameters' gradients. Inputs:
 * the parameters, `input_ids` int64 [B, T], `position_ids` int64 [1, T], `targets` int64 [B, T], `weights` float
 * [B, T], `normaliser` float [] (and with `kl`: `ref_logp`, `kl_weights` float [B, T]).
 */
export function lossGradGraph(model: HookedTransformer, options: LossGraphOptions): LossGraph {
  const { batchSize: B, seqLen: T, kl = false, stats = false, trainable = "all", steer = [], ablate = [], monitor = [] } = options;
  const g = new GraphBuilder();
  const rec = recordForward(model, g, { paramsAsInputs: trainable === "adapter" ? "adapter" : true, steer, ablate, taps: monitor });
  const vars = trainableVariables(model, trainable);
  const shapes = new Map<string, number[]>();
  for (const [name, v] of vars) shapes.set(name, [...v.shape]);
  for (const h of steer) shapes.set(`steer.${h}`, [1, 1, hookLastDim(model.cfg, h)]);
  for (const h of ablate) shapes.set(`ablate.${h}`, [hookLastDim(model.cfg, h), 1]);
  shapes.set("input_ids", [B, T]);
  shapes.set("position_ids", [1, T]);
  const targets = g.input("targets", DT.INT64, [B, T]);
  const weights = g.input("weights", DT.FLOAT, [B, T]);
  const normaliser = g.input("normaliser", DT.FLOAT, []);
  shapes.set(targets, [B, T]).set(weights, [B, T]).set(normaliser, []);
  const logp = g.op("LogSoftmax", ["logits"], { axis: -1 }); // [B, T, V]
  const picked = g.op("Squeeze", [g.op("GatherElements", [logp, g.op("Unsqueeze", [targets, g.constI([2])])], { axis: 2 }), g.constI([2])]); // [B, T]
  let perToken = g.op("Neg", [g.op("Mul", [picked, weights])]);
  let klTerm: string | null = null;
  if (kl) {
    const ref = g.input("ref_logp", DT.FLOAT, [B, T]);
    const klWeights = g.input("kl_weights", DT.FLOAT, [B, T]);
    shapes.set(ref, [B, T]).set(klWeights, [B, T]);
    // Where the KL weight is 0 (prompt, padding) the difference is taken as 0, so that exp() cannot overflow there.
    const d = g.op("Where", [g.op("Equal", [klWeights, g.constF(0)]), g.constF(0), g.op("Sub", [ref, picked])]);
    const k3 = g.op("Sub", [g.op("Sub", [g.op("Exp", [d]), d]), g.constF(1)]);
    perToken = g.op("Add", [perToken, g.op("Mul", [k3, klWeights])]);
    if (stats) klTerm = k3;
  }
  if (stats) {
    const mask = g.input("mask", DT.FLOAT, [B, T]);
    shapes.set(mask, [B, T]);
    const entropy = g.op("Neg", [g.op("ReduceSum", [g.op("Mul", [g.op("Exp", [logp]), logp]), g.constI([-1])], { keepdims: 0 })]); // [B, T]
    g.op("ReduceSum", [g.op("Mul", [entropy, mask])], { keepdims: 0 }, "entropy_sum");
    g.output("entropy_sum", DT.FLOAT, []);
    if (klTerm) {
      g.op("ReduceSum", [g.op("Mul", [klTerm, mask])], { keepdims: 0 }, "kl_sum");
      g.output("kl_sum", DT.FLOAT, []);
    }
  }
  monitor.forEach((h, i) => {
    const v = g.input(`monitor.${i}`, DT.FLOAT, [hookLastDim(model.cfg, h), 1]);
    shapes.set(v, [hookLastDim(model.cfg, h), 1]);
    const proj = g.op("Reshape", [g.op("MatMul", [rec.taps.get(h)!, v]), g.constI([B, T])]); // [B, T]
    g.op("Div", [g.op("ReduceSum", [g.op("Mul", [proj, weights])], { keepdims: 0 }), normaliser], {}, `projection.${i}`);
    g.output(`projection.${i}`, DT.FLOAT, []);
  });
  const loss = g.op("Div", [g.op("ReduceSum", [perToken], { keepdims: 0 }), normaliser], {}, "loss");
  const grads = appendGradients(g, loss, [...vars.keys()], { shapes });
  return { g, loss, grads, shapes };
}

export interface OnnxGradOptions {
  /** ONNX Runtime intraOpNumThreads; default 1 (measured fastest for small models on shared cores; see docs/onnx.md). */
  threads?: number;
}

/** int64 [rows, cols] from an int32 row-major array read with a column window. */
function int64Window(tokens: Int32Array, rows: number, stride: number, offset: number, cols: number): Tensor {
  const out = new BigInt64Array(rows * cols);
  for (let b = 0; b < rows; b++) for (let t = 0; t < cols; t++) out[b * cols + t] = BigInt(tokens[b * stride + offset + t]);
  return new Tensor("int64", out, [rows, cols]);
}

/** The feeds a batch gives: inputs, targets, position ids, weights (mask or ones) and the normaliser. */
export function batchFeeds(batch: Batch): Record<string, Tensor> {
  const { batchSize: B, seqLen: T } = batch;
  const positions = new BigInt64Array(T);
  for (let t = 0; t < T; t++) positions[t] = BigInt(t);
  return {
    input_ids: int64Window(batch.tokens, B, T + 1, 0, T),
    targets: int64Window(batch.tokens, B, T + 1, 1, T),
    position_ids: new Tensor("int64", positions, [1, T]),
    weights: new Tensor("float32", batch.mask ?? new Float32Array(B * T).fill(1), [B, T]),
    normaliser: new Tensor("float32", Float32Array.of(batch.targets), []),
  };
}

/** The loss and gradients of one batch shape, on ONNX Runtime (the entry point the RL trainer can use). */
export class OnnxLossGrad {
  private readonly session: SyncSession;
  private readonly shapes: Map<string, number[]>;
  private readonly outputs: string[];
  readonly paramNames: string[];
  readonly kl: boolean;

  constructor(model: HookedTransformer, options: LossGraphOptions & OnnxGradOptions) {
    const { g, grads, shapes } = lossGradGraph(model, options);
    this.paramNames = [...trainableVariables(model, options.trainable).keys()];
    for (const name of this.paramNames) g.output(grads.get(name)!, DT.FLOAT, shapes.get(name)!);
    g.output("loss", DT.FLOAT, []);
    this.outputs = this.paramNames.map((n) => grads.get(n)!);
    this.session = new SyncSession(g.encode({ name: "persona-kit loss and gradients" }), { threads: options.threads ?? 1 });
    this.shapes = shapes;
    this.kl = options.kl ?? false;
  }

  /**
   * Loss and gradients at `params` for the given feeds (`batchFeeds(batch)` or equivalent; with `kl`, also `ref_logp`
   * and `kl_weights`).
   */
  run(params: ReadonlyMap<string, Float32Array>, feeds: Record<string, Tensor>): { loss: number; grads: Map<string, Float32Array> } {
    const all: Record<string, Tensor> = { ...feeds };
    for (const name of this.paramNames) all[name] = new Tensor("float32", params.get(name)!, this.shapes.get(name)!);
    const out = this.session.run(all, ["loss", ...this.outputs]);
    const grads = new Map<string, Float32Array>();
    this.paramNames.forEach((n, i) => grads.set(n, out[this.outputs[i]].data as Float32Array));
    return { loss: (out.loss.data as Float32Array)[0], grads };
  }

  dispose(): void {
    this.session.dispose();
  }
}

/**
 * AdamW's settings, plus the loss graph's options (`LossGraphOptions`): `kl` / `stats` for the RL policy update,
 * `trainable`, and `steer` / `ablate` / `monitor`, whose inputs are fed with the step's data.
 */
export interface OnnxTrainerOptions extends OnnxGradOptions, Pick<LossGraphOptions, "kl" | "stats" | "trainable" | "steer" | "ablate" | "monitor"> {
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  decayEmbeddings?: boolean;
}

/** What one step computed, before it is committed. */
export interface OnnxStepResult {
  loss: number;
  /** With `stats`: Σ mask · entropy and (with `kl`) Σ mask · k3, before the update. */
  entropySum?: number;
  klSum?: number;
  /** With `monitor`: the mean projection at each monitored hook, before the update. */
  projections?: number[];
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Names of parameters whose new values would be NaN or ±Inf (empty when the update is finite). */
  nonFinite: string[];
  /** Make the step's new parameters and moments current (and count the update). */
  commit(): void;
}

/** Compiled batch shapes kept per trainer (least recently used dropped): RL batches vary in length. */
const MAX_SHAPES = 8;

/**
 * Training-step graph: loss, backward, clipping and AdamW, run one batch at a time on ONNX Runtime.
 *
 * Parameters, m and v each live in one flat Float32Array (parameters in the model's order; `params.get(name)` is a
 * view into it), so clipping and AdamW are a dozen whole-buffer ops rather than a dozen per parameter.
 */
export class OnnxTrainer {
  /** Views into `flat.params`, by parameter name. */
  readonly params = new Map<string, Float32Array>();
  /** Updates taken so far. */
  t = 0;
  private flat: { params: Float32Array; m: Float32Array; v: Float32Array };
  private readonly layout = new Map<string, { offset: number; size: number; shape: number[] }>();
  private readonly total: number;
  private readonly sessions = new Map<string, SyncSession>();
  private readonly opts: OnnxTrainerOptions;
  /** The model variables' data ids when `params` and the model last agreed (a changed id: someone assigned weights). */
  private readonly seen = new Map<string, object>();
  /** The variables that train (the model's parameters, or the live adapter's tensors). */
  private readonly vars: Map<string, tf.Variable>;

  constructor(
    private readonly model: HookedTransformer,
    opts: OnnxTrainerOptions,
  ) {
    this.opts = opts;
    this.vars = trainableVariables(model, opts.trainable);
    let offset = 0;
    for (const [name, v] of this.vars) {
      this.layout.set(name, { offset, size: v.size, shape: [...v.shape] });
      offset += v.size;
    }
    this.total = offset;
    this.flat = { params: new Float32Array(offset), m: new Float32Array(offset), v: new Float32Array(offset) };
    for (const [name, v] of this.vars) this.flat.params.set(v.dataSync() as Float32Array, this.layout.get(name)!.offset);
    this.makeViews();
    this.remember();
  }

  private makeViews(): void {
    for (const [name, { offset, size }] of this.layout) this.params.set(name, this.flat.params.subarray(offset, offset + size));
  }

  private remember(): void {
    for (const [name, v] of this.vars) this.seen.set(name, (v as unknown as { dataId: object }).dataId);
  }

  /** Take up weights assigned to the model's variables since the last sync (e.g. by an `onStep` callback). */
  private refreshFromModel(): void {
    for (const [name, v] of this.vars) {
      if ((v as unknown as { dataId: object }).dataId !== this.seen.get(name)) this.params.get(name)!.set(v.dataSync() as Float32Array);
    }
    this.remember();
  }

  private session(B: number, T: number): SyncSession {
    const key = `${B}x${T}`;
    let s = this.sessions.get(key);
    if (s) {
      this.sessions.delete(key); // most recently used last
    } else {
      s = new SyncSession(this.stepGraph(B, T), { threads: this.opts.threads ?? 1 });
      while (this.sessions.size >= MAX_SHAPES) {
        const oldest = this.sessions.keys().next().value as string;
        this.sessions.get(oldest)!.dispose();
        this.sessions.delete(oldest);
      }
    }
    this.sessions.set(key, s);
    return s;
  }

  /** The encoded training-step graph for batch shape [B, T]. */
  stepGraph(B: number, T: number): Uint8Array {
    const { kl, stats, trainable, steer, ablate, monitor } = this.opts;
    const { g, grads } = lossGradGraph(this.model, { batchSize: B, seqLen: T, kl, stats, trainable, steer, ablate, monitor });
    const [b1, b2] = this.opts.betas;
    const N = this.total;
    const flatGrad = g.op("Concat", [...this.layout.keys()].map((n) => g.op("Reshape", [grads.get(n)!, g.constI([-1])])), { axis: 0 });
    // Global norm and clipping (kit/train/clip.ts): scale by clip / (norm + 1e-6) only when norm > clip.
    const clip = g.input("clip_norm", DT.FLOAT, []);
    const gradNorm = g.op("Sqrt", [g.op("ReduceSumSquare", [flatGrad], { keepdims: 0 })], {}, "grad_norm");
    const coef = g.op("Where", [g.op("Greater", [gradNorm, clip]), g.op("Div", [clip, g.op("Add", [gradNorm, g.constF(CLIP_EPS)])]), g.constF(1)]);
    const grad = g.op("Mul", [flatGrad, coef]);
    // AdamW (kit/train/adamw.ts), op for op; the step's scalars are computed on the JS side as AdamW.step does.
    const stepSize = g.input("adam.step_size", DT.FLOAT, []);
    const invSqrtBc2 = g.input("adam.inv_sqrt_bc2", DT.FLOAT, []);
    const decay = g.input("adam.decay", DT.FLOAT, []);
    const p = g.input("flat.params", DT.FLOAT, [N]);
    const m = g.input("flat.m", DT.FLOAT, [N]);
    const v = g.input("flat.v", DT.FLOAT, [N]);
    const m2 = g.op("Add", [g.op("Mul", [m, g.constF(b1)]), g.op("Mul", [grad, g.constF(1 - b1)])], {}, "new.m");
    const v2 = g.op("Add", [g.op("Mul", [v, g.constF(b2)]), g.op("Mul", [g.op("Mul", [grad, grad]), g.constF(1 - b2)])], {}, "new.v");
    const denom = g.op("Add", [g.op("Mul", [g.op("Sqrt", [v2]), invSqrtBc2]), g.constF(this.opts.eps)]);
    const update = g.op("Mul", [g.op("Div", [m2, denom]), stepSize]);
    const base = g.op("Mul", [p, this.decayFactors(g, decay)]);
    g.op("Sub", [base, update], {}, "new.params");
    // Σ(p·0) is NaN exactly when some new value is NaN or ±Inf (as AdamW's checkFinite).
    g.op("ReduceSum", [g.op("Mul", ["new.params", g.constF(0)])], { keepdims: 0 }, "update_check");
    for (const name of ["new.params", "new.m", "new.v"]) g.output(name, DT.FLOAT, [N]);
    for (const name of ["loss", "grad_norm", "update_check"]) g.output(name, DT.FLOAT, []);
    return g.encode({ name: "persona-kit training step" });
  }

  /**
   * The per-value factor on the parameters before the update: `decay` (1 − lr·wd) where weight decay applies
   * (kit/train/adamw.ts `defaultDecays`), exactly 1 elsewhere (p · 1 = p), as runs of Expand over the flat buffer.
   */
  private decayFactors(g: GraphBuilder, decay: string): string {
    const runs: { decayed: boolean; size: number }[] = [];
    for (const [name, { size, shape }] of this.layout) {
      const decayed = defaultDecays(name, shape, this.opts.decayEmbeddings ?? false);
      const last = runs[runs.length - 1];
      if (last && last.decayed === decayed) last.size += size;
      else runs.push({ decayed, size });
    }
    const parts = runs.map((r) => g.op("Expand", [r.decayed ? g.op("Reshape", [decay, g.constI([1])]) : g.constF([1]), g.constI([r.size])]));
    return parts.length === 1 ? parts[0] : g.op("Concat", parts, { axis: 0 });
  }

  /** Compute one step on `batch` at learning rate `lr` (clipping to `clipNorm`, none when null); nothing changes until `commit()`. */
  step(batch: Batch, lr: number, clipNorm: number | null, extra: Record<string, Tensor> = {}): OnnxStepResult {
    return this.stepFeeds({ ...batchFeeds(batch), ...extra }, batch.batchSize, batch.seqLen, lr, clipNorm);
  }

  /**
   * One step on the loss graph's data feeds (`input_ids`, `position_ids`, `targets`, `weights`, `normaliser`, and
   * with `kl` / `stats` their inputs) of batch shape [B, T].
   */
  stepFeeds(data: Record<string, Tensor>, B: number, T: number, lr: number, clipNorm: number | null): OnnxStepResult {
    this.refreshFromModel();
    const t = this.t + 1;
    const [b1, b2] = this.opts.betas;
    const scalar = (x: number) => new Tensor("float32", Float32Array.of(x), []);
    const N = this.total;
    const feeds: Record<string, Tensor> = {
      ...data,
      clip_norm: scalar(clipNorm === null ? Infinity : clipNorm),
      "adam.step_size": scalar(lr / (1 - Math.pow(b1, t))),
      "adam.inv_sqrt_bc2": scalar(1 / Math.sqrt(1 - Math.pow(b2, t))),
      "adam.decay": scalar(1 - lr * this.opts.weightDecay),
      "flat.params": new Tensor("float32", this.flat.params, [N]),
      "flat.m": new Tensor("float32", this.flat.m, [N]),
      "flat.v": new Tensor("float32", this.flat.v, [N]),
    };
    for (const [name, { shape }] of this.layout) feeds[name] = new Tensor("float32", this.params.get(name)!, shape);
    const statNames = this.opts.stats ? ["entropy_sum", ...(this.opts.kl ? ["kl_sum"] : [])] : [];
    const projNames = (this.opts.monitor ?? []).map((_, i) => `projection.${i}`);
    const out = this.session(B, T).run(feeds, ["loss", "grad_norm", "update_check", "new.params", "new.m", "new.v", ...statNames, ...projNames]);
    const next = { params: out["new.params"].data as Float32Array, m: out["new.m"].data as Float32Array, v: out["new.v"].data as Float32Array };
    const finite = Number.isFinite((out.update_check.data as Float32Array)[0]);
    return {
      loss: (out.loss.data as Float32Array)[0],
      gradNorm: (out.grad_norm.data as Float32Array)[0],
      ...(out.entropy_sum ? { entropySum: (out.entropy_sum.data as Float32Array)[0] } : {}),
      ...(out.kl_sum ? { klSum: (out.kl_sum.data as Float32Array)[0] } : {}),
      ...(projNames.length ? { projections: projNames.map((n) => (out[n].data as Float32Array)[0]) } : {}),
      nonFinite: finite ? [] : [...this.layout].filter(([, { offset, size }]) => next.params.subarray(offset, offset + size).some((x) => !Number.isFinite(x))).map(([n]) => n),
      commit: () => {
        this.flat = next;
        this.makeViews();
        this.t = t;
      },
    };
  }

  /** Copy the current parameters into the model's variables (the trainer does before any user code runs). */
  syncModel(): void {
    if (this.vars === this.model.params) tf.tidy(() => this.model.setWeights(this.params)); // the variables keep their new data; the temporaries go
    else tf.tidy(() => this.vars.forEach((v, n) => v.assign(tf.tensor(this.params.get(n)!, v.shape))));
    this.remember();
  }

  /** Copies of `t`, `m` and `v` by parameter name (the shape `kit/train/checkpoint.ts` saves). */
  exportState(): AdamWState {
    const split = (x: Float32Array) => new Map([...this.layout].map(([n, { offset, size }]) => [n, x.slice(offset, offset + size)]));
    return { t: this.t, m: split(this.flat.m), v: split(this.flat.v) };
  }

  /** Restore `t`, `m`, `v` and the parameters (from the model's variables, e.g. after `model.setWeights`). */
  importState(state: AdamWState): void {
    const problems: string[] = [];
    for (const [key, stored] of [["m", state.m], ["v", state.v]] as const) {
      for (const [name, { size, shape }] of this.layout) {
        const data = stored.get(name);
        if (!data) problems.push(`missing ${key}.${name}`);
        else if (data.length !== size) problems.push(`${key}.${name} has ${data.length} values, expected ${size} [${shape}]`);
      }
      for (const name of stored.keys()) if (!this.layout.has(name)) problems.push(`unexpected ${key}.${name}`);
    }
    if (!Number.isInteger(state.t) || state.t < 0) problems.push(`t must be a non-negative integer, received ${state.t}`);
    if (problems.length) throw new RangeError(`OnnxTrainer.importState: state does not fit the parameters:\n  - ${problems.join("\n  - ")}`);
    const m = new Float32Array(this.total);
    const v = new Float32Array(this.total);
    const params = new Float32Array(this.total);
    for (const [name, { offset }] of this.layout) {
      m.set(state.m.get(name)!, offset);
      v.set(state.v.get(name)!, offset);
      params.set(this.vars.get(name)!.dataSync() as Float32Array, offset);
    }
    this.flat = { params, m, v };
    this.makeViews();
    this.remember();
    this.t = state.t;
  }

  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}
