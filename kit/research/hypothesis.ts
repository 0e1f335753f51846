/**
 * `testHypothesis(plan, id, observations)`: the test a registered plan names, computed from per-(arm, seed) values,
 * refusing anything the plan does not name.
 *
 *   const r = testHypothesis(plan, "H1", [{ arm: "shallow", seed: 10, metric: "heldout_gaming_did", value: 0.12 }, …]);
 *   // r.estimate, r.lower, r.upper (95% percentile bootstrap over seeds), r.p (two-sided), r.n
 *
 * Tests (the unit resampled is the seed unless said):
 * - "paired-bootstrap": d_s = a_s − b_s per confirmatory seed; estimate mean(d); resample seeds.
 * - "bootstrap": mean(a) − mean(b); resample each arm's seeds independently.
 * - "one-sample": mean(a) vs 0; resample seeds.
 * - "spearman": per arm (e.g. a dataset), the seed means of `predictor` and `metric`; Spearman's ρ over arms;
 *   resample arms.
 * Refusals (RangeError naming the hypothesis): an unknown id; an observation whose metric, arm or seed the hypothesis
 * does not read (a pilot seed is refused as a pilot); a duplicate (arm, seed, metric); a confirmatory seed missing
 * from an arm read; a non-finite value.
 */
import { describeValue } from "../describe";

/** Strings quoted as JSON, anything else described. */
const shown = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : describeValue(v));
import { bootstrap, bootstrapDiff, mean, spearman } from "../util/stats";
import { display } from "./display";
import type { HypothesisPlan, PlanTest, RegisteredPlan, ResolvedHypothesis } from "./plan";

/** One measured value: `metric` of `arm` at confirmatory seed `seed`. */
export interface Observation {
  arm: string;
  seed: number;
  metric: string;
  value: number;
}

export interface HypothesisResult {
  planId: string;
  planHash: string;
  id: string;
  claim: string;
  role: "primary" | "secondary";
  metric: string;
  test: PlanTest;
  /** The arms read: the contrast, or the units of a "spearman" test. */
  arms: string[];
  prediction: "greater" | "less";
  /** Units in the test: seeds (arms for "spearman"). */
  n: number;
  estimate: number;
  lower: number;
  upper: number;
  /** Two-sided bootstrap p-value (before correction). */
  p: number;
  /** Per-arm means over seeds of the metric (and of the predictor, for "spearman", under `predictor`). */
  armMeans: Record<string, number>;
  predictorMeans?: Record<string, number>;
}

function findHypothesis(plan: RegisteredPlan, id: string, fn: string): ResolvedHypothesis {
  const h = plan.plan.hypotheses.find((x) => x.id === id);
  if (!h) throw new RangeError(`${fn}: hypothesis ${shown(id)} is not in plan ${plan.plan.id} (it has ${plan.plan.hypotheses.map((x) => x.id).join(", ")})`);
  return h;
}

/** The observations as arm → metric → seed → value, after checking each against the plan. */
function tabulate(plan: RegisteredPlan, h: HypothesisPlan, observations: readonly Observation[], fn: string): Map<string, Map<string, Map<number, number>>> {
  if (!Array.isArray(observations) || observations.length === 0) throw new RangeError(`${fn}: ${h.id}: observations must be a non-empty array of { arm, seed, metric, value }, received ${describeValue(observations)}`);
  const arms = h.test === "spearman" ? h.arms! : h.contrast!;
  const metrics = h.test === "spearman" ? [h.metric, h.predictor!] : [h.metric];
  const { seeds, pilotSeeds } = plan.plan;
  const table = new Map<string, Map<string, Map<number, number>>>();
  observations.forEach((o, i) => {
    const at = `${fn}: ${h.id}: observations[${i}]`;
    if (!metrics.includes(o?.metric)) throw new RangeError(`${at} has metric ${shown(o?.metric)}, but the plan's ${h.id} reads ${metrics.map((m) => JSON.stringify(m)).join(" and ")}`);
    if (!arms.includes(o.arm)) throw new RangeError(`${at} has arm ${shown(o.arm)}, but the plan's ${h.id} reads ${arms.map((a) => JSON.stringify(a)).join(", ")}`);
    if (pilotSeeds.includes(o.seed)) throw new RangeError(`${at} has seed ${o.seed}, a pilot seed: pilots are reported as pilots, never tested (confirmatory seeds: ${seeds.join(", ")})`);
    if (!seeds.includes(o.seed)) throw new RangeError(`${at} has seed ${Number.isInteger(o.seed) ? o.seed : shown(o.seed)}, which is not a confirmatory seed of the plan (${seeds.join(", ")})`);
    if (typeof o.value !== "number" || !Number.isFinite(o.value)) throw new RangeError(`${at} (${o.arm}, seed ${o.seed}) has value ${typeof o.value === "number" ? String(o.value) : shown(o.value)}; expected a finite number`);
    const byMetric = table.get(o.arm) ?? new Map<string, Map<number, number>>();
    table.set(o.arm, byMetric);
    const bySeed = byMetric.get(o.metric) ?? new Map<number, number>();
    byMetric.set(o.metric, bySeed);
    if (bySeed.has(o.seed)) throw new RangeError(`${at} repeats (${o.arm}, seed ${o.seed}, ${o.metric}); each is observed once`);
    bySeed.set(o.seed, o.value);
  });
  for (const a of arms) for (const m of metrics) {
    const missing = seeds.filter((s) => !table.get(a)?.get(m)?.has(s));
    if (missing.length > 0) throw new RangeError(`${fn}: ${h.id}: arm ${JSON.stringify(a)} has no ${JSON.stringify(m)} for confirmatory seed${missing.length === 1 ? "" : "s"} ${missing.join(", ")}; every planned seed must be observed (the plan fixed ${seeds.length})`);
  }
  return table;
}

/** Run the test the plan names for hypothesis `id` on `observations`; displays one line and returns the result. */
export function testHypothesis(plan: RegisteredPlan, id: string, observations: readonly Observation[], { show = true }: { show?: boolean } = {}): HypothesisResult {
  const fn = "testHypothesis";
  if (!plan || typeof plan.hash !== "string" || !plan.plan) throw new TypeError(`${fn}: plan must be what preregister returned, received ${describeValue(plan)}`);
  const h = findHypothesis(plan, id, fn);
  const table = tabulate(plan, h, observations, fn);
  const seeds = plan.plan.seeds;
  const values = (arm: string, metric = h.metric) => seeds.map((s) => table.get(arm)!.get(metric)!.get(s)!);
  const opts = { reps: plan.plan.reps, seed: 1, level: 1 - plan.plan.alpha };
  const armsRead = h.test === "spearman" ? h.arms! : h.contrast!;
  const armMeans = Object.fromEntries(armsRead.map((a) => [a, mean(values(a))]));
  let summary;
  let predictorMeans: Record<string, number> | undefined;
  let n = seeds.length;
  if (h.test === "paired-bootstrap" || h.test === "one-sample") {
    const a = values(armsRead[0]);
    const d = h.test === "one-sample" ? a : a.map((x, i) => x - values(armsRead[1])[i]);
    summary = bootstrap((ix) => mean(ix.map((i) => d[i])), d.length, opts);
  } else if (h.test === "bootstrap") {
    const { diff, lower, upper, p } = bootstrapDiff(values(armsRead[0]), values(armsRead[1]), { iterations: opts.reps, seed: opts.seed, level: opts.level });
    summary = { estimate: diff, lower, upper, p };
  } else {
    predictorMeans = Object.fromEntries(armsRead.map((a) => [a, mean(values(a, h.predictor!))]));
    const xs = armsRead.map((a) => predictorMeans![a]);
    const ys = armsRead.map((a) => armMeans[a]);
    summary = bootstrap((ix) => spearman(ix.map((i) => xs[i]), ix.map((i) => ys[i])), xs.length, opts);
    n = armsRead.length;
  }
  const result: HypothesisResult = {
    planId: plan.plan.id,
    planHash: plan.hash,
    id: h.id,
    claim: h.claim,
    role: h.role,
    metric: h.metric,
    test: h.test,
    arms: [...armsRead],
    prediction: h.prediction,
    n,
    estimate: summary.estimate,
    lower: summary.lower,
    upper: summary.upper,
    p: summary.p,
    armMeans,
    ...(predictorMeans ? { predictorMeans } : {}),
  };
  if (show) display({ "text/plain": resultLine(result) });
  return result;
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "—");

/** One line: the estimate, its interval, n and p. */
export function resultLine(r: HypothesisResult): string {
  const what = r.test === "spearman" ? `Spearman ρ(${r.metric}) over ${r.n} arms` : r.test === "one-sample" ? `mean ${r.arms[0]} ${r.metric}` : `${r.arms[0]} − ${r.arms[1]} ${r.metric}`;
  const unit = r.test === "spearman" ? "arms" : "seeds";
  return `${r.id}: ${what} = ${f3(r.estimate)} (95% bootstrap CI over ${r.n} ${unit} [${f3(r.lower)}, ${f3(r.upper)}], p = ${r.p.toPrecision(2)} before correction; ${r.test})`;
}
