/**
 * Directional ablation: remove an activation's component along a direction, `x − (x·û) û`, at one hook point (Arditi
 * et al. 2024's refusal-direction ablation; CAA-style "what does the model do without this direction").
 *
 *   runWithCache(model, prompt, { fwdHooks: [ablationHook(pv[2])] });           // every position of blocks.2.hook_resid_post
 *   generate(model, prompts, { fwdHooks: [ablationHook(dir, { layer: 1, positions: "response", promptLength })] });
 *   ablateDirection(acts, dir);                                                 // the same on a tensor
 *
 * The hook is a JS function, so calls that use it run on TensorFlow.js (ONNX Runtime takes only additive steering).
 * Positions are counted from the batch's first column, exact for unpadded prompts (one prompt, or prompts of one
 * length); ragged batches shift rows past their left padding, so give such batches "all".
 */
import { tf } from "../backend";
import { describeValue as describe } from "../describe";
import { actName, type FwdHook, type HookName } from "../model/hooks";
import { steersAt, type Steering } from "../model/steering";
import { resolveDirection, type Direction } from "./persona";
import { steeringPositions, type SteerPositions } from "./steer";

export interface AblationOptions {
  /** Block; default the `LayerVector`'s own layer. */
  layer?: number;
  /** Hook point inside the block (default "resid_post"). */
  hook?: string;
  /** "all" (default), "prompt", "response" or token positions (see `steeringHook`). */
  positions?: SteerPositions;
  /** Prompt length in tokens, for "prompt" and "response". */
  promptLength?: number;
}

/** The unit vector along `v` (float32), or a RangeError naming `fn` for a zero vector. */
function unit(fn: string, v: Float32Array): Float32Array {
  let sq = 0;
  for (const x of v) sq += x * x;
  if (!(sq > 0)) throw new RangeError(`${fn}: direction has norm 0; ablation needs a non-zero direction`);
  const n = Math.sqrt(sq);
  return Float32Array.from(v, (x) => x / n);
}

/** `x − (x·û) û` over the last axis of `x` [..., d]. */
export function ablateDirection(x: tf.Tensor, direction: Direction): tf.Tensor {
  const fn = "ablateDirection";
  if (!(x instanceof tf.Tensor)) throw new TypeError(`${fn}: x must be a tf.Tensor [..., d], received ${describe(x)}`);
  const { values } = resolveDirection(fn, direction, 0);
  const d = x.shape[x.rank - 1];
  if (values.length !== d) throw new RangeError(`${fn}: direction must have ${d} values (x's last axis, shape [${x.shape}]), received ${values.length}`);
  const u = unit(fn, values);
  return tf.tidy(() => {
    const ut = tf.tensor1d(u);
    const dot = tf.sum(tf.mul(x, ut), -1, true); // [..., 1]
    return tf.sub(x, tf.mul(dot, ut));
  });
}

/** A forward hook removing the component along `direction` at `blocks.{layer}.{hook}` (at the chosen positions). */
export function ablationHook(direction: Direction, options: AblationOptions = {}): FwdHook {
  const fn = "ablationHook";
  const { hook = "resid_post" } = options;
  const { layer, values } = resolveDirection(fn, direction, options.layer);
  if (!Number.isInteger(layer) || layer < 0) throw new RangeError(`${fn}: options.layer must be an integer ≥ 0, received ${describe(layer)}`);
  const name = actName(hook, layer) as HookName;
  if (!name.startsWith(`blocks.${layer}.`)) throw new RangeError(`${fn}: options.hook must name a hook point inside a block (e.g. "resid_post"), received ${JSON.stringify(hook)}`);
  const positions = steeringPositions(options.positions, options.promptLength, fn);
  const probe: Steering = { hook: name, vector: values, ...(positions !== undefined ? { positions } : {}) };
  let seen = 0; // token positions already run: the prompt pass covers [0, T), each decode step one more
  return [
    name,
    (act, point) => {
      if (act.rank !== 3) throw new RangeError(`${fn}: ${name} must be a [batch, position, d] activation, received shape [${act.shape}]`);
      if (point.step === 0 || point.step === null) seen = 0;
      const T = act.shape[1] as number;
      const mask = Array.from({ length: T }, (_, t) => (steersAt(probe, seen + t) ? 1 : 0));
      seen += T;
      const ablated = ablateDirection(act, values);
      if (mask.every((m) => m === 1)) return ablated;
      return tf.tidy(() => {
        const m = tf.tensor3d(mask, [1, T, 1]);
        return tf.add(tf.mul(ablated, m), tf.mul(act, tf.sub(1, m)));
      });
    },
  ];
}
