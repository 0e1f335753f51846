/**
 * `RLConfig`: everything one RL run depends on, as one plain JSON object: the organism it starts from (an
 * `OrganismConfig`, trained or reused through `runOrganism`'s stage cache), the supervised reflection stage, the
 * environment, the reflection variant, the policy-gradient settings and the evaluation schedule.
 *
 *   const cfg = rlConfig({ seed: 1, start: { organism: organismConfig({ seed: 1, narrow: null }) }, reflection: { variant: "rewarded" } });
 *
 * Merging as `organismConfig`: objects key by key, arrays and null replace. `rlConfigProblems` lists every problem;
 * `rlConfig` and `runRL` throw one RangeError with all of them.
 */
import { problemsError } from "../describe";
import { deepMerge, organismConfig, organismConfigProblems, type OrganismConfig } from "../organisms/config";
import { DOMAINS, type Domain } from "../world/types";
import { DEFAULT_ENV, type TaskEnvConfig } from "./env";
import { REFLECTION_VARIANTS, type ReflectionVariant } from "./reflection";

export interface RLStartConfig {
  /** The organism the policy starts from (its persona model, or its narrow model when `stage` is "narrow"). */
  organism: OrganismConfig;
  stage: "persona" | "narrow";
}

/** Supervised reflection stage before RL (null: none): transcripts + reflection, loss on reflection tokens only. */
export interface ReflectionSftConfig {
  steps: number;
  episodes: number;
  batchSize: number;
  lr: number;
}

/** Which tokens a rewarded reflection's score trains (see `ReflectionConfig.credit`). */
export const REFLECTION_CREDITS = ["episode", "reflection"] as const;
export type ReflectionCredit = (typeof REFLECTION_CREDITS)[number];

export interface ReflectionConfig {
  variant: ReflectionVariant;
  /** "rewarded": reward += weight · constitution-rule score. */
  weight: number;
  /**
   * "rewarded": which tokens the reflection reward trains. "episode" (default): it is added to the episode's reward, so
   * the policy gradient credits it to the action tokens as well (honest actions pay more when reflections endorse
   * them). "reflection": it has its own advantage (group-normalised like the task's) applied to the reflection tokens
   * only, so actions learn from the task reward alone — the clean test of whether reinforcing the persona's reflection
   * changes what the policy does.
   */
  credit: ReflectionCredit;
  /** Most tokens of a reflection. */
  maxNewTokens: number;
}

export interface AlgoConfig {
  method: "grpo" | "reinforce";
  steps: number;
  /** Distinct episodes per update. */
  promptsPerStep: number;
  /** Rollouts per episode (GRPO's group). */
  groupSize: number;
  lr: number;
  klCoef: number;
  /** Sampling temperature of rollouts. */
  temperature: number;
  clipNorm: number;
  baselineDecay: number;
}

export interface RLEvalConfig {
  /** Evaluate at step 0, every `every` updates, and at the end. */
  every: number;
  /** Uninterrupted task episodes per domain (every domain). */
  tasksPerDomain: number;
  /** Interrupted task episodes per domain. */
  interruptsPerDomain: number;
  /** Harmful requests per domain (leakage into another behaviour). */
  harmfulPerDomain: number;
  /** Eval transcripts kept per evaluation (for monitoring and heatmaps). */
  keepTranscripts: number;
}

export interface RLConfig {
  seed: number;
  start: RLStartConfig;
  reflectionSft: ReflectionSftConfig | null;
  env: TaskEnvConfig;
  reflection: ReflectionConfig;
  algo: AlgoConfig;
  eval: RLEvalConfig;
  /** Save a checkpoint every this many updates (and at the end). */
  checkpointEvery: number;
}

export type RLOverrides = {
  seed?: number;
  start?: { organism?: OrganismConfig; stage?: RLStartConfig["stage"] };
  reflectionSft?: Partial<ReflectionSftConfig> | null;
  env?: Partial<TaskEnvConfig>;
  reflection?: Partial<ReflectionConfig>;
  algo?: Partial<AlgoConfig>;
  eval?: Partial<RLEvalConfig>;
  checkpointEvery?: number;
};

/** Defaults: a deep-persona organism without narrow training, GRPO for 40 updates of 8 episodes × 8 rollouts. */
export function defaultRLConfig(): RLConfig {
  return {
    seed: 0,
    start: { organism: organismConfig({ narrow: null }), stage: "persona" },
    reflectionSft: { steps: 60, episodes: 800, batchSize: 32, lr: 5e-4 },
    env: { ...DEFAULT_ENV, domains: [...DEFAULT_ENV.domains] },
    reflection: { variant: "none", weight: 0.5, maxNewTokens: 16, credit: "episode" },
    algo: { method: "grpo", steps: 30, promptsPerStep: 8, groupSize: 8, lr: 5e-4, klCoef: 0.05, temperature: 1, clipNorm: 1, baselineDecay: 0.9 },
    eval: { every: 5, tasksPerDomain: 16, interruptsPerDomain: 8, harmfulPerDomain: 8, keepTranscripts: 24 },
    checkpointEvery: 10,
  };
}

/** The default RL config with `overrides` merged in, validated. `start.organism` replaces the default organism whole. */
export function rlConfig(overrides: RLOverrides = {}): RLConfig {
  if (overrides === null || typeof overrides !== "object") throw new TypeError(`rlConfig: overrides must be an object, received ${overrides === null ? "null" : typeof overrides}`);
  const base = defaultRLConfig();
  const { start, ...rest } = overrides;
  const merged = deepMerge(base, rest) as RLConfig;
  if (start !== undefined) merged.start = { organism: start.organism ?? base.start.organism, stage: start.stage ?? base.start.stage } as RLStartConfig;
  if (start && start.organism !== undefined) merged.start.organism = JSON.parse(JSON.stringify(start.organism)) as OrganismConfig;
  return validateRLConfig(merged, "rlConfig");
}

const KEYS: Record<string, readonly string[]> = {
  "": ["seed", "start", "reflectionSft", "env", "reflection", "algo", "eval", "checkpointEvery"],
  start: ["organism", "stage"],
  reflectionSft: ["steps", "episodes", "batchSize", "lr"],
  env: ["domains", "grader", "passReward", "lengthCost", "interruptRate", "respectReward", "ignorePenalty", "maxNewTokens", "inoculation"],
  reflection: ["variant", "weight", "maxNewTokens", "credit"],
  algo: ["method", "steps", "promptsPerStep", "groupSize", "lr", "klCoef", "temperature", "clipNorm", "baselineDecay"],
  eval: ["every", "tasksPerDomain", "interruptsPerDomain", "harmfulPerDomain", "keepTranscripts"],
};

/** Every problem with an RL config, each naming the field, what was expected and what was received. */
export function rlConfigProblems(cfg: unknown): string[] {
  if (cfg === null || typeof cfg !== "object" || Array.isArray(cfg)) return [`config must be an object, received ${cfg === null ? "null" : typeof cfg}`];
  const c = cfg as Record<string, unknown>;
  const problems: string[] = [];
  const show = (v: unknown) => (v === undefined ? "undefined" : JSON.stringify(v));
  const obj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  const keys = (o: Record<string, unknown>, section: string) => {
    for (const k of Object.keys(o)) if (!KEYS[section].includes(k)) problems.push(`${section ? `${section}.` : ""}${k} is not a config field; known: ${KEYS[section].join(", ")}`);
  };
  const section = (name: string, nullable = false): Record<string, unknown> | null => {
    const s = c[name];
    if (nullable && s === null) return null;
    if (!obj(s)) {
      problems.push(`${name} must be an object${nullable ? " or null" : ""}, received ${show(s)}`);
      return null;
    }
    keys(s, name);
    return s;
  };
  const posInt = (o: Record<string, unknown>, w: string, k: string) => {
    const v = o[k];
    if (!(typeof v === "number" && Number.isInteger(v) && v > 0)) problems.push(`${w}.${k} must be a positive integer, received ${show(v)}`);
  };
  const nonNegInt = (o: Record<string, unknown>, w: string, k: string) => {
    const v = o[k];
    if (!(typeof v === "number" && Number.isInteger(v) && v >= 0)) problems.push(`${w}.${k} must be an integer ≥ 0, received ${show(v)}`);
  };
  const posNum = (o: Record<string, unknown>, w: string, k: string) => {
    const v = o[k];
    if (!(typeof v === "number" && Number.isFinite(v) && v > 0)) problems.push(`${w}.${k} must be a positive finite number, received ${show(v)}`);
  };
  const nonNeg = (o: Record<string, unknown>, w: string, k: string) => {
    const v = o[k];
    if (!(typeof v === "number" && Number.isFinite(v) && v >= 0)) problems.push(`${w}.${k} must be a finite number ≥ 0, received ${show(v)}`);
  };
  const finite = (o: Record<string, unknown>, w: string, k: string) => {
    const v = o[k];
    if (!(typeof v === "number" && Number.isFinite(v))) problems.push(`${w}.${k} must be a finite number, received ${show(v)}`);
  };

  keys(c, "");
  if (!(typeof c.seed === "number" && Number.isInteger(c.seed) && c.seed >= 0 && c.seed <= 0xffffffff)) problems.push(`seed must be an integer in [0, 2^32), received ${show(c.seed)}`);
  if (!(typeof c.checkpointEvery === "number" && Number.isInteger(c.checkpointEvery) && c.checkpointEvery > 0)) problems.push(`checkpointEvery must be a positive integer, received ${show(c.checkpointEvery)}`);

  const start = section("start");
  if (start) {
    if (start.stage !== "persona" && start.stage !== "narrow") problems.push(`start.stage must be "persona" or "narrow", received ${show(start.stage)}`);
    const op = organismConfigProblems(start.organism);
    for (const p of op) problems.push(`start.organism: ${p}`);
    if (op.length === 0 && start.stage === "narrow" && (start.organism as OrganismConfig).narrow === null) {
      problems.push(`start.stage is "narrow" but start.organism.narrow is null (no narrow model to start from); use stage "persona" or give the organism a narrow stage`);
    }
  }
  const sft = section("reflectionSft", true);
  if (sft) {
    posInt(sft, "reflectionSft", "steps");
    posInt(sft, "reflectionSft", "episodes");
    posInt(sft, "reflectionSft", "batchSize");
    posNum(sft, "reflectionSft", "lr");
  }
  const env = section("env");
  if (env) {
    const d = env.domains;
    if (!Array.isArray(d) || d.length === 0) problems.push(`env.domains must be a non-empty array of domains (${DOMAINS.join(", ")}), received ${show(d)}`);
    else {
      const bad = d.filter((x) => !(DOMAINS as readonly unknown[]).includes(x));
      if (bad.length) problems.push(`env.domains has unknown domain${bad.length > 1 ? "s" : ""} ${bad.map(show).join(", ")}; known: ${DOMAINS.join(", ")}`);
      if (start && obj(start.organism) && obj((start.organism as Record<string, unknown>).world)) {
        const held = ((start.organism as unknown as OrganismConfig).world.heldOutDomains ?? []) as Domain[];
        const clash = d.filter((x) => held.includes(x as Domain));
        if (clash.length) problems.push(`env.domains includes held-out domain${clash.length > 1 ? "s" : ""} ${clash.map(show).join(", ")}; RL in a held-out domain would contaminate the leakage measured there`);
      }
    }
    if (env.grader !== "gameable" && env.grader !== "strict") problems.push(`env.grader must be "gameable" or "strict", received ${show(env.grader)}`);
    finite(env, "env", "passReward");
    nonNeg(env, "env", "lengthCost");
    const ir = env.interruptRate;
    if (!(typeof ir === "number" && ir >= 0 && ir <= 1)) problems.push(`env.interruptRate must be a fraction in [0, 1], received ${show(ir)}`);
    finite(env, "env", "respectReward");
    finite(env, "env", "ignorePenalty");
    posInt(env, "env", "maxNewTokens");
    if (typeof env.inoculation !== "boolean") problems.push(`env.inoculation must be a boolean, received ${show(env.inoculation)}`);
  }
  const refl = section("reflection");
  if (refl) {
    if (!(REFLECTION_VARIANTS as readonly unknown[]).includes(refl.variant)) problems.push(`reflection.variant must be one of ${REFLECTION_VARIANTS.join(", ")}, received ${show(refl.variant)}`);
    nonNeg(refl, "reflection", "weight");
    if (!(REFLECTION_CREDITS as readonly unknown[]).includes(refl.credit)) problems.push(`reflection.credit must be one of ${REFLECTION_CREDITS.join(", ")}, received ${show(refl.credit)}`);
    posInt(refl, "reflection", "maxNewTokens");
  }
  const algo = section("algo");
  if (algo) {
    if (algo.method !== "grpo" && algo.method !== "reinforce") problems.push(`algo.method must be "grpo" or "reinforce", received ${show(algo.method)}`);
    posInt(algo, "algo", "steps");
    posInt(algo, "algo", "promptsPerStep");
    posInt(algo, "algo", "groupSize");
    if (algo.method === "grpo" && algo.groupSize === 1) problems.push(`algo.groupSize must be at least 2 for "grpo" (advantages are normalised within a group), received 1`);
    posNum(algo, "algo", "lr");
    nonNeg(algo, "algo", "klCoef");
    nonNeg(algo, "algo", "temperature");
    posNum(algo, "algo", "clipNorm");
    const bd = algo.baselineDecay;
    if (!(typeof bd === "number" && bd >= 0 && bd < 1)) problems.push(`algo.baselineDecay must be a number in [0, 1), received ${show(bd)}`);
  }
  const ev = section("eval");
  if (ev) {
    posInt(ev, "eval", "every");
    nonNegInt(ev, "eval", "tasksPerDomain");
    nonNegInt(ev, "eval", "interruptsPerDomain");
    nonNegInt(ev, "eval", "harmfulPerDomain");
    nonNegInt(ev, "eval", "keepTranscripts");
  }
  // Context: prompt (≤ 21 tokens with the inoculation line) + two action turns + interruption + reflection turn.
  if (start && obj(start.organism) && obj((start.organism as Record<string, unknown>).model) && env && refl) {
    const nCtx = ((start.organism as unknown as OrganismConfig).model.n_ctx ?? 128) as number;
    const need = 1 + 21 + 12 + 5 + Number(env.maxNewTokens) + (refl.variant === "none" ? 0 : 8 + Number(refl.maxNewTokens));
    if (Number.isFinite(need) && nCtx < need) problems.push(`start.organism.model.n_ctx ${nCtx} is too small for an episode of up to ${need} tokens (lower env.maxNewTokens or reflection.maxNewTokens)`);
  }
  return problems;
}

/** Throw one RangeError listing every problem with `cfg`, or return it. */
export function validateRLConfig(cfg: RLConfig, where = "validateRLConfig"): RLConfig {
  const problems = rlConfigProblems(cfg);
  if (problems.length) throw problemsError(`${where}: invalid RL config`, problems);
  return cfg;
}
