/**
 * `PolicyGradient`: one optimizer step of REINFORCE with a baseline or GRPO-style group-normalised advantages, with a
 * KL penalty to a frozen reference model, AdamW and global-norm clipping (`kit/train`). Environments produce rollouts
 * (`Rollout`: tokens, agent mask, reward, group); the trainer turns them into an update and reports what it measured.
 *
 *   const pg = new PolicyGradient(model, reference, { method: "grpo", lr: 1e-3, klCoef: 0.05 });
 *   const stats = pg.step(rollouts);   // { reward, loss, kl, entropy, gradNorm, … }
 *   pg.checkpoint(dir, step);          // kit/train/checkpoint format (weights + AdamW moments + state)
 *
 * `trainPolicy(model, reference, sample, options)` is the generic loop (sample rollouts from the current policy,
 * step), used by the tests' bandit; `runRL` (`run.ts`) is the persona-world loop with evaluations and a run record.
 */
import { describeValue } from "../describe";
import { problemsError } from "../describe";
import type { HookedTransformer } from "../model/transformer";
import { AdamW } from "../train/adamw";
import { saveCheckpoint, TRAINER_STATE_FORMAT, TRAINER_STATE_VERSION } from "../train/checkpoint";
import { clipByGlobalNorm } from "../train/clip";
import { OnnxTrainer } from "../onnx/train-step";
import { advantages, policyFeeds, policyLossAndGrads, type AdvantageMethod, type PolicyLossStats, type Rollout } from "./policy";

export interface PolicyGradientOptions {
  /** "grpo" (default) or "reinforce". */
  method?: AdvantageMethod;
  /** AdamW learning rate (default 1e-3). */
  lr?: number;
  /** KL penalty coefficient β to the reference (default 0.05). */
  klCoef?: number;
  /** Global gradient-norm clip (default 1; null: none). */
  clipNorm?: number | null;
  /** REINFORCE: the baseline is an exponential moving average of batch mean rewards with this decay (default 0.9). */
  baselineDecay?: number;
  /** AdamW decoupled weight decay (default 0: RL stays near its start). */
  weightDecay?: number;
  /** Padding id (default the model's pad, EOS or 0). */
  padId?: number;
  /**
   * Where updates run: "tfjs", "onnx" (one ONNX Runtime run of a gradient graph per update, kit/onnx/train-step.ts),
   * or "auto" (default): onnx unless the policy has permanent hooks.
   */
  runtime?: "auto" | "tfjs" | "onnx";
}

/** What one update measured. */
export interface PolicyStepStats {
  /** Mean reward of the batch. */
  reward: number;
  /** The REINFORCE baseline used (the group means for GRPO: NaN). */
  baseline: number;
  loss: number;
  /** Mean k3 KL estimate per agent token, before the update. */
  kl: number;
  /** Mean policy entropy per agent token (nats), before the update. */
  entropy: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Agent tokens trained. */
  tokens: number;
}

const KNOWN = ["method", "lr", "klCoef", "clipNorm", "baselineDecay", "weightDecay", "padId", "runtime"];

/** Every problem with policy-gradient options. */
export function policyGradientProblems(o: unknown): string[] {
  if (o === null || typeof o !== "object") return [`options must be an object, received ${describeValue(o)}`];
  const x = o as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(x)) if (!KNOWN.includes(k)) problems.push(`${k} is not an option; known: ${KNOWN.join(", ")}`);
  if (x.method !== undefined && x.method !== "grpo" && x.method !== "reinforce") problems.push(`method must be "grpo" or "reinforce", received ${describeValue(x.method)}`);
  const pos = (k: string) => {
    const v = x[k];
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v > 0)) problems.push(`${k} must be a positive finite number, received ${describeValue(v)}`);
  };
  const nonNeg = (k: string) => {
    const v = x[k];
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v >= 0)) problems.push(`${k} must be a finite number ≥ 0, received ${describeValue(v)}`);
  };
  pos("lr");
  nonNeg("klCoef");
  nonNeg("weightDecay");
  if (x.clipNorm !== undefined && x.clipNorm !== null) pos("clipNorm");
  if (x.runtime !== undefined && !["auto", "tfjs", "onnx"].includes(x.runtime as string)) problems.push(`runtime must be "auto", "tfjs" or "onnx", received ${describeValue(x.runtime)}`);
  const d = x.baselineDecay;
  if (d !== undefined && !(typeof d === "number" && d >= 0 && d < 1)) problems.push(`baselineDecay must be a number in [0, 1), received ${describeValue(d)}`);
  return problems;
}

export class PolicyGradient {
  readonly model: HookedTransformer;
  readonly reference: HookedTransformer | null;
  /** AdamW on the tfjs path; the ONNX Runtime trainer (same update, flat state) on the onnx path. */
  readonly optimizer: AdamW | OnnxTrainer;
  readonly runtime: "tfjs" | "onnx";
  readonly method: AdvantageMethod;
  readonly lr: number;
  readonly klCoef: number;
  readonly clipNorm: number | null;
  readonly baselineDecay: number;
  readonly padId: number;
  /** REINFORCE's running baseline (null before the first step). */
  baseline: number | null = null;
  /** Updates taken. */
  steps = 0;

  constructor(model: HookedTransformer, reference: HookedTransformer | null, options: PolicyGradientOptions = {}) {
    const problems = policyGradientProblems(options);
    if (problems.length) throw problemsError("PolicyGradient: invalid options", problems);
    const { method = "grpo", lr = 1e-3, klCoef = 0.05, clipNorm = 1, baselineDecay = 0.9, weightDecay = 0 } = options;
    this.model = model;
    this.reference = reference;
    this.method = method;
    this.lr = lr;
    this.klCoef = klCoef;
    this.clipNorm = clipNorm;
    this.baselineDecay = baselineDecay;
    this.padId = options.padId ?? model.cfg.padTokenId ?? model.cfg.eosTokenId ?? 0;
    const runtime = options.runtime ?? "auto";
    if (runtime === "onnx" && model.numHooks > 0) throw new RangeError(`PolicyGradient: runtime "onnx" cannot run the policy's ${model.numHooks} permanent hook(s); remove them or pass runtime "tfjs"`);
    this.runtime = runtime === "auto" ? (model.numHooks === 0 ? "onnx" : "tfjs") : runtime;
    this.optimizer =
      this.runtime === "onnx"
        ? new OnnxTrainer(model, { betas: [0.9, 0.95], eps: 1e-8, weightDecay, kl: true, stats: true })
        : new AdamW(model.params, { betas: [0.9, 0.95], weightDecay });
  }

  /** One update from a batch of rollouts sampled from the current policy. */
  step(rollouts: readonly Rollout[]): PolicyStepStats {
    if (!Array.isArray(rollouts) || rollouts.length === 0) throw new RangeError(`PolicyGradient.step: rollouts must be a non-empty array, received ${describeValue(rollouts)}`);
    const rewards = rollouts.map((r) => r.reward);
    rewards.forEach((r, i) => {
      if (!Number.isFinite(r)) throw new RangeError(`PolicyGradient.step: rollout ${i} has reward ${r}, expected a finite number`);
    });
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    const baseline = this.method === "reinforce" ? (this.baseline ?? mean) : NaN;
    const groups = rollouts.map((r) => r.group);
    const adv = advantages(rewards, groups, { method: this.method, baseline });
    // A second reward channel (e.g. a rewarded reflection credited to its own tokens): its own advantages, formed the
    // same way (REINFORCE: minus the batch mean of that channel).
    const withRefl = rollouts.filter((r) => r.reflectionReward !== undefined).length;
    if (withRefl !== 0 && withRefl !== rollouts.length) throw new RangeError(`PolicyGradient.step: ${withRefl} of ${rollouts.length} rollouts have a reflectionReward; give it to all or none`);
    let reflAdv: number[] | undefined;
    if (withRefl) {
      const rr = rollouts.map((r, i) => {
        const v = r.reflectionReward!;
        if (!Number.isFinite(v)) throw new RangeError(`PolicyGradient.step: rollout ${i} has reflectionReward ${v}, expected a finite number`);
        return v;
      });
      reflAdv = advantages(rr, groups, { method: this.method, baseline: rr.reduce((a, b) => a + b, 0) / rr.length });
    }
    const lossOptions = { advantages: adv, reflectionAdvantages: reflAdv, reference: this.reference, klCoef: this.klCoef, padId: this.padId };
    const { stats, gradNorm } = this.optimizer instanceof OnnxTrainer ? this.onnxUpdate(this.optimizer, rollouts, lossOptions) : this.tfjsUpdate(this.optimizer, rollouts, lossOptions);
    if (this.method === "reinforce") this.baseline = this.baseline === null ? mean : this.baselineDecay * this.baseline + (1 - this.baselineDecay) * mean;
    this.steps++;
    return { reward: mean, baseline, loss: stats.loss, kl: stats.kl, entropy: stats.entropy, gradNorm, tokens: stats.tokens };
  }

  private tfjsUpdate(optimizer: AdamW, rollouts: readonly Rollout[], lossOptions: Parameters<typeof policyLossAndGrads>[2]): { stats: PolicyLossStats; gradNorm: number } {
    const { stats, grads } = policyLossAndGrads(this.model, rollouts, lossOptions);
    try {
      if (!Number.isFinite(stats.loss)) throw new Error(`PolicyGradient.step: loss is ${stats.loss} at update ${this.steps}; weights are left as they were`);
      const gradNorm = clipByGlobalNorm(grads, this.clipNorm);
      if (!Number.isFinite(gradNorm)) throw new Error(`PolicyGradient.step: gradient norm is ${gradNorm} at update ${this.steps}; weights are left as they were`);
      optimizer.step(grads, this.lr);
      return { stats, gradNorm };
    } finally {
      for (const g of grads.values()) g.dispose();
    }
  }

  /** The same update as one ONNX Runtime run; committed (and copied into the model) only when everything is finite. */
  private onnxUpdate(trainer: OnnxTrainer, rollouts: readonly Rollout[], lossOptions: Parameters<typeof policyLossAndGrads>[2]): { stats: PolicyLossStats; gradNorm: number } {
    const { feeds, B, T, tokens } = policyFeeds(this.model, rollouts, lossOptions);
    const r = trainer.stepFeeds(feeds, B, T, this.lr, this.clipNorm);
    if (!Number.isFinite(r.loss)) throw new Error(`PolicyGradient.step: loss is ${r.loss} at update ${this.steps}; weights are left as they were`);
    if (!Number.isFinite(r.gradNorm)) throw new Error(`PolicyGradient.step: gradient norm is ${r.gradNorm} at update ${this.steps}; weights are left as they were`);
    if (r.nonFinite.length) throw new RangeError(`PolicyGradient.step: update ${trainer.t + 1} (lr ${this.lr}) would make ${r.nonFinite.length} parameter(s) non-finite (${r.nonFinite.slice(0, 5).join(", ")}); nothing was changed`);
    r.commit();
    trainer.syncModel(); // the next rollouts are sampled from the updated policy
    const denom = Math.max(1, tokens);
    return { stats: { loss: r.loss, kl: (r.klSum ?? 0) / denom, entropy: (r.entropySum ?? 0) / denom, tokens }, gradNorm: r.gradNorm };
  }

  /** Write a `kit/train` checkpoint (weights, AdamW moments, state) of update `step` under `root`; returns its folder. */
  checkpoint(root: string, step: number, { keep = 1000, seed = 0 }: { keep?: number; seed?: number } = {}): string {
    return saveCheckpoint(
      root,
      {
        model: this.model,
        optimizer: this.optimizer,
        state: {
          format: TRAINER_STATE_FORMAT,
          version: TRAINER_STATE_VERSION,
          step,
          t: this.optimizer.t,
          seed,
          options: { method: this.method, lr: this.lr, klCoef: this.klCoef, clipNorm: this.clipNorm, baselineDecay: this.baselineDecay, baseline: this.baseline },
          records: [],
          config: this.model.cfg,
        },
      },
      { keep },
    );
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

export interface TrainPolicyOptions extends PolicyGradientOptions {
  steps: number;
  /** Called after every update with its stats. */
  onStep?: (step: number, stats: PolicyStepStats) => void;
}

/**
 * The generic loop: for each step, `sample(step)` draws rollouts from the current policy (the caller's environment),
 * then one update. Returns every step's stats.
 */
export function trainPolicy(
  model: HookedTransformer,
  reference: HookedTransformer | null,
  sample: (step: number) => Rollout[],
  { steps, onStep, ...options }: TrainPolicyOptions,
): PolicyStepStats[] {
  if (!Number.isInteger(steps) || steps <= 0) throw new RangeError(`trainPolicy: options.steps must be a positive integer, received ${describeValue(steps)}`);
  const pg = new PolicyGradient(model, reference, options);
  const out: PolicyStepStats[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      const stats = pg.step(sample(s));
      out.push(stats);
      onStep?.(s, stats);
    }
  } finally {
    pg.dispose();
  }
  return out;
}
