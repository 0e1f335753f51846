/**
 * The one decode loop: text generation with a KV cache over a runtime's step function — greedy or seeded sampling,
 * stop tokens, ragged batches (left padding with an attention mask, positions shifted past the padding, so each row
 * computes what it would alone), and activation caches at every step. The runtimes provide `DecodeStepper`s
 * (TensorFlow.js: kit/generate/tfjs-step.ts; ONNX Runtime: kit/onnx/generate.ts); `generate` (kit/runtime) picks one.
 */
import type { ActivationCache } from "../model/cache";
import type { FwdHook, HookFilter } from "../model/hooks";
import type { HookedTransformer } from "../model/transformer";
import { encodeChat, isChatBatch, isChatTurns, type ChatTurn } from "../model/chat-slot";
import { warnUnknownTokens } from "../tokenizers/unknown";
import { progress } from "../viz/progress";
import { checkSamplingOptions, Sampler, type SamplingOptions } from "./sampler";

export interface GenerateOptions extends SamplingOptions {
  /** New tokens per prompt, at most (default 64). Generation also stops at n_ctx. */
  maxNewTokens?: number;
  /** Seed of the sampler (default 0). */
  seed?: number;
  /** Token ids that end a row (default: the tokenizer's or config's EOS, if any). Included in the output. */
  stopTokens?: readonly number[];
  /** Hooks run at every step (`hook.step` is 0 for the prompt pass, then 1, 2, …); steering values steer every step. */
  fwdHooks?: readonly FwdHook[];
  /** Record these activations at every step into `result.caches` (one ActivationCache per step). */
  namesFilter?: HookFilter;
  /** Prepend BOS when encoding string prompts (default: true when the tokenizer has a BOS). */
  addBos?: boolean;
  /** Called after each step with the new token of every row (-1 for rows already finished). */
  onStep?: (step: number, tokens: readonly number[]) => void;
  /** Show progress with an ETA (an updating display in a notebook, a bar on stderr in a terminal). Default false. */
  progress?: boolean;
}

export interface GenerateResult {
  /** Prompt + generated ids per row (no padding). */
  sequences: number[][];
  /** Generated ids per row. */
  newTokens: number[][];
  /** `sequences` decoded by the model's tokenizer (empty strings when it has none). */
  texts: string[];
  /** `newTokens` decoded. */
  completions: string[];
  /** "stop" when a stop token ended the row, "length" when maxNewTokens or n_ctx did. */
  finishReasons: ("stop" | "length")[];
  /** One cache per forward step when `namesFilter` was given (step 0 covers the whole padded prompt). */
  caches: ActivationCache[];
}

/** Text, texts, token ids, or chat conversations (rendered by the model's chat template with the generation prompt). */
export type PromptInput = string | readonly string[] | readonly number[] | readonly (readonly number[])[] | readonly ChatTurn[] | readonly (readonly ChatTurn[])[];

/** One forward step of a runtime: the new tokens in, the last position's logits (and requested activations) out. */
export interface DecodeStep {
  /** New token ids [B][T] (T = prompt length at step 0, then 1). */
  ids: readonly (readonly number[])[];
  /** Their positions [B|1][T] (one shared row when no row is padded). */
  positions: readonly (readonly number[])[];
  /** [B][Tk]: 1 for real tokens, 0 for left padding, over every position so far. */
  keyMask: readonly (readonly number[])[];
  /** Whether any row is padded. */
  ragged: boolean;
  /** 0 for the prompt pass, then 1, 2, … */
  step: number;
}

export interface DecodeStepper {
  /** Logits at each row's last new position, [B · V] row-major; the step's activation cache when one was asked for. */
  step(s: DecodeStep): { last: Float32Array; cache?: ActivationCache };
  /** Free the runtime's KV cache. */
  dispose(): void;
}

/** Generate continuations with a runtime's stepper. `where` names the public function in errors. */
export function decode(model: HookedTransformer, prompts: PromptInput, options: GenerateOptions, makeStepper: () => DecodeStepper, where = "generate"): GenerateResult {
  const { maxNewTokens = 64, seed = 0, onStep, temperature = 1, topK = 0, topP = 1, progress: showProgress = false } = options;
  checkSamplingOptions({ temperature, topK, topP }, where);
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 0)) throw new RangeError(`${where}: maxNewTokens must be an integer ≥ 0, received ${maxNewTokens}`);
  const cfg = model.cfg;
  const rows = promptRows(model, prompts, options.addBos, where);
  const eos = model.tokenizer?.eosTokenId ?? cfg.eosTokenId;
  const stop = new Set(options.stopTokens ?? (eos !== null && eos !== undefined ? [eos] : []));
  const B = rows.length;
  const T0 = Math.max(...rows.map((r) => r.length));
  if (T0 > cfg.n_ctx) throw new RangeError(`${where}: prompt length ${T0} exceeds n_ctx ${cfg.n_ctx}`);
  const pad = model.tokenizer?.padTokenId ?? cfg.padTokenId ?? eos ?? 0;
  const shift = rows.map((r) => T0 - r.length); // left padding of each row: positions start after it
  const ragged = shift.some((sh) => sh > 0);
  const keyMask = rows.map((r) => [...Array<number>(T0 - r.length).fill(0), ...Array<number>(r.length).fill(1)]);
  const sampler = new Sampler(seed);
  const newTokens: number[][] = rows.map(() => []);
  const finish: ("stop" | "length" | null)[] = rows.map(() => null);
  const caches: ActivationCache[] = [];
  const V = cfg.d_vocab;

  let input = rows.map((r) => [...Array<number>(T0 - r.length).fill(pad), ...r]);
  let pastLen = 0;
  const bar = showProgress && maxNewTokens > 0 ? progress(maxNewTokens, { label: `${where} ×${B}`, unit: "step" }) : null;
  const stepper = makeStepper();
  try {
    for (let step = 0; step < maxNewTokens; step++) {
      const T = input[0].length;
      const positions = (ragged ? shift : [0]).map((sh) => Array.from({ length: T }, (_, i) => Math.max(0, pastLen + i - sh)));
      const out = stepper.step({ ids: input, positions, keyMask, ragged, step });
      if (out.cache) caches.push(out.cache);
      pastLen += T;
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        if (finish[b]) {
          next.push(-1);
          continue;
        }
        const id = sampler.sample(out.last.subarray(b * V, (b + 1) * V), { temperature, topK, topP });
        newTokens[b].push(id);
        next.push(id);
        if (stop.has(id)) finish[b] = "stop";
      }
      onStep?.(step, next);
      bar?.update(step + 1);
      if (finish.every((f) => f)) break;
      if (pastLen + 1 > cfg.n_ctx) break;
      input = next.map((id) => [id < 0 ? pad : id]);
      for (const m of keyMask) m.push(1);
    }
  } catch (e) {
    for (const c of caches) c.dispose();
    throw e;
  } finally {
    stepper.dispose();
    bar?.done();
  }
  return result(model, rows, newTokens, finish, caches);
}

function result(model: HookedTransformer, rows: number[][], newTokens: number[][], finish: ("stop" | "length" | null)[], caches: ActivationCache[]): GenerateResult {
  const tok = model.tokenizer;
  const sequences = rows.map((r, b) => [...r, ...newTokens[b]]);
  return {
    sequences,
    newTokens,
    texts: sequences.map((s) => (tok ? tok.decode(s) : "")),
    completions: newTokens.map((s) => (tok ? tok.decode(s) : "")),
    finishReasons: finish.map((f) => f ?? "length"),
    caches,
  };
}

/** Prompt token rows of any accepted prompt input, checked against the vocabulary. */
export function promptRows(model: HookedTransformer, prompts: PromptInput, addBos: boolean | undefined, where = "generate"): number[][] {
  const tok = model.tokenizer;
  const encode = (s: string): number[] => {
    if (!tok) throw new Error(`${where}: this model has no tokenizer; pass token ids as prompts`);
    return tok.encode(s, addBos === undefined ? {} : { addBos });
  };
  let rows: number[][];
  if (isChatTurns(prompts) || isChatBatch(prompts)) {
    const convs = isChatTurns(prompts) ? [prompts] : (prompts as readonly (readonly ChatTurn[])[]);
    rows = convs.map((c) => encodeChat(model, c, where));
    warnUnknownTokens(where, tok, rows, convs.map((c) => c[c.length - 1].content));
  } else if (typeof prompts === "string" || (prompts.length > 0 && typeof prompts[0] === "string")) {
    const texts = typeof prompts === "string" ? [prompts] : (prompts as readonly string[]);
    rows = texts.map(encode);
    warnUnknownTokens(where, tok, rows, texts);
  } else if (prompts.length === 0) throw new RangeError(`${where}: prompts is empty`);
  else if (typeof prompts[0] === "number") rows = [[...(prompts as readonly number[])]];
  else rows = (prompts as readonly (readonly number[])[]).map((r) => [...r]);
  const V = model.cfg.d_vocab;
  for (const [i, r] of rows.entries()) {
    if (r.length === 0) throw new RangeError(`${where}: prompt ${i} encodes to no tokens; give it a BOS or some text`);
    for (const id of r) if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`${where}: prompt ${i} has token id ${id}, expected an integer in [0, ${V})`);
  }
  return rows;
}
