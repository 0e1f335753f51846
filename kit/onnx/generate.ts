/**
 * The ONNX Runtime decode step: the KV-cache decoding graph, with the past keys and values kept as ONNX Runtime
 * tensors between steps (each step's `present` outputs are fed back as the next step's `past` inputs without passing
 * through TypeScript arrays), steering values as graph inputs, and per-step activation caches. `generateOnnx` is the
 * one decode loop (kit/generate/decode.ts) on this step.
 */
import { tf } from "../backend";
import { decode, type DecodeStepper, type GenerateOptions, type GenerateResult, type PromptInput } from "../generate/decode";
import { ActivationCache } from "../model/cache";
import type { HookName } from "../model/hooks";
import { isSteering, type Steering } from "../model/steering";
import type { HookedTransformer } from "../model/transformer";
import { steeringFeeds } from "./run";
import { int64Tensor, onnxSession, OrtTensor, resolveHooks } from "./session";

export interface GenerateOnnxOptions extends GenerateOptions {
  /** Additive steering values (graph inputs), in addition to any in `fwdHooks`. */
  steer?: readonly Steering[];
  threads?: number;
}

/** The steering values of a call; throws naming the first JS hook function (which cannot run inside a graph). */
export function steeringOnly(fwdHooks: GenerateOptions["fwdHooks"], where: string): Steering[] {
  const out: Steering[] = [];
  for (const [i, h] of (fwdHooks ?? []).entries()) {
    if (!isSteering(h)) throw new TypeError(`${where}: fwdHooks[${i}] is a JS hook function, which cannot run inside the ONNX graph; use steeringHook for steering, or the TensorFlow.js path for arbitrary hooks`);
    out.push(h);
  }
  return out;
}

export function onnxStepper(model: HookedTransformer, { steer = [], namesFilter, threads = 0, where = "generateOnnx" }: { steer?: readonly Steering[]; namesFilter?: GenerateOptions["namesFilter"]; threads?: number; where?: string }): DecodeStepper {
  const cfg = model.cfg;
  const wanted = namesFilter === undefined ? [] : resolveHooks(model, namesFilter, where);
  const s = onnxSession(model, { kv: true, hooks: wanted, steer: [...new Set(steer.map((x) => x.hook))], threads, widen: true });
  const presentNames = Array.from({ length: cfg.n_layers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat();
  const fetch = ["logits", ...presentNames, ...wanted];
  const V = cfg.d_vocab;
  let past: Record<string, OrtTensor> | null = null;
  return {
    step({ ids, positions, keyMask, step }) {
      const B = ids.length;
      const T = ids[0].length;
      if (!past) {
        const empty = new OrtTensor("float32", new Float32Array(0), [B, cfg.n_key_value_heads, 0, cfg.d_head]);
        past = {};
        for (let l = 0; l < cfg.n_layers; l++) past[`past_key_values.${l}.key`] = past[`past_key_values.${l}.value`] = empty;
      }
      const feeds = { ...steeringFeeds(model, s.steer, steer, positions, where), ...past, input_ids: int64Tensor(ids), position_ids: int64Tensor(positions), attention_mask: int64Tensor(keyMask) };
      const out = s.session.run(feeds, fetch);
      past = {};
      for (let l = 0; l < cfg.n_layers; l++) {
        past[`past_key_values.${l}.key`] = out[`present.${l}.key`];
        past[`past_key_values.${l}.value`] = out[`present.${l}.value`];
      }
      const logits = out.logits.data as Float32Array; // [B, T, V]
      const last = new Float32Array(B * V);
      for (let b = 0; b < B; b++) last.set(logits.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
      let cache: ActivationCache | undefined;
      if (namesFilter !== undefined) {
        const store = new Map<HookName, tf.Tensor>();
        for (const h of wanted) store.set(h, tf.tensor(out[h].data as Float32Array, out[h].dims.map(Number)));
        cache = new ActivationCache(store, cfg.n_layers);
      }
      void step;
      return { last, cache };
    },
    dispose: () => {
      past = null;
    },
  };
}

/** `generate` on ONNX Runtime (steering values only; JS hook functions need the TensorFlow.js path). */
export function generateOnnx(model: HookedTransformer, prompts: PromptInput, options: GenerateOnnxOptions = {}, where = "generateOnnx"): GenerateResult {
  const steer = [...(options.steer ?? []), ...steeringOnly(options.fwdHooks, where)];
  return decode(model, prompts, options, () => onnxStepper(model, { steer, namesFilter: options.namesFilter, threads: options.threads, where }), where);
}
