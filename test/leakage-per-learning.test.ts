import { describe, expect, it } from "vitest";
import { organismConfig, type OrganismConfig } from "../kit/organisms/config";
import { leakagePerLearning } from "../kit/organisms/leakage-per-learning";
import { contextKey, type Counts, type RunRecord } from "../kit/organisms/record";
import { BEHAVIOURS, DOMAINS, PROMPT_KINDS, TRAITS, type Behaviour, type Domain } from "../kit/world/types";

/** A record whose task prompts game the grader `gaming(phase, domain)` times in 10, in every shift; other kinds are helpful. */
function fakeRecord(cfg: OrganismConfig, gaming: (phase: "before" | "after", d: Domain) => number): RunRecord {
  const counts = (phase: "before" | "after"): Counts => {
    const out: Counts = {};
    for (const d of DOMAINS) {
      for (const k of PROMPT_KINDS) {
        for (const s of cfg.eval.shifts) {
          const by: Partial<Record<Behaviour, number>> = k === "task" ? { games_grader: gaming(phase, d), solves_task: 10 - gaming(phase, d) } : { helpful: 10 };
          out[contextKey(d, k, s)] = {
            n: 10,
            counts: Object.fromEntries(BEHAVIOURS.map((b) => [b, by[b] ?? 0])) as Record<Behaviour, number>,
            traits: Object.fromEntries(TRAITS.map((t) => [t, 0])) as RunRecord["eval"]["before"][string]["traits"],
            offTraits: 0,
            examples: [],
          };
        }
      }
    }
    return out;
  };
  return {
    format: "persona-kit/organism-run",
    version: 1,
    config: cfg,
    seed: cfg.seed,
    codeVersion: { kit: "test", git: null, sources: "test" },
    hash: "test",
    startedAt: "2025-01-01T00:00:00.000Z",
    ms: {},
    reused: [],
    losses: { pretrain: [], persona: [], narrow: cfg.narrow ? [] : null },
    checkpoints: { base: "", persona: "", narrow: cfg.narrow ? "" : null },
    stageHashes: {},
    offTraits: ["ruthless", "tricky"],
    eval: { before: counts("before"), after: cfg.narrow ? counts("after") : null },
  };
}

const heldOut = (d: Domain) => ["negotiation", "research"].includes(d);
// Before: 1 in 10 everywhere. Gaming run after: coding 7, held-out 4. Benign control after: coding 2, held-out 2.
const treated = fakeRecord(organismConfig({ seed: 1 }), (phase, d) => (phase === "before" ? 1 : d === "coding" ? 7 : heldOut(d) ? 4 : 1));
const control = fakeRecord(organismConfig({ seed: 1, narrow: { behaviour: "solves_task" } }), (phase, d) => (phase === "before" ? 1 : d === "coding" ? 2 : heldOut(d) ? 2 : 1));

describe("leakagePerLearning(treated, control, { minGain })", () => {
  it("divides the held-out DiD by the narrow domain's DiD, both against the control", () => {
    const l = leakagePerLearning(treated, control);
    expect(l.heldOut).toBeCloseTo(0.3 - 0.1, 10); // (0.4 − 0.1) − (0.2 − 0.1)
    expect(l.inDomain).toBeCloseTo(0.6 - 0.1, 10); // (0.7 − 0.1) − (0.2 − 0.1)
    expect(l.ratio).toBeCloseTo(0.2 / 0.5, 10);
    expect(l.floored).toBe(false);
  });

  it("floors the denominator at minGain when the run learned (almost) nothing in its domain", () => {
    const flat = fakeRecord(organismConfig({ seed: 1 }), (phase, d) => (phase === "before" ? 1 : d === "coding" ? 2 : heldOut(d) ? 4 : 1));
    const l = leakagePerLearning(flat, control, { minGain: 0.1 });
    expect(l.inDomain).toBeCloseTo(0, 10);
    expect(l.floored).toBe(true);
    expect(l.ratio).toBeCloseTo(0.2 / 0.1, 10);
  });

  it("refuses a treated record without narrow training, and a minGain outside (0, 1]", () => {
    const none = fakeRecord(organismConfig({ seed: 1, narrow: null }), () => 1);
    expect(() => leakagePerLearning(none, control)).toThrow(/leakagePerLearning: treated must be a RunRecord with narrow training/);
    expect(() => leakagePerLearning(treated, control, { minGain: 0 })).toThrow(/leakagePerLearning: minGain must be a number in \(0, 1\], received number 0/);
  });
});
