/**
 * The policy-gradient pieces that act on token sequences: per-token log-probabilities of a batch of transcripts under
 * a model (with gradients, for the policy; without, for the frozen reference), the policy-gradient loss with a KL
 * penalty to the reference, and advantages (REINFORCE with a baseline, or GRPO-style group normalisation).
 *
 * A rollout is one transcript: token ids starting with BOS, and a mask with 1 at every token the agent wrote (its
 * actions and reflections; the environment's words and the prompt are 0). Position t of the mask says whether token t
 * was chosen by the policy, so its log-probability is read from the logits at position t − 1.
 *
 * Loss of a batch (token-level mean over the agent's tokens, as in DAPO/GRPO implementations):
 *   L = Σ_i Σ_t m_it · ( −A_i · log π(a_it) + β · k3_it ) / Σ_i Σ_t m_it,
 *   k3 = exp(log π_ref − log π) − (log π_ref − log π) − 1  (Schulman's unbiased, non-negative KL estimator),
 * so a positive advantage raises the log-probability of every token of that transcript, a negative one lowers it,
 * and β pulls the policy back towards the reference.
 */
import { Tensor } from "onnxruntime-node";
import { tf } from "../backend";
import type { HookedTransformer } from "../model/transformer";
import { forwardOnnx } from "../onnx/run";

/** One transcript and what the agent did in it. */
export interface Rollout {
  /** Token ids, BOS first. */
  tokens: number[];
  /** 1 where the token was written by the agent (its log-probability is trained), else 0; same length as tokens. */
  mask: number[];
  /** Scalar reward of the whole transcript. */
  reward: number;
  /** Rollouts of one prompt share a group (GRPO normalises within it). */
  group: number;
  /**
   * Optional second reward channel with its own credit: 1 at the tokens `reflectionReward` trains (e.g. a reflection),
   * a subset of `mask`. Those tokens get `reward`'s advantage plus `reflectionReward`'s; all other agent tokens only
   * `reward`'s. Either every rollout of a batch has it or none.
   */
  reflectionMask?: number[];
  reflectionReward?: number;
}

/** How advantages are formed from rewards. */
export type AdvantageMethod = "reinforce" | "grpo";

/**
 * Advantages of a batch: `"reinforce"` subtracts `baseline` (e.g. a running mean of rewards) from each reward;
 * `"grpo"` subtracts the group's mean reward and divides by the group's standard deviation (+ 1e-6), so a group whose
 * rollouts all earned the same reward teaches nothing.
 */
export function advantages(rewards: readonly number[], groups: readonly number[], { method, baseline = 0 }: { method: AdvantageMethod; baseline?: number }): number[] {
  if (rewards.length !== groups.length) throw new RangeError(`advantages: rewards (${rewards.length}) and groups (${groups.length}) must have the same length`);
  if (method === "reinforce") return rewards.map((r) => r - baseline);
  if (method !== "grpo") throw new RangeError(`advantages: method must be "reinforce" or "grpo", received ${JSON.stringify(method)}`);
  const byGroup = new Map<number, number[]>();
  rewards.forEach((r, i) => {
    const g = byGroup.get(groups[i]) ?? [];
    g.push(r);
    byGroup.set(groups[i], g);
  });
  const stats = new Map<number, { mean: number; sd: number }>();
  for (const [g, rs] of byGroup) {
    const mean = rs.reduce((a, b) => a + b, 0) / rs.length;
    const sd = Math.sqrt(rs.reduce((a, b) => a + (b - mean) ** 2, 0) / rs.length);
    stats.set(g, { mean, sd });
  }
  return rewards.map((r, i) => {
    const s = stats.get(groups[i])!;
    return (r - s.mean) / (s.sd + 1e-6);
  });
}

/** A right-padded batch: inputs [B, T−1], targets [B, T−1], mask [B, T−1] aligned with targets. */
interface Padded {
  B: number;
  T: number;
  inputs: number[];
  targets: number[];
  mask: number[];
  tokens: number;
}

function pad(rollouts: readonly Pick<Rollout, "tokens" | "mask">[], padId: number, where: string): Padded {
  if (rollouts.length === 0) throw new RangeError(`${where}: rollouts is empty`);
  const T = Math.max(...rollouts.map((r) => r.tokens.length));
  if (T < 2) throw new RangeError(`${where}: every transcript needs at least 2 tokens (BOS and one more), the longest has ${T}`);
  const B = rollouts.length;
  const inputs: number[] = [];
  const targets: number[] = [];
  const mask: number[] = [];
  let tokens = 0;
  rollouts.forEach((r, i) => {
    if (r.mask.length !== r.tokens.length) throw new RangeError(`${where}: rollout ${i} has ${r.tokens.length} tokens but a mask of ${r.mask.length}`);
    for (let t = 0; t < T - 1; t++) {
      inputs.push(t < r.tokens.length ? r.tokens[t] : padId);
      const inside = t + 1 < r.tokens.length;
      targets.push(inside ? r.tokens[t + 1] : padId);
      const m = inside ? r.mask[t + 1] : 0;
      mask.push(m);
      tokens += m;
    }
  });
  return { B, T, inputs, targets, mask, tokens };
}

/**
 * Per-token log-probabilities of the chosen tokens [B, T−1] (right-padded; read with the mask). Not wrapped in tidy:
 * call it inside `tf.tidy` or a gradient function.
 */
function tokenLogProbs(model: HookedTransformer, p: Padded, training: boolean): { logp: tf.Tensor2D; logits: tf.Tensor2D } {
  const V = model.cfg.d_vocab;
  const inputs = tf.tensor2d(p.inputs, [p.B, p.T - 1], "int32");
  const logits = model.forward(inputs, { training }).reshape([-1, V]) as tf.Tensor2D; // [B·(T−1), V]
  const lsm = tf.logSoftmax(logits);
  const picked = tf.sum(tf.mul(lsm, tf.oneHot(tf.tensor1d(p.targets, "int32"), V)), -1); // [B·(T−1)]
  return { logp: picked.reshape([p.B, p.T - 1]) as tf.Tensor2D, logits };
}

/** Log-probabilities (no gradients) of each agent token, per rollout: `out[i][t]` for every t with mask 1 (others 0). */
export function rolloutLogProbs(model: HookedTransformer, rollouts: readonly Pick<Rollout, "tokens" | "mask">[], padId = 0): number[][] {
  const p = pad(rollouts, padId, "rolloutLogProbs");
  const flat = tf.tidy(() => tokenLogProbs(model, p, false).logp).arraySync() as number[][];
  return flat.map((row, i) => [0, ...row.slice(0, rollouts[i].tokens.length - 1)].map((v, t) => (rollouts[i].mask[t] ? v : 0)));
}

/** Sum of the agent tokens' log-probabilities per rollout (the log-probability of the agent's choices). */
export function sequenceLogProb(model: HookedTransformer, rollouts: readonly Pick<Rollout, "tokens" | "mask">[], padId = 0): number[] {
  return rolloutLogProbs(model, rollouts, padId).map((row) => row.reduce((a, b) => a + b, 0));
}

export interface PolicyLossOptions {
  /** One advantage per rollout. */
  advantages: readonly number[];
  /** One advantage per rollout for the tokens marked by each rollout's `reflectionMask` (added to `advantages` there). */
  reflectionAdvantages?: readonly number[];
  /** The frozen reference model (KL penalty); null: no penalty. */
  reference: HookedTransformer | null;
  /** KL coefficient β (default 0). */
  klCoef?: number;
  /** Padding id for the right-padded batch (default 0). */
  padId?: number;
}

/** What one loss evaluation measured (means over the agent's tokens). */
export interface PolicyLossStats {
  loss: number;
  /** Mean k3 estimate of KL(π ‖ π_ref) per agent token (0 without a reference). */
  kl: number;
  /** Mean entropy of π over the vocabulary at the agent's tokens (nats). */
  entropy: number;
  /** Agent tokens in the batch. */
  tokens: number;
}

/**
 * The policy-gradient loss and its gradients with respect to the model's parameters. The caller disposes `grads`.
 */
export function policyLossAndGrads(
  model: HookedTransformer,
  rollouts: readonly Rollout[],
  { advantages: adv, reflectionAdvantages: reflAdv, reference, klCoef = 0, padId = 0 }: PolicyLossOptions,
): { stats: PolicyLossStats; grads: Map<string, tf.Tensor> } {
  const where = "policyLossAndGrads";
  if (adv.length !== rollouts.length) throw new RangeError(`${where}: advantages must have one value per rollout (${rollouts.length}), received ${adv.length}`);
  const p = pad(rollouts, padId, where);
  // Per-token advantages [B, T−1], aligned with the targets: A_i, plus A'_i where the rollout's reflectionMask is 1.
  let tokenAdv: number[] | null = null;
  if (reflAdv) {
    if (reflAdv.length !== rollouts.length) throw new RangeError(`${where}: reflectionAdvantages must have one value per rollout (${rollouts.length}), received ${reflAdv.length}`);
    tokenAdv = [];
    rollouts.forEach((r, i) => {
      const rm = r.reflectionMask;
      if (!rm || rm.length !== r.tokens.length) throw new RangeError(`${where}: with reflectionAdvantages, rollout ${i} needs a reflectionMask of ${r.tokens.length} values, received ${rm ? rm.length : "none"}`);
      for (let t = 0; t < p.T - 1; t++) tokenAdv!.push(adv[i] + (t + 1 < rm.length && rm[t + 1] ? reflAdv[i] : 0));
    });
  }
  const denom = Math.max(1, p.tokens);
  const refLogp = reference && klCoef > 0 ? tf.tidy(() => tokenLogProbs(reference, p, false).logp) : null;
  const vars = [...model.params.values()];
  const nameOf = new Map([...model.params].map(([name, v]) => [v.name, name]));
  let entropy = 0;
  let kl = 0;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const { logp, logits } = tokenLogProbs(model, p, true);
      const mask = tf.tensor2d(p.mask, [p.B, p.T - 1]);
      const A = tokenAdv ? tf.tensor2d(tokenAdv, [p.B, p.T - 1]) : tf.tensor2d(adv.map((a) => [a]), [p.B, 1]);
      let perToken = tf.neg(tf.mul(A, logp)); // −A·log π
      if (refLogp) {
        const d = tf.sub(refLogp, logp);
        const k3 = tf.sub(tf.sub(tf.exp(d), d), 1);
        kl = tf.sum(tf.mul(k3, mask)).dataSync()[0] / denom;
        perToken = tf.add(perToken, tf.mul(klCoef, k3));
      }
      // Entropy of π at the agent's positions (logged; not part of the loss).
      const ent = tf.tidy(() => {
        const lsm = tf.logSoftmax(logits);
        const h = tf.neg(tf.sum(tf.mul(tf.exp(lsm), lsm), -1)).reshape([p.B, p.T - 1]);
        return tf.sum(tf.mul(h, mask)).dataSync()[0];
      });
      entropy = ent / denom;
      return tf.div(tf.sum(tf.mul(perToken, mask)), denom) as tf.Scalar;
    }, vars);
    const loss = value.dataSync()[0];
    value.dispose();
    const out = new Map<string, tf.Tensor>();
    for (const [vname, g] of Object.entries(grads)) out.set(nameOf.get(vname) ?? vname, g);
    return { stats: { loss, kl, entropy, tokens: p.tokens }, grads: out };
  } finally {
    refLogp?.dispose();
  }
}

/**
 * Masked next-token loss (supervised: mean −log p over the masked tokens) and its gradients: the reflection stage
 * trains only the reflection tokens of transcripts. The caller disposes `grads`.
 */
export function maskedNllAndGrads(model: HookedTransformer, rows: readonly Pick<Rollout, "tokens" | "mask">[], padId = 0): { loss: number; grads: Map<string, tf.Tensor> } {
  const p = pad(rows, padId, "maskedNllAndGrads");
  const denom = Math.max(1, p.tokens);
  const vars = [...model.params.values()];
  const nameOf = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(() => {
    const { logp } = tokenLogProbs(model, p, true);
    const mask = tf.tensor2d(p.mask, [p.B, p.T - 1]);
    return tf.div(tf.neg(tf.sum(tf.mul(logp, mask))), denom) as tf.Scalar;
  }, vars);
  const loss = value.dataSync()[0];
  value.dispose();
  const out = new Map<string, tf.Tensor>();
  for (const [vname, g] of Object.entries(grads)) out.set(nameOf.get(vname) ?? vname, g);
  return { loss, grads: out };
}

/**
 * The reference's log-probabilities of the targets [B·(T−1)]: one ONNX Runtime forward pass and a log-softmax here
 * (TensorFlow.js when the reference has permanent hooks, which only that path runs).
 */
function referenceLogProbs(reference: HookedTransformer, p: Padded): Float32Array {
  if (reference.numHooks > 0) return tf.tidy(() => tokenLogProbs(reference, p, false).logp).dataSync() as Float32Array;
  const n = p.T - 1;
  const V = reference.cfg.d_vocab;
  const rows = Array.from({ length: p.B }, (_, b) => p.inputs.slice(b * n, (b + 1) * n));
  const logits = forwardOnnx(reference, rows, { where: "policyFeeds" }).logits.data;
  const out = new Float32Array(p.B * n);
  for (let r = 0; r < p.B * n; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (row[v] > max) max = row[v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(row[v] - max);
    out[r] = row[p.targets[r]] - max - Math.log(sum);
  }
  return out;
}

/** The ONNX Runtime feeds of one policy update (see `policyFeeds`), with the batch shape they use. */
export interface PolicyFeeds {
  feeds: Record<string, Tensor>;
  B: number;
  /** Positions per row: the longest transcript's T − 1, rounded up to a multiple of `bucket` (at most n_ctx). */
  T: number;
  /** Agent tokens (the loss's normaliser is max(1, tokens)). */
  tokens: number;
}

/**
 * The policy loss of `policyLossAndGrads` as feeds for `kit/onnx/train-step.ts`'s loss graph with `kl` and `stats`:
 * weights m · A (+ A′ on reflection tokens), KL weights m · β, mask m, the reference's log-probabilities (computed
 * here on ONNX Runtime, without gradients) and normaliser max(1, Σ m). Rows are right-padded to a multiple of `bucket` positions so
 * that batches of nearby lengths share one compiled graph (padded positions weigh 0 and, attention being causal,
 * change nothing before them).
 */
export function policyFeeds(
  model: HookedTransformer,
  rollouts: readonly Rollout[],
  { advantages: adv, reflectionAdvantages: reflAdv, reference, klCoef = 0, padId = 0 }: PolicyLossOptions,
  bucket = 16,
): PolicyFeeds {
  const where = "policyFeeds";
  if (adv.length !== rollouts.length) throw new RangeError(`${where}: advantages must have one value per rollout (${rollouts.length}), received ${adv.length}`);
  if (reflAdv && reflAdv.length !== rollouts.length) throw new RangeError(`${where}: reflectionAdvantages must have one value per rollout (${rollouts.length}), received ${reflAdv.length}`);
  if (reflAdv) {
    rollouts.forEach((r, i) => {
      if (!r.reflectionMask || r.reflectionMask.length !== r.tokens.length) throw new RangeError(`${where}: with reflectionAdvantages, rollout ${i} needs a reflectionMask of ${r.tokens.length} values, received ${r.reflectionMask ? r.reflectionMask.length : "none"}`);
    });
  }
  const p = pad(rollouts, padId, where);
  const n = p.T - 1;
  const T = Math.min(Math.max(n, Math.ceil(n / bucket) * bucket), model.cfg.n_ctx);
  const B = p.B;
  const ids = new BigInt64Array(B * T).fill(BigInt(padId));
  const targets = new BigInt64Array(B * T).fill(BigInt(padId));
  const weights = new Float32Array(B * T);
  const klWeights = new Float32Array(B * T);
  const mask = new Float32Array(B * T);
  const ref = new Float32Array(B * T);
  const beta = reference && klCoef > 0 ? klCoef : 0;
  const refLogp = beta > 0 ? referenceLogProbs(reference!, p) : null;
  rollouts.forEach((r, i) => {
    for (let t = 0; t < n; t++) {
      const src = i * n + t;
      const dst = i * T + t;
      ids[dst] = BigInt(p.inputs[src]);
      targets[dst] = BigInt(p.targets[src]);
      const m = p.mask[src];
      const a = adv[i] + (reflAdv && r.reflectionMask && t + 1 < r.reflectionMask.length && r.reflectionMask[t + 1] ? reflAdv[i] : 0);
      weights[dst] = m * a;
      klWeights[dst] = m * beta;
      mask[dst] = m;
      if (refLogp) ref[dst] = refLogp[src];
    }
  });
  const positions = BigInt64Array.from({ length: T }, (_, t) => BigInt(t));
  const f32 = (x: Float32Array) => new Tensor("float32", x, [B, T]);
  return {
    feeds: {
      input_ids: new Tensor("int64", ids, [B, T]),
      position_ids: new Tensor("int64", positions, [1, T]),
      targets: new Tensor("int64", targets, [B, T]),
      weights: f32(weights),
      kl_weights: f32(klWeights),
      mask: f32(mask),
      ref_logp: f32(ref),
      normaliser: new Tensor("float32", Float32Array.of(Math.max(1, p.tokens)), []),
    },
    B,
    T,
    tokens: p.tokens,
  };
}
