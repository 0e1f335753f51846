/**
 * `decide(plan, results)`: the plan's decision rule applied to every hypothesis at once — Holm's correction across
 * the plan's hypotheses, one verdict per hypothesis displayed in the notebook, and the run record written to
 * `<dir>/<plan id>.json` (what `docs/results.md` is generated from).
 *
 *   decide(plan, [testHypothesis(plan, "H1", obs1), testHypothesis(plan, "H2", obs2)]);
 *
 * Rule: with p* the Holm-adjusted p (or the raw p when the plan says `correction: "none"`), a hypothesis is
 * supported when p* < α and the estimate has the predicted sign; not supported when p* < α with the other sign;
 * otherwise inconclusive (the data cannot tell at the planned n). Every hypothesis of the plan must be given once,
 * each a result of `testHypothesis` on this very plan (same hash).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeValue } from "../describe";

/** Strings quoted as JSON, anything else described. */
const shown = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : describeValue(v));
import { verdictBundle, type Support } from "../notebook/verdict";
import { holm } from "../util/stats";
import { display } from "./display";
import { resultLine, type HypothesisResult } from "./hypothesis";
import type { RegisteredPlan } from "./plan";

export interface Decision extends HypothesisResult {
  /** The p-value the rule used (Holm-adjusted unless the plan says "none"). */
  pAdjusted: number;
  supported: Support;
  /** The sentence shown with the verdict. */
  text: string;
}

/** What `decide` writes: the plan's identity and every decision. */
export interface ResultsRecord {
  planId: string;
  planHash: string;
  registeredAt: string;
  decidedAt: string;
  alpha: number;
  correction: "holm" | "none";
  seeds: number[];
  decisions: Decision[];
}

function checkResults(plan: RegisteredPlan, results: readonly HypothesisResult[], fn: string): HypothesisResult[] {
  if (!Array.isArray(results)) throw new TypeError(`${fn}: results must be an array of testHypothesis results, received ${describeValue(results)}`);
  const ids = plan.plan.hypotheses.map((h) => h.id);
  const seen = new Set<string>();
  for (const [i, r] of results.entries()) {
    if (r?.planHash !== plan.hash) throw new RangeError(`${fn}: results[${i}] (${shown(r?.id)}) was tested under plan hash ${shown(r?.planHash)}, not this plan's ${plan.hash.slice(0, 16)}`);
    if (seen.has(r.id)) throw new RangeError(`${fn}: results[${i}] repeats hypothesis ${r.id}; give each once`);
    seen.add(r.id);
  }
  const missing = ids.filter((id) => !seen.has(id));
  if (missing.length > 0) throw new RangeError(`${fn}: the plan registered ${ids.length} hypotheses; no result for ${missing.join(", ")} (a registered hypothesis is decided, whichever way it falls)`);
  return ids.map((id) => results.find((r) => r.id === id)!);
}

function decisionText(r: HypothesisResult, pAdj: number, supported: Support, plan: RegisteredPlan): string {
  const adj = plan.plan.correction === "holm" ? `Holm-adjusted p = ${pAdj.toPrecision(2)}` : `p = ${pAdj.toPrecision(2)}`;
  const word = supported === true ? "Supported" : supported === false ? "Not supported: the effect goes the other way" : "Inconclusive: the data cannot tell at this n";
  const predicted = r.prediction === "greater" ? "> 0" : "< 0";
  return `${resultLine(r)}. Predicted ${predicted}; ${adj} (α = ${plan.plan.alpha}). ${word}. Plan ${plan.plan.id} sha256 ${plan.hash.slice(0, 16)}.`;
}

export interface DecideOptions {
  /** Where the results record goes (default "../out/results"). */
  dir?: string;
  write?: boolean;
  show?: boolean;
}

/** Apply the plan's correction and decision rule to every hypothesis; display the verdicts; write the run record. */
export function decide(plan: RegisteredPlan, results: readonly HypothesisResult[], { dir = "../out/results", write = true, show = true }: DecideOptions = {}): Decision[] {
  const fn = "decide";
  if (!plan || typeof plan.hash !== "string" || !plan.plan) throw new TypeError(`${fn}: plan must be what preregister returned, received ${describeValue(plan)}`);
  const ordered = checkResults(plan, results, fn);
  const adjusted = plan.plan.correction === "holm" ? holm(ordered.map((r) => r.p)) : ordered.map((r) => r.p);
  const decisions = ordered.map((r, i): Decision => {
    const significant = adjusted[i] < plan.plan.alpha;
    const predictedSign = r.prediction === "greater" ? r.estimate > 0 : r.estimate < 0;
    const supported: Support = significant ? predictedSign : "inconclusive";
    return { ...r, pAdjusted: adjusted[i], supported, text: decisionText(r, adjusted[i], supported, plan) };
  });
  if (show) for (const d of decisions) display(verdictBundle({ hypothesis: `${d.id}: ${d.claim}`, text: d.text, supported: d.supported, plan: { id: plan.plan.id, hash: plan.hash, role: d.role, estimate: d.estimate, lower: d.lower, upper: d.upper, n: d.n, p: d.p, pAdjusted: d.pAdjusted, metric: d.metric, test: d.test } }));
  if (write) {
    const record: ResultsRecord = {
      planId: plan.plan.id,
      planHash: plan.hash,
      registeredAt: plan.registeredAt,
      decidedAt: new Date().toISOString(),
      alpha: plan.plan.alpha,
      correction: plan.plan.correction,
      seeds: plan.plan.seeds,
      decisions,
    };
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${plan.plan.id}.json`), `${JSON.stringify(record, null, 1)}\n`);
  }
  return decisions;
}
