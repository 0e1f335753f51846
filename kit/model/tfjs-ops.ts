/**
 * The TensorFlow.js runtime of the model definition (kit/model/forward.ts): eager ops with autograd, JS hooks at every
 * hook point, the KV cache as tf tensors. This is the reference path and the parity oracle of every other runtime.
 */
import { tf } from "../backend";
import type { ForwardOps } from "./forward";
import type { HookName } from "./hooks";
import { activation, applyRope, batchMatMul, embedLookup, layerNormalize, linear, rmsNormalize, type RopeTables } from "./ops";

/** Keys and values of past positions, per layer: [B, K, Tk, dh] each. */
export interface KVLayer {
  k: tf.Tensor;
  v: tf.Tensor;
}

/** The KV cache of a generation in progress. `keyMask[b][j]` is 0 for left-padding positions, 1 otherwise. */
export class KVCache {
  layers: KVLayer[] = [];
  length = 0;
  keyMask: readonly (readonly number[])[] | null;
  constructor(keyMask: readonly (readonly number[])[] | null = null) {
    this.keyMask = keyMask;
  }
  dispose(): void {
    for (const l of this.layers) {
      l.k.dispose();
      l.v.dispose();
    }
    this.layers = [];
    this.length = 0;
  }
}

export interface TfjsOpsContext {
  /** Parameters by name, plus `unembed.W_U` for tied models and the RoPE tables, resolved by the caller. */
  param: (name: string) => tf.Tensor;
  rope: RopeTables | null;
  /** Runs hooks, steering and caching at a hook point. */
  hook: (name: HookName, act: tf.Tensor) => tf.Tensor;
  kvCache?: KVCache;
  /** Inside a gradient computation: keep every intermediate (no per-block tidy). */
  training: boolean;
  /** The active LoRA adapter's tensors at a weight (kit/model/lora.ts), or null. */
  lora?: ForwardOps<tf.Tensor>["lora"];
}

/** Resolve ONNX-style reshape dims: 0 keeps the input's size on that axis. */
function resolveShape(x: tf.Tensor, shape: readonly number[]): number[] {
  return shape.map((s, i) => (s === 0 ? x.shape[i]! : s));
}

export function tfjsOps(ctx: TfjsOpsContext): ForwardOps<tf.Tensor> {
  return {
    param: ctx.param,
    embed: (table, ids) => embedLookup(table, ids),
    linear: (x, W, b) => linear(x, W, b),
    add: (a, b) => tf.add(a, b),
    mul: (a, b) => tf.mul(a, b),
    scale: (a, s) => tf.mul(a, s),
    tanh: (x) => tf.tanh(x),
    norm: (x, { kind, w, b, eps, hook, offset }) => {
      const raw = kind === "layer" ? layerNormalize(x, eps) : rmsNormalize(x, eps);
      const normalized = hook ? ctx.hook(hook, raw) : raw;
      const scaled = tf.mul(normalized, offset ? tf.add(w, offset) : w);
      return b ? tf.add(scaled, b) : scaled;
    },
    activation: (name, x) => activation(name, x),
    reshape: (x, shape) => tf.reshape(x, resolveShape(x, shape)),
    transpose: (x, perm) => tf.transpose(x, [...perm]),
    bmm: (a, b, { transposeB = false } = {}) => batchMatMul(a, b, { transposeB }),
    sum: (x, axis) => tf.sum(x, axis),
    perHead: (z, W, heads) => {
      const [B, T, H, dh] = z.shape as [number, number, number, number];
      const zh = tf.reshape(tf.transpose(z, [2, 0, 1, 3]), [H, B * T, dh]); // [H, B·T, dh]
      const out = tf.matMul(zh, tf.reshape(W, [heads, dh, -1])); // [H, B·T, d]
      return tf.transpose(tf.reshape(out, [H, B, T, -1]), [1, 2, 0, 3]); // [B, T, H, d]
    },
    softmax: (x) => tf.softmax(x),
    rope: (x, cos, sin) => applyRope(x, cos, sin, ctx.rope!),
    hook: ctx.hook,
    kv: (l, k, v) => {
      const cache = ctx.kvCache;
      if (!cache) return { k, v };
      const prev = cache.layers[l];
      if (prev) {
        k = tf.concat([prev.k, k], 2); // [B, K, Tk, dh]
        v = tf.concat([prev.v, v], 2);
        prev.k.dispose();
        prev.v.dispose();
      }
      cache.layers[l] = { k: tf.keep(k), v: tf.keep(v) };
      return { k, v };
    },
    block: (fn) => (ctx.training ? fn() : tf.tidy(fn)),
    ...(ctx.lora ? { lora: ctx.lora } : {}),
  };
}
