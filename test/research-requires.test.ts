import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { verdictBundle } from "../kit/notebook/verdict";
import { decide, planProblems, preregister, resultsMarkdown, testHypothesis, type AnalysisPlan, type Observation } from "persona-kit";

const SEEDS = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "research-requires-"));
const obs = (arm: string, metric: string, values: number[]): Observation[] => values.map((value, i) => ({ arm, seed: SEEDS[i], metric, value }));

// A manipulation check (P: "installed" − "none" > 0) gating a robustness claim (R: "trained" − "installed" > 0).
const gatedPlan = (): AnalysisPlan => ({
  id: "gated-plan",
  question: "Is a trained persona more robust than a prompted one?",
  arms: { none: "no persona", installed: "prompted persona", trained: "trained persona" },
  seeds: SEEDS,
  hypotheses: [
    { id: "P", claim: "the prompt installs the persona", metric: "plain", contrast: ["installed", "none"], prediction: "greater" },
    { id: "R", claim: "the trained persona is more robust", metric: "attacked", contrast: ["trained", "installed"], prediction: "greater", requires: "P" },
  ],
});
const jitter = (base: number) => SEEDS.map((_, i) => base + 0.01 * ((i * 7) % 5));

describe("decide(plan, results) with requires", () => {
  it("decide(plan, results) reports a hypothesis whose precondition is not supported as not tested, never supported", () => {
    const dir = tmp();
    const plan = preregister(gatedPlan(), { dir, show: false });
    // The prompt installs nothing (installed = none), while trained ≫ installed under attack.
    const p = testHypothesis(plan, "P", [...obs("installed", "plain", jitter(0.1)), ...obs("none", "plain", jitter(0.1).reverse())], { show: false });
    const r = testHypothesis(plan, "R", [...obs("trained", "attacked", jitter(0.6)), ...obs("installed", "attacked", jitter(0.1))], { show: false });
    const [dp, dr] = decide(plan, [p, r], { dir, show: false });
    expect(dp.supported).toBe("inconclusive");
    expect(r.lower).toBeGreaterThan(0); // R's own test would say supported
    expect(dr.supported).toBe("inconclusive");
    expect(dr.notTested).toEqual({ requires: "P", requiredSupported: "inconclusive" });
    expect(dr.text).toMatch(/^Not tested: the plan decides R only if P is supported, and it was inconclusive/);
    expect(dr.text).not.toMatch(/Supported/);
    const rec = JSON.parse(fs.readFileSync(path.join(dir, "gated-plan.json"), "utf8"));
    expect(rec.decisions[1].notTested.requires).toBe("P");
    expect(verdictBundle({ hypothesis: "R", text: dr.text, supported: dr.supported, label: "not tested" })["text/plain"]).toMatch(/^Verdict \(not tested\): R\n/);
    expect(resultsMarkdown([rec], null)).toMatch(/\| \*\*not tested \(requires P, which was inconclusive\)\*\* \|/);
  });

  it("decide(plan, results) decides a gated hypothesis as usual when its precondition is supported", () => {
    const plan = preregister(gatedPlan(), { dir: tmp(), show: false });
    const p = testHypothesis(plan, "P", [...obs("installed", "plain", jitter(0.5)), ...obs("none", "plain", jitter(0.1))], { show: false });
    const r = testHypothesis(plan, "R", [...obs("trained", "attacked", jitter(0.6)), ...obs("installed", "attacked", jitter(0.1))], { show: false });
    const [dp, dr] = decide(plan, [p, r], { write: false, show: false });
    expect(dp.supported).toBe(true);
    expect(dr.supported).toBe(true);
    expect(dr.notTested).toBeUndefined();
  });

  it("planProblems(plan) refuses requires naming an unknown, later or the same hypothesis", () => {
    const plan = gatedPlan();
    const bad = (requires: string) => planProblems({ ...plan, hypotheses: [{ ...plan.hypotheses[0], requires }, plan.hypotheses[1]] });
    expect(bad("R").join("\n")).toMatch(/hypotheses\[0\]\.requires must name an earlier hypothesis of the plan \(none\), received the string "R"/);
    expect(bad("P").join("\n")).toMatch(/hypotheses\[0\]\.requires must name an earlier hypothesis/);
    expect(planProblems({ ...plan, hypotheses: [plan.hypotheses[0], { ...plan.hypotheses[1], requires: "Q" }] }).join("\n")).toMatch(/hypotheses\[1\]\.requires must name an earlier hypothesis of the plan \(P\), received the string "Q"/);
  });
});
