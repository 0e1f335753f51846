/**
 * Steering evaluation (Chen et al. 2025, Fig. 3): generate answers to questions with `coefficient · v` added at one
 * layer, judge each answer's trait expression (and coherence), and report the mean score per coefficient with a 95%
 * interval (mean ± 1.96·sd/√n over the scored answers).
 *
 *   steeringEvaluation(model, trait.questions, pv[layer], { coefficients: [0, 1, 2], judge, evalPrompt: trait.eval_prompt });
 */
import type { ChatClient } from "../api/types";
import { describeValue as describe } from "../describe";
import { promptRows } from "../generate/decode";
import { isChatTurns, type ChatTurn } from "../model/chat-slot";
import type { HookedTransformer } from "../model/transformer";
import { checkLayers, resolveDirection, type Direction } from "../vectors/persona";
import { steeredCompletions, steeringHook, type SteerPositions } from "../vectors/steer";
import { meanCI } from "../vectors/monitor";
import { judgeAnswer, type JudgedAnswer } from "./judged";
import type { JudgeOptions } from "../evals/judge";

export interface SteeringEvaluationOptions {
  coefficients: readonly number[];
  judge: ChatClient;
  /** Trait judge template with `{question}` and `{answer}`. */
  evalPrompt: string;
  /** Block; default the `LayerVector`'s own layer. */
  layer?: number;
  /** Default "resid_post". */
  hook?: string;
  /** Where to steer (default "response": every generated token, as in Chen et al.). */
  positions?: SteerPositions;
  /** A system prompt before each question (default none). */
  system?: string;
  /** Answers per question and coefficient (default 1). */
  samples?: number;
  /** Default 32. */
  maxNewTokens?: number;
  /** Default 1. */
  temperature?: number;
  /** Same for every coefficient (paired comparison). Default 0. */
  seed?: number;
  /** Also judge coherence (default true). */
  coherence?: boolean;
  judgeOptions?: JudgeOptions;
}

/** A mean score with its 95% interval over the answers the judge scored. */
export interface ScoreSummary {
  mean: number;
  lower: number;
  upper: number;
  n: number;
}

export interface SteeringEvalPoint {
  coefficient: number;
  trait: ScoreSummary;
  coherence: ScoreSummary | null;
  answers: JudgedAnswer[];
}

export function summarize(scores: readonly (number | null)[]): ScoreSummary {
  const xs = scores.filter((s): s is number => s !== null);
  if (xs.length === 0) return { mean: NaN, lower: NaN, upper: NaN, n: 0 };
  const { mean, lower, upper, n } = meanCI(xs);
  return { mean, lower, upper, n };
}

/** Judged trait (and coherence) score of steered answers at each coefficient. */
export async function steeringEvaluation(
  model: HookedTransformer,
  questions: readonly (string | readonly ChatTurn[])[],
  vector: Direction,
  options: SteeringEvaluationOptions,
): Promise<SteeringEvalPoint[]> {
  const fn = "steeringEvaluation";
  if (options === null || typeof options !== "object") throw new TypeError(`${fn}: options must be { coefficients, judge, evalPrompt, … }, received ${describe(options)}`);
  const { coefficients, judge, evalPrompt, hook = "resid_post", positions = "response", system, samples = 1, maxNewTokens = 32, temperature = 1, seed = 0, coherence = true, judgeOptions } = options;
  if (!Array.isArray(questions) || questions.length === 0) throw new TypeError(`${fn}: questions must be a non-empty array of strings or chat messages, received ${describe(questions)}`);
  if (!Array.isArray(coefficients) || coefficients.length === 0 || coefficients.some((c) => !Number.isFinite(c))) throw new TypeError(`${fn}: options.coefficients must be a non-empty array of finite numbers, received ${describe(coefficients)}`);
  if (!judge || typeof judge.chat !== "function") throw new TypeError(`${fn}: options.judge must be a ChatClient, received ${describe(judge)}`);
  if (typeof evalPrompt !== "string" || !evalPrompt.includes("{answer}")) throw new TypeError(`${fn}: options.evalPrompt must be a judge template with {question} and {answer}, received ${describe(evalPrompt)}`);
  if (!(Number.isInteger(samples) && samples >= 1)) throw new RangeError(`${fn}: options.samples must be an integer ≥ 1, received ${describe(samples)}`);
  const { layer, values } = resolveDirection(fn, vector, options.layer);
  checkLayers(fn, model, [layer]);
  const convs = questions.map((q) => (isChatTurns(q) ? q : [...(system ? [{ role: "system" as const, content: system }] : []), { role: "user" as const, content: q as string }]));
  const texts = convs.map((c) => c[c.length - 1].content);
  const rows = convs.flatMap((c) => Array.from({ length: samples }, () => promptRows(model, c, undefined, fn)[0]));
  const out: SteeringEvalPoint[] = [];
  for (const coefficient of coefficients) {
    const byLength = positions === "prompt" || positions === "response";
    const completions = steeredCompletions(model, rows, (promptLength) => (coefficient === 0 ? null : steeringHook(values, { layer, hook, coefficient, positions, promptLength })), { maxNewTokens, temperature, seed, byLength });
    const answers: JudgedAnswer[] = [];
    for (let i = 0; i < completions.length; i++) answers.push(await judgeAnswer(judge, texts[Math.floor(i / samples)], completions[i], { evalPrompt, coherence, judgeOptions }));
    out.push({ coefficient, trait: summarize(answers.map((a) => a.trait)), coherence: coherence ? summarize(answers.map((a) => a.coherence)) : null, answers });
  }
  return out;
}
