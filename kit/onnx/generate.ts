/**
 * `generate` on ONNX Runtime: the KV-cache decoding graph, the same Sampler, stop tokens, ragged batches (left
 * padding + attention mask, positions shifted past the padding) and per-step activation caches as the TensorFlow.js
 * path, so greedy text is identical and seeded sampling matches. Steering hooks made by `steeringHook` become
 * graph inputs; any other hook function needs the TensorFlow.js path (`generate`).
 */
import { tf } from "../backend";
import { checkSamplingOptions, Sampler } from "../generate/sampler";
import type { GenerateOptions, GenerateResult, PromptInput } from "../generate/generate";
import { ActivationCache } from "../model/cache";
import type { HookName } from "../model/hooks";
import type { HookedTransformer } from "../model/transformer";
import { progress } from "../viz/progress";
import { steerTensor } from "./run";
import { hookLastDim } from "./graph";
import { int64Tensor, onnxSession, OrtTensor, resolveHooks } from "./session";
import { mergeSteers, steeringOf, type OnnxSteer } from "./steer";

export interface GenerateOnnxOptions extends GenerateOptions {
  /** Additive steering vectors (graph inputs), in addition to any `steeringHook`s in `fwdHooks`. */
  steer?: readonly OnnxSteer[];
  threads?: number;
}

/** Whether `generateOnnx` can run these options (every forward hook is a recognised steering hook). */
export function onnxCanGenerate(options: GenerateOptions): boolean {
  return (options.fwdHooks ?? []).every((h) => steeringOf(h) !== null);
}

/** `where` names the function in error messages ("generate" when routed from generate()). */
export function generateOnnx(model: HookedTransformer, prompts: PromptInput, options: GenerateOnnxOptions = {}, where = "generateOnnx"): GenerateResult {
  const { maxNewTokens = 64, seed = 0, fwdHooks = [], namesFilter, onStep, temperature = 1, topK = 0, topP = 1, progress: showProgress = false, threads = 0 } = options;
  checkSamplingOptions({ temperature, topK, topP }, where);
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 0)) throw new RangeError(`${where}: maxNewTokens must be an integer ≥ 0, received ${maxNewTokens}`);
  const steers: OnnxSteer[] = [...(options.steer ?? [])];
  for (const [i, h] of fwdHooks.entries()) {
    const s = steeringOf(h);
    if (!s) throw new TypeError(`${where}: fwdHooks[${i}] is a JS hook function, which cannot run inside the ONNX graph; use steeringHook for steering, or generate() (TensorFlow.js) for arbitrary hooks`);
    steers.push(s);
  }
  const merged = mergeSteers(steers);
  const cfg = model.cfg;
  const tok = model.tokenizer;
  const rows = promptRows(model, prompts, options.addBos, where);
  const eos = tok?.eosTokenId ?? cfg.eosTokenId;
  const stop = new Set(options.stopTokens ?? (eos !== null && eos !== undefined ? [eos] : []));
  const B = rows.length;
  const T0 = Math.max(...rows.map((r) => r.length));
  if (T0 > cfg.n_ctx) throw new RangeError(`${where}: prompt length ${T0} exceeds n_ctx ${cfg.n_ctx}`);
  const pad = tok?.padTokenId ?? cfg.padTokenId ?? eos ?? 0;
  const keyMask = rows.map((r) => [...Array<number>(T0 - r.length).fill(0), ...Array<number>(r.length).fill(1)]);
  const shift = rows.map((r) => T0 - r.length); // left padding of each row: positions start after it
  const ragged = shift.some((sh) => sh > 0);
  const wanted = namesFilter === undefined ? [] : resolveHooks(model, namesFilter, where);
  const s = onnxSession(model, { kv: true, hooks: wanted, steer: [...merged.keys()], threads, widen: true });
  const sampler = new Sampler(seed);
  const newTokens: number[][] = rows.map(() => []);
  const finish: ("stop" | "length" | null)[] = rows.map(() => null);
  const caches: ActivationCache[] = [];
  const V = cfg.d_vocab;
  const K = cfg.n_key_value_heads;
  const dh = cfg.d_head;

  const fixed: Record<string, OrtTensor> = {};
  for (const name of s.steer) fixed[`steer.${name}`] = steerTensor(model, name, merged.get(name) ?? new Float32Array(hookLastDim(model, name)), where);
  const empty = new OrtTensor("float32", new Float32Array(0), [B, K, 0, dh]);
  let past: Record<string, OrtTensor> = {};
  for (let l = 0; l < cfg.n_layers; l++) {
    past[`past_key_values.${l}.key`] = empty;
    past[`past_key_values.${l}.value`] = empty;
  }
  const presentNames = Array.from({ length: cfg.n_layers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat();
  const fetch = ["logits", ...presentNames, ...wanted];

  let input = rows.map((r) => [...Array<number>(T0 - r.length).fill(pad), ...r]);
  let pastLen = 0;
  const bar = showProgress && maxNewTokens > 0 ? progress(maxNewTokens, { label: `${where} ×${B}`, unit: "step" }) : null;
  try {
    for (let step = 0; step < maxNewTokens; step++) {
      const T = input[0].length;
      // One shared row when nothing is padded (as the tfjs path: hook_pos_embed is then [1, T, d]).
      const positions = (ragged ? shift : [0]).map((sh) => Array.from({ length: T }, (_, i) => Math.max(0, pastLen + i - sh)));
      const out = s.session.run({ ...fixed, ...past, input_ids: int64Tensor(input), position_ids: int64Tensor(positions), attention_mask: int64Tensor(keyMask) }, fetch);
      if (namesFilter !== undefined) {
        const store = new Map<HookName, tf.Tensor>();
        for (const h of wanted) store.set(h, tf.tensor(out[h].data as Float32Array, out[h].dims.map(Number)));
        caches.push(new ActivationCache(store, cfg.n_layers));
      }
      past = {};
      for (let l = 0; l < cfg.n_layers; l++) {
        past[`past_key_values.${l}.key`] = out[`present.${l}.key`];
        past[`past_key_values.${l}.value`] = out[`present.${l}.value`];
      }
      pastLen += T;
      const logits = out.logits.data as Float32Array; // [B, T, V]
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        if (finish[b]) {
          next.push(-1);
          continue;
        }
        const off = (b * T + T - 1) * V;
        const id = sampler.sample(logits.subarray(off, off + V), { temperature, topK, topP });
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
    bar?.done();
  }
  const sequences = rows.map((r, b) => [...r, ...newTokens[b]]);
  return {
    sequences,
    newTokens,
    texts: sequences.map((q) => (tok ? tok.decode(q) : "")),
    completions: newTokens.map((q) => (tok ? tok.decode(q) : "")),
    finishReasons: finish.map((f) => f ?? "length"),
    caches,
  };
}

function promptRows(model: HookedTransformer, prompts: PromptInput, addBos: boolean | undefined, where: string): number[][] {
  const tok = model.tokenizer;
  const encode = (s: string): number[] => {
    if (!tok) throw new Error(`${where}: this model has no tokenizer; pass token ids as prompts`);
    return tok.encode(s, addBos === undefined ? {} : { addBos });
  };
  let rows: number[][];
  if (typeof prompts === "string") rows = [encode(prompts)];
  else if (prompts.length === 0) throw new RangeError(`${where}: prompts is empty`);
  else if (typeof prompts[0] === "string") rows = (prompts as readonly string[]).map(encode);
  else if (typeof prompts[0] === "number") rows = [[...(prompts as readonly number[])]];
  else rows = (prompts as readonly (readonly number[])[]).map((r) => [...r]);
  const V = model.cfg.d_vocab;
  for (const [i, r] of rows.entries()) {
    if (r.length === 0) throw new RangeError(`${where}: prompt ${i} encodes to no tokens; give it a BOS or some text`);
    for (const id of r) if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`${where}: prompt ${i} has token id ${id}, expected an integer in [0, ${V})`);
  }
  return rows;
}
