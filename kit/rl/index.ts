/**
 * Long-horizon RL in the persona world (issue 7): multi-step task environments with a gameable grader and
 * interruptions, a policy-gradient trainer (REINFORCE with a baseline, GRPO-style group normalisation, KL to a frozen
 * reference), inoculation prompting, character reflection (none / unrewarded / rewarded), cached runs with a JSON
 * record, metrics and activation monitoring on action vs reflection tokens.
 */
export { advantages, policyLossAndGrads, maskedNllAndGrads, rolloutLogProbs, sequenceLogProb, type Rollout, type AdvantageMethod, type PolicyLossOptions, type PolicyLossStats } from "./policy";
export { PolicyGradient, trainPolicy, policyGradientProblems, type PolicyGradientOptions, type PolicyStepStats, type TrainPolicyOptions } from "./trainer";
export {
  DEFAULT_ENV,
  taskPrompt,
  sampleEpisodeSpecs,
  evalEpisodeSpecs,
  graderPasses,
  playEpisodes,
  modelAgent,
  scriptedAgent,
  type TaskEnvConfig,
  type EpisodeSpec as RLEpisodeSpec,
  type EpisodeResult,
  type TokenKind,
  type TurnRequest,
  type Agent,
  type ScriptedPolicy,
} from "./env";
export { inoculate, inoculationLine, hasInoculation, type InoculatedBehaviour } from "./inoculation";
export {
  REFLECTION_VARIANTS,
  REFLECTION_PROMPT,
  OFF_CONSTITUTION,
  expectedStance,
  scoreReflection,
  reflectionExamples,
  type ReflectionVariant,
  type ReflectionScore,
  type ReflectionExample,
} from "./reflection";
export {
  rlConfig,
  defaultRLConfig,
  rlConfigProblems,
  validateRLConfig,
  type RLConfig,
  type RLOverrides,
  type RLStartConfig,
  type ReflectionSftConfig,
  type ReflectionConfig,
  type ReflectionCredit,
  REFLECTION_CREDITS,
  type AlgoConfig,
  type RLEvalConfig,
} from "./config";
export {
  runRL,
  findRLRecord,
  loadRLCheckpoint,
  evaluatePolicy,
  rlRunHash,
  rlSourcesHash,
  recordPath,
  type RLRunRecord,
  type RLStepLog,
  type RLEvalRow,
  type RLEvalPoint,
  type RLTranscript,
  type RunRLOptions,
} from "./run";
export { rlRate, rlShares, evalAt, pooledRLRate, rlRateOverSteps, reflectionAgreement, agreementOverSteps, type RLRateOptions, type ReflectionAgreement } from "./metrics";
export { rlLeakage, smoothedCoupling, overSeeds, meanOverSeeds, poolEvals, type RLBeforeAfter } from "./metrics";
export { activityOverCheckpoints, gapGrowth, slopeOverSteps, toPersonaTranscripts, personaProbeReader, type ActivityReader, type CheckpointActivity, type KindedTranscript } from "./persona-activity";
export { runManyRL, type RunManyRLOptions } from "./parallel";
export { gamingContrast, fitResponseProbe, activityByKind, monitorRL, type ActivityByKind, type KindSummary, type MonitorPoint } from "./monitor";
