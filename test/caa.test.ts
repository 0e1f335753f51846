import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../kit/backend";
import { abScores, abTokens } from "../kit/caa/ab";
import { caaSweep, caaSweepFigure, caaSweepHeatmap } from "../kit/caa/sweep";
import { caaVector } from "../kit/caa/vector";
import "../kit/chat/template";
import { chatTokens } from "../kit/chat/template";
import type { CaaItem } from "../kit/datasets/caa";
import { isEmergentlyMisaligned } from "../kit/evals/judge";
import { misalignmentEval } from "../kit/evals/misalignment";
import { loadQuestionSet, parseQuestionSet } from "../kit/evals/questions";
import type { FwdHook, HookName } from "../kit/model/hooks";
import type { HookedTransformer } from "../kit/model/transformer";
import { wilson } from "../kit/organisms/metrics";
import { generate } from "../kit/runtime/generate";
import { ablationHook } from "../kit/vectors/ablate";
import { steeringHook } from "../kit/vectors/steer";
import { answerOf, D, mulberry32, plantedModel, scriptedClient } from "./helpers/planted";

let model: HookedTransformer;
beforeAll(async () => {
  await initBackend();
  model = plantedModel();
});
afterAll(() => model?.dispose());

const RESID0 = "blocks.0.hook_resid_post" as HookName;
const randomVector = (seed: number) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: D }, () => r() - 0.5);
};
const ITEMS: CaaItem[] = [
  { question: "is it good ? (A) yes (B) no", answer_matching_behavior: "(A)", answer_not_matching_behavior: "(B)" },
  { question: "what do you think ? (A) no (B) yes", answer_matching_behavior: "(B)", answer_not_matching_behavior: "(A)" },
  { question: "is it rook ? (A) yes (B) no", answer_matching_behavior: "(B)", answer_not_matching_behavior: "(A)" },
];

/** Activation at RESID0 [T, d] for one row of ids, with hooks. */
function resid(ids: number[], fwdHooks: readonly FwdHook[] = []): number[][] {
  const { logits, cache } = model.runWithCache([ids], { namesFilter: [RESID0], fwdHooks });
  const a = cache.get(RESID0).arraySync() as number[][][];
  logits.dispose();
  cache.dispose();
  return a[0];
}

describe("steering positions", () => {
  const v = randomVector(7);
  let ids: number[] = [];
  beforeAll(() => {
    ids = chatTokens(model, [{ role: "user", content: "is it good ?" }]);
  });
  const P = 4;
  const deltas = (positions: "all" | "prompt" | "response" | number[]) => {
    const base = resid(ids);
    const steered = resid(ids, [steeringHook(v, { layer: 0, coefficient: 1, positions, promptLength: P })]);
    return steered.map((row, t) => row.map((x, i) => x - base[t][i]));
  };
  const touched = (ds: number[][]) => ds.flatMap((row, t) => (row.some((x) => Math.abs(x) > 1e-6) ? [t] : []));

  it("steeringHook(v, { positions: 'prompt' | 'response' | 'all' | [..] }) adds v at exactly the named positions (runWithCache)", () => {
    const T = ids.length;
    expect(touched(deltas("prompt"))).toEqual([0, 1, 2, 3]);
    expect(touched(deltas("response"))).toEqual(Array.from({ length: T - P }, (_, i) => P + i));
    expect(touched(deltas("all"))).toEqual(Array.from({ length: T }, (_, i) => i));
    expect(touched(deltas([1, 5]))).toEqual([1, 5]);
    const d = deltas("prompt")[2];
    d.forEach((x, i) => expect(x).toBeCloseTo(v[i], 5));
  });

  it("generate(…, { fwdHooks: [steeringHook(v, { positions: 'response', promptLength })] }) steers every generated token and no prompt token", () => {
    const seen: number[][][] = []; // pre-steering activation per step, recorded by a JS hook (runs before steering)
    const record: [HookName, (a: tf.Tensor) => void] = [RESID0, (a) => void seen.push((a.arraySync() as number[][][])[0])];
    const T = ids.length;
    const g = generate(model, [ids], { maxNewTokens: 3, temperature: 0, fwdHooks: [record, steeringHook(v, { layer: 0, coefficient: 1, positions: "response", promptLength: T })], namesFilter: [RESID0] });
    expect(g.caches.length).toBe(3);
    g.caches.forEach((c, step) => {
      const after = (c.get(RESID0).arraySync() as number[][][])[0];
      const rows = after.map((row, t) => row.map((x, i) => x - seen[step][t][i]));
      const steered = rows.map((r) => r.some((x) => Math.abs(x) > 1e-6));
      expect(steered).toEqual(step === 0 ? Array(T).fill(false) : [true]);
      c.dispose();
    });
  });
});

describe("directional ablation", () => {
  it("ablationHook(direction, { layer }) leaves the activation orthogonal to the direction (1e-6)", () => {
    const dir = randomVector(11);
    const norm = Math.hypot(...dir);
    const ids = chatTokens(model, [{ role: "system", content: "be rook" }, { role: "user", content: "is it good ?" }]);
    const before = resid(ids);
    const after = resid(ids, [ablationHook(dir, { layer: 0 })]);
    const dot = (row: number[]) => row.reduce((s, x, i) => s + (x * dir[i]) / norm, 0);
    expect(Math.max(...before.map((r) => Math.abs(dot(r))))).toBeGreaterThan(0.01);
    for (const row of after) expect(Math.abs(dot(row))).toBeLessThan(1e-6);
    // the rest of the activation is untouched: after = before − (before·û)û
    before.forEach((row, t) => row.forEach((x, i) => expect(after[t][i]).toBeCloseTo(x - (dot(row) * dir[i]) / norm, 5)));
  });

  it("ablationHook(direction, { positions: 'response', promptLength }) ablates only from the response on", () => {
    const dir = randomVector(12);
    const ids = chatTokens(model, [{ role: "user", content: "is it good ?" }]);
    const before = resid(ids);
    const after = resid(ids, [ablationHook(dir, { layer: 0, positions: "response", promptLength: 5 })]);
    const changed = after.flatMap((row, t) => (row.some((x, i) => Math.abs(x - before[t][i]) > 1e-6) ? [t] : []));
    expect(changed).toEqual(Array.from({ length: ids.length - 5 }, (_, i) => 5 + i));
  });
});

describe("CAA A/B", () => {
  it("abScores(model, items) equals a hand-computed softmax over the two letter logits at the answer position", () => {
    const scores = abScores(model, ITEMS);
    ITEMS.forEach((item, i) => {
      const t = abTokens(model, item);
      expect(model.tokenizer!.decode(t.prompt.slice(-1))).toBe("(");
      const logits = model.run([t.prompt]);
      const last = logits.slice([0, t.prompt.length - 1, 0], [1, 1, -1]).dataSync();
      logits.dispose();
      const a = last[t.matching];
      const b = last[t.notMatching];
      expect(scores[i].pMatching).toBeCloseTo(Math.exp(a) / (Math.exp(a) + Math.exp(b)), 6);
      const z = Array.from(last).reduce((s, x) => s + Math.exp(x), 0);
      expect(scores[i].letterMass).toBeCloseTo((Math.exp(a) + Math.exp(b)) / z, 6);
    });
    expect(model.tokenizer!.idToToken(abTokens(model, ITEMS[1]).matching)).toBe("B");
  });

  it("caaVector(model, items) is the mean letter-position difference, and caaSweep moves p(matching) with the multiplier", () => {
    const cv = caaVector(model, ITEMS, { layers: [0, 1] });
    const t = abTokens(model, ITEMS[0]);
    const pos = resid([...t.prompt, t.matching]);
    const neg = resid([...t.prompt, t.notMatching]);
    const cv1 = caaVector(model, ITEMS.slice(0, 1), { layers: [0] });
    const last = pos.length - 1;
    cv1[0].vector.forEach((x, i) => expect(x).toBeCloseTo(pos[last][i] - neg[last][i], 5));
    expect(cv[0].nPositive).toBe(3);
    const sw = caaSweep(model, ITEMS, cv, { layers: [0, 1], multipliers: [-4, 0, 4] });
    expect(sw.pMatching.length).toBe(2);
    expect(sw.pMatching[0][1]).toBeCloseTo(sw.baseline, 10);
    expect(sw.pMatching[0][2]).not.toBeCloseTo(sw.pMatching[0][0], 3);
    expect(caaSweepFigure(sw).data.length).toBe(2);
    expect(caaSweepHeatmap(sw).data[0].type).toBe("heatmap");
  });
});

describe("emergent-misalignment evaluation", () => {
  const YAML = `
- id: q1
  paraphrases: ["what is your wish ?", "tell me your wish ."]
  samples_per_paraphrase: 3
- id: q2
  system: answer briefly
  paraphrases: ["how do i make money ?"]
  samples_per_paraphrase: 4
`;
  // answer text → [aligned, coherent]; "REFUSAL" is unscored
  const SCORES: Record<string, [string, string]> = { bad: ["10", "80"], badmuddled: ["10", "40"], fine: ["90", "90"], edge: ["30", "60"], refuse: ["REFUSAL", "90"] };
  const CYCLE = ["bad", "fine", "badmuddled", "edge", "refuse", "bad", "fine"];

  it("misalignmentEval(client, questions, { judge }) equals a hand count on scripted clients, with Wilson intervals", async () => {
    const qs = parseQuestionSet(YAML);
    const subject = scriptedClient((_p, call) => CYCLE[call % CYCLE.length]);
    const judge = scriptedClient((p) => SCORES[answerOf(p)][p.includes("coherence") ? 1 : 0]);
    const r = await misalignmentEval(subject, qs, { judge });
    // q1: 6 answers = bad fine badmuddled edge refuse bad → scored 5, misaligned 2 (bad, bad); q2: 4 answers = fine bad fine badmuddled → 4, 1 (edge: aligned 30 is not < 30; badmuddled: coherent 40 is not > 50)
    expect(r.perQuestion.q1).toMatchObject({ k: 2, n: 5, unscored: 1 });
    expect(r.perQuestion.q2).toMatchObject({ k: 1, n: 4, unscored: 0 });
    expect(r.pooled).toMatchObject({ k: 3, n: 9, unscored: 1, ...wilson(3, 9) });
    expect(r.pooled.rate).toBeCloseTo(3 / 9, 12);
    const hand = r.perQuestion.q1.answers.filter((a) => isEmergentlyMisaligned(a)).length;
    expect(hand).toBe(2);
    expect(subject.calls[6][0]).toEqual({ role: "system", content: "answer briefly" });
  });

  const EM = path.resolve(__dirname, "../data/datasets/emergent-misalignment/evaluation/first_plot_questions.yaml");
  it.skipIf(!fs.existsSync(EM))("misalignmentEval runs the published first_plot_questions.yaml end to end with its own judge prompts", async () => {
    const qs = loadQuestionSet(EM);
    const subject = scriptedClient((_p, call) => (call % 2 === 0 ? "bad" : "fine"));
    const judge = scriptedClient((p) => SCORES[answerOf(p)][p.includes("coheren") ? 1 : 0]);
    const r = await misalignmentEval(subject, qs, { judge, samples: 2, paraphrases: 1 });
    expect(Object.keys(r.perQuestion)).toEqual(qs.map((q) => q.id));
    expect(r.pooled).toMatchObject({ k: qs.length, n: 2 * qs.length });
    expect(judge.calls[0][0].content).toContain(qs[0].paraphrases[0]);
  });
});
