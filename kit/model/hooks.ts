/**
 * Hook points, named exactly as TransformerLens names them, and the types of hook functions.
 *
 * A hook function receives the activation at its point and may return a replacement (steering `act + α·v`,
 * ablation, patching); returning nothing leaves the activation unchanged.
 */
import type { tf } from "../backend";
import type { ModelConfig } from "./config";
import type { Steering } from "./steering";
import { nearMatches } from "../util/editDistance";

/** Hook points inside block L, without the `blocks.L.` prefix. */
export type BlockHookName =
  | "hook_resid_pre"
  | "ln1.hook_normalized"
  | "attn.hook_q"
  | "attn.hook_k"
  | "attn.hook_v"
  | "attn.hook_rot_q"
  | "attn.hook_rot_k"
  | "attn.hook_attn_scores"
  | "attn.hook_pattern"
  | "attn.hook_z"
  /** Per-head outputs [B, T, H, d]; only when `cfg.useAttnResult` (`model.setUseAttnResult(true)`). */
  | "attn.hook_result"
  /** The post-norm of the attention output (normPlacement "post" or "both": OLMo 2, Gemma 2). */
  | "ln1_post.hook_normalized"
  | "hook_attn_out"
  | "hook_resid_mid"
  | "ln2.hook_normalized"
  | "mlp.hook_pre"
  | "mlp.hook_pre_linear"
  | "mlp.hook_post"
  /** The post-norm of the MLP output (normPlacement "post" or "both"). */
  | "ln2_post.hook_normalized"
  | "hook_mlp_out"
  | "hook_resid_post";

export type GlobalHookName = "hook_embed" | "hook_pos_embed" | "ln_final.hook_normalized";

/** Any hook point name, e.g. `"blocks.3.hook_resid_post"` or `"blocks.0.attn.hook_pattern"`. */
export type HookName = GlobalHookName | `blocks.${number}.${BlockHookName}`;

/** What a hook function is told about where it runs. */
export interface HookPoint {
  name: HookName;
  /** Block index, or null for `hook_embed`, `hook_pos_embed`, `ln_final.hook_normalized`. */
  layer: number | null;
  /** Generation step (0 = the prompt's forward pass), or null outside `generate`. */
  step: number | null;
}

/** A hook: return a tensor of the same shape to replace the activation, or nothing to leave it. */
export type HookFn = (activation: tf.Tensor, hook: HookPoint) => tf.Tensor | void | undefined;

/** Which hook points a hook or a cache applies to. */
export type HookFilter = HookName | readonly HookName[] | ((name: HookName) => boolean);

/**
 * A temporary forward hook: a `[filter, fn]` pair (any JS function, TensorFlow.js path only), or a `Steering` value
 * (an additive vector at one hook point, which every runtime accepts; see kit/model/steering.ts).
 */
export type FwdHook = readonly [HookFilter, HookFn] | Steering;

const BLOCK_HOOKS: readonly BlockHookName[] = [
  "hook_resid_pre",
  "ln1.hook_normalized",
  "attn.hook_q",
  "attn.hook_k",
  "attn.hook_v",
  "attn.hook_rot_q",
  "attn.hook_rot_k",
  "attn.hook_attn_scores",
  "attn.hook_pattern",
  "attn.hook_z",
  "attn.hook_result",
  "ln1_post.hook_normalized",
  "hook_attn_out",
  "hook_resid_mid",
  "ln2.hook_normalized",
  "mlp.hook_pre",
  "mlp.hook_pre_linear",
  "mlp.hook_post",
  "ln2_post.hook_normalized",
  "hook_mlp_out",
  "hook_resid_post",
];

/**
 * The block hook points a family has (RoPE and gated-MLP hooks exist only for Llama; pre-norm hooks only with
 * pre-norms, post-norm hooks only with post-norms).
 */
export function blockHookNames(cfg: Pick<ModelConfig, "family" | "useAttnResult" | "normPlacement">): BlockHookName[] {
  const llamaOnly = new Set<BlockHookName>(["attn.hook_rot_q", "attn.hook_rot_k", "mlp.hook_pre_linear"]);
  const placement = cfg.normPlacement ?? "pre";
  const absent = new Set<BlockHookName>([
    ...(placement === "post" ? (["ln1.hook_normalized", "ln2.hook_normalized"] as const) : []),
    ...(placement === "pre" ? (["ln1_post.hook_normalized", "ln2_post.hook_normalized"] as const) : []),
  ]);
  return BLOCK_HOOKS.filter((h) => (cfg.family === "llama" || !llamaOnly.has(h)) && (h !== "attn.hook_result" || cfg.useAttnResult === true) && !absent.has(h));
}

/** Every hook point of a model, in the order the forward pass reaches them. */
export function hookNames(cfg: Pick<ModelConfig, "family" | "n_layers" | "useAttnResult" | "normPlacement">): HookName[] {
  const names: HookName[] = ["hook_embed"];
  if (cfg.family === "gpt2") names.push("hook_pos_embed");
  const block = blockHookNames(cfg);
  for (let l = 0; l < cfg.n_layers; l++) for (const h of block) names.push(`blocks.${l}.${h}`);
  names.push("ln_final.hook_normalized");
  return names;
}

/**
 * TransformerLens-style short names: `("resid_post", 3)` → `"blocks.3.hook_resid_post"`,
 * `("pattern", 0)` → `"blocks.0.attn.hook_pattern"`, `("embed")` → `"hook_embed"`. Full names pass through.
 */
export function actName(name: string, layer?: number): string {
  if (name.startsWith("blocks.") || name === "ln_final.hook_normalized") return name;
  if (name.includes("hook_")) {
    const global = name === "hook_embed" || name === "hook_pos_embed";
    return layer !== undefined && !global ? `blocks.${layer}.${name}` : name;
  }
  const short: Record<string, BlockHookName> = {
    resid_pre: "hook_resid_pre",
    resid_mid: "hook_resid_mid",
    resid_post: "hook_resid_post",
    attn_out: "hook_attn_out",
    mlp_out: "hook_mlp_out",
    q: "attn.hook_q",
    k: "attn.hook_k",
    v: "attn.hook_v",
    rot_q: "attn.hook_rot_q",
    rot_k: "attn.hook_rot_k",
    z: "attn.hook_z",
    result: "attn.hook_result",
    attn_scores: "attn.hook_attn_scores",
    scores: "attn.hook_attn_scores",
    pattern: "attn.hook_pattern",
    attn: "attn.hook_pattern",
    pre: "mlp.hook_pre",
    pre_linear: "mlp.hook_pre_linear",
    post: "mlp.hook_post",
    mlp_pre: "mlp.hook_pre",
    mlp_post: "mlp.hook_post",
    normalized: "ln1.hook_normalized",
  };
  if (name === "embed") return "hook_embed";
  if (name === "pos_embed") return "hook_pos_embed";
  if (name === "ln_final" || name === "final_normalized") return "ln_final.hook_normalized";
  const full = short[name];
  if (full === undefined) return name;
  return layer === undefined ? full : `blocks.${layer}.${full}`;
}

/** Throw a RangeError naming `where`, the unknown hook and its near matches, unless `name` is a hook of the model. */
export function checkHookName(name: string, known: ReadonlySet<string>, where: string): asserts name is HookName {
  if (!known.has(name)) {
    throw new RangeError(
      `${where}: unknown hook name ${JSON.stringify(name)}; did you mean ${nearMatches(name, [...known])
        .map((n) => JSON.stringify(n))
        .join(", ")}? (model.hookNames() lists all ${known.size})`,
    );
  }
}

/** Compile a filter into a predicate, checking explicit names against the model's hook points. */
export function filterToPredicate(filter: HookFilter, known: ReadonlySet<string>, where: string): (name: HookName) => boolean {
  if (typeof filter === "function") return filter;
  const list: readonly string[] = typeof filter === "string" ? [filter] : filter;
  for (const n of list) checkHookName(n, known, where);
  const set = new Set(list);
  return (name) => set.has(name);
}
