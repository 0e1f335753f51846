/**
 * Direct logit attribution: how much each summand of the residual stream (embeddings, each block's attention and
 * MLP output, or each head with `hook_result`) writes, through the final norm's scale, onto a logit direction — one
 * token's unembedding column, or the difference of two (a logit difference). And the logit lens of any direction
 * (a persona vector): the tokens whose logits it raises and lowers.
 */
import { tf } from "../backend";
import type { ActivationCache } from "../model/cache";
import { normScale } from "../model/resid";
import type { HookedTransformer } from "../model/transformer";
import { tokenString } from "./logit-lens";
import { tidyValue } from "./tidy";

/** A token and the logit a direction gives it. */
export interface DirectionCell {
  id: number;
  token: string;
  logit: number;
}

/** The unembedding direction of `answer` [d], or of `answer` minus `wrong` (a logit difference). */
export function logitDirection(model: HookedTransformer, answer: number, wrong?: number): tf.Tensor1D {
  const V = model.cfg.d_vocab;
  for (const [k, id] of [["answer", answer], ["wrong", wrong]] as const) {
    if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id < V)) throw new RangeError(`logitDirection: ${k} must be a token id in [0, ${V}), received ${id}`);
  }
  return tf.tidy(() => {
    const eye = tf.oneHot(tf.tensor1d([answer], "int32"), V).squeeze([0]);
    const sel = wrong === undefined ? eye : tf.sub(eye, tf.oneHot(tf.tensor1d([wrong], "int32"), V).squeeze([0]));
    // W_U @ e: the column(s) of W_U, through unembed's own matrix (tied or not).
    return tf.matMul(unembedMatrix(model), sel.reshape([V, 1])).reshape([-1]) as tf.Tensor1D;
  });
}

function unembedMatrix(model: HookedTransformer): tf.Tensor2D {
  return (model.cfg.tiedEmbeddings ? tf.transpose(model.param("embed.W_E")) : model.param("unembed.W_U")) as tf.Tensor2D;
}

export interface LogitAttribution {
  /** One per component ("embed", "0_attn_out", "0_mlp_out", …, or "L0H3" per head). */
  labels: string[];
  /** [components][B]: each component's contribution to the logit (difference) at `position`. */
  values: number[][];
  /** [B]: the part no component carries — the final norm's bias (and attention output biases per head) on the direction. */
  rest: number[];
  /** [B]: the model's logit (difference) at `position`, for comparison: Σ values + rest. */
  total: number[];
}

export interface AttributionOptions {
  /** A token id, or [answer, wrong] for a logit difference; or a direction [d] directly. */
  tokens?: number | readonly [number, number];
  direction?: tf.Tensor | Float32Array;
  /** Position (negative counts from the end; default -1, the last, which left padding makes every row's last token). */
  position?: number;
  /** "blocks" (default): embeddings, attention and MLP outputs; "heads": per-head outputs (needs hook_result cached). */
  by?: "blocks" | "heads";
}

/** Direct logit attribution over a cache made by `model.runWithCache` (with every component's hook cached). */
export function directLogitAttribution(model: HookedTransformer, cache: ActivationCache, { tokens, direction, position = -1, by = "blocks" }: AttributionOptions = {}): LogitAttribution {
  const where = "directLogitAttribution";
  if ((tokens === undefined) === (direction === undefined)) throw new TypeError(`${where}: give exactly one of tokens and direction`);
  const resid = cache.get("resid_post", -1); // [B, T, d]
  const [B, T, d] = resid.shape as [number, number, number];
  const pos = position < 0 ? T + position : position;
  if (!Number.isInteger(pos) || pos < 0 || pos >= T) throw new RangeError(`${where}: position must be an integer in [-${T}, ${T}), received ${position}`);
  return tidyValue(() => {
    const dir = direction !== undefined ? tf.tensor(direction instanceof tf.Tensor ? direction.dataSync() : direction, [d]) : typeof tokens === "number" ? logitDirection(model, tokens) : logitDirection(model, tokens![0], tokens![1]);
    if (dir.size !== d) throw new RangeError(`${where}: direction must have d_model = ${d} values, received ${dir.size}`);
    const at = (x: tf.Tensor) => x.slice([0, pos], [B, 1]).squeeze([1]); // [B, ...]
    const scale = at(normScale(model.cfg, resid)); // [B, 1]
    const { parts, labels } = by === "heads" ? headParts(model, cache, at) : blockParts(cache, at);
    const stacked = tf.stack(parts); // [n, B, d]
    const ln = model.applyLnFinal(stacked, { scale }); // [n, B, d], linear: no bias
    const values = tf.sum(tf.mul(ln, dir), -1).arraySync() as number[][];
    const totalT = tf.sum(tf.mul(model.applyLnFinal(at(resid)), dir), -1); // [B], with the norm's bias
    const total = totalT.arraySync() as number[];
    const rest = total.map((t, b) => t - values.reduce((s, v) => s + v[b], 0));
    return { labels, values, rest, total };
  });
}

function blockParts(cache: ActivationCache, at: (x: tf.Tensor) => tf.Tensor): { parts: tf.Tensor[]; labels: string[] } {
  const parts: tf.Tensor[] = [at(cache.get("hook_embed"))];
  const labels = ["embed"];
  if (cache.has("hook_pos_embed")) {
    parts.push(at(cache.get("hook_pos_embed")));
    labels.push("pos_embed");
  }
  for (let l = 0; l < cache.nLayers; l++) {
    parts.push(at(cache.get("attn_out", l)), at(cache.get("mlp_out", l)));
    labels.push(`${l}_attn_out`, `${l}_mlp_out`);
  }
  return { parts, labels };
}

function headParts(model: HookedTransformer, cache: ActivationCache, at: (x: tf.Tensor) => tf.Tensor): { parts: tf.Tensor[]; labels: string[] } {
  if (!cache.has("result", 0)) throw new RangeError(`directLogitAttribution: by "heads" needs blocks.L.attn.hook_result in the cache; call model.setUseAttnResult(true) before runWithCache`);
  const parts: tf.Tensor[] = [];
  const labels: string[] = [];
  for (let l = 0; l < cache.nLayers; l++) {
    const r = at(cache.get("result", l)); // [B, H, d]
    for (let h = 0; h < model.cfg.n_heads; h++) {
      parts.push(r.slice([0, h], [-1, 1]).squeeze([1]));
      labels.push(`L${l}H${h}`);
    }
  }
  return { parts, labels };
}

/** The tokens a residual direction (a persona vector [d]) raises and lowers most, through the final norm's weight. */
export function directionLogitLens(model: HookedTransformer, vector: tf.Tensor | Float32Array, { topK = 10 }: { topK?: number } = {}): { up: DirectionCell[]; down: DirectionCell[] } {
  const d = model.cfg.d_model;
  const n = vector instanceof tf.Tensor ? vector.size : vector.length;
  if (n !== d) throw new RangeError(`directionLogitLens: vector must have d_model = ${d} values, received ${n}`);
  return tidyValue(() => {
    const v = tf.tensor(vector instanceof tf.Tensor ? vector.dataSync() : vector, [1, d]);
    const logits = model.unembed(model.applyLnFinal(v, { scale: tf.ones([1, 1]) })).reshape([-1]); // [V]
    const cells = (t: tf.Tensor, sign: number): DirectionCell[] => {
      const k = tf.topk(tf.mul(t, sign), Math.min(topK, model.cfg.d_vocab));
      const ids = k.indices.arraySync() as number[];
      const vals = k.values.arraySync() as number[];
      return ids.map((id, i) => ({ id, token: tokenString(model, id), logit: sign * vals[i] }));
    };
    return { up: cells(logits, 1), down: cells(logits, -1) };
  });
}
