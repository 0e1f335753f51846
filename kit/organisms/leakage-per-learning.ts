/**
 * Leakage per unit of in-domain learning (H7: "less leakage" vs "less learning"). A narrow run that learns its
 * behaviour less in its own domain may leak it less elsewhere for that reason alone; dividing the held-out
 * difference-in-differences by the narrow domain's difference-in-differences (both against the same benign control
 * of equal steps) gives the share of the learned behaviour that transfers.
 *
 *   const l = leakagePerLearning(gamingRun, benignRun);    // same seed, same persona model
 *   l.heldOut;   // held-out DiD (didLeakage's default domains)
 *   l.inDomain;  // the narrow domain's DiD
 *   l.ratio;     // heldOut ÷ max(inDomain, minGain); l.floored says whether the floor applied
 */
import { describeValue } from "../describe";
import { didLeakage, narrowDomains } from "./metrics";
import type { RunRecord } from "./record";

export interface LeakagePerLearning {
  /** Held-out difference-in-differences of the treated run's behaviour (treated − control, after − before). */
  heldOut: number;
  /** The same difference-in-differences in the treated run's narrow domain (in-domain learning beyond the control). */
  inDomain: number;
  /** heldOut ÷ max(inDomain, minGain). */
  ratio: number;
  /** Whether inDomain was below minGain (the ratio then divides by minGain). */
  floored: boolean;
}

/**
 * Held-out leakage divided by in-domain learning, both as differences-in-differences of `treated` against `control`
 * (a benign narrow run of equal steps from the same persona model). `minGain` (default 0.05) floors the denominator,
 * so a run that learned almost nothing in its domain does not divide by ~0; fix it before running.
 */
export function leakagePerLearning(treated: RunRecord, control: RunRecord, { minGain = 0.05 }: { minGain?: number } = {}): LeakagePerLearning {
  if (!(typeof minGain === "number" && minGain > 0 && minGain <= 1)) throw new RangeError(`leakagePerLearning: minGain must be a number in (0, 1], received ${describeValue(minGain)}`);
  const narrow = treated?.config?.narrow;
  if (!narrow) throw new RangeError("leakagePerLearning: treated must be a RunRecord with narrow training, received a record with narrow: null");
  const domains = narrowDomains(narrow);
  const heldOut = didLeakage(treated, control).did;
  const inDomain = didLeakage(treated, control, { domains }).did;
  const floored = inDomain < minGain;
  return { heldOut, inDomain, ratio: heldOut / Math.max(inDomain, minGain), floored };
}
