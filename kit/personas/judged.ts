/**
 * Judged samples: answers to chat prompts scored by a judge (any `ChatClient`: an API model, a served model, or the
 * model itself through `kitClient`), and the pair filter of Chen et al. 2025 — keep a positive/negative pair when the
 * positive answer shows the trait (score ≥ 50), the negative does not (< 50), and both are coherent (≥ 50).
 */
import type { ChatClient } from "../api/types";
import { describeValue as describe } from "../describe";
import { coherenceScore, fillJudgePrompt, judgeScore, type JudgeOptions } from "../evals/judge";

/** One judged answer. Null scores mean the judge gave no number (see `judgeScore`'s `reason`). */
export interface JudgedAnswer {
  question: string;
  response: string;
  trait: number | null;
  coherence: number | null;
}

/** One contrastive pair: the same question and sample index under the positive and the negative system prompt. */
export interface JudgedPair {
  instruction: number;
  question: number;
  sample: number;
  pos: JudgedAnswer;
  neg: JudgedAnswer;
}

export interface PairThresholds {
  /** The positive answer's trait score must be ≥ this, the negative's < this (default 50). */
  trait?: number;
  /** Both answers' coherence must be ≥ this (default 50). */
  coherence?: number;
}

/** Why a pair was left out, or "kept". */
export type PairVerdict = "kept" | "positive_weak" | "negative_strong" | "incoherent" | "unscored" | "empty";

/** The verdict on one pair under the thresholds (the first failing rule, in the order listed in `PairVerdict`). */
export function pairVerdict(pair: JudgedPair, { trait = 50, coherence = 50 }: PairThresholds = {}): PairVerdict {
  const { pos, neg } = pair;
  if (pos.response.trim() === "" || neg.response.trim() === "") return "empty";
  if (pos.trait === null || neg.trait === null || pos.coherence === null || neg.coherence === null) return "unscored";
  if (pos.coherence < coherence || neg.coherence < coherence) return "incoherent";
  if (pos.trait < trait) return "positive_weak";
  if (neg.trait >= trait) return "negative_strong";
  return "kept";
}

export interface FilterCounts {
  total: number;
  kept: number;
  /** Pairs left out, by the first rule they failed. */
  dropped: Record<Exclude<PairVerdict, "kept">, number>;
}

/** The pairs the thresholds keep, and counts of every verdict. */
export function filterPairs(pairs: readonly JudgedPair[], thresholds: PairThresholds = {}): { kept: JudgedPair[]; counts: FilterCounts } {
  if (!Array.isArray(pairs)) throw new TypeError(`filterPairs: pairs must be an array of judged pairs, received ${describe(pairs)}`);
  const dropped = { positive_weak: 0, negative_strong: 0, incoherent: 0, unscored: 0, empty: 0 };
  const kept: JudgedPair[] = [];
  for (const p of pairs) {
    const v = pairVerdict(p, thresholds);
    if (v === "kept") kept.push(p);
    else dropped[v]++;
  }
  return { kept, counts: { total: pairs.length, kept: kept.length, dropped } };
}

export interface JudgeAnswerOptions {
  /** The trait judge template with `{question}` and `{answer}` (a trait file's `eval_prompt`). */
  evalPrompt: string;
  /** Also score coherence (default true). */
  coherence?: boolean;
  /** Passed to `judgeScore`. */
  judgeOptions?: JudgeOptions;
}

/** Trait (and coherence) scores of one answer. Empty answers are not sent to the judge (scores null). */
export async function judgeAnswer(judge: ChatClient, question: string, response: string, { evalPrompt, coherence = true, judgeOptions = {} }: JudgeAnswerOptions): Promise<JudgedAnswer> {
  if (response.trim() === "") return { question, response, trait: null, coherence: null };
  const t = await judgeScore(judge, fillJudgePrompt(evalPrompt, { question, answer: response }), judgeOptions);
  const c = coherence ? await coherenceScore(judge, { question, answer: response }, judgeOptions) : null;
  return { question, response, trait: t.score, coherence: c ? c.score : null };
}
