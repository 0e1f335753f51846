/**
 * Parameter names and shapes of a kit model, and their seeded initialisation.
 *
 * Every matrix is stored `[in, out]` so that the forward pass is `x @ W` (a plain matMul, the fast path of the
 * wasm backend). Loaders transpose `[out, in]` checkpoints (HF Linear, llama2.c) once, at load time.
 *
 * | name                        | shape                              | when                       |
 * |-----------------------------|------------------------------------|----------------------------|
 * | embed.W_E                   | [d_vocab, d_model]                 | always                     |
 * | pos_embed.W_pos             | [n_ctx, d_model]                   | gpt2                       |
 * | blocks.{L}.ln1.w / .b       | [d_model]                          | .b for gpt2 only           |
 * | blocks.{L}.attn.W_Q         | [d_model, n_heads·d_head]          | always                     |
 * | blocks.{L}.attn.W_K / W_V   | [d_model, n_key_value_heads·d_head]| always                     |
 * | blocks.{L}.attn.b_Q/b_K/b_V | [n_heads·d_head] / [n_kv·d_head]   | attnBias                   |
 * | blocks.{L}.attn.W_O         | [n_heads·d_head, d_model]          | always                     |
 * | blocks.{L}.attn.b_O         | [d_model]                          | attnOutBias                |
 * | blocks.{L}.ln2.w / .b       | [d_model]                          | .b for gpt2 only           |
 * | blocks.{L}.mlp.W_in         | [d_model, d_mlp]                   | always (llama: up_proj)    |
 * | blocks.{L}.mlp.W_gate       | [d_model, d_mlp]                   | llama (gate_proj)          |
 * | blocks.{L}.mlp.b_in         | [d_mlp]                            | mlpBias                    |
 * | blocks.{L}.mlp.W_out        | [d_mlp, d_model]                   | always                     |
 * | blocks.{L}.mlp.b_out        | [d_model]                          | mlpBias                    |
 * | ln_final.w / .b             | [d_model]                          | .b for gpt2 only           |
 * | unembed.W_U                 | [d_model, d_vocab]                 | unless tiedEmbeddings      |
 *
 * Architecture variants (kit/model/config.ts) change the norms: `normPlacement` "post" replaces ln1/ln2 by
 * `blocks.{L}.ln1_post.w` / `ln2_post.w` (on the sublayer outputs), "both" adds those to ln1/ln2; `qkNorm` adds
 * `blocks.{L}.attn.q_norm.w` / `attn.k_norm.w`, [d_head] each ("head") or [n_heads·d_head] / [n_kv·d_head] ("full").
 */
import type { ModelConfig } from "./config";
import { mulberry32, normalSampler } from "../util/rng";

/** The seeded RNG lives in `kit/util/rng`; re-exported here for the modules that import it from the model. */
export { mulberry32, normalSampler };

export type ParamShapes = Map<string, number[]>;

/** The ordered list of parameters a config has, with their shapes. */
export function paramShapes(cfg: ModelConfig): ParamShapes {
  const { d_model: d, d_head: dh, n_heads: h, n_key_value_heads: kv, d_mlp: m, d_vocab: v, n_ctx } = cfg;
  const gpt2 = cfg.family === "gpt2";
  const s: ParamShapes = new Map();
  s.set("embed.W_E", [v, d]);
  if (gpt2) s.set("pos_embed.W_pos", [n_ctx, d]);
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}.`;
    const placement = cfg.normPlacement ?? "pre";
    const preNorm = placement !== "post";
    const postNorm = placement !== "pre";
    if (preNorm) s.set(p + "ln1.w", [d]);
    if (gpt2) s.set(p + "ln1.b", [d]);
    s.set(p + "attn.W_Q", [d, h * dh]);
    s.set(p + "attn.W_K", [d, kv * dh]);
    s.set(p + "attn.W_V", [d, kv * dh]);
    if (cfg.attnBias) {
      s.set(p + "attn.b_Q", [h * dh]);
      s.set(p + "attn.b_K", [kv * dh]);
      s.set(p + "attn.b_V", [kv * dh]);
    }
    if (cfg.qkNorm === "head" || cfg.qkNorm === "full") {
      s.set(p + "attn.q_norm.w", [cfg.qkNorm === "head" ? dh : h * dh]);
      s.set(p + "attn.k_norm.w", [cfg.qkNorm === "head" ? dh : kv * dh]);
    }
    s.set(p + "attn.W_O", [h * dh, d]);
    if (cfg.attnOutBias) s.set(p + "attn.b_O", [d]);
    if (postNorm) s.set(p + "ln1_post.w", [d]);
    if (preNorm) s.set(p + "ln2.w", [d]);
    if (gpt2) s.set(p + "ln2.b", [d]);
    s.set(p + "mlp.W_in", [d, m]);
    if (!gpt2) s.set(p + "mlp.W_gate", [d, m]);
    if (cfg.mlpBias) s.set(p + "mlp.b_in", [m]);
    s.set(p + "mlp.W_out", [m, d]);
    if (cfg.mlpBias) s.set(p + "mlp.b_out", [d]);
    if (postNorm) s.set(p + "ln2_post.w", [d]);
  }
  s.set("ln_final.w", [d]);
  if (gpt2) s.set("ln_final.b", [d]);
  if (!cfg.tiedEmbeddings) s.set("unembed.W_U", [d, v]);
  return s;
}

/** Total number of scalar parameters. */
export function countParams(cfg: ModelConfig): number {
  let n = 0;
  for (const shape of paramShapes(cfg).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * Fresh weights for a config, deterministic from `seed`: norms at 1 (stored as 0 when `normOffset` is 1; biases 0), matrices N(0, initStd²),
 * output projections (attn.W_O, mlp.W_out) scaled by 1/√(2·n_layers) as in GPT-2.
 */
export function initParams(cfg: ModelConfig, seed = 0): Map<string, Float32Array> {
  const normal = normalSampler(mulberry32(seed));
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(cfg)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const leaf = name.slice(name.lastIndexOf(".") + 1);
    if (name.endsWith(".w") && shape.length === 1) data.fill(1 - (cfg.normOffset ?? 0));
    else if (leaf.startsWith("b")) data.fill(0);
    else {
      const std = leaf === "W_O" || leaf === "W_out" ? cfg.initStd / Math.sqrt(2 * cfg.n_layers) : cfg.initStd;
      for (let i = 0; i < size; i++) data[i] = normal() * std;
    }
    out.set(name, data);
  }
  return out;
}
