/**
 * The workshop edition: check functions for the exercise notebooks in notebooks/workshop/, graded hints, and the
 * embedded organisms they run on. Each check runs the learner's function on cases with known answers and reports
 * specifically what is wrong, or a "✓ passed" line; it never throws because of the learner's code.
 */
export { runCheck, callLearner, callFresh, callTwice, previewPair, requirePlainArray, requireNumber, fail, showCheck, checkBundle, whenPassed, readNumbers, CheckFailure, CHECK_MIME, type CheckOptions, type CheckResult, type NumericValue } from "./check";
export { workshopModel, workshopModelPath, type WorkshopModelName } from "./model";
export { checkResidCache, type LastTokenResidFn } from "./resid";
export { checkDiffOfMeans, type DiffOfMeansFn } from "./diffmeans";
export { checkProbeByLayer, referenceProbeAccuracy, type ProbeByLayerFn } from "./probe";
export { checkSteering, type SteeringHookFn } from "./steering";
export { checkLeakageCI, type WilsonFn } from "./interval";
export { checkLeakagePrediction, screeningActivations, type ProjectionDifferenceFn, type ScreeningActivationsOptions } from "./prediction";
export { checkSpearman, type SpearmanFn } from "./spearman";
export { hint, hintHtml, hintText, HINTS } from "./hints";
