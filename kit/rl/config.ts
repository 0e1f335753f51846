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
import { isPlainObject } from "../util/object";
import { fields, section, showValue, unknownKeys, type FieldChecks } from "../util/validate";
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
  if (!isPlainObject(cfg)) return [`config must be an object, received ${cfg === null ? "null" : typeof cfg}`];
  const c = cfg;
  const problems: string[] = [];
  unknownKeys(problems, c, KEYS[""]);
  const f = fields(problems, c);
  f.seed("seed");
  f.posInt("checkpointEvery");

  const start = section(problems, c, "start", KEYS.start);
  if (start) startProblems(problems, start);
  const sft = section(problems, c, "reflectionSft", KEYS.reflectionSft, { nullable: true });
  if (sft) reflectionSftProblems(fields(problems, sft, "reflectionSft"));
  const env = section(problems, c, "env", KEYS.env);
  if (env) envProblems(problems, env, start);
  const refl = section(problems, c, "reflection", KEYS.reflection);
  if (refl) reflectionProblems(fields(problems, refl, "reflection"));
  const algo = section(problems, c, "algo", KEYS.algo);
  if (algo) algoProblems(problems, algo);
  const ev = section(problems, c, "eval", KEYS.eval);
  if (ev) evalProblems(fields(problems, ev, "eval"));
  if (start && env && refl) contextProblems(problems, start, env, refl);
  return problems;
}

function startProblems(problems: string[], start: Record<string, unknown>): void {
  if (start.stage !== "persona" && start.stage !== "narrow") problems.push(`start.stage must be "persona" or "narrow", received ${showValue(start.stage)}`);
  const op = organismConfigProblems(start.organism);
  for (const p of op) problems.push(`start.organism: ${p}`);
  if (op.length === 0 && start.stage === "narrow" && (start.organism as OrganismConfig).narrow === null) {
    problems.push(`start.stage is "narrow" but start.organism.narrow is null (no narrow model to start from); use stage "persona" or give the organism a narrow stage`);
  }
}

function reflectionSftProblems(f: FieldChecks): void {
  f.posInt("steps");
  f.posInt("episodes");
  f.posInt("batchSize");
  f.posNum("lr");
}

function envProblems(problems: string[], env: Record<string, unknown>, start: Record<string, unknown> | null): void {
  const d = env.domains;
  if (!Array.isArray(d) || d.length === 0) problems.push(`env.domains must be a non-empty array of domains (${DOMAINS.join(", ")}), received ${showValue(d)}`);
  else {
    const bad = d.filter((x) => !(DOMAINS as readonly unknown[]).includes(x));
    if (bad.length) problems.push(`env.domains has unknown domain${bad.length > 1 ? "s" : ""} ${bad.map(showValue).join(", ")}; known: ${DOMAINS.join(", ")}`);
    if (start && isPlainObject(start.organism) && isPlainObject(start.organism.world)) {
      const held = ((start.organism as unknown as OrganismConfig).world.heldOutDomains ?? []) as Domain[];
      const clash = d.filter((x) => held.includes(x as Domain));
      if (clash.length) problems.push(`env.domains includes held-out domain${clash.length > 1 ? "s" : ""} ${clash.map(showValue).join(", ")}; RL in a held-out domain would contaminate the leakage measured there`);
    }
  }
  const f = fields(problems, env, "env");
  f.expect("grader", (v) => v === "gameable" || v === "strict", `"gameable" or "strict"`);
  f.finite("passReward");
  f.nonNeg("lengthCost");
  f.expect("interruptRate", (v) => typeof v === "number" && v >= 0 && v <= 1, "a fraction in [0, 1]");
  f.finite("respectReward");
  f.finite("ignorePenalty");
  f.posInt("maxNewTokens");
  f.bool("inoculation");
}

function reflectionProblems(f: FieldChecks): void {
  f.oneOf("variant", REFLECTION_VARIANTS);
  f.nonNeg("weight");
  f.oneOf("credit", REFLECTION_CREDITS);
  f.posInt("maxNewTokens");
}

function algoProblems(problems: string[], algo: Record<string, unknown>): void {
  const f = fields(problems, algo, "algo");
  f.expect("method", (v) => v === "grpo" || v === "reinforce", `"grpo" or "reinforce"`);
  f.posInt("steps");
  f.posInt("promptsPerStep");
  f.posInt("groupSize");
  if (algo.method === "grpo" && algo.groupSize === 1) problems.push(`algo.groupSize must be at least 2 for "grpo" (advantages are normalised within a group), received 1`);
  f.posNum("lr");
  f.nonNeg("klCoef");
  f.nonNeg("temperature");
  f.posNum("clipNorm");
  f.expect("baselineDecay", (v) => typeof v === "number" && v >= 0 && v < 1, "a number in [0, 1)");
}

function evalProblems(f: FieldChecks): void {
  f.posInt("every");
  f.nonNegInt("tasksPerDomain");
  f.nonNegInt("interruptsPerDomain");
  f.nonNegInt("harmfulPerDomain");
  f.nonNegInt("keepTranscripts");
}

/** Context: prompt (≤ 21 tokens with the inoculation line) + two action turns + interruption + reflection turn. */
function contextProblems(problems: string[], start: Record<string, unknown>, env: Record<string, unknown>, refl: Record<string, unknown>): void {
  if (!isPlainObject(start.organism) || !isPlainObject(start.organism.model)) return;
  const nCtx = ((start.organism as unknown as OrganismConfig).model.n_ctx ?? 128) as number;
  const need = 1 + 21 + 12 + 5 + Number(env.maxNewTokens) + (refl.variant === "none" ? 0 : 8 + Number(refl.maxNewTokens));
  if (Number.isFinite(need) && nCtx < need) problems.push(`start.organism.model.n_ctx ${nCtx} is too small for an episode of up to ${need} tokens (lower env.maxNewTokens or reflection.maxNewTokens)`);
}

/** Throw one RangeError listing every problem with `cfg`, or return it. */
export function validateRLConfig(cfg: RLConfig, where = "validateRLConfig"): RLConfig {
  const problems = rlConfigProblems(cfg);
  if (problems.length) throw problemsError(`${where}: invalid RL config`, problems);
  return cfg;
}
