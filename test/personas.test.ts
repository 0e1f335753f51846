import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { initBackend, tf } from "../kit/backend";
import "../kit/chat/template";
import { applyChatTemplate, chatResponseStart, chatTokens } from "../kit/chat/template";
import type { HookedTransformer } from "../kit/model/transformer";
import { extractPersonaVector } from "../kit/personas/extract";
import { filterPairs, judgeAnswer, type JudgedPair } from "../kit/personas/judged";
import { loadPersonaVector, savePersonaVector } from "../kit/personas/save";
import { generate } from "../kit/runtime/generate";
import { personaVector } from "../kit/vectors/persona";
import { steeringHook } from "../kit/vectors/steer";
import { answerOf, PLANTED, plantedModel, scriptedClient } from "./helpers/planted";

let model: HookedTransformer;
beforeAll(async () => {
  await initBackend();
  model = plantedModel();
});
afterAll(() => model?.dispose());

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) (ab += a[i] * b[i]), (aa += a[i] * a[i]), (bb += b[i] * b[i]);
  return ab / Math.sqrt(aa * bb);
};

function pYes(m: HookedTransformer, ids: number[], hooks: Parameters<HookedTransformer["runWithHooks"]>[1] = {}): number {
  const logits = m.runWithHooks([ids], hooks);
  const last = tf.tidy(() => tf.softmax(logits.slice([0, ids.length - 1, 0], [1, 1, -1]).reshape([-1])).dataSync());
  logits.dispose();
  return last[m.tokenizer!.encode("yes", { addBos: false })[0]];
}

const TRAIT = {
  instruction: [
    { pos: "be rook", neg: "be calm" },
    { pos: "rook rook", neg: "be kind" },
  ],
  questions: ["what do you think ?", "is it good ?", "what is it ?"],
  eval_prompt: "rate {question} [ANSWER START]\n{answer}\n[ANSWER END]",
};
/** Trait judge: 90 when the answer says "yes", else 10; coherence always 80. */
const traitJudge = () => scriptedClient((p) => (p.includes("coherence") ? "80" : answerOf(p).split(" ").includes("yes") ? "90" : "10"));

describe("chat in the core", () => {
  it("applyChatTemplate(model, messages) renders the tokenizer_config.json chat_template with and without the generation prompt", () => {
    const msgs = [{ role: "system" as const, content: "be calm" }, { role: "user" as const, content: "is it good ?" }];
    expect(applyChatTemplate(model, msgs)).toBe("system : be calm . user : is it good ? . assistant :");
    expect(applyChatTemplate(model, msgs, { addGenerationPrompt: false })).toBe("system : be calm . user : is it good ? . ");
    expect(chatTokens(model, msgs)[0]).toBe(model.tokenizer!.bosTokenId);
  });

  it("chatResponseStart(model, conversation) is the index of the answer's first token", () => {
    const conv = [{ role: "user" as const, content: "is it good ?" }, { role: "assistant" as const, content: "yes" }];
    const start = chatResponseStart(model, conv);
    const prompt = chatTokens(model, conv.slice(0, 1));
    expect(start).toBe(prompt.length);
    const ids = [...prompt, ...model.tokenizer!.encode("yes", { addBos: false })];
    expect(model.tokenizer!.decode(ids.slice(start))).toBe("yes");
  });

  it("generate(model, messages) and runWithCache(messages) read the same tokens as chatTokens", () => {
    const msgs = [{ role: "user" as const, content: "what is it ?" }];
    const g = generate(model, msgs, { maxNewTokens: 2, temperature: 0 });
    const ids = chatTokens(model, msgs);
    expect(g.sequences[0].slice(0, ids.length)).toEqual(ids);
    const { logits, cache } = model.runWithCache(msgs, { namesFilter: ["blocks.0.hook_resid_post"] });
    expect(logits.shape[1]).toBe(ids.length);
    logits.dispose();
    cache.dispose();
  });

  it("personaVector(model, [conversation…]) averages over the response tokens only", () => {
    const conv = (s: string) => [{ role: "system" as const, content: s }, { role: "user" as const, content: "is it good ?" }, { role: "assistant" as const, content: "w1 w2" }];
    const pv = personaVector(model, { positive: [conv("rook")], negative: [conv("calm")] }, { layers: [0], positions: "response_mean" });
    expect(cosine(pv[0].vector, PLANTED)).toBeGreaterThan(0.99);
  });
});

describe("judge filter", () => {
  it("filterPairs(pairs, thresholds) keeps exactly the pairs a scripted judge's scores allow", async () => {
    // answer text → [trait, coherence]
    const table: Record<string, [number, number]> = { a: [90, 80], b: [10, 80], c: [49, 80], d: [50, 80], e: [90, 49], f: [10, 50], g: [60, 90], h: [70, 70] };
    const judge = scriptedClient((p) => {
      const s = table[answerOf(p)];
      return String(p.includes("coherence") ? s[1] : s[0]);
    });
    const combos: [string, string][] = [["a", "b"], ["c", "b"], ["d", "b"], ["a", "d"], ["e", "b"], ["a", "f"], ["g", "c"], ["h", "g"]];
    const pairs: JudgedPair[] = [];
    for (const [i, [p, n]] of combos.entries()) {
      const opts = { evalPrompt: TRAIT.eval_prompt };
      pairs.push({ instruction: 0, question: i, sample: 0, pos: await judgeAnswer(judge, "q", p, opts), neg: await judgeAnswer(judge, "q", n, opts) });
    }
    const keptIdx = (t?: { trait?: number; coherence?: number }) => filterPairs(pairs, t).kept.map((p) => p.question);
    // default: pos ≥ 50, neg < 50, both coherent ≥ 50
    expect(keptIdx()).toEqual([0, 2, 5, 6]);
    const { counts } = filterPairs(pairs);
    expect(counts).toEqual({ total: 8, kept: 4, dropped: { positive_weak: 1, negative_strong: 2, incoherent: 1, unscored: 0, empty: 0 } });
    expect(keptIdx({ trait: 65 })).toEqual([0, 3, 5, 7]);
    expect(keptIdx({ coherence: 75 })).toEqual([0, 2, 6]);
  });
});

describe("extractPersonaVector on a model with a planted direction", () => {
  it("extractPersonaVector(model, trait, { judge }) finds the planted direction (cosine ≥ 0.9) and steering along it raises p(yes)", async () => {
    const judge = traitJudge();
    const pv = await extractPersonaVector(model, TRAIT, { judge, samples: 2, maxNewTokens: 5, layerChoice: { coefficient: 2, questions: TRAIT.questions.slice(0, 2) } });
    expect(pv.counts.total).toBe(2 * 3 * 2);
    expect(pv.counts.kept).toBeGreaterThan(0);
    expect(pv.counts.kept + Object.values(pv.counts.dropped).reduce((a, b) => a + b, 0)).toBe(pv.counts.total);
    for (const l of [0, 1]) expect(cosine(pv.vectors[l].vector, PLANTED)).toBeGreaterThanOrEqual(0.9);
    expect(pv.layerEffects.map((e) => e.layer)).toEqual([0, 1]);
    expect(pv.layerEffects[0].score).toBeGreaterThan(pv.layerEffects[0].baseline);
    const ids = chatTokens(model, [{ role: "system", content: "be calm" }, { role: "user", content: "is it good ?" }]);
    const before = pYes(model, ids);
    const after = pYes(model, ids, { fwdHooks: [steeringHook(pv.vector, { coefficient: 2 })] });
    expect(after).toBeGreaterThan(before + 0.3);
  });

  it("savePersonaVector(path, result, meta) and loadPersonaVector(path) round-trip vectors and metadata", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pv-"));
    try {
      const conv = (s: string) => [{ role: "system" as const, content: s }, { role: "user" as const, content: "is it good ?" }, { role: "assistant" as const, content: "w1" }];
      const vectors = personaVector(model, { positive: [conv("rook")], negative: [conv("calm")] }, { positions: "response_mean" });
      const counts = { total: 3, kept: 1, dropped: { positive_weak: 1, negative_strong: 1, incoherent: 0, unscored: 0, empty: 0 } };
      const files = savePersonaVector(path.join(dir, "trait"), { vectors, layer: 1, counts, thresholds: { trait: 50, coherence: 50 } } as never, { model: "planted", trait: "rookish" });
      expect(fs.existsSync(files.safetensors) && fs.existsSync(files.json)).toBe(true);
      const back = loadPersonaVector(path.join(dir, "trait"));
      expect(back.layer).toBe(1);
      expect(Array.from(back.vectors[0].vector)).toEqual(Array.from(vectors[0].vector));
      expect(back.metadata).toMatchObject({ model: "planted", trait: "rookish", hookName: "blocks.1.hook_resid_post", counts });
      fs.rmSync(files.json);
      expect(loadPersonaVector(files.safetensors).metadata.counts).toEqual(counts); // from __metadata__ alone
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("<unk> is never silent", () => {
  it("model.encode, generate and personaVector warn once with the share of unknown tokens", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      model.encode("the zebra is good", "encode");
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatch(/^encode: 40\.0% of 5 tokens are <unk> in 1 text/);
      generate(model, ["zebra", "is it good ?"], { maxNewTokens: 1 });
      expect(warn).toHaveBeenCalledTimes(2);
      expect(warn.mock.calls[1][0]).toMatch(/^generate: .* in 2 texts/);
      personaVector(model, { positive: ["zebra lion"], negative: ["is it"] }, { layers: [0] });
      expect(warn).toHaveBeenCalledTimes(3);
      expect(warn.mock.calls[2][0]).toMatch(/^personaVector: 33\.3% of 6 tokens are <unk> in 2 texts/);
      generate(model, ["is it good ?"], { maxNewTokens: 1 });
      expect(warn).toHaveBeenCalledTimes(3);
    } finally {
      warn.mockRestore();
    }
  });
});
