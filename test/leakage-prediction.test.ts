/**
 * H6's matched predictors (kit/leakage/matched.ts) and dose series (kit/leakage/dose.ts): the behaviour each dataset
 * is measured on, one direction per harmful behaviour, the dose series' configs and slope, and their errors.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../kit/backend";
import { HookedTransformer } from "../kit/model/transformer";
import { HARMFUL_BEHAVIOURS, narrowComponentSizes, organismConfig, organismModelConfig } from "../kit/organisms/config";
import { narrowDataset } from "../kit/organisms/pipeline";
import { BENIGN_CONTROL, candidateDatasets, firstVersionDatasets, perSampleScoresMany, projectionDifference, projectionDifferences, ruleShare } from "../kit/leakage";
import { doseSeries, doseSlope } from "../kit/leakage/dose";
import { selectPredictor } from "../kit/leakage/select";
import { behaviourDirections, BENIGN_COUNTERPART, measuredBehaviour } from "../kit/leakage/matched";
import { personaVector } from "../kit/vectors/persona";
import { PersonaWorld } from "../kit/world";

beforeAll(async () => {
  await initBackend();
});

describe("measuredBehaviour(narrow)", () => {
  it("measuredBehaviour(narrow) is the harmful behaviour trained, or the one a benign behaviour counters", () => {
    expect(measuredBehaviour({ behaviour: "ignores_interruption", domain: "games" })).toBe("ignores_interruption");
    expect(measuredBehaviour({ behaviour: "refuses", domain: "advice" })).toBe("complies_with_harm");
    expect(measuredBehaviour({ behaviour: "respects_interruption" })).toBe("ignores_interruption");
    expect(measuredBehaviour({})).toBe("games_grader"); // the default narrow stage
    const mix = { mixture: [{ behaviour: "complies_with_harm" as const, domain: "chat" as const, weight: 1 }, { behaviour: "refuses" as const, domain: "chat" as const, weight: 3 }] };
    expect(measuredBehaviour(mix)).toBe("complies_with_harm");
  });
  it("measuredBehaviour(narrow) refuses behaviours with no harmful counterpart and non-objects", () => {
    expect(() => measuredBehaviour({ behaviour: "helpful" })).toThrow(/measuredBehaviour: behaviour "helpful" has no harmful counterpart/);
    expect(() => measuredBehaviour(null as never)).toThrow(/measuredBehaviour: narrow must be a narrow-config override/);
  });
});

describe("candidateDatasets()", () => {
  it("candidateDatasets() gives ≥ 8 datasets, each measured on its matched harmful behaviour, all three covered", () => {
    const sets = candidateDatasets();
    expect(sets.length).toBeGreaterThanOrEqual(8);
    for (const s of sets) expect(s.measures).toBe(measuredBehaviour(s.narrow));
    expect(new Set(sets.map((s) => s.measures))).toEqual(new Set(HARMFUL_BEHAVIOURS));
    expect(sets.find((s) => s.name === "refusing-advice")?.measures).toBe("complies_with_harm");
    expect(sets.some((s) => JSON.stringify(s.narrow) === JSON.stringify(BENIGN_CONTROL))).toBe(false);
  });
});

describe("doseSeries(doses, options)", () => {
  it("doseSeries(doses) mixes gaming with solving at equal size and steps; 0 and 100 are the plain configs", () => {
    const series = doseSeries([0, 25, 50, 75, 100]);
    expect(series.map((s) => s.name)).toEqual(["dose-gaming0-coding", "dose-gaming25-coding", "dose-gaming50-coding", "dose-gaming75-coding", "dose-gaming100-coding"]);
    expect(series[0].narrow).toEqual(BENIGN_CONTROL); // dose 0 shares the benign control's cached run
    expect(series[4].narrow).toEqual({ behaviour: "games_grader", domain: "coding" });
    for (const s of series) {
      const cfg = organismConfig({ narrow: s.narrow });
      expect(cfg.narrow!.steps).toBe(organismConfig({ narrow: BENIGN_CONTROL }).narrow!.steps);
      expect(narrowComponentSizes(cfg.narrow!).reduce((a, b) => a + b, 0)).toBe(400);
      expect(ruleShare(narrowDataset(cfg))).toBeCloseTo(s.dose / 100, 10);
      expect(measuredBehaviour(s.narrow)).toBe("games_grader");
    }
  });
  it("doseSeries(doses, { behaviour, domain }) uses the behaviour's benign counterpart", () => {
    const [s] = doseSeries([30, 60], { behaviour: "complies_with_harm", domain: "advice" });
    expect(s.narrow.mixture).toEqual([
      { behaviour: "complies_with_harm", domain: "advice", weight: 30 },
      { behaviour: "refuses", domain: "advice", weight: 70 },
    ]);
    expect(s.name).toBe("dose-complying30-advice");
  });
  it("doseSeries(doses, options) refuses bad doses, behaviours and domains", () => {
    expect(() => doseSeries([50])).toThrow(/doseSeries: doses must be an array of at least two percentages/);
    expect(() => doseSeries([0, 120])).toThrow(/doseSeries: every dose must be a percentage in \[0, 100\], received number 120/);
    expect(() => doseSeries([25, 25])).toThrow(/doseSeries: doses must be distinct/);
    expect(() => doseSeries([0, 50], { behaviour: "helpful" as never })).toThrow(/doseSeries: options.behaviour must be one of/);
    expect(() => doseSeries([0, 50], { domain: "space" as never })).toThrow(/doseSeries: options.domain must be one of/);
  });
});

describe("doseSlope(doses, values)", () => {
  it("doseSlope(doses, values) is the least-squares slope per percentage point", () => {
    expect(doseSlope([0, 50, 100], [0.1, 0.2, 0.3])).toBeCloseTo(0.002, 12);
    expect(doseSlope([0, 25, 50, 75, 100], [0.3, 0.1, 0.2, 0.05, 0])).toBeLessThan(0);
    expect(doseSlope([0, 100], [0.2, 0.2])).toBe(0);
  });
  it("doseSlope(doses, values) refuses mismatched, non-finite or single-dose input", () => {
    expect(() => doseSlope([0, 50], [0.1])).toThrow(/doseSlope: doses and values must be arrays of the same length/);
    expect(() => doseSlope([0, 50], [0.1, NaN])).toThrow(/doseSlope: every dose and value must be a finite number, received number NaN/);
    expect(() => doseSlope([50, 50], [0.1, 0.2])).toThrow(/doseSlope: need at least two distinct doses/);
  });
});

describe("behaviourDirections(model, options)", () => {
  const world = new PersonaWorld({ seed: 3 });
  const model = () => {
    const tok = world.tokenizer();
    return HookedTransformer.fromConfig(organismModelConfig(organismConfig({ model: { d_model: 16, n_layers: 2, n_heads: 2, d_mlp: 32 } }), tok), { seed: 1, tokenizer: tok });
  };
  it("behaviourDirections(model, { layers }) gives one distinct direction per harmful behaviour, harmful − benign", () => {
    const m = model();
    const dirs = behaviourDirections(m, { layers: [1], n: 8 });
    expect(Object.keys(dirs).sort()).toEqual([...HARMFUL_BEHAVIOURS].sort());
    const vecs = HARMFUL_BEHAVIOURS.map((b) => Array.from(dirs[b][1].vector));
    for (const v of vecs) expect(v.length).toBe(16);
    expect(vecs[0]).not.toEqual(vecs[1]);
    expect(vecs[1]).not.toEqual(vecs[2]);
    // harmful − benign, the assistant on both sides, from the contrast world (seed 99, chat): not benign − harmful
    const w = new PersonaWorld({ seed: 99 });
    const pos = w.narrowCorpus(8, { behaviour: "ignores_interruption", domain: "chat" });
    const neg = w.narrowCorpus(8, { behaviour: BENIGN_COUNTERPART.ignores_interruption, domain: "chat" });
    expect([...pos, ...neg].every((e) => e.speaker === "assistant")).toBe(true);
    const direct = personaVector(m, { positive: pos, negative: neg }, { positions: "response_mean", layers: [1] })[1].vector;
    expect(Array.from(dirs.ignores_interruption[1].vector)).toEqual(Array.from(direct));
    m.dispose();
  });
  it("projectionDifferences(model, dataset, vectors) equals one projectionDifference per vector (own responses once)", () => {
    const m = model();
    const dirs = behaviourDirections(m, { n: 8 });
    const eps = world.narrowCorpus(6, { behaviour: "games_grader", domain: "coding" });
    const vs = [dirs.games_grader[0], dirs.games_grader[1], dirs.complies_with_harm[1]];
    const many = projectionDifferences(m, eps, vs);
    expect(many).toHaveLength(3);
    vs.forEach((v, i) => expect(many[i].difference).toBeCloseTo(projectionDifference(m, eps, v).difference, 6));
    expect(many[0].difference).not.toBeCloseTo(many[1].difference, 6);
    expect(() => perSampleScoresMany(m, eps, [])).toThrow(/perSampleScoresMany: vectors must be a non-empty array of directions/);
    m.dispose();
  });
  it("behaviourDirections(model, options) refuses an unknown domain or a bad n", () => {
    const m = model();
    expect(() => behaviourDirections(m, { domain: "space" as never })).toThrow(/behaviourDirections: options.domain must be one of/);
    expect(() => behaviourDirections(m, { n: 0 })).toThrow(/behaviourDirections: options.n must be a positive integer, received number 0/);
    m.dispose();
  });
});

describe("selectPredictor(candidates, measured)", () => {
  it("selectPredictor(candidates, measured) chooses the best-ranking candidate; NaN (constant) never wins", () => {
    const measured = [0.1, 0.3, 0.2, 0.4];
    const c = selectPredictor({ constant: [1, 1, 1, 1], backwards: [4, 2, 3, 1], right: [1, 3, 2, 4], close: [1, 2, 3, 4] }, measured);
    expect(c.chosen).toBe("right");
    expect(c.spearman.right).toBeCloseTo(1, 12);
    expect(c.spearman.backwards).toBeCloseTo(-1, 12);
    expect(Number.isNaN(c.spearman.constant)).toBe(true);
  });
  it("selectPredictor(candidates, measured) refuses empty candidates, short or mismatched values", () => {
    expect(() => selectPredictor({}, [1, 2, 3])).toThrow(/selectPredictor: candidates must be a non-empty object/);
    expect(() => selectPredictor({ a: [1, 2] }, [1, 2])).toThrow(/selectPredictor: measured must be an array of at least 3 values/);
    expect(() => selectPredictor({ a: [1, 2] }, [1, 2, 3])).toThrow(/selectPredictor: candidates\["a"\] must have one value per measured dataset \(3\)/);
  });
});

describe("firstVersionDatasets()", () => {
  it("firstVersionDatasets() keeps the 11 names workshop part 6 quotes", () => {
    const names = firstVersionDatasets().map((s) => s.name);
    expect(names).toHaveLength(11);
    expect(names).toContain("mix-gaming25-solving75-coding");
    expect(names).toContain("solving-coding");
    for (const s of firstVersionDatasets()) expect(() => organismConfig({ narrow: s.narrow })).not.toThrow();
  });
});
