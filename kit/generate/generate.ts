/**
 * Text generation with a KV cache: greedy or seeded sampling, stop tokens, ragged batches (left padding with an
 * attention mask, so each row computes what it would alone), and hooks and activation caching at every step.
 */
import { tf } from "../backend";
import { ActivationCache } from "../model/cache";
import type { FwdHook, HookFilter, HookName } from "../model/hooks";
import { KVCache, type HookedTransformer } from "../model/transformer";
import { progress } from "../viz/progress";
import { routedGenerate, routeToOnnx } from "../onnx/route";
import { checkSamplingOptions, Sampler, type SamplingOptions } from "./sampler";

export interface GenerateOptions extends SamplingOptions {
  /** New tokens per prompt, at most (default 64). Generation also stops at n_ctx. */
  maxNewTokens?: number;
  /** Seed of the sampler (default 0). */
  seed?: number;
  /** Token ids that end a row (default: the tokenizer's or config's EOS, if any). Included in the output. */
  stopTokens?: readonly number[];
  /** Hooks run at every step (`hook.step` is 0 for the prompt pass, then 1, 2, …). */
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

export type PromptInput = string | readonly string[] | readonly number[] | readonly (readonly number[])[];

/** Generate continuations of one or several prompts. */
export function generate(model: HookedTransformer, prompts: PromptInput, options: GenerateOptions = {}): GenerateResult {
  if (routeToOnnx(model, options.fwdHooks, "generate")) return routedGenerate(model, prompts, options); // ONNX Runtime when possible (kit/onnx/route.ts)
  const { maxNewTokens = 64, seed = 0, fwdHooks = [], namesFilter, onStep, temperature = 1, topK = 0, topP = 1, progress: showProgress = false } = options;
  checkSamplingOptions({ temperature, topK, topP }, "generate");
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 0)) throw new RangeError(`generate: maxNewTokens must be an integer ≥ 0, received ${maxNewTokens}`);
  const cfg = model.cfg;
  const tok = model.tokenizer;
  const rows = promptRows(model, prompts, options.addBos);
  const eos = tok?.eosTokenId ?? cfg.eosTokenId;
  const stop = new Set(options.stopTokens ?? (eos !== null && eos !== undefined ? [eos] : []));
  const B = rows.length;
  const T0 = Math.max(...rows.map((r) => r.length));
  if (T0 > cfg.n_ctx) throw new RangeError(`generate: prompt length ${T0} exceeds n_ctx ${cfg.n_ctx}`);
  const pad = tok?.padTokenId ?? cfg.padTokenId ?? eos ?? 0;
  const ragged = rows.some((r) => r.length !== T0);
  const keyMask = ragged ? rows.map((r) => [...Array<number>(T0 - r.length).fill(0), ...Array<number>(r.length).fill(1)]) : null;
  const kv = new KVCache(keyMask);
  const sampler = new Sampler(seed);
  const newTokens: number[][] = rows.map(() => []);
  const finish: ("stop" | "length" | null)[] = rows.map(() => null);
  const caches: ActivationCache[] = [];
  const V = cfg.d_vocab;

  let input = rows.map((r) => [...Array<number>(T0 - r.length).fill(pad), ...r]);
  const bar = showProgress && maxNewTokens > 0 ? progress(maxNewTokens, { label: `generate ×${B}`, unit: "step" }) : null;
  try {
    for (let step = 0; step < maxNewTokens; step++) {
      const store = namesFilter !== undefined ? new Map<HookName, tf.Tensor>() : undefined;
      const last = tf.tidy(() => {
        const t = tf.tensor2d(input.flat(), [B, input[0].length], "int32");
        const logits = model.forward(t, { kvCache: kv, step, fwdHooks, cacheFilter: namesFilter, cacheOut: store });
        const Tn = logits.shape[1];
        return logits.slice([0, Tn - 1, 0], [B, 1, V]).reshape([B, V]);
      });
      if (store) caches.push(new ActivationCache(store, cfg.n_layers));
      const data = last.dataSync() as Float32Array;
      last.dispose();
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        if (finish[b]) {
          next.push(-1);
          continue;
        }
        const id = sampler.sample(data.subarray(b * V, (b + 1) * V), { temperature, topK, topP });
        newTokens[b].push(id);
        next.push(id);
        if (stop.has(id)) finish[b] = "stop";
      }
      onStep?.(step, next);
      bar?.update(step + 1);
      if (finish.every((f) => f)) break;
      if (kv.length + 1 > cfg.n_ctx) break;
      input = next.map((id) => [id < 0 ? pad : id]);
      if (kv.keyMask) for (const m of kv.keyMask) m.push(1);
    }
  } catch (e) {
    for (const c of caches) c.dispose();
    throw e;
  } finally {
    kv.dispose();
    bar?.done();
  }
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

function promptRows(model: HookedTransformer, prompts: PromptInput, addBos: boolean | undefined): number[][] {
  const tok = model.tokenizer;
  const encode = (s: string): number[] => {
    if (!tok) throw new Error("generate: this model has no tokenizer; pass token ids as prompts");
    return tok.encode(s, addBos === undefined ? {} : { addBos });
  };
  let rows: number[][];
  if (typeof prompts === "string") rows = [encode(prompts)];
  else if (prompts.length === 0) throw new RangeError("generate: prompts is empty");
  else if (typeof prompts[0] === "string") rows = (prompts as readonly string[]).map(encode);
  else if (typeof prompts[0] === "number") rows = [[...(prompts as readonly number[])]];
  else rows = (prompts as readonly (readonly number[])[]).map((r) => [...r]);
  const V = model.cfg.d_vocab;
  for (const [i, r] of rows.entries()) {
    if (r.length === 0) throw new RangeError(`generate: prompt ${i} encodes to no tokens; give it a BOS or some text`);
    for (const id of r) if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`generate: prompt ${i} has token id ${id}, expected an integer in [0, ${V})`);
  }
  return rows;
}
