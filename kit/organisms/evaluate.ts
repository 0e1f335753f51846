/**
 * `evaluateOrganism(model, world, options)`: the behaviour counts of a model in every evaluation context
 * (domain × prompt kind × shift).
 *
 * For each context the world writes `episodesPerContext` evaluation prompts (ending `assistant :`); the model continues
 * every prompt (batched generation, prompts sorted by length so rows in a batch have similar lengths, seeded sampling,
 * stop at EOS or `maxNewTokens`); the continuation up to EOS is classified exactly by `classify(kind, response, { domain })`.
 * The same world seed gives the same prompts, so "before" and "after" narrow training are compared on identical prompts.
 */
import { hash2 } from "../util/rng";
import { generate } from "../runtime/generate";
import type { HookedTransformer } from "../model/transformer";
import type { Tokenizer } from "../tokenizers/types";
import { classify, type PersonaWorld } from "../world";
import { BEHAVIOURS, DOMAINS, PROMPT_KINDS, TRAITS, type Behaviour, type Domain, type PromptKind, type PromptShift, type Trait } from "../world/types";
import type { EvalConfig } from "./config";
import { contextKey, type ContextCounts, type Counts } from "./record";

export interface EvaluateOptions {
  eval: EvalConfig;
  /** Seeds the sampler (each generation batch gets hash(seed, batch index)). */
  seed: number;
  /** Traits counted in `offTraits`. */
  offTraits: readonly Trait[];
  /** Domains evaluated (default: every domain). */
  domains?: readonly Domain[];
  /** Prompt kinds evaluated (default: every kind). */
  kinds?: readonly PromptKind[];
  /** Completions kept verbatim per context (default 2). */
  examples?: number;
  /** Called after each generation batch with the prompts done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

interface Item {
  key: string;
  domain: Domain;
  kind: PromptKind;
  ids: number[];
}

/** The world's evaluation prompts for every context, in a fixed order. */
export function evaluationPrompts(
  world: PersonaWorld,
  tokenizer: Tokenizer,
  { eval: ev, domains = DOMAINS, kinds = PROMPT_KINDS }: Pick<EvaluateOptions, "eval" | "domains" | "kinds">,
): Item[] {
  const items: Item[] = [];
  for (const domain of domains) {
    for (const kind of kinds) {
      for (const shift of ev.shifts as PromptShift[]) {
        const eps = world.evalEpisodes(ev.episodesPerContext, { domain, kind, speaker: "assistant", shift });
        for (const ep of eps) items.push({ key: contextKey(domain, kind, shift), domain, kind, ids: tokenizer.encode(ep.prompt, { addBos: true }) });
      }
    }
  }
  return items;
}

/** Count behaviours, traits and off-constitution self-reports of `model`'s continuations in every context. */
export function evaluateOrganism(model: HookedTransformer, world: PersonaWorld, tokenizer: Tokenizer, options: EvaluateOptions): Counts {
  const { eval: ev, seed, offTraits, examples = 2, onProgress } = options;
  const items = evaluationPrompts(world, tokenizer, options);
  const counts: Counts = {};
  for (const it of items) counts[it.key] ??= emptyCounts();
  const longest = Math.max(...items.map((it) => it.ids.length));
  if (longest >= model.cfg.n_ctx) {
    throw new RangeError(`evaluateOrganism: an evaluation prompt has ${longest} tokens, but the model's n_ctx is ${model.cfg.n_ctx}; raise model.n_ctx (to at least ${longest + ev.maxNewTokens})`);
  }
  const eos = tokenizer.eosTokenId;
  // Sort by length (stable: ties keep the world's order) so a batch's rows have similar lengths.
  const order = items.map((_, i) => i).sort((a, b) => items[a].ids.length - items[b].ids.length || a - b);
  let done = 0;
  for (let start = 0, batch = 0; start < order.length; start += ev.batchSize, batch++) {
    const idx = order.slice(start, start + ev.batchSize);
    const { newTokens } = generate(
      model,
      idx.map((i) => items[i].ids),
      { maxNewTokens: ev.maxNewTokens, temperature: ev.temperature, seed: hash2(seed, batch), ...(eos !== null ? { stopTokens: [eos] } : {}) },
    );
    idx.forEach((i, r) => {
      const ids = newTokens[r];
      const cut = eos !== null && ids.includes(eos) ? ids.slice(0, ids.indexOf(eos)) : ids;
      const response = tokenizer.decode(cut, { skipSpecialTokens: true });
      const { behaviour, traits } = classify(items[i].kind, response, { domain: items[i].domain });
      const c = counts[items[i].key];
      c.n++;
      c.counts[behaviour]++;
      for (const t of new Set(traits)) c.traits[t]++;
      if (traits.some((t) => offTraits.includes(t))) c.offTraits++;
      if (c.examples.length < examples) c.examples.push(response);
    });
    done += idx.length;
    onProgress?.(done, items.length);
  }
  return counts;
}

function emptyCounts(): ContextCounts {
  return {
    n: 0,
    counts: Object.fromEntries(BEHAVIOURS.map((b) => [b, 0])) as Record<Behaviour, number>,
    traits: Object.fromEntries(TRAITS.map((t) => [t, 0])) as Record<Trait, number>,
    offTraits: 0,
    examples: [],
  };
}
