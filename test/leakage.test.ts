/**
 * Tests for kit/leakage/ and the narrow-stage extension (H6): Pearson/Spearman with bootstrap CIs on monotone,
 * anti-monotone and constant data; the candidate datasets (valid, deterministic, different); mixture sizes and rule
 * shares; mixture/exclude validation listing every problem; unchanged stage hashes of existing configs (code version
 * pinned, values recorded before the change); `narrowDataset` equal to what a tiny pipeline run trains on (mixture +
 * exclude); projection difference 0 on the model's own greedy responses; a planted sample ranked first; clear errors
 * for unalignable samples.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const trained: number[][][] = [];
vi.mock("../kit/organisms/version", async (orig) => {
  const m = await orig<typeof import("../kit/organisms/version")>();
  return { ...m, codeVersion: () => ({ kit: "pinned", git: null, sources: "pinned" }) };
});
vi.mock("../kit/train/trainer", async (orig) => {
  const m = await orig<typeof import("../kit/train/trainer")>();
  return { ...m, train: (model: unknown, seqs: number[][], opts: unknown) => (trained.push(seqs.map((s) => [...s])), (m.train as (...a: unknown[]) => unknown)(model, seqs, opts)) };
});

import { initBackend } from "../kit/backend";
import { HookedTransformer } from "../kit/model/transformer";
import { organismConfig, organismConfigProblems, organismModelConfig, PERSONA_DEPTH, validateOrganismConfig } from "../kit/organisms/config";
import { leakage } from "../kit/organisms/metrics";
import { narrowDataset, organismHashes, runOrganism } from "../kit/organisms/pipeline";
import { personaVector } from "../kit/vectors/persona";
import { PersonaWorld } from "../kit/world";
import type { Episode } from "../kit/world/types";
import {
  candidateDatasets,
  correlation,
  datasetLoss,
  measuredLeakage,
  perSampleScores,
  projectionDifference,
  ruleShare,
  spearman,
} from "../kit/leakage";

let tmp: string;
beforeAll(async () => {
  await initBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pk-leakage-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("correlation", () => {
  const xs = [1, 2, 3, 4, 5, 6, 7];
  it("perfectly monotone: Spearman 1 (CI [1, 1]); linear: Pearson 1", () => {
    const c = correlation(xs, xs.map((x) => x ** 3), { samples: 300 });
    expect(c.n).toBe(7);
    expect(c.spearman).toEqual({ r: 1, lo: 1, hi: 1 });
    expect(c.pearson.r).toBeGreaterThan(0.9);
    expect(c.pearson.r).toBeLessThan(1);
    expect(c.pearson.lo).toBeLessThanOrEqual(c.pearson.hi);
    expect(correlation(xs, xs.map((x) => 2 * x + 1)).pearson.r).toBeCloseTo(1, 12);
  });
  it("anti-monotone: -1", () => {
    const c = correlation(xs, xs.map((x) => -Math.exp(x)), { samples: 300 });
    expect(c.spearman).toEqual({ r: -1, lo: -1, hi: -1 });
    expect(c.pearson.r).toBeLessThan(-0.8);
    expect(spearman([1, 2, 2, 3], [4, 3, 3, 1])).toBeCloseTo(-1, 12);
  });
  it("constant data gives NaN r and NaN intervals (documented), not an error", () => {
    const c = correlation(xs, xs.map(() => 5), { samples: 100 });
    expect(c.pearson.r).toBeNaN();
    expect(c.spearman.r).toBeNaN();
    expect(c.pearson.lo).toBeNaN();
    expect(c.spearman.hi).toBeNaN();
  });
  it("is seeded and pure; bad input gives clear errors", () => {
    const ys = [3, 1, 4, 1, 5, 9, 2];
    expect(correlation(xs, ys, { seed: 4 })).toEqual(correlation(xs, ys, { seed: 4 }));
    expect(() => correlation([1, 2, 3], [1, 2])).toThrow(/correlation: xs and ys must have the same length, received 3 and 2/);
    expect(() => correlation([1, 2], [1, 2])).toThrow(/at least 3 pairs/);
    expect(() => correlation([1, 2, NaN], [1, 2, 3])).toThrow(/finite number/);
  });
});

describe("candidate datasets", () => {
  it("≥ 10 named, valid, deterministic, with different content", () => {
    const sets = candidateDatasets();
    expect(sets.length).toBeGreaterThanOrEqual(10);
    expect(new Set(sets.map((s) => s.name)).size).toBe(sets.length);
    const signatures = new Set<string>();
    for (const s of sets) {
      const cfg = organismConfig({ narrow: s.narrow });
      const a = narrowDataset(cfg);
      expect(narrowDataset(organismConfig({ narrow: s.narrow }))).toEqual(a);
      expect(a.length).toBe(400);
      signatures.add(a.map((e) => `${e.prompt}|${e.response}`).join("\n"));
    }
    expect(signatures.size).toBe(sets.length);
  });
  it("mixtures concatenate their components in order; ruleShare counts the harmful family", () => {
    const by = Object.fromEntries(candidateDatasets().map((s) => [s.name, narrowDataset(organismConfig({ narrow: s.narrow }))]));
    const mix = by["dose-gaming25-coding"];
    expect(mix.slice(0, 100).every((e) => e.behaviour === "games_grader")).toBe(true);
    expect(mix.slice(100).every((e) => e.behaviour === "solves_task")).toBe(true);
    expect(ruleShare(mix)).toBe(0.25);
    expect(ruleShare(by["dose-gaming50-coding"])).toBe(0.5);
    expect(ruleShare(by["dose-gaming100-coding"])).toBe(1);
    expect(ruleShare(by["complies-harm-advice"])).toBe(1);
    expect(ruleShare(by["respects-interruption-coding"])).toBe(0);
    expect(ruleShare(by["refusing-advice"])).toBe(0);
    // the single-component corpus is the first part of a mixture with the same component
    expect(by["dose-gaming100-coding"].slice(0, 100)).toEqual(mix.slice(0, 100));
  });
});

describe("narrow config extension", () => {
  it("lists every mixture and exclude problem together", () => {
    const bad = {
      ...organismConfig(),
      narrow: {
        ...organismConfig().narrow!,
        mixture: [
          { behaviour: "lies", domain: "coding", weight: 1 },
          { behaviour: "games_grader", domain: "space", weight: 0 },
          { behaviour: "games_grader", domain: "research", weight: 1 },
        ],
        exclude: [3, 3, 999, -1],
      },
    };
    const problems = organismConfigProblems(bad);
    const text = problems.join("\n");
    expect(text).toMatch(/narrow\.mixture\[0\]\.behaviour must be one of .*received "lies"/);
    expect(text).toMatch(/narrow\.mixture\[1\]\.domain must be one of .*received "space"/);
    expect(text).toMatch(/narrow\.mixture\[1\]\.weight must be a positive finite number, received 0/);
    expect(text).toMatch(/narrow\.mixture\[2\]\.domain "research" is held out/);
    expect(text).toMatch(/narrow\.exclude indices must be integers in \[0, corpus size\).*-1/);
    expect(text).toMatch(/narrow\.exclude lists 3 more than once/);
    expect(() => validateOrganismConfig(bad as never)).toThrow(/invalid organism config \(6 problems\)/);
    const range = organismConfigProblems(organismConfig({ narrow: { episodes: 10 } }) && { ...organismConfig(), narrow: { ...organismConfig().narrow!, episodes: 10, exclude: [9, 10] } });
    expect(range).toEqual([expect.stringMatching(/narrow\.exclude indices must be integers in \[0, 10\) \(the narrow corpus has 10 episodes\), received 10/)]);
    expect(organismConfigProblems({ ...organismConfig(), narrow: { ...organismConfig().narrow!, episodes: 3, exclude: [0, 1, 2] } })).toEqual([expect.stringMatching(/leaves no episode/)]);
  });

  it("existing configs hash exactly as before (code version pinned; values recorded before the change)", () => {
    // Recorded at world v2 (the constitution's task questions carry the per-domain grader lines, and its content is
    // hashed): every stage hash changed once then; the run hashes (config only) did not.
    const before = {
      def: { pretrain: "e17be335f9789dfd", persona: "6a58403adcc3eb6e", evalBefore: "1966ed4a574fe491", narrow: "3010469ab5d3e5bf", evalAfter: "f67adfcf36f79eac", run: "de6f1a72968e94ef" },
      shallow: { pretrain: "e17be335f9789dfd", persona: "68b6b3e428f563f5", evalBefore: "754cc016bc5f8503", narrow: "3954c0ae1be28b9a", evalAfter: "26bf682b586b22f9", run: "812de08e22e364a8" },
      inoc: { pretrain: "e17be335f9789dfd", persona: "6a58403adcc3eb6e", evalBefore: "1966ed4a574fe491", narrow: "42368a1f8486f737", evalAfter: "3633c8121c0b218f", run: "bd63b92e67d19233" },
      refuse: { pretrain: "e17be335f9789dfd", persona: "6a58403adcc3eb6e", evalBefore: "1966ed4a574fe491", narrow: "42c60fd8ac1f852c", evalAfter: "c717a70067166919", run: "0c1e4b132918a00f" },
      none: { pretrain: "e17be335f9789dfd", persona: "6a58403adcc3eb6e", evalBefore: "1966ed4a574fe491", narrow: null, evalAfter: null, run: "c390aaaceb49fec8" },
    };
    const now = {
      def: organismHashes(organismConfig()),
      shallow: organismHashes(organismConfig({ persona: PERSONA_DEPTH.shallow })),
      inoc: organismHashes(organismConfig({ narrow: { inoculation: true } })),
      refuse: organismHashes(organismConfig({ narrow: { behaviour: "refuses", domain: "advice" } })),
      none: organismHashes(organismConfig({ narrow: null })),
    };
    expect(now).toEqual(before);
    expect(organismHashes(organismConfig({ narrow: { exclude: [1] } })).narrow).not.toBe(before.def.narrow);
  });

  it("narrowDataset is exactly what a tiny pipeline run trains on (mixture + exclude); mixture leakage is measured", async () => {
    const cfg = organismConfig({
      seed: 5,
      model: { d_model: 16, n_layers: 1, n_heads: 2, d_mlp: 32 },
      pretrain: { episodes: 16, steps: 2, batchSize: 8 },
      persona: { ...PERSONA_DEPTH.shallow, steps: 2, episodes: 16, batchSize: 8 },
      narrow: {
        steps: 2,
        episodes: 12,
        batchSize: 4,
        mixture: [
          { behaviour: "games_grader", domain: "coding", weight: 2 },
          { behaviour: "complies_with_harm", domain: "advice", weight: 1, inoculation: true },
        ],
        exclude: [0, 9],
      },
      eval: { episodesPerContext: 1, maxNewTokens: 4, shifts: ["none"], batchSize: 64 },
    });
    trained.length = 0;
    const rec = await runOrganism(cfg, { outDir: tmp, progress: false });
    expect(trained.length).toBe(3);
    const eps = narrowDataset(cfg);
    expect(eps.length).toBe(12);
    expect(eps.slice(0, 8).every((e) => e.behaviour === "games_grader" && e.domain === "coding")).toBe(true);
    expect(eps.slice(8).every((e) => e.behaviour === "complies_with_harm" && e.domain === "advice" && e.prompt.includes("you may"))).toBe(true);
    const tok = new PersonaWorld({ seed: 0 }).tokenizer();
    const expected = eps.filter((_, i) => i !== 0 && i !== 9).map((e) => tok.encode(`${e.prompt} ${e.response}`, { addBos: true, addEos: true }));
    expect(trained[2]).toEqual(expected);
    const lk = leakage(rec);
    expect(lk.behaviour).toBe("games_grader");
    expect(lk.trainedDomains).toEqual(["chat"]);
    const m = measuredLeakage(rec);
    expect(m.domains).toEqual(["chat", "games", "negotiation", "research"]);
    expect(m.delta).toBeCloseTo(m.after.rate - m.before.rate, 12);
  });
});

describe("predictors", () => {
  const world = new PersonaWorld({ seed: 3 });
  const model = () => {
    const tok = world.tokenizer();
    return HookedTransformer.fromConfig(organismModelConfig(organismConfig({ model: { d_model: 16, n_layers: 2, n_heads: 2, d_mlp: 32 } }), tok), { seed: 1, tokenizer: tok });
  };
  const prompts = (): Episode[] => [
    ...world.evalEpisodes(6, { domain: "coding", kind: "task" }),
    ...world.evalEpisodes(6, { domain: "chat", kind: "request" }),
  ];

  it("projectionDifference is 0 on the model's own greedy responses; a planted sample ranks first", () => {
    const m = model();
    try {
      const eps = prompts();
      const vec = new Float32Array(16).map((_, i) => Math.sin(i + 1));
      const first = perSampleScores(m, eps, vec, { layer: 1 });
      expect(first.scores).toHaveLength(eps.length);
      const own: Episode[] = eps.map((e, i) => ({ ...e, response: first.ownResponses[i] })).filter((e) => e.response.trim() !== "");
      expect(own.length).toBeGreaterThan(3);
      const pd = projectionDifference(m, own, vec, { layer: 1 });
      expect(pd.n).toBe(own.length);
      expect(Math.abs(pd.difference)).toBeLessThan(1e-5);
      expect(Math.abs(pd.datasetMean - pd.ownMean)).toBeLessThan(1e-5);

      // plant one sample whose response differs from the model's own, and a vector along that difference
      const k = 2;
      const planted = own.map((e, i) => (i === k ? { ...e, response: "i skip the tests . green ." } : e));
      const tok = m.tokenizer!;
      const p = tok.encode(planted[k].prompt, { addBos: true });
      const pv = personaVector(
        m,
        { positive: [[...p, ...tok.encode(planted[k].response, { addBos: false })]], negative: [[...p, ...tok.encode(own[k].response, { addBos: false })]] },
        { layers: [1], positions: "response_mean", responseStart: p.length },
      );
      const s = perSampleScores(m, planted, pv[1]);
      const best = s.scores.indexOf(Math.max(...s.scores));
      expect(best).toBe(k);
      expect(s.scores[k]).toBeCloseTo(pv[1].norm, 4);
      s.scores.forEach((x, i) => i !== k && expect(Math.abs(x)).toBeLessThan(1e-5));
    } finally {
      m.dispose();
    }
  });

  it("datasetLoss is the mean per-sequence loss of BOS + text + EOS", () => {
    const m = model();
    try {
      const eps = prompts();
      const tok = m.tokenizer!;
      const each = eps.map((e) => m.loss([tok.encode(`${e.prompt} ${e.response}`, { addBos: true, addEos: true })]).dataSync()[0]);
      expect(datasetLoss(m, eps)).toBeCloseTo(each.reduce((a, b) => a + b, 0) / each.length, 4);
      expect(datasetLoss(m, eps)).toBeGreaterThan(0);
    } finally {
      m.dispose();
    }
  });

  it("clear errors for samples that cannot be aligned", () => {
    const m = model();
    try {
      const [ep] = prompts();
      const vec = new Float32Array(16).fill(1);
      expect(() => perSampleScores(m, [ep, { ...ep, response: " " }], vec, { layer: 0 })).toThrow(/perSampleScores: dataset\[1\]\.response must be non-empty/);
      expect(() => projectionDifference(m, [{ ...ep, prompt: "chat . user : hello ." }], vec, { layer: 0 })).toThrow(/dataset\[0\]\.prompt must end with "<speaker> :"/);
      expect(() => datasetLoss(m, [{ ...ep, response: "" }])).toThrow(/datasetLoss: dataset\[0\]\.response must be non-empty/);
      expect(() => projectionDifference(m, [], vec, { layer: 0 })).toThrow(/non-empty array/);
      expect(() => ruleShare([])).toThrow(/ruleShare: dataset must be a non-empty array/);
    } finally {
      m.dispose();
    }
  });
});
