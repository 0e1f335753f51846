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
import { advantages, policyLossAndGrads, type AdvantageMethod, type Rollout } from "./policy";

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

const KNOWN = ["method", "lr", "klCoef", "clipNorm", "baselineDecay", "weightDecay", "padId"];

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
  const d = x.baselineDecay;
  if (d !== undefined && !(typeof d === "number" && d >= 0 && d < 1)) problems.push(`baselineDecay must be a number in [0, 1), received ${describeValue(d)}`);
  return problems;
}

export class PolicyGradient {
  readonly model: HookedTransformer;
  readonly reference: HookedTransformer | null;
  readonly optimizer: AdamW;
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
    this.optimizer = new AdamW(model.params, { betas: [0.9, 0.95], weightDecay });
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
    const { stats, grads } = policyLossAndGrads(this.model, rollouts, {
      advantages: adv,
      reflectionAdvantages: reflAdv,
      reference: this.reference,
      klCoef: this.klCoef,
      padId: this.padId,
    });
    let gradNorm: number;
    try {
      if (!Number.isFinite(stats.loss)) throw new Error(`PolicyGradient.step: loss is ${stats.loss} at update ${this.steps}; weights are left as they were`);
      gradNorm = clipByGlobalNorm(grads, this.clipNorm);
      if (!Number.isFinite(gradNorm)) throw new Error(`PolicyGradient.step: gradient norm is ${gradNorm} at update ${this.steps}; weights are left as they were`);
      this.optimizer.step(grads, this.lr);
    } finally {
      for (const g of grads.values()) g.dispose();
    }
    if (this.method === "reinforce") this.baseline = this.baseline === null ? mean : this.baselineDecay * this.baseline + (1 - this.baselineDecay) * mean;
    this.steps++;
    return { reward: mean, baseline, loss: stats.loss, kl: stats.kl, entropy: stats.entropy, gradNorm, tokens: stats.tokens };
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
