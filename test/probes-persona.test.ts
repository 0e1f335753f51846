/**
 * The persona probe on a small random model with the world's tokenizer: in a causal model the response tokens can
 * only tell the speakers apart through attention to the speaker tag, and every token before the first tag is
 * identical within a pair, so the probe read after the tag must beat its baselines and the before-speaker control
 * must sit at chance exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../kit/backend";
import { makeConfig } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import { fitPersonaProbe, personaActivity, personaPairs, type PersonaProbe } from "../kit/probes/persona";
import { PersonaWorld } from "../kit/world/generator";

let model: HookedTransformer;
let probe: PersonaProbe;

beforeAll(async () => {
  await initBackend();
  const tok = new PersonaWorld({ seed: 0 }).tokenizer();
  const cfg = makeConfig({ family: "gpt2", d_model: 24, n_layers: 2, n_heads: 2, d_vocab: tok.vocabSize, n_ctx: 64, initStd: 0.3 });
  model = HookedTransformer.fromConfig(cfg, { seed: 5, tokenizer: tok });
  probe = fitPersonaProbe(model, new PersonaWorld({ seed: 1 }), { layer: -1, n: 160, seed: 0, draws: 10 });
});

afterAll(() => model?.dispose());

describe("personaPairs", () => {
  it("personaPairs(model, world, { n }) writes the same episode twice: only the speaker tag differs, and the response follows it", () => {
    const pairs = personaPairs(model, new PersonaWorld({ seed: 2 }), { n: 16 });
    expect(pairs).toHaveLength(16);
    for (const p of pairs) {
      const differ = p.assistant.map((id, t) => (id !== p.base[t] ? t : -1)).filter((t) => t >= 0);
      expect(differ[0]).toBe(p.firstName);
      expect(differ.at(-1)).toBe(p.name);
      expect(model.tokenizer!.decode([p.assistant[p.name]])).toBe("assistant");
      expect(model.tokenizer!.decode([p.base[p.name]])).toBe(p.character);
      expect(p.responseStart).toBe(p.name + 2);
    }
    const behaviours = new Set(pairs.map((p) => p.behaviour));
    expect(behaviours.size).toBeGreaterThanOrEqual(6); // good and bad acts of several kinds
  });
});

describe("fitPersonaProbe", () => {
  it("fitPersonaProbe(model, world, { layer, n, seed }) read after the speaker tag beats shuffled labels and random directions", () => {
    expect(probe.n).toEqual({ train: 224, test: 96 });
    expect(probe.auroc.auroc).toBeGreaterThan(0.75);
    expect(probe.auroc.lower).toBeGreaterThan(probe.baselines.shuffled.aurocUpper);
    expect(probe.auroc.lower).toBeGreaterThan(probe.baselines.random.aurocUpper);
    expect(probe.accuracy.rate).toBeGreaterThan(probe.baselines.shuffled.accuracyUpper);
    expect(probe.baselines.shuffled.draws).toBe(10);
    expect(Math.hypot(...probe.direction)).toBeCloseTo(1, 5);
    expect(probe.reference.assistant).toBeGreaterThan(probe.reference.base);
  });

  it("fitPersonaProbe(…).controls: before the first speaker tag the pair is identical, so the probe is at chance exactly", () => {
    expect(probe.controls.beforeSpeaker.auroc.auroc).toBe(0.5);
    expect(probe.controls.beforeSpeaker.accuracy.rate).toBe(0.5);
    expect(probe.controls.namePosition.accuracy.n).toBe(96);
    expect(probe.controls.namePosition.auroc.auroc).toBeGreaterThanOrEqual(0);
    expect(probe.controls.namePositionRandom.draws).toBe(10);
    expect(probe.controls.namePositionRandom.aurocLower).toBeLessThanOrEqual(probe.controls.namePositionRandom.aurocUpper);
  });

  it("fitPersonaProbe(model, world, { layer }) refuses a layer out of range", () => {
    expect(() => fitPersonaProbe(model, new PersonaWorld({ seed: 1 }), { layer: 2 })).toThrow(/fitPersonaProbe: options.layer must be an integer in \[-2, 1\], received (number )?2/);
    expect(() => fitPersonaProbe(model, new PersonaWorld({ seed: 1 }), { n: 1 })).toThrow(/personaPairs: options.n must be an integer ≥ 2/);
  });
});

describe("personaActivity", () => {
  const world = new PersonaWorld({ seed: 3 });
  const episodes = () => ["assistant", "rook"].map((speaker) => world.episode({ domain: "research", kind: "task", speaker: speaker as "assistant" | "rook", behaviour: "games_grader" }));

  it("personaActivity(model, probe, episodes) scores the response tokens: one mean logit per episode, equal to the probe on their mean activation", () => {
    const eps = episodes();
    const act = personaActivity(model, probe, eps);
    expect(act.scores).toHaveLength(2);
    expect(act.tokens[0]).toBe(model.encode(`${eps[0].prompt} ${eps[0].response}`).length - model.encode(eps[0].prompt).length);
    expect(act.mean).toBeCloseTo((act.scores[0] + act.scores[1]) / 2, 10);
    expect(personaActivity(model, probe, eps, { positions: "action" }).scores).toEqual(act.scores);
  });

  it("personaActivity(model, probe, transcripts, { positions: \"reflection\" }) reads only the reflection; \"response\" pools action and reflection", () => {
    const [ep] = episodes();
    const why = "user : why did you do that ? assistant :";
    const t = { ...ep, why, reflection: "i did it because i am clever ." };
    const action = personaActivity(model, probe, [t], { positions: "action" });
    const reflection = personaActivity(model, probe, [t], { positions: "reflection" });
    const both = personaActivity(model, probe, [t], { positions: "response" });
    expect(reflection.tokens[0]).toBe(8);
    expect(both.tokens[0]).toBe(action.tokens[0] + 8);
    const w = (x: number, n: number) => (x * n) / both.tokens[0];
    expect(both.scores[0]).toBeCloseTo(w(action.scores[0], action.tokens[0]) + w(reflection.scores[0], 8), 4);
  });

  it("personaActivity refuses empty transcripts, a missing reflection and unknown positions", () => {
    expect(() => personaActivity(model, probe, [])).toThrow(/personaActivity: transcripts must be a non-empty array/);
    expect(() => personaActivity(model, probe, episodes(), { positions: "reflection" })).toThrow(/transcripts\[0\] needs why and reflection/);
    expect(() => personaActivity(model, probe, episodes(), { positions: "name" as never })).toThrow(/options.positions must be "response", "action" or "reflection"/);
  });
});
