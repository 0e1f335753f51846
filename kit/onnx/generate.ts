/**
 * The ONNX Runtime decode step: the KV-cache decoding graph, with ONNX Runtime writing each step's `present` keys and
 * values straight into preallocated buffers that the next step feeds back as `past` (no fresh arrays, no copy through
 * the binding's outputs), steering values as graph inputs, and per-step activation caches. `generateOnnx` is the
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

/**
 * The keys and values of every layer, in two sets of buffers that take turns: a step reads the past from one set and
 * ONNX Runtime writes the present (past + new positions) straight into the other (preallocated outputs), so the cache
 * never passes through freshly allocated JS arrays. Buffers grow (by doubling, no copy needed) when a step needs more
 * positions than they hold.
 */
class KVBuffers {
  private readonly sets: [Float32Array[], Float32Array[]] = [[], []];
  private turn = 0;
  constructor(
    private readonly nTensors: number,
    private readonly perPosition: number,
    private readonly maxPositions: number,
  ) {}

  /** This step's output tensors of `tk` positions, views into the set whose turn it is (the other holds the past). */
  presents(dims: (tk: number) => number[], tk: number): OrtTensor[] {
    const need = tk * this.perPosition;
    let set = this.sets[this.turn];
    if (set.length === 0 || set[0].length < need) {
      const held = set.length ? set[0].length / this.perPosition : 0;
      const capacity = Math.min(this.maxPositions, Math.max(tk, 2 * held, 16));
      set = this.sets[this.turn] = Array.from({ length: this.nTensors }, () => new Float32Array(capacity * this.perPosition));
    }
    this.turn ^= 1;
    return set.map((buf) => new OrtTensor("float32", buf.subarray(0, need), dims(tk)));
  }
}

export function onnxStepper(model: HookedTransformer, { steer = [], namesFilter, threads = 0, where = "generateOnnx" }: { steer?: readonly Steering[]; namesFilter?: GenerateOptions["namesFilter"]; threads?: number; where?: string }): DecodeStepper {
  const cfg = model.cfg;
  const { n_layers: L, n_key_value_heads: K, d_head: dh, d_vocab: V } = cfg;
  const wanted = namesFilter === undefined ? [] : resolveHooks(model, namesFilter, where);
  const s = onnxSession(model, { kv: true, hooks: wanted, steer: [...new Set(steer.map((x) => x.hook))], threads, widen: true });
  const presentNames = Array.from({ length: L }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat();
  const pastNames = Array.from({ length: L }, (_, l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]).flat();
  let past: OrtTensor[] | null = null;
  let buffers: KVBuffers | null = null;
  return {
    step({ ids, positions, keyMask }) {
      const B = ids.length;
      const T = ids[0].length;
      const tk = keyMask[0].length;
      buffers ??= new KVBuffers(2 * L, B * K * dh, cfg.n_ctx);
      past ??= pastNames.map(() => new OrtTensor("float32", new Float32Array(0), [B, K, 0, dh]));
      const feeds: Record<string, OrtTensor> = { ...steeringFeeds(model, s.steer, steer, positions, where), input_ids: int64Tensor(ids), position_ids: int64Tensor(positions), attention_mask: int64Tensor(keyMask) };
      pastNames.forEach((name, i) => (feeds[name] = past![i]));
      // Preallocated outputs: ONNX Runtime writes the present keys/values into our buffers (k-major per position).
      const presents = buffers.presents((n) => [B, K, n, dh], tk);
      const fetches: Record<string, OrtTensor | null> = { logits: null };
      presentNames.forEach((name, i) => (fetches[name] = presents[i]));
      for (const h of wanted) fetches[h] = null;
      const out = s.session.runInto(feeds, fetches);
      past = presents;
      const logits = out.logits.data as Float32Array; // [B, T, V]
      const last = new Float32Array(B * V);
      for (let b = 0; b < B; b++) last.set(logits.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
      let cache: ActivationCache | undefined;
      if (namesFilter !== undefined) {
        const store = new Map<HookName, tf.Tensor>();
        for (const h of wanted) store.set(h, tf.tensor(out[h].data as Float32Array, out[h].dims.map(Number)));
        cache = new ActivationCache(store, L);
      }
      return { last, cache };
    },
    dispose: () => {
      past = null;
      buffers = null;
    },
  };
}

/** `generate` on ONNX Runtime (steering values only; JS hook functions need the TensorFlow.js path). */
export function generateOnnx(model: HookedTransformer, prompts: PromptInput, options: GenerateOnnxOptions = {}, where = "generateOnnx"): GenerateResult {
  const steer = [...(options.steer ?? []), ...steeringOnly(options.fwdHooks, where)];
  return decode(model, prompts, options, () => onnxStepper(model, { steer, namesFilter: options.namesFilter, threads: options.threads, where }), where);
}
