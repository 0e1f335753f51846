/**
 * Dose-response (H6): a series of narrow datasets that mix a harmful behaviour with its benign counterpart in one
 * domain at equal size and steps, and the least-squares slope of leakage on dose.
 *
 *   const series = doseSeries([0, 25, 50, 75, 100]);   // dose 0: pure solving; 100: pure gaming (plain configs)
 *   doseSlope([0, 25, 50, 75, 100], didPerDose);         // leakage per percentage point of harmful data
 *
 * Doses 0 and 100 are the plain single-behaviour configs (so they share cached runs with the benign control and the
 * plain harmful dataset); doses in between are a two-component `narrow.mixture`, harmful first (what `leakage` and
 * `measuredBehaviour` read).
 */
import { describeValue as describe } from "../describe";
import { slope } from "../util/stats";
import type { NarrowConfig } from "../organisms/config";
import { DOMAINS, type Domain } from "../world/types";
import { BENIGN_COUNTERPART, type HarmfulBehaviour } from "./matched";

const SHORT: Record<HarmfulBehaviour, string> = { games_grader: "gaming", complies_with_harm: "complying", ignores_interruption: "ignoring" };

/** One dataset of a dose series. */
export interface DoseDataset {
  name: string;
  /** Percentage of the harmful behaviour, 0–100. */
  dose: number;
  narrow: Partial<NarrowConfig>;
  trains: string;
}

export interface DoseSeriesOptions {
  /** Harmful behaviour mixed in (default "games_grader"); the rest is its benign counterpart. */
  behaviour?: HarmfulBehaviour;
  /** Domain of every component (default "coding"). */
  domain?: Domain;
}

/** The datasets of a dose series, one per dose (percent of harmful data, distinct, in [0, 100]). */
export function doseSeries(doses: readonly number[], { behaviour = "games_grader", domain = "coding" }: DoseSeriesOptions = {}): DoseDataset[] {
  const fn = "doseSeries";
  checkDoses(fn, doses);
  const benign = BENIGN_COUNTERPART[behaviour];
  if (!benign) throw new RangeError(`${fn}: options.behaviour must be one of ${Object.keys(BENIGN_COUNTERPART).join(", ")}, received ${describe(behaviour)}`);
  if (!(DOMAINS as readonly unknown[]).includes(domain)) throw new RangeError(`${fn}: options.domain must be one of ${DOMAINS.join(", ")}, received ${describe(domain)}`);
  const short = SHORT[behaviour];
  return doses.map((dose) => ({
    name: `dose-${short}${dose}-${domain}`,
    dose,
    narrow:
      dose === 100
        ? { behaviour, domain }
        : dose === 0
          ? { behaviour: benign, domain }
          : { behaviour, domain, mixture: [{ behaviour, domain, weight: dose }, { behaviour: benign, domain, weight: 100 - dose }] },
    trains: `${dose}% ${behaviour}, ${100 - dose}% ${benign}, ${domain}`,
  }));
}

/** Least-squares slope of `values` on `doses` (per percentage point); needs two distinct doses. */
export function doseSlope(doses: readonly number[], values: readonly number[]): number {
  const fn = "doseSlope";
  if (!Array.isArray(doses) || !Array.isArray(values) || doses.length !== values.length) {
    throw new RangeError(`${fn}: doses and values must be arrays of the same length, received ${describe(doses)} and ${describe(values)}`);
  }
  const bad = [...doses, ...values].find((v) => typeof v !== "number" || !Number.isFinite(v));
  if (bad !== undefined) throw new RangeError(`${fn}: every dose and value must be a finite number, received ${describe(bad)}`);
  if (new Set(doses).size < 2) throw new RangeError(`${fn}: need at least two distinct doses, received ${describe(doses)}`);
  return slope(doses, values);
}

function checkDoses(fn: string, doses: readonly number[]): void {
  if (!Array.isArray(doses) || doses.length < 2) throw new RangeError(`${fn}: doses must be an array of at least two percentages, received ${describe(doses)}`);
  const bad = doses.find((d) => typeof d !== "number" || !Number.isFinite(d) || d < 0 || d > 100);
  if (bad !== undefined) throw new RangeError(`${fn}: every dose must be a percentage in [0, 100], received ${describe(bad)}`);
  if (new Set(doses).size !== doses.length) throw new RangeError(`${fn}: doses must be distinct, received ${describe(doses)}`);
}
