/**
 * Choosing a predictor on development datasets (H6's held-out check): the candidate whose values rank the measured
 * leakage best (highest Spearman ρ) is chosen, then evaluated, unchanged, on held-out datasets.
 *
 *   const { chosen } = selectPredictor({ "pd layer 0": pd0, "pd layer 1": pd1, "rule share": rule }, measuredDev);
 */
import { describeValue as describe } from "../describe";
import { spearman } from "../util/stats";

export interface PredictorChoice {
  /** The candidate with the highest Spearman ρ (the first listed on ties; NaN ρ never wins unless all are NaN). */
  chosen: string;
  /** Every candidate's ρ on the development datasets. */
  spearman: Record<string, number>;
}

/** The candidate predictor (name → one value per development dataset) that ranks `measured` best. */
export function selectPredictor(candidates: Record<string, readonly number[]>, measured: readonly number[]): PredictorChoice {
  const fn = "selectPredictor";
  const names = candidates !== null && typeof candidates === "object" ? Object.keys(candidates) : [];
  if (names.length === 0) throw new RangeError(`${fn}: candidates must be a non-empty object { name: values[] }, received ${describe(candidates)}`);
  if (!Array.isArray(measured) || measured.length < 3) throw new RangeError(`${fn}: measured must be an array of at least 3 values, received ${describe(measured)}`);
  const rho: Record<string, number> = {};
  for (const name of names) {
    const xs = candidates[name];
    if (!Array.isArray(xs) || xs.length !== measured.length) throw new RangeError(`${fn}: candidates[${JSON.stringify(name)}] must have one value per measured dataset (${measured.length}), received ${describe(xs)}`);
    rho[name] = spearman(xs, measured);
  }
  const score = (n: string) => (Number.isNaN(rho[n]) ? -Infinity : rho[n]);
  const chosen = names.reduce((best, n) => (score(n) > score(best) ? n : best), names[0]);
  return { chosen, spearman: rho };
}
