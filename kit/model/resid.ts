/**
 * The residual stream as a sum of parts, TransformerLens's `accumulated_resid` / `decompose_resid` and the final norm
 * they apply. Read from an ActivationCache (kit/model/cache.ts), which exposes them as methods.
 *
 * `accumulatedResid` stacks the stream as it stands before each block (and after the last): the logit lens. With
 * `applyLn` each entry goes through the final norm recomputed on itself, so the last entry's logits are the model's.
 * `decomposeResid` stacks the stream's summands (embeddings, each block's attention and MLP outputs), which add up to
 * the last `resid_post`; with `applyLn` each is scaled by the final norm's scale of the full stream (a linear map, no
 * bias), so their logits add up to the model's logits less the final norm's bias term.
 */
import { tf } from "../backend";
import type { ModelConfig } from "./config";
import type { HookName } from "./hooks";

/** What the residual tools read from a cache. */
export interface ResidSource {
  readonly nLayers: number;
  get(name: string, layer?: number): tf.Tensor;
  has(name: string, layer?: number): boolean;
}

/** What they need from the model (a HookedTransformer). */
export interface ResidModel {
  readonly cfg: ModelConfig;
  applyLnFinal(x: tf.Tensor, options?: { scale?: tf.Tensor }): tf.Tensor;
}

export interface StackedResid {
  /** [components, ...activation shape], e.g. [n, B, T, d]. */
  resid: tf.Tensor;
  /** One label per component: "0_pre", "3_mid", "final_post"; "embed", "pos_embed", "2_attn_out", "2_mlp_out". */
  labels: string[];
}

/** The final norm on x [..., d]: fully (recomputed from x, weight and bias), or with a fixed `scale` [..., 1] (no bias). */
export function lnFinal(cfg: ModelConfig, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, scale?: tf.Tensor): tf.Tensor {
  const layer = cfg.family !== "llama";
  const centred = layer ? tf.sub(x, tf.mean(x, -1, true)) : x;
  const s = scale ?? normScale(cfg, x);
  const y = tf.mul(tf.div(centred, s), cfg.normOffset ? tf.add(w, cfg.normOffset) : w);
  return scale === undefined && b ? tf.add(y, b) : y;
}

/** The divisor a final norm uses on x [..., d]: √(var + ε) (LayerNorm) or √(mean x² + ε) (RMSNorm), as [..., 1]. */
export function normScale(cfg: ModelConfig, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = cfg.family !== "llama" ? tf.sub(x, tf.mean(x, -1, true)) : x;
    return tf.sqrt(tf.add(tf.mean(tf.square(c), -1, true), cfg.normEps));
  });
}

function needModel(model: ResidModel | null, where: string): ResidModel {
  if (!model) throw new Error(`${where}: applyLn needs the model; this cache was not made by model.runWithCache (pass { model })`);
  return model;
}

function checkLayer(layer: number | undefined, n: number, where: string): number {
  if (layer === undefined || layer === -1) return n;
  if (!Number.isInteger(layer) || layer < 0 || layer > n) throw new RangeError(`${where}: layer must be an integer in [0, ${n}] or -1, received ${layer}`);
  return layer;
}

/**
 * The residual stream before blocks 0..layer (`layer` = n_layers or -1, the default: after the last block too):
 * [layer + 1 (+ mids), ...]. `inclMid` adds each block's `resid_mid` below `layer`.
 */
export function accumulatedResid(
  cache: ResidSource,
  model: ResidModel | null,
  layer?: number,
  { applyLn = false, inclMid = false }: { applyLn?: boolean; inclMid?: boolean } = {},
): StackedResid {
  const where = "accumulatedResid";
  const n = cache.nLayers;
  const L = checkLayer(layer, n, where);
  const parts: tf.Tensor[] = [];
  const labels: string[] = [];
  for (let l = 0; l <= L; l++) {
    if (l === n) {
      parts.push(cache.get("resid_post", n - 1));
      labels.push("final_post");
      continue;
    }
    parts.push(cache.get("resid_pre", l));
    labels.push(`${l}_pre`);
    if (inclMid && l < L) {
      parts.push(cache.get("resid_mid", l));
      labels.push(`${l}_mid`);
    }
  }
  const m = applyLn ? needModel(model, where) : null;
  const resid = tf.tidy(() => {
    const stacked = tf.stack(parts);
    if (!m) return stacked;
    return m.applyLnFinal(stacked);
  });
  return { resid, labels };
}

/**
 * The summands of the residual stream before block `layer` (default: after the last block): embeddings, then each
 * block's attention and MLP outputs; `mode` "attn" / "mlp" keeps one kind of block output. They sum to that
 * `resid_pre` (or the last `resid_post`) when every kind is kept.
 */
export function decomposeResid(
  cache: ResidSource,
  model: ResidModel | null,
  layer?: number,
  { applyLn = false, mode = "all", inclEmbeds = true }: { applyLn?: boolean; mode?: "all" | "attn" | "mlp"; inclEmbeds?: boolean } = {},
): StackedResid {
  const where = "decomposeResid";
  const n = cache.nLayers;
  const L = checkLayer(layer, n, where);
  const parts: tf.Tensor[] = [];
  const labels: string[] = [];
  const take = (name: string, label: string, l?: number) => {
    parts.push(cache.get(name, l));
    labels.push(label);
  };
  if (inclEmbeds) {
    take("hook_embed", "embed");
    if (cache.has("hook_pos_embed")) take("hook_pos_embed", "pos_embed");
  }
  for (let l = 0; l < L; l++) {
    if (mode !== "mlp") take("attn_out", `${l}_attn_out`, l);
    if (mode !== "attn") take("mlp_out", `${l}_mlp_out`, l);
  }
  if (parts.length === 0) throw new RangeError(`${where}: no components before layer ${L} with mode ${JSON.stringify(mode)} and inclEmbeds false`);
  const m = applyLn ? needModel(model, where) : null;
  const full = L === n ? cache.get("resid_post", n - 1) : cache.get("resid_pre", L);
  const resid = tf.tidy(() => {
    const stacked = tf.stack(parts);
    if (!m) return stacked;
    return m.applyLnFinal(stacked, { scale: normScale(m.cfg, full) });
  });
  return { resid, labels };
}

/** The final norm's scale of the full stream, [B, T, 1], for applying the norm to a decomposition. */
export function finalScale(cache: ResidSource, cfg: ModelConfig): tf.Tensor {
  return normScale(cfg, cache.get("resid_post", cache.nLayers - 1));
}

export type { HookName };
