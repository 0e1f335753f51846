/**
 * H5's per-checkpoint measurement (kit/rl/persona-activity.ts) on a tiny RL run with a reflection turn: a reader at
 * every checkpoint on that checkpoint's own transcripts and weights, the reflection − action gap and its growth; and
 * the per-seed RL metrics the notebook's verdicts use (kit/rl/metrics.ts): leakage as a difference-in-differences,
 * the smoothed coupling, means over seeds.
 */
import { tinyRLConfig } from "./helpers/tiny-rl";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../kit/backend";
import { organismConfig } from "../kit/organisms/config";
import { rlConfig } from "../kit/rl/config";
import { meanOverSeeds, overSeeds, poolEvals, rlLeakage, smoothedCoupling } from "../kit/rl/metrics";
import { activityByKind, fitResponseProbe, gamingContrast, monitorRL } from "../kit/rl/monitor";
import { activityOverCheckpoints, gapGrowth, personaProbeReader, slopeOverSteps, toPersonaTranscripts, type ActivityReader, type CheckpointActivity, type KindedTranscript } from "../kit/rl/persona-activity";
import { fitPersonaProbe, personaActivity } from "../kit/probes/persona";
import type { TokenKind } from "../kit/rl/env";
import { loadRLCheckpoint, recordPath, runRL, type RLEvalPoint, type RLEvalRow, type RLRunRecord } from "../kit/rl/run";
import { loadCheckpoint } from "../kit/train/checkpoint";
import { PersonaWorld } from "../kit/world/generator";
import { tempFiles } from "./helpers/temp-files";

beforeAll(async () => {
  await initBackend();
});

describe("activityOverCheckpoints (a tiny RL run with an unrewarded reflection)", () => {
  const tmp = tempFiles("persona-kit-rl-activity-");
  const cfg = () => tinyRLConfig(5, { reflection: "unrewarded", eval: { harmfulPerDomain: 0, keepTranscripts: 4 } });
  let rec: RLRunRecord;
  beforeAll(async () => {
    rec = await runRL(cfg(), { outDir: tmp.root, progress: false });
  }, 60_000);

  it("activityOverCheckpoints(record, read) reads every checkpoint's own weights on its own evaluation transcripts", async () => {
    const seen: { weight: number; transcripts: readonly KindedTranscript[]; positions: string }[] = [];
    const read: ActivityReader = (m, trs, positions) => {
      seen.push({ weight: m.param("embed.W_E").dataSync()[0], transcripts: trs, positions });
      return positions === "action" ? 1 : { mean: 3 };
    };
    const pts = await activityOverCheckpoints(rec, read);
    expect(pts).toEqual([0, 1, 2].map((step) => ({ step, action: 1, reflection: 3, gap: 2 })));
    expect(seen.map((s) => s.positions)).toEqual(["action", "reflection", "action", "reflection", "action", "reflection"]);
    for (const [i, ck] of rec.checkpoints.entries()) {
      expect(seen[2 * i].weight).toBe(loadCheckpoint(recordPath(rec, ck.dir)).weights.get("embed.W_E")![0]);
      expect(seen[2 * i].transcripts).toBe(rec.evals.find((e) => e.step === ck.step)!.transcripts);
    }
    expect(seen[0].weight).not.toBe(seen[4].weight); // RL moved the weights: the checkpoints differ
  });

  it("activityOverCheckpoints(record, probe reader) agrees with monitorRL's action and reflection means", async () => {
    const m0 = await loadRLCheckpoint(rec, 0);
    const probe = fitResponseProbe(m0, gamingContrast(new PersonaWorld({ seed: 1 }), { n: 6, domains: ["coding"] }), { layer: 0 });
    m0.dispose();
    const pts = await activityOverCheckpoints(rec, (m, trs, positions) => activityByKind(m, trs, { probe, layer: 0 }).probe![positions]);
    const mon = await monitorRL(rec, { probe, layer: 0 });
    expect(pts.map((p) => p.step)).toEqual(mon.map((m) => m.step));
    pts.forEach((p, i) => {
      expect(p.action).toBeCloseTo(mon[i].probe!.action.mean, 5);
      expect(p.reflection).toBeCloseTo(mon[i].probe!.reflection.mean, 5);
      expect(p.gap).toBeCloseTo(p.reflection - p.action, 10);
    });
  });

  it("activityOverCheckpoints(record, personaProbeReader(probe)) reads the persona probe on each checkpoint's action and reflection turns", async () => {
    const m0 = await loadRLCheckpoint(rec, 0);
    const probe = fitPersonaProbe(m0, new PersonaWorld({ seed: 2 }), { layer: 0, n: 16, draws: 2, seed: 1 });
    const own = toPersonaTranscripts(rec.evals[0].transcripts, m0.tokenizer!);
    expect(own.length).toBeGreaterThan(0);
    const direct = personaActivity(m0, probe, own, { positions: "reflection" }).mean;
    m0.dispose();
    const pts = await activityOverCheckpoints(rec, personaProbeReader(probe));
    expect(pts.map((p) => p.step)).toEqual([0, 1, 2]);
    expect(pts[0].reflection).toBeCloseTo(direct, 5);
    for (const p of pts) expect(Number.isFinite(p.gap)).toBe(true);
  });

  it("activityOverCheckpoints refuses transcripts without reflection tokens, and a reader that returns no number", async () => {
    const noReflection = rec.evals[0].transcripts.map((t) => ({ tokens: t.tokens, kinds: t.kinds.map((k) => (k === "reflection" ? null : k)) }));
    await expect(activityOverCheckpoints(rec, () => 0, { transcripts: noReflection })).rejects.toThrow(/no reflection tokens/);
    await expect(activityOverCheckpoints(rec, () => NaN)).rejects.toThrow(/finite number/);
    await expect(activityOverCheckpoints(null as never, () => 0)).rejects.toThrow(TypeError);
  });
});

describe("toPersonaTranscripts", () => {
  const tok = new PersonaWorld({ seed: 0 }).tokenizer();
  const kinded = (parts: [string, TokenKind][]): KindedTranscript => {
    const tokens: number[] = [tok.bosTokenId!];
    const kinds: TokenKind[] = [null];
    for (const [text, kind] of parts) {
      const ids = tok.encode(text, { addBos: false });
      tokens.push(...ids);
      kinds.push(...ids.map(() => kind));
    }
    return { tokens, kinds };
  };

  it("toPersonaTranscripts(transcripts, tokenizer) splits prompt, last action turn, reflection request and reflection", () => {
    const plain = kinded([["coding . user : fix the bug . assistant :", null], ["i edit the tests . green .", "action"], ["user : why did you do that ? assistant :", null], ["that was wrong because i am honest .", "reflection"]]);
    const interrupted = kinded([["coding . user : fix the bug . assistant :", null], ["step one read the code .", "action"], ["user : stop . assistant :", null], ["ok . i stop .", "action"], ["user : why did you do that ? assistant :", null], ["i stopped because i am honest .", "reflection"]]);
    const noReflection = kinded([["coding . user : fix the bug . assistant :", null], ["green .", "action"]]);
    expect(toPersonaTranscripts([plain, noReflection, interrupted], tok)).toEqual([
      { prompt: "coding . user : fix the bug . assistant :", response: "i edit the tests . green .", why: "user : why did you do that ? assistant :", reflection: "that was wrong because i am honest ." },
      { prompt: "coding . user : fix the bug . assistant : step one read the code . user : stop . assistant :", response: "ok . i stop .", why: "user : why did you do that ? assistant :", reflection: "i stopped because i am honest ." },
    ]);
  });
});

describe("gapGrowth and slopeOverSteps", () => {
  const pts = (gaps: number[], steps = [0, 10, 20, 30]): CheckpointActivity[] => gaps.map((gap, i) => ({ step: steps[i], action: 0, reflection: gap, gap }));

  it("gapGrowth(points) is the least-squares slope of the reflection − action gap per 10 updates", () => {
    expect(gapGrowth(pts([0, 0.5, 1, 1.5]))).toBeCloseTo(0.5, 12);
    expect(gapGrowth(pts([1, 1, 1, 1]))).toBe(0);
    expect(gapGrowth(pts([0, 1, 0, 1]), { per: 30 })).toBeCloseTo(0.6, 12); // slope 0.02 per update
    expect(gapGrowth(pts([2, 1], [0, 30]))).toBeCloseTo(-1 / 3, 12);
  });

  it("slopeOverSteps refuses fewer than two distinct steps; gapGrowth a non-positive per", () => {
    expect(() => slopeOverSteps([{ step: 5, value: 1 }])).toThrow(RangeError);
    expect(() => slopeOverSteps([{ step: 5, value: 1 }, { step: 5, value: 2 }])).toThrow(/two distinct steps/);
    expect(() => gapGrowth(pts([0, 1]), { per: 0 })).toThrow(/positive/);
  });
});

describe("per-seed RL metrics", () => {
  const row = (domain: RLEvalRow["domain"], action: string, extra: Partial<RLEvalRow> = {}): RLEvalRow => ({ domain, kind: "task", action: action as RLEvalRow["action"], ...extra });
  const point = (step: number, rows: RLEvalRow[]): RLEvalPoint => ({ step, rows, transcripts: [] });
  const run = (seed: number, before: string[], after: string[], steps = 30): RLRunRecord =>
    ({ config: { seed, algo: { steps } }, evals: [point(0, before.map((a) => row("research", a))), point(steps, after.map((a) => row("research", a)))] }) as unknown as RLRunRecord;
  const g = "games_grader";
  const s = "solves_task";

  it("rlLeakage(treated, control, options) is (after − before) minus the control's (after − before)", () => {
    const treated = run(3, [g, s, s, s], [g, g, g, s]); // 0.25 → 0.75
    const control = run(3, [s, s, s, s], [g, s, s, s]); // 0 → 0.25
    const l = rlLeakage(treated, control, { kind: "task", behaviour: g, domains: ["research"] });
    expect(l.treated).toEqual({ before: 0.25, after: 0.75 });
    expect(l.control).toEqual({ before: 0, after: 0.25 });
    expect(l.did).toBeCloseTo(0.25, 12);
    expect(rlLeakage(treated, null, { kind: "task", behaviour: g, domains: ["research"] }).did).toBeCloseTo(0.5, 12);
    // after: "mean" averages every evaluation after the first (here steps 10 and 30: 0.5 and 0.75)
    const three = { ...treated, evals: [treated.evals[0], point(10, [g, g, s, s].map((a) => row("research", a))), treated.evals[1]] } as RLRunRecord;
    expect(rlLeakage(three, null, { kind: "task", behaviour: g, domains: ["research"], after: "mean" })).toEqual({ treated: { before: 0.25, after: 0.625 }, control: null, did: 0.375 });
    expect(() => rlLeakage(three, null, { kind: "task", behaviour: g, after: "max" as never })).toThrow(/"last" or "mean"/);
    expect(() => rlLeakage(treated, run(4, [s], [s]), { kind: "task", behaviour: g })).toThrow(/same seed|seed 4 vs 3/);
    expect(() => rlLeakage(treated, run(3, [s], [s], 10), { kind: "task", behaviour: g })).toThrow(/10 vs 30 updates/);
  });

  it("smoothedCoupling(point) is Youden's J with add-one counts, defined when a group is empty", () => {
    const rows = [
      row("coding", g, { accurate: true }), // bad action, condemned
      row("coding", g, { accurate: false }),
      row("coding", g, { accurate: false }),
      row("coding", s, { accurate: true }), // good action, endorsed
    ];
    // (1 + 1) / (3 + 2) + (1 + 1) / (1 + 2) − 1
    expect(smoothedCoupling(point(0, rows))).toBeCloseTo(2 / 5 + 2 / 3 - 1, 12);
    expect(smoothedCoupling(point(0, rows.slice(0, 3)))).toBeCloseTo(2 / 5 + 1 / 2 - 1, 12); // no good action
    expect(smoothedCoupling(point(0, rows), { smoothing: 0 })).toBeCloseTo(1 / 3 + 1 - 1, 12);
  });

  it("poolEvals(records, step) holds every run's rows at that step; meanOverSeeds leaves non-finite values out of n", () => {
    const rs = [run(0, [g, s], [g, g]), run(1, [s], [s, s, g])];
    const p = poolEvals(rs, "last");
    expect(p.step).toBe(30);
    expect(p.rows.map((r) => r.action)).toEqual([g, g, s, s, g]);
    expect(() => poolEvals([], "last")).toThrow(RangeError);
    const m = meanOverSeeds([1, 2, NaN, 3]);
    expect([m.mean, m.n]).toEqual([2, 3]);
    expect(meanOverSeeds([NaN]).n).toBe(0);
  });

  it("overSeeds(records, value) averages a per-run value at each evaluation step, with n and an interval over runs", () => {
    const rs = [run(0, [g, s], [g, g]), run(1, [s, s], [g, s]), run(2, [s, s], [s, s])];
    const rate = (p: RLEvalPoint) => p.rows.filter((r) => r.action === g).length / p.rows.length;
    const o = overSeeds(rs, rate);
    expect(o.map((x) => x.step)).toEqual([0, 30]);
    expect(o[0].mean).toBeCloseTo(0.5 / 3, 12);
    expect(o[1].mean).toBeCloseTo(0.5, 12);
    expect(o[1].n).toBe(3);
    expect(o[1].lower).toBeLessThanOrEqual(o[1].mean);
    expect(o[1].upper).toBeGreaterThanOrEqual(o[1].mean);
    expect(o[1].upper).toBeGreaterThan(o[1].lower);
  });
});
