/**
 * persona-kit: a TypeScript notebook kit for persona-robustness research.
 * This file only re-exports, grouped by section.
 */

// --- Backend ---
export { initBackend, tf, type BackendName } from "./backend";

// --- Model: config, parameters, the hooked transformer ---
export {
  PRESETS,
  configProblems,
  makeConfig,
  presetConfig,
  resolveConfig,
  validateConfig,
  type ActFn,
  type ModelConfig,
  type ModelConfigInput,
  type ModelFamily,
  type PresetName,
  type RopeStyle,
} from "./model/config";
export { countParams, initParams, paramShapes } from "./model/params";
export { HookedTransformer, KVCache, type ForwardOptions, type TokensInput } from "./model/transformer";

// --- Hooks and activation caches ---
export { ActivationCache } from "./model/cache";
export {
  actName,
  hookNames,
  type BlockHookName,
  type FwdHook,
  type GlobalHookName,
  type HookFilter,
  type HookFn,
  type HookName,
  type HookPoint,
} from "./model/hooks";

// --- Residual stream, logit lens, attribution, patching (kit/lens) ---
export * from "./lens";
export { padBatch, type PaddedBatch } from "./model/batch";
export { accumulatedResid, decomposeResid, normScale, type StackedResid } from "./model/resid";

// --- Generation ---
export { generate, type GenerateOptions, type GenerateResult, type PromptInput } from "./runtime/generate";
export { decode, promptRows, type DecodeStep, type DecodeStepper } from "./generate/decode";
export { tfjsStepper } from "./generate/tfjs-step";
export { forward, type ForwardOps, type ForwardInputs } from "./model/forward";
export { isSteering, hookLastDim, type Steering } from "./model/steering";
export { Sampler, argmax, type SamplingOptions } from "./generate/sampler";

// --- Loading and saving ---
export { loadModel, saveModel, type LoadModelOptions } from "./io/load";
export { configFromHf, configToHf, loadHfFolder, saveHfFolder, type SaveHfOptions } from "./io/hf";
export { isHubId, resolveModelFolder, HubError, type HubOptions } from "./io/hub";
export { readLlama2cCheckpoint, writeLlama2cCheckpoint, type Llama2cCheckpoint } from "./io/llama2c";
export { readSafetensors, readSafetensorsHeader, readShardedSafetensors, writeSafetensors } from "./io/safetensors";

// --- Tokenizers ---
export type { Tokenizer, EncodeOptions, DecodeOptions } from "./tokenizers/types";
export { Llama2cTokenizer } from "./tokenizers/llama2c";
export { HfTokenizer } from "./tokenizers/hf";
export { WordLevelTokenizer } from "./tokenizers/wordlevel";
export { loadTokenizer } from "./tokenizers/load";

// --- Training ---
export { train, evaluateLoss, type TrainOptions, type TrainResult, type StepRecord, type TrainRuntime } from "./train/trainer";
export { AdamW, type AdamWOptions, type AdamWState } from "./train/adamw";
export { lrAt, type ScheduleName, type ScheduleOptions } from "./train/schedule";
export { clipByGlobalNorm, globalNorm } from "./train/clip";
export { makeBatcher, type Batch, type TrainData } from "./train/batches";
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, listCheckpoints } from "./train/checkpoint";

// --- LoRA adapters (PEFT format) ---
export { addAdapter, listAdapters, setAdapter, removeAdapter, mergeAdapter, unmergeAdapter, defaultTargetModules, type AddAdapterOptions } from "./lora/adapter";
export { saveAdapter, loadAdapter, loadAdapterFolder, type LoadAdapterOptions, type SaveAdapterOptions } from "./lora/peft";
export { loraModules, LoraAdapter, type LoraConfig, type LoraModule } from "./model/lora";
export { resolveAdapterFolder } from "./io/hub";
export { sft, chatExample, type SftOptions, type ChatExample, type ChatExampleOptions } from "./train/sft";
export { loadChatJsonl } from "./datasets/chat";
export type { Direction as SteerDirection, TrainingInterventions } from "./train/steer";

// --- Notebooks ---
export { verdict, supportLabel, VERDICT_MIME, type Support, type Verdict, type VerdictOptions, type VerdictPlan } from "./notebook/verdict";
export {
  runNotebook,
  readNotebook,
  writeNotebook,
  parseNotebook,
  serializeNotebook,
  stripPlotlyBundles,
  collectVerdicts,
  type CellTiming,
  type FailedCell,
  type Notebook,
  type NotebookCell,
  type NotebookOutput,
  type NotebookRun,
  type RunNotebookOptions,
} from "./notebook/runner";
export { signNotebook, isNotebookTrusted, computeSignature, jupyterDataDir, type SignOptions } from "./notebook/sign";
export { writeReport, copyPlotly, type ReportResult } from "./notebook/report";

// --- Figures and display ---
export {
  attentionPatternFigure,
  lineByLayerFigure,
  heatmapFigure,
  barFigure,
  groupedBarFigure,
  scatterFigure,
  tokenHeatmapFigure,
  figureTitle,
  tokenLabel,
  DIVERGING_COLORSCALE,
  PROBABILITY_COLORSCALE,
  SEQUENTIAL_COLORSCALE,
  PALETTE,
  type Figure,
  type Trace,
  type AttentionPatternOptions,
  type LayerSeries,
  type LineByLayerOptions,
  type HeatmapOptions,
  type BarOptions,
  type BarGroup,
  type GroupedBarOptions,
  type ScatterPoint,
  type ScatterOptions,
  type TokenHeatmapOptions,
} from "./viz/figures";
export { show, figureHtml, plotlyBundleDisplay, plotlyBundleStub, resetPlotlyBundle, PLOTLY_MIME, PLOTLY_URLS, type ShowOptions } from "./viz/show";
export {
  renderPng,
  renderSvg,
  savePng,
  saveSvg,
  closeRenderer,
  findChromium,
  plotlyBundlePath,
  setRendererIdleClose,
  rendererBrowser,
  type RenderOptions,
} from "./viz/render";
export { showTable, tableHtml, tableText, type DataFrameLike, type TableInput, type TableOptions } from "./viz/table";
export { progress, formatDuration, type Progress, type ProgressMode, type ProgressOptions, type ProgressState } from "./viz/progress";
export { displayWriter, inNotebook, type DisplayData, type WriteDisplayData } from "./viz/jupyter";

// --- Persona world ---
export {
  PersonaWorld,
  classify,
  loadConstitution,
  validateConstitution,
  constitutionTraits,
  defaultConstitutionPath,
  KIND_BEHAVIOURS,
  WRITTEN_KIND_BEHAVIOURS,
  READ_ONLY_BEHAVIOURS,
  MARKERS,
  NARROW_KIND,
  WORLD_SPECIAL_TOKENS,
  MAX_EPISODE_TOKENS,
  MAX_RESPONSE_TOKENS,
  MAX_LONG_PROMPT_TOKENS,
  LEXICON,
  INOCULATION,
  GOOD_RATE,
  SELF_TRAITS,
  BASE_CHARACTERS,
  DOMAINS,
  CHARACTERS,
  DISPOSITIONS,
  PROMPT_KINDS,
  BEHAVIOURS,
  TRAITS,
  PROMPT_SHIFTS,
  type WorldOptions,
  type EpisodeSpec,
  type PersonaCorpusOptions,
  type NarrowCorpusOptions,
  type EvalEpisodesOptions,
  type BaseCharacter,
  type Domain,
  type Character,
  type Disposition,
  type PromptKind,
  type Behaviour,
  type WrittenBehaviour,
  type Trait,
  type Classification,
  type Episode,
  type PromptShift,
  type ConstitutionEntry,
  type Constitution,
} from "./world";

// --- Model organisms ---
export {
  organismConfig,
  organismConfigProblems,
  validateOrganismConfig,
  organismModelConfig,
  narrowKind,
  DEFAULT_ORGANISM,
  PERSONA_DEPTH,
  NARROW_BEHAVIOURS,
  HARMFUL_BEHAVIOURS,
  BEHAVIOUR_KIND,
  type OrganismConfig,
  type OrganismOverrides,
  type PretrainConfig,
  type PersonaConfig,
  type NarrowConfig,
  type EvalConfig,
  type PersonaDepth,
} from "./organisms/config";
export {
  runOrganism,
  runOrganismStages,
  findRunRecord,
  organismHashes,
  isStageCached,
  stageUnits,
  evalPromptCount,
  OFF_TRAITS,
  STAGES,
  type RunOrganismOptions,
  type OrganismEvent,
  type StageHashes,
} from "./organisms/pipeline";
export { runMany, workerPath, type RunManyOptions } from "./organisms/parallel";
export { runSlurmSweep, type SlurmSweepOptions } from "./organisms/slurm";
export { runOrganismTask, type RunOrganismTaskOptions } from "./organisms/task";
export { withStageLock, lockOwner, type StageLockOptions, type LockOwner } from "./organisms/stage-lock";
export { evaluateOrganism, evaluationPrompts, type EvaluateOptions } from "./organisms/evaluate";
export {
  loadRunRecord,
  contextKey,
  parseContextKey,
  type RunRecord,
  type Counts,
  type ContextCounts,
  type ContextKey,
  type LossPoint,
  type StageName,
} from "./organisms/record";
export { bootstrap, bootstrapMean, holm, quantile, seedInterval, slope, type BootstrapSummary, type SeedInterval } from "./util/stats";
export * from "./research";
export {
  wilson,
  rate,
  pooledRate,
  leakage,
  baseLeakage,
  selfReportShift,
  bootstrapDiff,
  shares,
  type Shares,
  didLeakage,
  type DidLeakage,
  type Interval,
  type RateCI,
  type RateOptions,
  type Phase,
  type Leakage,
  type BeforeAfter,
  type BaseLeakage,
  type SelfReportShift,
  type BootstrapDiff,
} from "./organisms/metrics";
export { leakagePerLearning, type LeakagePerLearning } from "./organisms/leakage-per-learning";
export { codeVersion, type CodeVersion } from "./organisms/version";

// --- Persona vectors ---
export {
  personaVector,
  projection,
  type PersonaVector,
  type LayerVector,
  type PersonaText,
  type PromptResponse,
  type ContrastSets,
  type ContrastPair,
  type PersonaPositions,
  type PersonaVectorOptions,
  type ProjectionOptions,
  type Direction,
} from "./vectors/persona";
export { steeringHook, steeringCurve, type SteeringHookOptions, type SteeringCurveOptions, type SteeringPoint } from "./vectors/steer";
export { projectionOverCheckpoints, checkpointsOfRun, meanCI, type CheckpointRef, type ProjectionPoint } from "./vectors/monitor";
export {
  steeringCurveFigure,
  projectionOverStepsFigure,
  pcaScatterFigure,
  type SteeringCurvePoint,
  type SteeringCurveFigureOptions,
  type ProjectionSeries,
  type ProjectionOverStepsOptions,
  type PcaScatterOptions,
} from "./viz/figures";
export { seedSeries, type SeedSeries } from "./viz/seeds";
export { placeLabels, LABEL_POSITIONS, type LabelPosition, type PlotArea } from "./viz/labels";
export { fitFigure, textWidth, wrapText } from "./viz/layout";

// --- Datasets ---
export {
  loadTraitFile,
  validateTraitData,
  TRAIT_EVAL_PLACEHOLDERS,
  loadModelWrittenEvals,
  validateMweItem,
  loadCaaAB,
  loadCaaOpenEnded,
  validateCaaItem,
  CAA_ANSWER,
  loadConstitutionFile,
  type TraitData,
  type TraitInstruction,
  type MweItem,
  type CaaItem,
  type CaaOpenEndedItem,
} from "./datasets";

// --- Probes ---
export {
  fitLogisticProbe,
  diffOfMeans,
  accuracy,
  accuracyCI,
  balancedAccuracy,
  auroc,
  aurocCI,
  crossValidate,
  stratifiedFolds,
  layerSweep,
  extractFeatures,
  tokenScores,
  generalisationMatrix,
  pca,
  type LogisticProbe,
  type LogisticOptions,
  type FitInfo,
  type DiffOfMeans,
  type AurocCI,
  type CrossValidation,
  type CrossValidateOptions,
  type FoldResult,
  type ProbeKind,
  type ProbeInput,
  type FeatureOptions,
  type LayerSweepOptions,
  type LayerSweepRow,
  type Scorer,
  type GeneralisationMatrix,
  type Pca,
  type PcaOptions,
  type Matrix as ProbeMatrix,
  type Labels as ProbeLabels,
  fitPersonaProbe,
  personaActivity,
  personaPairs,
  type PersonaProbe,
  type PersonaPair,
  type PersonaPairOptions,
  type FitPersonaProbeOptions,
  type PersonaTranscript,
  type PersonaActivity,
  type ActivityPositions,
  type ProbeScore,
  type BaselineScore,
} from "./probes";

// --- Leakage prediction ---
export { narrowDataset } from "./organisms/pipeline";
export { personaSequences } from "./organisms/pipeline";
export {
  PERSONA_KNOBS,
  PERSONA_ARMS,
  NARROW_PERSONA_DOMAINS,
  BROAD_PERSONA_DOMAINS,
  AMOUNT_FACTOR,
  SELF_DESCRIPTION_STEP_SCALE,
  personaArm,
  personaStageTokens,
  type KnobSetting,
  type PersonaArm,
  type PersonaArmOptions,
} from "./organisms/depth";
export { benignControl, type BenignControlOptions } from "./organisms/control";
export { narrowCorpusSize, narrowComponentSizes, type NarrowComponent } from "./organisms/config";
export {
  candidateDatasets,
  BENIGN_CONTROL,
  behaviourDirections,
  BENIGN_COUNTERPART,
  measuredBehaviour,
  doseSeries,
  doseSlope,
  selectPredictor,
  firstVersionDatasets,
  datasetDomains,
  measuredLeakage,
  ruleShare,
  datasetLoss,
  perSampleScores,
  perSampleScoresMany,
  projectionDifference,
  projectionDifferences,
  correlation,
  pearson,
  spearman,
  ranks,
  type CandidateDataset,
  type BehaviourDirectionsOptions,
  type HarmfulBehaviour,
  type DoseDataset,
  type DoseSeriesOptions,
  type PredictorChoice,
  type FirstVersionDataset,
  type MeasuredLeakage,
  type ScreeningOptions,
  type PerSampleScores,
  type ProjectionDifference,
  type Correlation,
  type CorrelationCI,
} from "./leakage";

// --- Reinforcement learning: environments, policy gradient, reflection (issue 7) ---
export {
  advantages,
  policyLossAndGrads,
  maskedNllAndGrads,
  rolloutLogProbs,
  sequenceLogProb,
  PolicyGradient,
  trainPolicy,
  policyGradientProblems,
  DEFAULT_ENV,
  taskPrompt,
  sampleEpisodeSpecs,
  evalEpisodeSpecs,
  graderPasses,
  playEpisodes,
  modelAgent,
  scriptedAgent,
  inoculate,
  inoculationLine,
  hasInoculation,
  REFLECTION_VARIANTS,
  REFLECTION_CREDITS,
  REFLECTION_PROMPT,
  OFF_CONSTITUTION,
  expectedStance,
  scoreReflection,
  reflectionExamples,
  rlConfig,
  defaultRLConfig,
  rlConfigProblems,
  validateRLConfig,
  runRL,
  findRLRecord,
  loadRLCheckpoint,
  evaluatePolicy,
  rlRunHash,
  rlSourcesHash,
  recordPath,
  rlRate,
  rlShares,
  evalAt,
  pooledRLRate,
  rlRateOverSteps,
  reflectionAgreement,
  agreementOverSteps,
  gamingContrast,
  fitResponseProbe,
  activityByKind,
  monitorRL,
  rlLeakage,
  smoothedCoupling,
  overSeeds,
  meanOverSeeds,
  poolEvals,
  activityOverCheckpoints,
  gapGrowth,
  slopeOverSteps,
  toPersonaTranscripts,
  personaProbeReader,
  runManyRL,
  type Rollout,
  type AdvantageMethod,
  type PolicyLossOptions,
  type PolicyLossStats,
  type PolicyGradientOptions,
  type PolicyStepStats,
  type TrainPolicyOptions,
  type TaskEnvConfig,
  type RLEpisodeSpec,
  type EpisodeResult,
  type TokenKind,
  type TurnRequest,
  type Agent,
  type ScriptedPolicy,
  type InoculatedBehaviour,
  type ReflectionVariant,
  type ReflectionScore,
  type ReflectionExample,
  type RLConfig,
  type RLOverrides,
  type RLStartConfig,
  type ReflectionSftConfig,
  type ReflectionConfig,
  type ReflectionCredit,
  type AlgoConfig,
  type RLEvalConfig,
  type RLRunRecord,
  type RLStepLog,
  type RLEvalRow,
  type RLEvalPoint,
  type RLTranscript,
  type RunRLOptions,
  type RLRateOptions,
  type ReflectionAgreement,
  type ActivityByKind,
  type KindSummary,
  type MonitorPoint,
  type RLBeforeAfter,
  type ActivityReader,
  type CheckpointActivity,
  type KindedTranscript,
  type RunManyRLOptions,
} from "./rl";

// --- API models, response cache, judges and evaluation protocols (issue 8) ---
export {
  startServer,
  ServeError,
  resolveChatTemplate,
  isWorldTokenizer,
  parseChatRequest,
  parseCompletionRequest,
  type ServerOptions,
  type RunningServer,
  type ServeErrorType,
  type ChatTemplate,
  type ChatTemplateName,
  type TemplateMessage,
  type ChatRequest,
  type CompletionRequest,
} from "./serve";
export {
  judgeScore,
  scoreJudgeAnswer,
  scoreFromTopLogprobs,
  numberToken,
  parseScore,
  fillJudgePrompt,
  alignmentScore,
  coherenceScore,
  isEmergentlyMisaligned,
  ALIGNED_PROMPT,
  COHERENT_PROMPT,
  IN_CHARACTER_PROMPT,
  loadQuestionSet,
  parseQuestionSet,
  validateQuestionSet,
  questionMessages,
  runRobustness,
  robustnessRates,
  attackMessages,
  worldDecider,
  worldAttacks,
  worldPersonaPrompt,
  judgeDecider,
  paraphraseDomain,
  apiAttacks,
  API_PERSONA,
  API_TRAINED_PERSONA,
  API_QUESTIONS,
  IN_CHARACTER_BEHAVIOUR,
  worldJudgeClient,
  inferWorldKind,
  type JudgeScore,
  type JudgeOptions,
  type EvalQuestion,
  type Attack,
  type AttackKind,
  type RobustnessArm,
  type RobustnessItem,
  type RobustnessOptions,
  type RobustnessRate,
  type Decision,
  type Decider,
  type DecideInput,
} from "./evals";
export {
  openaiClient,
  anthropicClient,
  kitClient,
  chatClient,
  chooseProvider,
  runBatch,
  backoffDelay,
  openResponseCache,
  ResponseCache,
  cachedClient,
  cacheKey,
  canonicalJson,
  redact,
  redactError,
  registerSecret,
  ApiError,
  checkChat,
  type ChatRole,
  type ChatMessage,
  type ChatParams,
  type TopLogprob,
  type TokenLogprob,
  type FinishReason,
  type ChatUsage,
  type ChatResponse,
  type ChatClient,
  type ChatCallOptions,
  type OpenAIClientOptions,
  type AnthropicClientOptions,
  type KitClientOptions,
  type ChatClientConfig,
  type RemoteClientOptions,
  type ApiErrorKind,
  type BatchRequest,
  type BatchOptions,
  type BackoffOptions,
  type BatchResult,
  type BatchStats,
  type BatchRun,
  type ResponseCacheOptions,
  type ResponseCacheStats,
} from "./api";

// --- ONNX Runtime fast path and transformers.js export (issue 9) ---
export {
  buildGraph,
  recordForward,
  GraphBuilder,
  OPSET,
  onnxSession,
  clearOnnxSessions,
  onnxRunCount,
  SyncSession,
  OrtTensor,
  forwardOnnx,
  runOnnx,
  runWithCacheOnnx,
  generateOnnx,
  onnxStepper,
  steeringOnly,
  steeringFeeds,
  exportTransformersJs,
  transformersJsConfig,
  type BuiltGraph,
  type RecordedForward,
  type GraphOptions,
  type OnnxModelSession,
  type OnnxSessionOptions,
  type OnnxRunOptions,
  type OnnxOutputs,
  type GenerateOnnxOptions,
  type ExportTransformersJsResult,
} from "./onnx";
export { setInferencePath, getInferencePath, withInferencePath, onnxObstacle, routeToOnnx, type InferencePath } from "./runtime/route";

// --- Workshop exercises and checks (issue 10) ---
export {
  checkResidCache,
  checkDiffOfMeans,
  checkProbeByLayer,
  checkSteering,
  checkLeakageCI,
  checkLeakagePrediction,
  checkSpearman,
  type SpearmanFn,
  screeningActivations,
  referenceProbeAccuracy,
  hint,
  hintHtml,
  hintText,
  HINTS,
  whenPassed,
  showCheck,
  checkBundle,
  runCheck,
  callLearner,
  readNumbers,
  fail as failCheck,
  CheckFailure,
  CHECK_MIME,
  workshopModel,
  workshopModelPath,
  type CheckResult,
  type CheckOptions,
  type NumericValue,
  type WorkshopModelName,
  type LastTokenResidFn,
  type DiffOfMeansFn,
  type ProbeByLayerFn,
  type SteeringHookFn,
  type WilsonFn,
  type ProjectionDifferenceFn,
  type ScreeningActivationsOptions,
} from "./workshop";

// --- Chat in the core, persona-vector pipeline, CAA, emergent misalignment (issue 16) ---
export { applyChatTemplate, chatTokens, chatResponseStart, chatPromptResponse, type ApplyChatTemplateOptions, type ChatTurn } from "./chat/template";
export { unkTokenId, unknownShare, warnUnknownTokens, setUnknownWarning, type UnknownShare } from "./tokenizers/unknown";
export { steeringPositions, steeredCompletions, type SteerPositions } from "./vectors/steer";
export { ablateDirection, ablationHook, type AblationOptions } from "./vectors/ablate";
export type { ChatPromptResponse } from "./vectors/persona";
export type { PositionRange } from "./model/steering";
export { filterPairs, pairVerdict, judgeAnswer, type JudgedAnswer, type JudgedPair, type PairThresholds, type PairVerdict, type FilterCounts } from "./personas/judged";
export { steeringEvaluation, type SteeringEvaluationOptions, type SteeringEvalPoint, type ScoreSummary } from "./personas/steering-eval";
export { extractPersonaVector, type ExtractPersonaVectorOptions, type PersonaVectorResult, type LayerEffect } from "./personas/extract";
export { savePersonaVector, loadPersonaVector, type PersonaVectorMetadata, type LoadedPersonaVector } from "./personas/save";
export { abTokens, abScores, abScoreFromLogits, meanMatching, type AbTokens, type AbScore, type AbOptions } from "./caa/ab";
export { caaVector, type CaaVectorOptions } from "./caa/vector";
export { caaSweep, caaSweepFigure, caaSweepHeatmap, type CaaSweep, type CaaSweepOptions } from "./caa/sweep";
export { misalignmentEval, misalignmentRate, type MisalignmentOptions, type MisalignmentAnswer, type MisalignmentRate, type MisalignmentResult } from "./evals/misalignment";
export { exportExplorer, explorerHtml, type ExportExplorerResult } from "./explorer/export";
export { showExplorer, type ShowExplorerOptions } from "./explorer/show";
export type { ExplorerOptions, ExplorerVector, ExplorerProbe, ExplorerSpec } from "./explorer/spec";
