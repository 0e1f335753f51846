/**
 * CAA A/B evaluation (Rimsky et al. 2024, nrimsky/CAA): each multiple-choice question is put to the model in its chat
 * template with the answer opened, `… (`, and the probability of the behaviour-matching letter is read from the logits
 * at that position. `pMatching` is the softmax over the two letters' logits (CAA's normalised score); `letterMass` is
 * how much of the full next-token distribution the two letters hold (low mass: the model is not answering A/B).
 *
 *   const items = loadCaaAB("caa/test/sycophancy/test_dataset_ab.json");
 *   abScores(model, items);                                             // unsteered
 *   abScores(model, items, { steer: { vector: cv[13], coefficient: 2 } }); // CAA: steered after the instruction
 */
import type { CaaItem } from "../datasets/caa";
import { describeValue as describe } from "../describe";
import { chatTokens } from "../chat/template";
import type { HookedTransformer } from "../model/transformer";
import type { FwdHook } from "../model/hooks";
import { warnUnknownTokens } from "../tokenizers/unknown";
import type { Direction } from "../vectors/persona";
import { steeringHook, type SteerPositions } from "../vectors/steer";

/** Token ids of one A/B question: the chat prompt, the opening "(", and each option letter's token. */
export interface AbTokens {
  /** Chat prompt (with the generation prompt) followed by "(": the last position predicts the letter. */
  prompt: number[];
  /** Length of the chat prompt alone: "response" steering starts here (after the instruction). */
  promptLength: number;
  matching: number;
  notMatching: number;
}

export interface AbScore {
  /** softmax([logit(matching), logit(notMatching)])[0]. */
  pMatching: number;
  logitMatching: number;
  logitNotMatching: number;
  /** p(matching) + p(notMatching) under the full softmax. */
  letterMass: number;
}

export interface AbOptions {
  /** A system prompt before each question (default none). */
  system?: string;
  /** Steering during scoring: `coefficient · vector` at its layer, after the instruction by default. */
  steer?: { vector: Direction; coefficient: number; layer?: number; hook?: string; positions?: SteerPositions };
  /** Other forward hooks (e.g. `ablationHook`). */
  fwdHooks?: readonly FwdHook[];
}

/** The token a letter gets right after "(" in this tokenizer (encode "(" and "(A" and take what differs). */
function letterToken(model: HookedTransformer, letter: string, where: string): number {
  const tok = model.tokenizer!;
  const open = tok.encode("(", { addBos: false });
  const withLetter = tok.encode(`(${letter}`, { addBos: false });
  const same = open.every((id, i) => withLetter[i] === id) && withLetter.length === open.length + 1;
  if (!same) throw new RangeError(`${where}: the tokenizer does not write "(${letter}" as "(" + one letter token (got ${withLetter.length} tokens vs ${open.length}); A/B scoring needs single-token letters`);
  return withLetter[withLetter.length - 1];
}

/** Token ids for one item (see `AbTokens`). */
export function abTokens(model: HookedTransformer, item: CaaItem, { system }: { system?: string } = {}): AbTokens {
  const fn = "abTokens";
  if (!model.tokenizer) throw new Error(`${fn}: the model has no tokenizer`);
  if (!item || typeof item.question !== "string") throw new TypeError(`${fn}: item must be a CAA A/B item { question, answer_matching_behavior, answer_not_matching_behavior }, received ${describe(item)}`);
  const chat = chatTokens(model, [...(system ? [{ role: "system" as const, content: system }] : []), { role: "user", content: item.question }], { addGenerationPrompt: true });
  const open = model.tokenizer.encode("(", { addBos: false });
  const letter = (a: string) => letterToken(model, a.slice(1, -1), fn);
  return { prompt: [...chat, ...open], promptLength: chat.length, matching: letter(item.answer_matching_behavior), notMatching: letter(item.answer_not_matching_behavior) };
}

/** The A/B score from one position's logits. */
export function abScoreFromLogits(logits: ArrayLike<number>, matching: number, notMatching: number): AbScore {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i] - max);
  const a = logits[matching];
  const b = logits[notMatching];
  const m = Math.max(a, b);
  const pMatching = Math.exp(a - m) / (Math.exp(a - m) + Math.exp(b - m));
  return { pMatching, logitMatching: a, logitNotMatching: b, letterMass: (Math.exp(a - max) + Math.exp(b - max)) / z };
}

/** Score every item (prompts of equal length share a forward pass). */
export function abScores(model: HookedTransformer, items: readonly CaaItem[], options: AbOptions = {}): AbScore[] {
  const fn = "abScores";
  if (!Array.isArray(items) || items.length === 0) throw new TypeError(`${fn}: items must be a non-empty array of CAA A/B items (loadCaaAB), received ${describe(items)}`);
  const toks = items.map((it) => abTokens(model, it, options));
  warnUnknownTokens(fn, model.tokenizer, toks.map((t) => t.prompt), items.map((it) => it.question));
  const groups = new Map<string, number[]>();
  toks.forEach((t, i) => {
    const key = `${t.prompt.length}:${t.promptLength}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const out = new Array<AbScore>(items.length);
  const V = model.cfg.d_vocab;
  for (const idx of groups.values()) {
    const { promptLength, prompt } = toks[idx[0]];
    const s = options.steer;
    const hooks: FwdHook[] = [...(options.fwdHooks ?? [])];
    if (s) hooks.push(steeringHook(s.vector, { coefficient: s.coefficient, layer: s.layer, hook: s.hook, positions: s.positions ?? "response", promptLength }));
    const { logits, cache } = model.runWithCache(idx.map((i) => toks[i].prompt), { namesFilter: [], fwdHooks: hooks });
    try {
      const data = logits.dataSync() as Float32Array;
      const T = prompt.length;
      idx.forEach((i, b) => {
        const off = (b * T + T - 1) * V;
        out[i] = abScoreFromLogits(data.subarray(off, off + V), toks[i].matching, toks[i].notMatching);
      });
    } finally {
      logits.dispose();
      cache.dispose();
    }
  }
  return out;
}

/** Mean of `pMatching` over scores. */
export function meanMatching(scores: readonly AbScore[]): number {
  return scores.reduce((s, x) => s + x.pMatching, 0) / scores.length;
}
