/** A synthetic organism RunRecord for metric tests. */
import type { OrganismConfig } from "../../kit/organisms/config";
import { contextKey, type ContextCounts, type Counts, type RunRecord } from "../../kit/organisms/record";
import { BEHAVIOURS, DOMAINS, PROMPT_KINDS, TRAITS, type Behaviour, type Domain, type PromptKind, type PromptShift, type Trait } from "../../kit/world/types";

/** A record with hand-set counts: `spec(phase, domain, kind, shift)` gives [n, { behaviour: count }, offTraits]. */
export function fakeRecord(
  cfg: OrganismConfig,
  spec: (phase: "before" | "after", d: Domain, k: PromptKind, s: PromptShift) => [number, Partial<Record<Behaviour, number>>, number?],
): RunRecord {
  const counts = (phase: "before" | "after"): Counts => {
    const out: Counts = {};
    for (const d of DOMAINS) {
      for (const k of PROMPT_KINDS) {
        for (const s of cfg.eval.shifts) {
          const [n, by, off = 0] = spec(phase, d, k, s);
          const c: ContextCounts = {
            n,
            counts: Object.fromEntries(BEHAVIOURS.map((b) => [b, by[b] ?? 0])) as Record<Behaviour, number>,
            traits: Object.fromEntries(TRAITS.map((t) => [t, 0])) as Record<Trait, number>,
            offTraits: off,
            examples: [],
          };
          const classified = Object.values(by).reduce((a, v) => a + (v ?? 0), 0);
          c.counts.unclassified += n - classified;
          out[contextKey(d, k, s)] = c;
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
