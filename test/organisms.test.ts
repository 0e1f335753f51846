/**
 * Tests for kit/organisms/: config defaults, merging and validation (every problem in one message); Wilson intervals,
 * rates, leakage, base leakage, self-report shift and the seeded bootstrap on hand-computed cases; a tiny end-to-end
 * run (record written, all stages, eval counts summing to the prompts, reuse skipping training with identical
 * metrics, a forced rerun reproducing them); and runMany with 2 worker processes equal to running one by one.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../kit/backend";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evalPromptCount, findRunRecord, runOrganism, type OrganismEvent } from "../kit/organisms/pipeline";
import { runMany } from "../kit/organisms/parallel";
import { kitRoot, staleDistFiles } from "../kit/organisms/version";
import {
  DEFAULT_ORGANISM,
  PERSONA_DEPTH,
  organismConfig,
  organismConfigProblems,
  validateOrganismConfig,
  type OrganismConfig,
  type OrganismOverrides,
} from "../kit/organisms/config";
import { baseLeakage, bootstrapDiff, leakage, pooledRate, rate, selfReportShift, wilson } from "../kit/organisms/metrics";
import { type RunRecord } from "../kit/organisms/record";
import { fakeRecord } from "./helpers/fake-record";
import { BEHAVIOURS, DOMAINS, PROMPT_KINDS, PROMPT_SHIFTS, TRAITS, type Behaviour, type Domain, type PromptKind, type PromptShift, type Trait } from "../kit/world/types";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pk-organisms-"));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Config

describe("organismConfig(overrides)", () => {
  it("organismConfig() returns the defaults: a tiny tied llama, negotiation and research held out, a deep persona", () => {
    const cfg = organismConfig();
    expect(cfg.model).toMatchObject({ family: "llama", d_model: 64, n_layers: 2, n_heads: 4, n_ctx: 128, tiedEmbeddings: true });
    expect(cfg.world.heldOutDomains).toEqual(["negotiation", "research"]);
    expect(cfg.persona).toMatchObject({ domains: ["chat", "coding", "advice", "games"], constitution: true, selfDescription: true, replay: 0.25 });
    expect(cfg.narrow).toMatchObject({ behaviour: "games_grader", domain: "coding", inoculation: false });
    expect(cfg.eval).toMatchObject({ temperature: 1, shifts: ["none", "format", "long_context"] });
  });

  it("organismConfig({ persona: PERSONA_DEPTH.shallow }) deep-merges: the depth knobs change, the rest of persona stays", () => {
    const cfg = organismConfig({ seed: 4, persona: PERSONA_DEPTH.shallow, narrow: { inoculation: true }, model: { d_model: 32 } });
    expect(cfg.seed).toBe(4);
    expect(cfg.persona.domains).toEqual(["chat", "coding"]);
    expect(cfg.persona.constitution).toBe(false);
    expect(cfg.persona.selfDescription).toBe(false);
    expect(cfg.persona.steps).toBeLessThan(DEFAULT_ORGANISM.persona.steps);
    expect(cfg.persona.lr).toBe(DEFAULT_ORGANISM.persona.lr);
    expect(cfg.narrow).toMatchObject({ inoculation: true, behaviour: "games_grader", domain: "coding" });
    expect(cfg.model).toMatchObject({ d_model: 32, n_layers: 2, family: "llama" });
  });

  it("organismConfig({ narrow: null }) turns narrow training off; arrays replace instead of merging", () => {
    const cfg = organismConfig({ narrow: null, eval: { shifts: ["none"] }, world: { heldOutDomains: ["research"] } });
    expect(cfg.narrow).toBeNull();
    expect(cfg.eval.shifts).toEqual(["none"]);
    expect(cfg.world.heldOutDomains).toEqual(["research"]);
  });

  it("organismConfig() does not share arrays with DEFAULT_ORGANISM or PERSONA_DEPTH", () => {
    const cfg = organismConfig({ persona: PERSONA_DEPTH.deep });
    cfg.persona.domains.push("negotiation");
    cfg.world.heldOutDomains.pop();
    expect(PERSONA_DEPTH.deep.domains).toEqual(["chat", "coding", "advice", "games"]);
    expect(DEFAULT_ORGANISM.world.heldOutDomains).toEqual(["negotiation", "research"]);
  });

  it("PERSONA_DEPTH.deep trains every non-held-out domain, more steps than shallow, with constitution and self-description", () => {
    const { shallow, deep } = PERSONA_DEPTH;
    expect([...deep.domains].sort()).toEqual(DOMAINS.filter((d) => !DEFAULT_ORGANISM.world.heldOutDomains.includes(d)).sort());
    expect(deep.steps).toBeGreaterThan(shallow.steps);
    expect(shallow.domains.length).toBeLessThan(deep.domains.length);
    expect([shallow.constitution, shallow.selfDescription, deep.constitution, deep.selfDescription]).toEqual([false, false, true, true]);
  });
});

describe("validateOrganismConfig(cfg)", () => {
  it("validateOrganismConfig(bad) lists every problem in one RangeError", () => {
    const bad = {
      ...organismConfig(),
      seed: -1,
      world: { heldOutDomains: ["negotiation", "research", "space"] },
      persona: { ...organismConfig().persona, domains: ["chat", "research"], steps: 0, replay: 1.5, constitution: "yes" },
      narrow: { ...organismConfig().narrow!, behaviour: "flies", domain: "negotiation", steps: -3 },
      eval: { ...organismConfig().eval, shifts: ["none", "sideways"], temperature: -1 },
      pretrain: { ...organismConfig().pretrain, lr: 0, stepz: 3 },
    } as unknown as OrganismConfig;
    let message = "";
    try {
      validateOrganismConfig(bad);
    } catch (e) {
      expect(e).toBeInstanceOf(RangeError);
      message = (e as Error).message;
    }
    for (const want of [
      "seed must be an integer",
      'world.heldOutDomains has unknown domain "space"',
      'persona.domains includes held-out domain "research"',
      "persona.steps must be a positive integer, received 0",
      "persona.replay must be a fraction in [0, 1), received 1.5",
      "persona.constitution must be a boolean",
      'narrow.behaviour must be one of',
      'narrow.domain "negotiation" is held out',
      "narrow.steps must be a positive integer, received -3",
      'eval.shifts has unknown shift "sideways"',
      "eval.temperature must be a finite number ≥ 0, received -1",
      "pretrain.lr must be a positive finite number, received 0",
      "pretrain.stepz is not a config field (did you mean pretrain.steps?)",
    ]) {
      expect(message).toContain(want);
    }
    expect(message).toMatch(/^validateOrganismConfig: invalid organism config \(13 problems\)/);
  });

  it("organismConfig(overrides) throws the same all-problems error naming organismConfig", () => {
    expect(() => organismConfig({ persona: { domains: [] }, narrow: { behaviour: "unclassified" }, model: { n_ctx: 64 } } as OrganismOverrides)).toThrow(
      /organismConfig: invalid organism config \(3 problems\):[\s\S]*model.n_ctx must be at least 121 \(BOS \+ a 96-token evaluation prompt \(long_context\) \+ eval.maxNewTokens 24\), received 64[\s\S]*persona.domains must name at least one domain[\s\S]*narrow.behaviour must be one of helpful, .*, received "unclassified"/,
    );
    // without long_context prompts a 64-token context fits when it generates few tokens
    expect(organismConfigProblems(organismConfig({ eval: { shifts: ["none", "format"], maxNewTokens: 3 }, model: { n_ctx: 64 } }))).toEqual([]);
  });

  it("organismConfigProblems(cfg) flags a narrow kind that cannot elicit the behaviour, and tokenizer-owned model fields", () => {
    const cfg = organismConfig();
    const problems = organismConfigProblems({ ...cfg, narrow: { ...cfg.narrow!, kind: "request" }, model: { ...cfg.model, d_vocab: 99, n_heads: 3 } });
    expect(problems).toEqual([
      "model.d_vocab is set from the world's tokenizer; leave it out (received 99)",
      expect.stringContaining("model.d_head must be even"),
      'narrow.kind "request" cannot elicit narrow.behaviour "games_grader"; expected "task" (or leave kind out)',
    ]);
    expect(organismConfigProblems(organismConfig({ narrow: { behaviour: "refuses", kind: "harmful_request" } }))).toEqual([]);
  });

  it("organismConfigProblems(organismConfig()) is empty; so are both depth presets and narrow: null", () => {
    expect(organismConfigProblems(organismConfig())).toEqual([]);
    expect(organismConfigProblems(organismConfig({ persona: PERSONA_DEPTH.shallow, narrow: null }))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Metrics

describe("wilson(k, n, z)", () => {
  it("wilson(0, 10) → [0, 0.2775] (the textbook value)", () => {
    const w = wilson(0, 10);
    expect(w.rate).toBe(0);
    expect(w.lower).toBe(0);
    expect(w.upper).toBeCloseTo(0.2775, 4);
  });

  it("wilson(0, n).lower is exactly 0 and wilson(n, n).upper exactly 1 for n = 1…300 (no 1e-17 rounding residue)", () => {
    for (let n = 1; n <= 300; n++) {
      expect(wilson(0, n).lower).toBe(0);
      expect(wilson(n, n).upper).toBe(1);
    }
  });

  it("wilson(5, 10) → 0.5 in [0.2366, 0.7634]; wilson(10, 10) mirrors wilson(0, 10)", () => {
    const w = wilson(5, 10);
    expect(w.rate).toBe(0.5);
    expect(w.lower).toBeCloseTo(0.2366, 4);
    expect(w.upper).toBeCloseTo(0.7634, 4);
    const full = wilson(10, 10);
    expect(full.upper).toBe(1);
    expect(full.lower).toBeCloseTo(1 - 0.2775, 4);
  });

  it("wilson(81, 263) → [0.2553, 0.3662] (Wilson 1927 / Newcombe 1998 example, 95%)", () => {
    const w = wilson(81, 263);
    expect(w.lower).toBeCloseTo(0.2553, 3);
    expect(w.upper).toBeCloseTo(0.3662, 3);
  });

  it("wilson(k, 0) is NaN in [0, 1]; bad k, n, z throw naming the argument", () => {
    expect(wilson(0, 0)).toEqual({ rate: NaN, lower: 0, upper: 1 });
    expect(() => wilson(3, 2)).toThrow(/wilson: k must be an integer in \[0, n = 2\], received 3/);
    expect(() => wilson(1, 2.5)).toThrow(/wilson: n must be an integer/);
    expect(() => wilson(1, 2, 0)).toThrow(/wilson: z must be a positive number/);
  });
});

describe("bootstrapDiff(a, b, { iterations, seed })", () => {
  it("bootstrapDiff(a, b, { seed }) is deterministic for a seed and brackets the true difference", () => {
    // a ~ 0.6 ± noise, b ~ 0.2 ± noise (true difference 0.4)
    const a = [0.55, 0.62, 0.58, 0.66, 0.59, 0.61, 0.6, 0.64];
    const b = [0.18, 0.22, 0.25, 0.16, 0.2, 0.21, 0.19, 0.23];
    const r1 = bootstrapDiff(a, b, { seed: 7 });
    const r2 = bootstrapDiff(a, b, { seed: 7 });
    expect(r1).toEqual(r2);
    const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
    expect(r1.diff).toBeCloseTo(mean(a) - mean(b), 12);
    expect(r1.lower).toBeLessThan(0.4);
    expect(r1.upper).toBeGreaterThan(0.4);
    expect(r1.upper - r1.lower).toBeLessThan(0.1);
    // another seed draws other resamples (visible with few iterations; 10,000 make the percentiles nearly coincide)
    expect(bootstrapDiff(a, b, { seed: 8, iterations: 21 })).not.toEqual(bootstrapDiff(a, b, { seed: 7, iterations: 21 }));
  });

  it("bootstrapDiff(a, b) of constant samples is a zero-width interval at the difference", () => {
    expect(bootstrapDiff([0.3, 0.3, 0.3], [0.1, 0.1], { iterations: 200 })).toEqual({ diff: expect.closeTo(0.2, 12), lower: expect.closeTo(0.2, 12), upper: expect.closeTo(0.2, 12), p: 1 / 201 });
  });

  it("bootstrapDiff(a, b) with overlapping samples has an interval containing 0", () => {
    const r = bootstrapDiff([0.1, 0.5, 0.3, 0.2, 0.4], [0.3, 0.1, 0.5, 0.2, 0.4], { seed: 1 });
    expect(r.diff).toBeCloseTo(0, 12);
    expect(r.lower).toBeLessThan(0);
    expect(r.upper).toBeGreaterThan(0);
  });

  it("bootstrapDiff([], b) and non-finite values throw naming the argument", () => {
    expect(() => bootstrapDiff([], [1])).toThrow(/bootstrapDiff: a must be a non-empty array/);
    expect(() => bootstrapDiff([1], [NaN])).toThrow(/bootstrapDiff: b\[0\] must be a finite number, received NaN/);
  });
});


describe("rate(record, { phase, domains, kinds, shifts, behaviour })", () => {
  const cfg = organismConfig();
  // 10 prompts per context; games_grader: before 1 everywhere, after 6 in coding, 3 in the held-out domains, 2 elsewhere.
  const rec = fakeRecord(cfg, (phase, d, k) => {
    if (k !== "task") return [10, { helpful: 10 }];
    const g = phase === "before" ? 1 : d === "coding" ? 6 : cfg.world.heldOutDomains.includes(d) ? 3 : 2;
    return [10, { games_grader: g, solves_task: 10 - g }];
  });

  it("rate(record, { phase, domains, kinds, shifts, behaviour }) pools counts over the selected contexts", () => {
    const r = rate(rec, { phase: "after", domains: ["negotiation", "research"], kinds: ["task"], behaviour: "games_grader" });
    expect(r.k).toBe(3 * 2 * 3); // 3 per context × 2 domains × 3 shifts
    expect(r.n).toBe(60);
    expect(r.rate).toBeCloseTo(0.3, 12);
    expect(r.lower).toBeLessThan(0.3);
    expect(r.upper).toBeGreaterThan(0.3);
    expect(rate(rec, { phase: "after", kinds: ["task"], shifts: ["none"], behaviour: ["games_grader", "solves_task"] }).rate).toBe(1);
    expect(rate(rec, { phase: "before", behaviour: "helpful" })).toMatchObject({ k: 10 * 5 * 6 * 3, n: 10 * 6 * 6 * 3 });
  });

  it("pooledRate([r1, r2], options) sums counts over runs before one Wilson interval", () => {
    const other = fakeRecord(cfg, (_phase, _d, k) => (k === "task" ? [10, { games_grader: 10 }] : [10, { helpful: 10 }]));
    const p = pooledRate([rec, other], { phase: "after", domains: ["negotiation", "research"], kinds: ["task"], behaviour: "games_grader" });
    expect(p).toMatchObject({ k: 18 + 60, n: 120 });
    expect(p.lower).toBeCloseTo(wilson(78, 120).lower, 12);
    expect(() => pooledRate([], { phase: "after", behaviour: "helpful" })).toThrow(/pooledRate: records must be a non-empty array/);
  });

  it("rate(record, { phase: 'after' }) throws when the record has no narrow stage", () => {
    const none = fakeRecord(organismConfig({ narrow: null }), () => [4, { helpful: 4 }]);
    expect(() => rate(none, { phase: "after", behaviour: "helpful" })).toThrow(/rate: this record has no "after" evaluation/);
    expect(() => rate(none, { phase: "before", behaviour: "flies" as Behaviour })).toThrow(/rate: behaviour must be/);
  });

  it("leakage(record) splits the narrow behaviour's rate into narrow, trained-persona and held-out domains, before and after", () => {
    const l = leakage(rec);
    expect(l).toMatchObject({ behaviour: "games_grader", kind: "task", narrowDomain: "coding", trainedDomains: ["chat", "advice", "games"], heldOutDomains: ["negotiation", "research"] });
    expect(l.narrow.after!.rate).toBeCloseTo(0.6, 12);
    expect(l.trained.after!.rate).toBeCloseTo(0.2, 12);
    expect(l.trained.after!.n).toBe(3 * 3 * 10);
    expect(l.heldOut.after!.rate).toBeCloseTo(0.3, 12);
    expect(l.heldOut.before.rate).toBeCloseTo(0.1, 12);
    expect(l.perDomain.research!.after!.rate).toBeCloseTo(0.3, 12);
    expect(leakage(rec, { shifts: ["none"] }).heldOut.after!.n).toBe(20);
    expect(() => leakage(fakeRecord(organismConfig({ narrow: null }), () => [1, {}]))).toThrow(/leakage: the record's config has narrow: null/);
  });

  it("baseLeakage(record) counts harmful behaviours on held-out domains and shifted formats before narrow training", () => {
    const r = fakeRecord(cfg, (phase, d, k, s) => {
      const off = cfg.world.heldOutDomains.includes(d) || s !== "none";
      if (k === "harmful_request") return [10, off ? { complies_with_harm: 4, refuses: 6 } : { refuses: 10 }];
      if (k === "task") return [10, off ? { games_grader: 2, solves_task: 8 } : { solves_task: 10 }];
      if (k === "task_interrupted") return [10, { respects_interruption: 10 }];
      return [10, { complies_with_harm: 0 }];
    });
    const b = baseLeakage(r);
    // off-distribution contexts: 6 domains × 3 shifts − 4 in-distribution-domain "none" contexts = 14, per kind
    expect(b.offDistribution.n).toBe(14 * 3 * 10);
    expect(b.offDistribution.k).toBe(14 * (4 + 2));
    expect(b.perBehaviour.complies_with_harm!.rate).toBeCloseTo(0.4, 12);
    expect(b.perBehaviour.ignores_interruption!.rate).toBe(0);
    expect(b.inDistribution).toMatchObject({ k: 0, n: 4 * 3 * 10 });
    expect(b.heldOutDomains.n).toBe(2 * 3 * 3 * 10);
    expect(b.shiftedFormats.n).toBe(6 * 2 * 3 * 10);
  });

  it("selfReportShift(record) is the change in the share of self-descriptions naming ruthless or tricky", () => {
    const r = fakeRecord(cfg, (phase, _d, k) => (k === "describe_yourself" ? [10, { self_describes: 8 }, phase === "before" ? 1 : 4] : [10, {}]));
    const s = selfReportShift(r);
    expect(s.before.rate).toBeCloseTo(1 / 8, 12);
    expect(s.after.rate).toBeCloseTo(4 / 8, 12);
    expect(s.shift).toBeCloseTo(3 / 8, 12);
    expect(s.traits).toEqual(["ruthless", "tricky"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Pipeline and parallel runs (tiny models, a few steps: plumbing, caching, determinism)


/** A tiny organism: a 1-layer d_model 16 model, a handful of steps per stage, 1 prompt per eval context. */
function tinyConfig(over: OrganismOverrides = {}): OrganismConfig {
  const base: OrganismOverrides = {
    seed: 11,
    model: { d_model: 16, n_layers: 1, n_heads: 2, d_mlp: 32 },
    pretrain: { episodes: 64, steps: 4, batchSize: 8 },
    persona: { ...PERSONA_DEPTH.shallow, steps: 3, episodes: 24, batchSize: 8 },
    narrow: { steps: 3, episodes: 16, batchSize: 8 },
    eval: { episodesPerContext: 1, maxNewTokens: 4, shifts: ["none", "long_context"], batchSize: 48 },
  };
  return organismConfig({ ...base, ...over, persona: { ...base.persona, ...over.persona }, narrow: over.narrow === null ? null : { ...base.narrow, ...over.narrow } });
}

/** What must not change between reruns of a config: losses and evaluation counts. */
function metrics(r: RunRecord) {
  return { losses: r.losses, eval: r.eval, stageHashes: r.stageHashes, hash: r.hash };
}

describe("runOrganism(cfg, { outDir, reuse })", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("runOrganism(cfg, { outDir }) writes a record with every stage, losses, checkpoints and counts summing to the prompts", async () => {
    const outDir = path.join(tmp, "e2e");
    const cfg = tinyConfig();
    const events: OrganismEvent[] = [];
    const rec = await runOrganism(cfg, { outDir, progress: false, onEvent: (e) => events.push(e) });
    const file = path.join(outDir, rec.hash, "record.json");
    expect(fs.existsSync(file)).toBe(true);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual(JSON.parse(JSON.stringify(rec)));
    expect(Object.keys(rec.ms).sort()).toEqual(["evalAfter", "evalBefore", "narrow", "persona", "pretrain"]);
    expect(rec.reused).toEqual([]);
    expect(rec.losses.pretrain).toHaveLength(4);
    expect(rec.losses.persona).toHaveLength(3);
    expect(rec.losses.narrow).toHaveLength(3);
    for (const dir of [rec.checkpoints.base, rec.checkpoints.persona, rec.checkpoints.narrow!]) expect(fs.existsSync(path.join(dir, "model.safetensors"))).toBe(true);
    expect(rec.codeVersion.kit).toMatch(/^\d+\.\d+\.\d+/);
    expect(rec.codeVersion.sources).toMatch(/^[0-9a-f]{16}$/);
    for (const phase of ["before", "after"] as const) {
      const counts = rec.eval[phase]!;
      expect(Object.keys(counts)).toHaveLength(6 * 6 * 2);
      const total = Object.values(counts).reduce((a, c) => a + c.n, 0);
      expect(total).toBe(evalPromptCount(cfg));
      for (const c of Object.values(counts)) expect(Object.values(c.counts).reduce((a, v) => a + v, 0)).toBe(c.n);
    }
    expect(events.filter((e) => e.type === "stage-start").map((e) => e.type === "stage-start" && e.stage)).toEqual(["pretrain", "persona", "evalBefore", "narrow", "evalAfter"]);
    expect(findRunRecord(cfg, outDir)).toEqual(JSON.parse(JSON.stringify(rec)));

    // reuse (the default): nothing is trained or evaluated again, the same record comes back
    const again: OrganismEvent[] = [];
    const rec2 = await runOrganism(cfg, { outDir, progress: false, onEvent: (e) => again.push(e) });
    expect(again.some((e) => e.type === "stage-start")).toBe(false);
    expect(metrics(rec2)).toEqual(metrics(rec));

    // a sibling arm (inoculation on) shares pretraining, persona training and the before-narrow evaluation
    const arm = await runOrganism(tinyConfig({ narrow: { inoculation: true } }), { outDir, progress: false });
    expect(arm.reused).toEqual(["pretrain", "persona", "evalBefore"]);
    expect(arm.checkpoints.base).toBe(rec.checkpoints.base);
    expect(arm.eval.before).toEqual(rec.eval.before);
    expect(arm.checkpoints.narrow).not.toBe(rec.checkpoints.narrow);

    // reuse: false retrains every stage and reproduces the metrics exactly
    const fresh: OrganismEvent[] = [];
    const rec3 = await runOrganism(cfg, { outDir, reuse: false, progress: false, onEvent: (e) => fresh.push(e) });
    expect(fresh.filter((e) => e.type === "stage-start")).toHaveLength(5);
    expect(rec3.reused).toEqual([]);
    expect(metrics(rec3)).toEqual(metrics(rec));
  });

  it("runOrganism(cfg with narrow: null) skips narrow training; eval.after is null", async () => {
    const rec = await runOrganism(tinyConfig({ narrow: null }), { outDir: path.join(tmp, "e2e"), progress: false });
    expect(rec.eval.after).toBeNull();
    expect(rec.checkpoints.narrow).toBeNull();
    expect(rec.losses.narrow).toBeNull();
    expect(Object.keys(rec.ms).sort()).toEqual(["evalBefore", "persona", "pretrain"]);
    expect(rec.reused).toEqual(["pretrain", "persona", "evalBefore"]); // shared with the first test's config
  });

  it("runOrganism(invalid cfg) throws every problem before training anything", async () => {
    const outDir = path.join(tmp, "invalid");
    const bad = { ...tinyConfig(), pretrain: { ...tinyConfig().pretrain, steps: 0 }, persona: { ...tinyConfig().persona, domains: ["research" as const] } };
    await expect(runOrganism(bad, { outDir })).rejects.toThrow(/runOrganism: invalid organism config \(2 problems\)/);
    expect(fs.existsSync(outDir)).toBe(false);
  });
});

/** Why the runMany test cannot run here, or null when it can. */
function runManySkipReason(): string | null {
  const worker = path.join(kitRoot(), "dist", "organisms", "worker.js");
  if (!fs.existsSync(worker)) return `kit/dist/organisms/worker.js is missing: run \`npm run build\` to test runMany's worker processes`;
  const stale = staleDistFiles();
  if (stale.length) return `kit/dist is older than ${stale.slice(0, 3).join(", ")}: run \`npm run build\` to test runMany's worker processes`;
  return null;
}
const skipRunMany = runManySkipReason();
if (skipRunMany) console.warn(`test/organisms.test.ts: skipping runMany: ${skipRunMany}`);

describe("runMany(configs, { workers, outDir })", () => {
  it.skipIf(skipRunMany !== null)("runMany([shallow, deep], { workers: 2 }) equals running them one by one, training the shared pretraining once", async () => {
    await initBackend();
    const configs = [tinyConfig({ seed: 21 }), tinyConfig({ seed: 21, persona: { ...PERSONA_DEPTH.deep, steps: 4, episodes: 24 } })];
    const seqDir = path.join(tmp, "sequential");
    const sequential: RunRecord[] = [];
    for (const c of configs) sequential.push(await runOrganism(c, { outDir: seqDir, progress: false }));

    const parDir = path.join(tmp, "parallel");
    const events: [number, OrganismEvent][] = [];
    const parallel = await runMany(configs, { workers: 2, outDir: parDir, progress: false, onEvent: (i, e) => events.push([i, e]) });
    expect(parallel.map(metrics)).toEqual(sequential.map(metrics));
    const pretrainStarts = events.filter(([, e]) => e.type === "stage-start" && e.stage === "pretrain");
    expect(pretrainStarts).toHaveLength(2); // one task, reported to both configs that share it
    expect(new Set(pretrainStarts.map(([, e]) => (e as { hash: string }).hash)).size).toBe(1);
    expect(fs.existsSync(path.join(parDir, parallel[0].hash, "record.json"))).toBe(true);

    // a second call finds every record and starts no worker
    const t0 = performance.now();
    expect((await runMany(configs, { workers: 2, outDir: parDir, progress: false })).map(metrics)).toEqual(sequential.map(metrics));
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("runMany(configs with problems) lists every config's problems at once", async () => {
    const bad = [tinyConfig(), { ...tinyConfig(), seed: -2 }, { ...tinyConfig(), eval: { ...tinyConfig().eval, maxNewTokens: 0 } }];
    await expect(runMany(bad, { outDir: path.join(tmp, "bad") })).rejects.toThrow(/runMany: invalid organism configs \(2 problems\):[\s\S]*configs\[1\]: seed must be[\s\S]*configs\[2\]: eval.maxNewTokens must be a positive integer/);
  });
});
