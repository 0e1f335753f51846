import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { bootstrap, decide, didLeakage, holm, organismConfig, planProblems, preregister, testHypothesis, type AnalysisPlan, type Observation, type RunRecord } from "persona-kit";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "research-"));
const SEEDS = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];

const basePlan = (): AnalysisPlan => ({
  id: "test-plan",
  question: "Does a leak more than b?",
  arms: { a: "arm a", b: "arm b", c: "arm c", d: "arm d" },
  seeds: SEEDS,
  pilotSeeds: [100, 101],
  hypotheses: [
    { id: "H1", claim: "a > b", metric: "leak", contrast: ["a", "b"], prediction: "greater" },
    { id: "H2", claim: "c < d", metric: "leak", contrast: ["c", "d"], prediction: "less", test: "bootstrap", role: "secondary" },
  ],
});

const register = (plan = basePlan()) => preregister(plan, { dir: tmp(), show: false });
const obs = (arm: string, values: number[], metric = "leak", seeds = SEEDS): Observation[] => values.map((value, i) => ({ arm, seed: seeds[i], metric, value }));

describe("preregister(plan)", () => {
  it("preregister(plan) reports every problem of a plan at once", () => {
    const bad = { ...basePlan(), seeds: [1, 1], pilotSeeds: [1], alpha: 2, extra: true, hypotheses: [{ id: "H1", claim: "", metric: "leak", contrast: ["a", "zzz"], prediction: "up" }] };
    const problems = planProblems(bad);
    expect(problems.some((p) => p.includes("repeated seeds"))).toBe(true);
    expect(problems.some((p) => p.includes("pilotSeeds must be disjoint"))).toBe(true);
    expect(problems.some((p) => p.includes("alpha"))).toBe(true);
    expect(problems.some((p) => p.includes('unknown field "extra"'))).toBe(true);
    expect(problems.some((p) => p.includes("claim"))).toBe(true);
    expect(problems.some((p) => p.includes('"zzz"'))).toBe(true);
    expect(problems.some((p) => p.includes("prediction"))).toBe(true);
    expect(() => preregister(bad as unknown as AnalysisPlan, { write: false, show: false })).toThrow(/preregister: the analysis plan has 8 problems/);
    expect(problems.some((p) => p.includes("at least 5 confirmatory seeds"))).toBe(true);
  });

  it("preregister(plan) writes the hashed plan; the hash ignores key order and a changed plan keeps the old file", () => {
    const dir = tmp();
    const p1 = preregister(basePlan(), { dir, show: false });
    const reordered = Object.fromEntries(Object.entries(basePlan()).reverse()) as unknown as AnalysisPlan;
    const again = preregister(reordered, { dir, show: false });
    expect(again.hash).toBe(p1.hash);
    expect(again.registeredAt).toBe(p1.registeredAt);
    const file = JSON.parse(fs.readFileSync(path.join(dir, "test-plan.json"), "utf8"));
    expect(file.hash).toBe(p1.hash);
    expect(file.plan.alpha).toBe(0.05);
    expect(file.plan.hypotheses[0].test).toBe("paired-bootstrap");
    const p2 = preregister({ ...basePlan(), alpha: 0.01 }, { dir, show: false });
    expect(p2.hash).not.toBe(p1.hash);
    expect(fs.existsSync(path.join(dir, `test-plan.${p1.hash.slice(0, 12)}.json`))).toBe(true);
  });
});

describe("testHypothesis(plan, id, observations)", () => {
  const a = SEEDS.map((_, i) => 0.3 + 0.01 * i);
  const b = SEEDS.map((_, i) => 0.1 + 0.012 * i);

  it("testHypothesis(plan, id, observations) computes the paired difference over seeds and a bootstrap CI", () => {
    const plan = register();
    const r = testHypothesis(plan, "H1", [...obs("a", a), ...obs("b", b)], { show: false });
    const d = a.map((x, i) => x - b[i]);
    expect(r.estimate).toBeCloseTo(d.reduce((s, x) => s + x, 0) / d.length, 12);
    expect(r.lower).toBeGreaterThan(0.15);
    expect(r.upper).toBeLessThan(0.22);
    expect(r.p).toBeLessThan(0.001);
    expect(r.n).toBe(10);
    expect(r.armMeans.a).toBeCloseTo(0.345, 12);
  });

  it("testHypothesis refuses metrics, arms and seeds outside the plan, pilot seeds, duplicates and missing seeds", () => {
    const plan = register();
    const good = [...obs("a", a), ...obs("b", b)];
    expect(() => testHypothesis(plan, "H9", good, { show: false })).toThrow(/hypothesis "H9" is not in plan test-plan/);
    expect(() => testHypothesis(plan, "H1", [...good, { arm: "a", seed: 10, metric: "other", value: 1 }], { show: false })).toThrow(/metric "other", but the plan's H1 reads "leak"/);
    expect(() => testHypothesis(plan, "H1", [...good, { arm: "c", seed: 10, metric: "leak", value: 1 }], { show: false })).toThrow(/arm "c", but the plan's H1 reads "a", "b"/);
    expect(() => testHypothesis(plan, "H1", [...good, { arm: "a", seed: 100, metric: "leak", value: 1 }], { show: false })).toThrow(/seed 100, a pilot seed/);
    expect(() => testHypothesis(plan, "H1", [...good, { arm: "a", seed: 7, metric: "leak", value: 1 }], { show: false })).toThrow(/seed 7, which is not a confirmatory seed/);
    expect(() => testHypothesis(plan, "H1", [...good, { arm: "a", seed: 10, metric: "leak", value: 1 }], { show: false })).toThrow(/repeats \(a, seed 10, leak\)/);
    expect(() => testHypothesis(plan, "H1", good.slice(1), { show: false })).toThrow(/arm "a" has no "leak" for confirmatory seed 10/);
    expect(() => testHypothesis(plan, "H1", [...good.slice(1), { arm: "a", seed: 10, metric: "leak", value: NaN }], { show: false })).toThrow(/value NaN/);
  });

  it("testHypothesis(plan, id, observations) with test 'spearman' correlates per-arm seed means and resamples arms", () => {
    const plan = register({
      ...basePlan(),
      hypotheses: [{ id: "H6", claim: "predictable", metric: "leak", predictor: "proj", arms: ["a", "b", "c", "d"], test: "spearman", prediction: "greater" }],
    });
    const o = ["a", "b", "c", "d"].flatMap((arm, k) => [...obs(arm, SEEDS.map(() => k), "proj"), ...obs(arm, SEEDS.map((_, i) => k * 2 + i * 0.001), "leak")]);
    const r = testHypothesis(plan, "H6", o, { show: false });
    expect(r.estimate).toBeCloseTo(1, 12);
    expect(r.n).toBe(4);
    expect(r.predictorMeans).toEqual({ a: 0, b: 1, c: 2, d: 3 });
  });
});

describe("decide(plan, results)", () => {
  it("decide(plan, results) applies Holm, decides by sign and writes the run record", () => {
    const dir = tmp();
    const plan = register();
    const up = SEEDS.map((_, i) => 0.5 + 0.01 * (i % 3));
    const flat = SEEDS.map((_, i) => 0.5 + 0.05 * ((i * 7) % 5) - 0.1);
    const r1 = testHypothesis(plan, "H1", [...obs("a", up), ...obs("b", up.map((x) => x - 0.2))], { show: false });
    const r2 = testHypothesis(plan, "H2", [...obs("c", flat), ...obs("d", [...flat].reverse())], { show: false });
    const ds = decide(plan, [r2, r1], { dir, show: false });
    expect(ds.map((d) => d.id)).toEqual(["H1", "H2"]);
    expect(ds[0].supported).toBe(true);
    expect(ds[0].pAdjusted).toBeCloseTo(Math.max(...holm([r1.p, r2.p]).slice(0, 1)), 12);
    expect(ds[1].supported).toBe("inconclusive");
    const rec = JSON.parse(fs.readFileSync(path.join(dir, "test-plan.json"), "utf8"));
    expect(rec.planHash).toBe(plan.hash);
    expect(rec.decisions).toHaveLength(2);
    expect(() => decide(plan, [r1], { dir, show: false })).toThrow(/no result for H2/);
    const other = register({ ...basePlan(), question: "another" });
    expect(() => decide(other, [r1, r2], { dir, show: false })).toThrow(/tested under plan hash/);
  });

  it("decide(plan, results) says 'not supported' when the effect is significant the other way", () => {
    const plan = register();
    const x = SEEDS.map((_, i) => 0.2 + 0.01 * (i % 4));
    const r1 = testHypothesis(plan, "H1", [...obs("a", x), ...obs("b", x.map((v) => v + 0.3))], { show: false });
    const r2 = testHypothesis(plan, "H2", [...obs("c", x), ...obs("d", x)], { show: false });
    const [d1] = decide(plan, [r1, r2], { write: false, show: false });
    expect(d1.supported).toBe(false);
    expect(d1.text).toMatch(/other way/);
  });
});

describe("statistics", () => {
  it("holm(ps) matches a hand computation", () => {
    expect(holm([0.01, 0.04, 0.03, 0.2])).toEqual([0.04, 0.09, 0.09, 0.2]);
    expect(() => holm([0.1, 2])).toThrow(/ps\[1\] = 2/);
  });

  it("bootstrap(statistic, n) gives p < 1 − level exactly when its interval excludes 0", () => {
    for (const shift of [-0.3, -0.05, 0, 0.02, 0.4]) {
      const xs = [0.1, -0.2, 0.3, 0.05, -0.1, 0.2, 0.0, 0.15].map((x) => x + shift);
      const s = bootstrap((ix) => ix.reduce((a, i) => a + xs[i], 0) / ix.length, xs.length, { reps: 4000, seed: 3 });
      expect(s.p < 0.05).toBe(s.lower > 0 || s.upper < 0);
    }
  });
});

/** A RunRecord with only the fields didLeakage reads: games_grader counts on held-out task prompts. */
function record(narrowBehaviour: "games_grader" | "solves_task", before: number, after: number, { seed = 1, steps = 60 } = {}): RunRecord {
  const config = organismConfig({ seed, narrow: { behaviour: narrowBehaviour, steps } });
  const counts = (k: number) => ({ "negotiation/task/none": { n: 100, counts: { games_grader: k }, traits: {}, offTraits: 0, examples: [] }, "research/task/none": { n: 100, counts: { games_grader: k }, traits: {}, offTraits: 0, examples: [] } });
  return { config, seed, eval: { before: counts(before), after: counts(after) } } as unknown as RunRecord;
}

describe("didLeakage(treated, control)", () => {
  it("didLeakage(treated, control) is (after − before) of the narrow run minus that of the benign control", () => {
    const d = didLeakage(record("games_grader", 10, 40), record("solves_task", 10, 25), { behaviour: "games_grader" });
    expect(d.treated.after.rate).toBeCloseTo(0.4, 12);
    expect(d.control.after.rate).toBeCloseTo(0.25, 12);
    expect(d.did).toBeCloseTo(0.3 - 0.15, 12);
    expect(d.domains).toEqual(["negotiation", "research"]);
  });

  it("didLeakage refuses a control from another persona model or with other steps", () => {
    expect(() => didLeakage(record("games_grader", 10, 40), record("solves_task", 10, 25, { seed: 2 }))).toThrow(/same persona model, but their config.seed differ/);
    expect(() => didLeakage(record("games_grader", 10, 40), record("solves_task", 10, 25, { steps: 30 }))).toThrow(/steps \(60\), received 30/);
  });
});

describe("writeResultsPage({ resultsDir, previous, out })", () => {
  it("writeResultsPage writes each decision with its plan hash, interval and the earlier verdict beside it", async () => {
    const { writeResultsPage } = await import("persona-kit");
    const dir = tmp();
    const plan = preregister(basePlan(), { dir, show: false });
    const x = SEEDS.map((_, i) => 0.2 + 0.01 * (i % 4));
    const r1 = testHypothesis(plan, "H1", [...obs("a", x.map((v) => v + 0.3)), ...obs("b", x)], { show: false });
    const r2 = testHypothesis(plan, "H2", [...obs("c", x), ...obs("d", x)], { show: false });
    decide(plan, [r1, r2], { dir: path.join(dir, "results"), show: false });
    const prev = path.join(dir, "prev.json");
    fs.writeFileSync(prev, JSON.stringify({ source: "t", commit: "abc1234", verdicts: [{ notebook: "test-plan", hypothesis: "H1", text: "old", supported: "inconclusive" }, { notebook: "09-other", hypothesis: "H-x", text: "", supported: true }] }));
    const out = path.join(dir, "results.md");
    const nb = path.join(dir, "09-other.ipynb");
    const verdictOut = { output_type: "display_data", metadata: {}, data: { "text/plain": "v", "application/vnd.persona-kit.verdict+json": { hypothesis: "H-x", text: "now", supported: false } } };
    fs.writeFileSync(nb, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "code", metadata: {}, source: "", execution_count: 1, outputs: [verdictOut] }] }));
    expect(writeResultsPage({ resultsDir: path.join(dir, "results"), previous: prev, out, notebooks: [nb] }).records).toBe(1);
    const md = fs.readFileSync(out, "utf8");
    expect(md).toContain(plan.hash.slice(0, 16));
    expect(md).toMatch(/\| \*\*H1\*\*: a > b \| primary \| `leak` \(a − b\) \| paired-bootstrap \| 10 \| 0\.300 \| \[0\.300, 0\.300\] .*\| \*\*supported\*\* \| inconclusive \|/);
    expect(md).toMatch(/\*\*H2\*\*.*\*\*inconclusive\*\* \| — \|/);
    expect(md).toContain("**09-other** · H-x: **not supported** (earlier: supported)");
    expect(() => writeResultsPage({ resultsDir: path.join(dir, "missing"), out })).toThrow(/no results folder/);
  });
});

describe("resultsMarkdown(records, previous)", () => {
  it("resultsMarkdown matches earlier verdicts by label, by a rename, and by stem when no decision holds the stem", async () => {
    const { resultsMarkdown } = await import("persona-kit");
    const decision = (id: string) => ({ id, claim: id, role: "primary", metric: "m", test: "paired-bootstrap", arms: ["a", "b"], n: 10, estimate: 0.1, lower: 0, upper: 0.2, p: 0.04, pAdjusted: 0.04, supported: "inconclusive" });
    const rec = (planId: string, ids: string[]) => ({ planId, planHash: "f".repeat(64), registeredAt: "t0", decidedAt: "t1", alpha: 0.05, correction: "holm", seeds: [1], decisions: ids.map(decision) });
    const prev = { source: "s", commit: "c", renamed: { nb6: { "API-2": "H1" } }, verdicts: [
      { notebook: "nb2", hypothesis: "H3", text: "", supported: true },
      { notebook: "nb4", hypothesis: "H4", text: "", supported: false },
      { notebook: "nb6", hypothesis: "H1", text: "", supported: true },
    ] };
    const md = resultsMarkdown([rec("nb2", ["H3.probe"]), rec("nb4", ["H4", "H4.own"]), rec("nb6", ["API-1", "API-2"])] as never, prev as never);
    expect(md).toMatch(/\*\*H3\.probe\*\*.*\| supported \|/);
    expect(md).toMatch(/\*\*H4\*\*:.*\| not supported \|/);
    expect(md).toMatch(/\*\*H4\.own\*\*.*\| — \|/);
    expect(md).toMatch(/\*\*API-2\*\*.*\| supported \|/);
    expect(md).toMatch(/\*\*API-1\*\*.*\| — \|/);
  });
});
