/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, over a model's `Map<string, tf.Variable>`.
 *
 * One update, as `torch.optim.AdamW` does it, with t counting updates from 1:
 *
 *     p ← p · (1 − lr · wd)                       (decayed parameters only)
 *     m ← β1 · m + (1 − β1) · g
 *     v ← β2 · v + (1 − β2) · g²
 *     p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
 *
 * Weight decay applies to matrices only: never to 1-D parameters (norm weights, biases), and not to embeddings
 * (`embed.*`, `pos_embed.*`) unless `decayEmbeddings` is set; `decays` overrides the rule entirely.
 *
 * Every update runs inside `tf.tidy`; the moments live in non-trainable variables owned by the optimizer (call
 * `dispose()` when done). With `checkFinite` (default), the new values are computed first and the step is refused
 * with an error naming the parameter if any would be NaN or ±Inf; nothing (weights, moments, t) changes then.
 * `exportState()` / `importState()` move `t`, `m` and `v` to and from Float32Arrays exactly, for checkpoints.
 */
import { tf } from "../backend";

export interface AdamWOptions {
  /** Default [0.9, 0.999] (PyTorch's); the trainer passes its own. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay coefficient; default 0.01 (PyTorch's). */
  weightDecay?: number;
  /** Also decay `embed.*` and `pos_embed.*` matrices; default false. */
  decayEmbeddings?: boolean;
  /** Which parameters are decayed; replaces the default rule (rank ≥ 2, not an embedding). */
  decays?: (name: string, shape: readonly number[]) => boolean;
  /** Refuse an update that would make any parameter non-finite; default true. */
  checkFinite?: boolean;
}

export interface AdamWState {
  /** Updates taken so far. */
  t: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/** The default weight-decay rule: matrices that are not embeddings (unless `decayEmbeddings`). */
export function defaultDecays(name: string, shape: readonly number[], decayEmbeddings = false): boolean {
  if (shape.length < 2) return false;
  if (!decayEmbeddings && (name.startsWith("embed.") || name.startsWith("pos_embed."))) return false;
  return true;
}

export class AdamW {
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly checkFinite: boolean;
  /** Names of the parameters weight decay applies to. */
  readonly decayed: ReadonlySet<string>;
  /** Updates taken so far. */
  t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private disposed = false;

  constructor(
    params: ReadonlyMap<string, tf.Variable>,
    { betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01, decayEmbeddings = false, decays, checkFinite = true }: AdamWOptions = {},
  ) {
    const problems: string[] = [];
    const [b1, b2] = Array.isArray(betas) && betas.length === 2 ? betas : [NaN, NaN];
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) problems.push(`betas must be two numbers in [0, 1), received ${JSON.stringify(betas)}`);
    if (!(eps > 0) || !Number.isFinite(eps)) problems.push(`eps must be a positive finite number, received ${eps}`);
    if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) problems.push(`weightDecay must be a non-negative finite number, received ${weightDecay}`);
    if (problems.length) throw new RangeError(`AdamW: invalid options:\n  - ${problems.join("\n  - ")}`);
    this.params = params;
    this.beta1 = b1;
    this.beta2 = b2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.checkFinite = checkFinite;
    const decayed = new Set<string>();
    for (const [name, p] of params) {
      if (decays ? decays(name, p.shape) : defaultDecays(name, p.shape, decayEmbeddings)) decayed.add(name);
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
    this.decayed = decayed;
  }

  /**
   * Apply one update with learning rate `lr`. `grads` maps parameter names to gradients of the same shape; a
   * parameter without a gradient is left alone (its moments too). The gradients are not disposed.
   */
  step(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    if (this.disposed) throw new Error("AdamW.step: the optimizer has been disposed");
    if (!Number.isFinite(lr) || lr < 0) throw new RangeError(`AdamW.step: lr must be a non-negative finite number, received ${lr}`);
    for (const [name, g] of grads) {
      const p = this.params.get(name);
      if (!p) throw new RangeError(`AdamW.step: gradient for unknown parameter ${JSON.stringify(name)}`);
      if (g.size !== p.size) throw new RangeError(`AdamW.step: gradient for ${name} has shape [${g.shape}], parameter has [${p.shape}]`);
    }
    const t = this.t + 1;
    const { beta1: b1, beta2: b2 } = this;
    const stepSize = lr / (1 - Math.pow(b1, t));
    const invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(b2, t));
    const decayFactor = 1 - lr * this.weightDecay;
    const names = [...grads.keys()];
    tf.tidy(() => {
      const s = {
        b1: tf.scalar(b1),
        c1: tf.scalar(1 - b1),
        b2: tf.scalar(b2),
        c2: tf.scalar(1 - b2),
        eps: tf.scalar(this.eps),
        stepSize: tf.scalar(stepSize),
        invSqrtBc2: tf.scalar(invSqrtBc2),
        decay: tf.scalar(decayFactor),
      };
      const next: { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor }[] = [];
      for (const name of names) {
        const g = grads.get(name)!;
        const p = this.params.get(name)!;
        const m = tf.add(tf.mul(this.m.get(name)!, s.b1), tf.mul(g, s.c1));
        const v = tf.add(tf.mul(this.v.get(name)!, s.b2), tf.mul(tf.square(g), s.c2));
        const denom = tf.add(tf.mul(tf.sqrt(v), s.invSqrtBc2), s.eps);
        const update = tf.mul(tf.div(m, denom), s.stepSize);
        const base = this.decayed.has(name) && this.weightDecay !== 0 ? tf.mul(p, s.decay) : p;
        next.push({ p: tf.sub(base, update).reshape(p.shape), m, v });
      }
      if (this.checkFinite && next.length > 0) {
        // Σ(x·0) is NaN exactly when some x is NaN or ±Inf.
        const sums = tf.stack(next.map((n) => tf.sum(tf.mul(n.p, 0)))).dataSync();
        const bad = names.filter((_, i) => !Number.isFinite(sums[i]));
        if (bad.length > 0) {
          throw new RangeError(
            `AdamW.step: update ${t} (lr ${lr}) would make ${bad.length} parameter${bad.length > 1 ? "s" : ""} non-finite (${bad.slice(0, 5).join(", ")}${bad.length > 5 ? ", …" : ""}); nothing was changed`,
          );
        }
      }
      names.forEach((name, i) => {
        this.params.get(name)!.assign(next[i].p);
        this.m.get(name)!.assign(next[i].m);
        this.v.get(name)!.assign(next[i].v);
      });
    });
    this.t = t;
  }

  /** Copies of `t`, `m` and `v` (exact float32 values). */
  exportState(): AdamWState {
    const copy = (vars: Map<string, tf.Variable>) => new Map([...vars].map(([k, x]) => [k, new Float32Array(x.dataSync() as Float32Array)]));
    return { t: this.t, m: copy(this.m), v: copy(this.v) };
  }

  /** Restore `t`, `m` and `v`; every parameter must have both moments, of the right size. */
  importState(state: AdamWState): void {
    const problems: string[] = [];
    if (!Number.isInteger(state.t) || state.t < 0) problems.push(`t must be a non-negative integer, received ${state.t}`);
    for (const [key, stored, vars] of [["m", state.m, this.m], ["v", state.v, this.v]] as const) {
      for (const [name, x] of vars) {
        const data = stored.get(name);
        if (!data) problems.push(`missing ${key}.${name}`);
        else if (data.length !== x.size) problems.push(`${key}.${name} has ${data.length} values, expected ${x.size} [${x.shape}]`);
      }
      for (const name of stored.keys()) if (!vars.has(name)) problems.push(`unexpected ${key}.${name}`);
    }
    if (problems.length) throw new RangeError(`AdamW.importState: state does not fit the parameters:\n  - ${problems.join("\n  - ")}`);
    for (const [stored, vars] of [[state.m, this.m], [state.v, this.v]] as const) {
      for (const [name, x] of vars) {
        const fresh = tf.tensor(stored.get(name)!, x.shape);
        x.assign(fresh);
        fresh.dispose();
      }
    }
    this.t = state.t;
  }

  /** Free the moments (the parameters belong to the model). */
  dispose(): void {
    if (this.disposed) return;
    for (const x of this.m.values()) x.dispose();
    for (const x of this.v.values()) x.dispose();
    this.disposed = true;
  }
}
