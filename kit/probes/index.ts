/** Linear probes on activations: logistic and difference-of-means probes, evaluation, layer sweeps, PCA. */
export { fitLogisticProbe, type LogisticProbe, type LogisticOptions, type FitInfo } from "./logistic";
export { diffOfMeans, type DiffOfMeans } from "./diffmeans";
export {
  accuracy,
  accuracyCI,
  balancedAccuracy,
  auroc,
  aurocCI,
  crossValidate,
  stratifiedFolds,
  type AurocCI,
  type CrossValidation,
  type CrossValidateOptions,
  type FoldResult,
  type ProbeKind,
} from "./eval";
export {
  layerSweep,
  extractFeatures,
  tokenScores,
  generalisationMatrix,
  type ProbeInput,
  type FeatureOptions,
  type LayerSweepOptions,
  type LayerSweepRow,
  type Scorer,
  type GeneralisationMatrix,
} from "./sweep";
export { pca, type Pca, type PcaOptions } from "./pca";
export {
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
} from "./persona";
export type { Matrix, Labels } from "./data";
