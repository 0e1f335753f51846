/** TransformerLens staples: logit lens, direct logit attribution, patching, gradients of activations, cache files. */
export { logitLens, logitLensFigure, tokenString, type LogitLens, type LogitLensOptions, type LensCell } from "./logit-lens";
export { directLogitAttribution, directionLogitLens, logitDirection, type AttributionOptions, type DirectionCell, type LogitAttribution } from "./attribution";
export { gradOf, logitDiffMetric, type ActivationGrads, type Metric } from "./grad";
export { activationPatching, attributionPatching, patchingFigure, type PatchingOptions, type PatchingResult } from "./patching";
export type { PatchingGrid } from "./sites";
export { saveCache, loadCache } from "./cache-io";
