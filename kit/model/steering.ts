/**
 * Steering as a value: `{ hook, vector, positions }` adds `vector` to the activation at one hook point (at every
 * position, or only at the given token positions). Every runtime accepts it: the TensorFlow.js path adds it where the
 * hook point is reached, the ONNX path feeds it to the graph as an input. `steeringHook` (kit/vectors) builds one.
 */
import type { ModelConfig } from "./config";
import type { FwdHook, HookName } from "./hooks";

export interface Steering {
  /** The hook point, full name (`blocks.3.hook_resid_post`). */
  readonly hook: HookName;
  /** Added to the activation's last axis (already scaled by any coefficient). */
  readonly vector: Float32Array;
  /**
   * Token positions steered (a token's position index, as in `hook_pos_embed`/RoPE): a list, or a range
   * `{ from, to }` ([from, to), either end open), e.g. `{ from: promptLength }` for the response only; default every
   * position.
   */
  readonly positions?: readonly number[] | PositionRange;
}

/** Positions [from, to): `from` defaults to 0, `to` to no end. */
export interface PositionRange {
  readonly from?: number;
  readonly to?: number;
}

/** Whether a steering value applies at token position `p`. */
export function steersAt(s: Steering, p: number): boolean {
  const at = s.positions;
  if (at === undefined) return true;
  if (Array.isArray(at)) return at.includes(p);
  const { from = 0, to = Infinity } = at as PositionRange;
  return p >= from && p < to;
}

export function isSteering(h: FwdHook): h is Steering {
  return !Array.isArray(h);
}

function innerName(name: string): string {
  return name.startsWith("blocks.") ? name.slice(name.indexOf(".", 7) + 1) : name;
}

/** The last dimension of a hook point's activation (a steering vector's length there); -1 for the key axis. */
export function hookLastDim(cfg: Pick<ModelConfig, "d_head" | "d_mlp" | "d_model">, name: string): number {
  switch (innerName(name)) {
    case "attn.hook_q":
    case "attn.hook_k":
    case "attn.hook_v":
    case "attn.hook_rot_q":
    case "attn.hook_rot_k":
    case "attn.hook_z":
      return cfg.d_head;
    case "attn.hook_attn_scores":
    case "attn.hook_pattern":
      return -1;
    case "mlp.hook_pre":
    case "mlp.hook_pre_linear":
    case "mlp.hook_post":
      return cfg.d_mlp;
    default:
      return cfg.d_model;
  }
}

/** The rank of a hook point's activation: 4 for per-head ones ([B, T, heads, dh] or [B, H, T, Tk]), else 3. */
export function hookRank(name: string): 3 | 4 {
  const n = innerName(name);
  return n.startsWith("attn.hook_") ? 4 : 3;
}

/** Steering values grouped by hook point (each keeps its own positions). */
export function steeringByHook(steers: readonly Steering[]): Map<HookName, Steering[]> {
  const out = new Map<HookName, Steering[]>();
  for (const s of steers) out.set(s.hook, [...(out.get(s.hook) ?? []), s]);
  return out;
}

/**
 * The additive tensor of a hook's steerings for a forward step, as a flat Float32Array with its dims:
 * [1, 1, (1,) d] when every steering applies everywhere, else [rows, T, (1,) d] with zeros at unsteered positions.
 * `positions`: each row's token positions for this step ([B|1][T]).
 */
export function steeringDelta(steers: readonly Steering[], rank: 3 | 4, d: number, positions: readonly (readonly number[])[]): { data: Float32Array; dims: number[] } {
  const tail = rank === 4 ? [1, d] : [d];
  if (steers.every((s) => s.positions === undefined)) {
    const data = new Float32Array(d);
    for (const s of steers) for (let i = 0; i < d; i++) data[i] += s.vector[i];
    return { data, dims: [1, 1, ...tail] };
  }
  const rows = positions.length;
  const T = positions[0].length;
  const data = new Float32Array(rows * T * d);
  for (const s of steers) {
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < T; t++) {
        if (!steersAt(s, positions[r][t])) continue;
        const off = (r * T + t) * d;
        for (let i = 0; i < d; i++) data[off + i] += s.vector[i];
      }
    }
  }
  return { data, dims: [rows, T, ...tail] };
}
