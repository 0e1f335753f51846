/**
 * Tests for kit/organisms/depth.ts and control.ts: each named persona arm moves one knob from `shallow`; the persona
 * stage's tokens stay within 5% of shallow's for every 1× arm (and within 5% of 3× for amount and deep) on pilot seeds;
 * personaStageTokens counts exactly the loss targets of the stage's batches; benignControl keeps the persona stage
 * (same hash, so one cached persona model) and changes only the narrow behaviour; validation errors.
 */
import { describe, expect, it } from "vitest";
import { organismConfig } from "../kit/organisms/config";
import { benignControl } from "../kit/organisms/control";
import { AMOUNT_FACTOR, PERSONA_ARMS, PERSONA_KNOBS, personaArm, personaStageTokens, type PersonaArm } from "../kit/organisms/depth";
import { organismHashes, personaSequences } from "../kit/organisms/pipeline";

const tokensOf = (arm: PersonaArm, seed: number) => personaStageTokens(organismConfig({ seed, persona: personaArm(arm) }));

describe("personaArm", () => {
  it("personaArm(name) moves exactly the knobs PERSONA_KNOBS names away from shallow", () => {
    const shallow = personaArm("shallow");
    const fields = ["domains", "constitution", "selfDescription"] as const;
    const moved = (arm: PersonaArm) => fields.filter((f) => JSON.stringify(personaArm(arm)[f]) !== JSON.stringify(shallow[f]));
    expect(moved("breadth")).toEqual(["domains"]);
    expect(moved("amount")).toEqual([]);
    expect(personaArm("amount").steps).toBe(AMOUNT_FACTOR * shallow.steps);
    expect(moved("selfModel")).toEqual(["selfDescription"]);
    expect(moved("constitution")).toEqual(["constitution", "selfDescription"]);
    expect(moved("constitutionBreadth")).toEqual(["domains", "constitution", "selfDescription"]);
    expect(shallow).toEqual({ domains: ["chat", "coding"], steps: 60, episodes: 600, constitution: false, selfDescription: false });
    for (const arm of PERSONA_ARMS) expect(() => organismConfig({ persona: personaArm(arm) })).not.toThrow();
  });

  it("personaArm(name) holds persona-stage tokens within 5% of shallow (1×) or of 3× shallow (amount, deep) on pilot seeds", () => {
    for (const seed of [100, 101]) {
      const base = tokensOf("shallow", seed);
      for (const arm of PERSONA_ARMS) {
        const target = base * (PERSONA_KNOBS[arm].amount ? AMOUNT_FACTOR : 1);
        expect(Math.abs(tokensOf(arm, seed) / target - 1), `${arm}, seed ${seed}`).toBeLessThan(0.05);
      }
    }
  });

  it("personaArm(name, { steps }) scales every arm from the 1× steps", () => {
    expect(personaArm("shallow", { steps: 40 }).steps).toBe(40);
    expect(personaArm("amount", { steps: 40 }).steps).toBe(120);
    expect(personaArm("selfModel", { steps: 40, episodesPerStep: 5 })).toMatchObject({ steps: 43, episodes: 215 });
  });

  it("personaArm(name, options) refuses unknown arms and bad sizes", () => {
    expect(() => personaArm("medium" as PersonaArm)).toThrow(/personaArm: name must be one of shallow, breadth, .*received "medium"/);
    expect(() => personaArm("toString" as PersonaArm)).toThrow(RangeError);
    expect(() => personaArm("shallow", { steps: 0 })).toThrow(/options.steps must be a positive integer, received 0/);
    expect(() => personaArm("shallow", { episodesPerStep: -1 })).toThrow(/options.episodesPerStep must be a positive number, received -1/);
  });
});

describe("personaStageTokens", () => {
  it("personaStageTokens(cfg) over exactly one epoch is the sum of (length − 1) over the stage's sequences", () => {
    // 30 persona episodes + round(30 · 0.25 / 0.75) = 10 replay episodes = 40 sequences = 5 batches of 8.
    const cfg = organismConfig({ seed: 100, persona: { ...personaArm("constitution"), episodes: 30, steps: 5, batchSize: 8 } });
    const seqs = personaSequences(cfg);
    expect(seqs.length).toBe(40);
    expect(personaStageTokens(cfg)).toBe(seqs.reduce((a, s) => a + s.length - 1, 0));
    expect(personaStageTokens(organismConfig({ ...cfg, persona: { ...cfg.persona, steps: 10 } }))).toBe(2 * personaStageTokens(cfg));
  });
});

describe("benignControl", () => {
  it("benignControl(cfg) trains solves_task for the same steps from the same persona stage", () => {
    const treated = organismConfig({ seed: 100, persona: personaArm("breadth"), narrow: { kind: "task" } });
    const control = benignControl(treated);
    expect(control.narrow).toEqual({ ...treated.narrow, kind: undefined, behaviour: "solves_task" });
    expect({ ...control, narrow: null }).toEqual({ ...treated, narrow: null });
    const [h, c] = [organismHashes(treated), organismHashes(control)];
    expect(c.persona).toBe(h.persona);
    expect(c.evalBefore).toBe(h.evalBefore);
    expect(c.narrow).not.toBe(h.narrow);
  });

  it("benignControl(cfg, { behaviour }) refuses harmful behaviours, mixtures and runs without narrow training", () => {
    const cfg = organismConfig({ seed: 100 });
    expect(() => benignControl(cfg, { behaviour: "games_grader" })).toThrow(/benignControl: options.behaviour must be a benign narrow behaviour \(.*solves_task.*\), received "games_grader"/);
    expect(() => benignControl(organismConfig({ narrow: null }))).toThrow(/benignControl: cfg must have a narrow stage/);
    const mix = organismConfig({ narrow: { mixture: [{ behaviour: "games_grader", domain: "coding", weight: 1 }] } });
    expect(() => benignControl(mix)).toThrow(/received a mixture/);
    expect(benignControl(cfg, { behaviour: "helpful" }).narrow?.behaviour).toBe("helpful");
  });
});
