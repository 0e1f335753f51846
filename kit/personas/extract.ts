/**
 * The persona-vector pipeline of Chen et al. 2025 ("Persona Vectors", arXiv 2507.21509; safety-research/persona_vectors)
 * on any kit model:
 * 1. for every positive/negative system-prompt pair of a trait file × question, sample `samples` answers under each;
 * 2. judge each answer's trait expression and coherence 0–100 (`judge`: any ChatClient);
 * 3. keep the pairs whose positive answer shows the trait (≥ 50), negative does not (< 50), both coherent (≥ 50);
 * 4. per layer, the mean activation over the kept positive answers' tokens minus that over the negative ones';
 * 5. choose the layer whose vector moves the judged trait score most when steering (`layerChoice`).
 *
 *   const trait = loadTraitFile("data/traits/ruthless.json");
 *   const pv = await extractPersonaVector(model, trait, { judge: openaiClient("gpt-4.1-mini"), samples: 2 });
 *   pv.layer; pv.vector; pv.counts;   // chosen layer, its LayerVector, filter counts
 *   savePersonaVector("out/ruthless", pv, { model: "Qwen2.5-0.5B-Instruct", trait: "ruthless" });
 */
import type { ChatClient } from "../api/types";
import { loadTraitFile, type TraitData } from "../datasets/traits";
import { describeValue as describe } from "../describe";
import type { JudgeOptions } from "../evals/judge";
import type { ChatTurn } from "../model/chat-slot";
import type { HookedTransformer } from "../model/transformer";
import { generate } from "../runtime/generate";
import { checkLayers, personaVector, type LayerVector, type PersonaVector } from "../vectors/persona";
import type { SteerPositions } from "../vectors/steer";
import { filterPairs, judgeAnswer, type FilterCounts, type JudgedPair, type PairThresholds } from "./judged";
import { steeringEvaluation } from "./steering-eval";

export interface ExtractPersonaVectorOptions {
  /** Scores trait expression and coherence (an API model, a served model, or `kitClient(model)`). */
  judge: ChatClient;
  /** Answers per system prompt × question (default 1; Chen et al. use 10). */
  samples?: number;
  /** Use the first n instruction pairs (default all). */
  instructions?: number;
  /** Questions answered for extraction (default the trait file's). */
  questions?: readonly string[];
  /** Default 32. */
  maxNewTokens?: number;
  /** Default 1. */
  temperature?: number;
  /** Default 0. */
  seed?: number;
  thresholds?: PairThresholds;
  /** Layers to compute vectors at (default all). */
  layers?: readonly number[];
  /** Default "resid_post". */
  hook?: string;
  /**
   * How to choose the layer: a block index (no steering), or steer each candidate layer at `coefficient` on
   * `questions` (default the first 3 of the trait file's) and keep the one that raises the judged trait score most.
   * Default `{ coefficient: 2 }`.
   */
  layerChoice?: number | { coefficient?: number; questions?: readonly string[]; samples?: number; positions?: SteerPositions };
  judgeOptions?: JudgeOptions;
}

export interface LayerEffect {
  layer: number;
  /** Mean judged trait score when steering at this layer. */
  score: number;
  /** Score without steering. */
  baseline: number;
}

export interface PersonaVectorResult {
  /** Vectors at every requested layer. */
  vectors: PersonaVector;
  /** The chosen layer and its vector. */
  layer: number;
  vector: LayerVector;
  counts: FilterCounts;
  thresholds: Required<PairThresholds>;
  /** Every judged pair, kept or not. */
  pairs: JudgedPair[];
  /** Steering effect per candidate layer (empty when `layerChoice` named a layer). */
  layerEffects: LayerEffect[];
}

const conv = (system: string, question: string): ChatTurn[] => [
  { role: "system", content: system },
  { role: "user", content: question },
];

/** Sample, judge and pair answers under each instruction pair (step 1–2). */
async function judgedPairs(model: HookedTransformer, trait: TraitData, questions: readonly string[], o: Required<Pick<ExtractPersonaVectorOptions, "samples" | "maxNewTokens" | "temperature" | "seed">> & ExtractPersonaVectorOptions): Promise<JudgedPair[]> {
  const pairs: JudgedPair[] = [];
  const nInstr = Math.min(o.instructions ?? trait.instruction.length, trait.instruction.length);
  for (let i = 0; i < nInstr; i++) {
    const side = (system: string) =>
      generate(model, questions.flatMap((q) => Array.from({ length: o.samples }, () => conv(system, q))), { maxNewTokens: o.maxNewTokens, temperature: o.temperature, seed: o.seed + i }).completions;
    const pos = side(trait.instruction[i].pos);
    const neg = side(trait.instruction[i].neg);
    for (let k = 0; k < pos.length; k++) {
      const q = questions[Math.floor(k / o.samples)];
      const opts = { evalPrompt: trait.eval_prompt, judgeOptions: o.judgeOptions };
      pairs.push({ instruction: i, question: Math.floor(k / o.samples), sample: k % o.samples, pos: await judgeAnswer(o.judge, q, pos[k], opts), neg: await judgeAnswer(o.judge, q, neg[k], opts) });
    }
  }
  return pairs;
}

/** Run the whole pipeline (see the file comment). */
export async function extractPersonaVector(model: HookedTransformer, trait: TraitData | string, options: ExtractPersonaVectorOptions): Promise<PersonaVectorResult> {
  const fn = "extractPersonaVector";
  const data = typeof trait === "string" ? loadTraitFile(trait) : trait;
  if (!data || !Array.isArray(data.instruction) || !Array.isArray(data.questions)) throw new TypeError(`${fn}: trait must be a trait file path or loadTraitFile's { instruction, questions, eval_prompt }, received ${describe(trait)}`);
  if (options === null || typeof options !== "object" || !options.judge || typeof options.judge.chat !== "function") throw new TypeError(`${fn}: options.judge must be a ChatClient, received ${describe(options?.judge)}`);
  const { samples = 1, maxNewTokens = 32, temperature = 1, seed = 0, hook = "resid_post", layerChoice = { coefficient: 2 } } = options;
  if (!(Number.isInteger(samples) && samples >= 1)) throw new RangeError(`${fn}: options.samples must be an integer ≥ 1, received ${describe(samples)}`);
  const thresholds = { trait: options.thresholds?.trait ?? 50, coherence: options.thresholds?.coherence ?? 50 };
  const layers = checkLayers(fn, model, options.layers ?? Array.from({ length: model.cfg.n_layers }, (_, l) => l));
  const questions = options.questions ?? data.questions;
  const pairs = await judgedPairs(model, data, questions, { ...options, samples, maxNewTokens, temperature, seed });
  const { kept, counts } = filterPairs(pairs, thresholds);
  if (kept.length === 0) {
    throw new RangeError(`${fn}: no pair passed the judge filter (trait ≥ ${thresholds.trait} / < ${thresholds.trait}, coherence ≥ ${thresholds.coherence}): ${JSON.stringify(counts.dropped)} of ${counts.total}; sample more, or lower options.thresholds`);
  }
  const item = (p: JudgedPair, side: "pos" | "neg") => ({ prompt: conv(data.instruction[p.instruction][side], questions[p.question]), response: p[side].response });
  const vectors = personaVector(model, { positive: kept.map((p) => item(p, "pos")), negative: kept.map((p) => item(p, "neg")) }, { layers, hook, positions: "response_mean" });
  const { layer, layerEffects } = await chooseLayer(model, data, vectors, layers, layerChoice, { ...options, maxNewTokens, temperature, seed, hook });
  return { vectors, layer, vector: vectors[layer], counts, thresholds, pairs, layerEffects };
}

/** Step 5: the layer whose vector raises the judged trait score most under steering. */
async function chooseLayer(
  model: HookedTransformer,
  data: TraitData,
  vectors: PersonaVector,
  layers: readonly number[],
  choice: NonNullable<ExtractPersonaVectorOptions["layerChoice"]>,
  o: ExtractPersonaVectorOptions & { maxNewTokens: number; temperature: number; seed: number; hook: string },
): Promise<{ layer: number; layerEffects: LayerEffect[] }> {
  if (typeof choice === "number") {
    if (!layers.includes(choice)) throw new RangeError(`extractPersonaVector: options.layerChoice ${choice} is not among the computed layers [${layers.join(", ")}]`);
    return { layer: choice, layerEffects: [] };
  }
  const { coefficient = 2, questions = data.questions.slice(0, 3), samples = 1, positions = "response" } = choice;
  const base = { judge: o.judge, evalPrompt: data.eval_prompt, hook: o.hook, positions, samples, maxNewTokens: o.maxNewTokens, temperature: o.temperature, seed: o.seed, coherence: false, judgeOptions: o.judgeOptions };
  const layerEffects: LayerEffect[] = [];
  let baseline: number | null = null;
  for (const layer of layers) {
    const coefs = baseline === null ? [0, coefficient] : [coefficient];
    const pts = await steeringEvaluation(model, questions, vectors[layer], { ...base, coefficients: coefs });
    if (baseline === null) baseline = pts[0].trait.mean;
    layerEffects.push({ layer, score: pts[pts.length - 1].trait.mean, baseline });
  }
  const best = layerEffects.reduce((a, b) => (b.score > a.score || Number.isNaN(a.score) ? b : a));
  return { layer: best.layer, layerEffects };
}
