/**
 * The layers' building blocks, written around the wasm backend's fast paths.
 *
 * TensorFlow.js on wasm runs a plain `matMul(a, b)` at ~20 GFLOP/s but the transposed forms that autograd uses for
 * matMul's gradient at 1–2 GFLOP/s, and has no `UnsortedSegmentSum` kernel (the gradient of `gather`). So:
 * - `linear` has a custom gradient that transposes explicitly, then multiplies plainly;
 * - `embedLookup` has a custom gradient that scatter-adds rows on the CPU (exact, no missing kernel);
 * - `matMulConst` multiplies by a constant matrix whose transpose is given (RoPE's rotation).
 */
import { tf } from "../backend";

/** `x @ W (+ b)` over the last axis of `x`. x: [..., in], W: [in, out], b: [out] → [..., out]. */
export function linear(x: tf.Tensor, W: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  const outDim = W.shape[1]!;
  const lead = x.shape.slice(0, -1);
  const x2d = x.reshape([-1, inDim]); // [n, in]
  const y = matMulFast(x2d, W); // [n, out]
  const y2 = b ? tf.add(y, b) : y;
  return y2.reshape([...lead, outDim]);
}

/** A differentiable op from a forward function and its gradient (a typed wrapper over `tf.customGrad`). */
function customOp(
  f: (...inputs: tf.Tensor[]) => { value: tf.Tensor; saved?: tf.Tensor[]; grad: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] },
): (...inputs: tf.Tensor[]) => tf.Tensor {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const g = tf.customGrad(((...args: any[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const r = f(...(args as tf.Tensor[]));
    save(r.saved ?? []);
    return { value: r.value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => r.grad(dy, saved) };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  }) as any);
  return (...inputs: tf.Tensor[]) => g(...inputs) as tf.Tensor;
}

/** Plain 2-D matMul whose gradient avoids transposed-matMul kernels. a: [n, in], w: [in, out]. */
const matMulFast = customOp((a: tf.Tensor, w: tf.Tensor) => ({
  value: tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D),
  saved: [a, w],
  grad: (dy, [sa, sw]) => [tf.matMul(dy as tf.Tensor2D, tf.transpose(sw) as tf.Tensor2D), tf.matMul(tf.transpose(sa) as tf.Tensor2D, dy as tf.Tensor2D)],
}));

/** `x @ M` for a constant M with known transpose Mt; x: [..., k], M: [k, k]. No gradient flows into M. */
export function matMulConst(x: tf.Tensor, M: tf.Tensor2D, Mt: tf.Tensor2D): tf.Tensor {
  const k = x.shape[x.shape.length - 1];
  const f = customOp((a: tf.Tensor) => ({ value: tf.matMul(a as tf.Tensor2D, M), grad: (dy) => [tf.matMul(dy as tf.Tensor2D, Mt)] }));
  return f(x.reshape([-1, k])).reshape(x.shape);
}

/**
 * Rows of a table by integer ids: `table[ids]`. table: [n, d], ids: int32 [...] → [..., d].
 * The gradient scatter-adds `dy` rows into a zero [n, d] table on the CPU.
 */
export function embedLookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [n, d] = table.shape as [number, number];
  const idShape = ids.shape;
  const flat = ids.reshape([-1]) as tf.Tensor1D;
  const idArr = flat.dataSync() as Int32Array;
  const f = customOp((t: tf.Tensor) => ({
    value: tf.gather(t, flat),
    grad: (dy) => {
      const g = new Float32Array(n * d);
      const dyArr = dy.dataSync() as Float32Array;
      for (let i = 0; i < idArr.length; i++) {
        const src = i * d;
        const dst = idArr[i] * d;
        for (let j = 0; j < d; j++) g[dst + j] += dyArr[src + j];
      }
      return [tf.tensor2d(g, [n, d])];
    },
  }));
  return f(table).reshape([...idShape, d]);
}

/** `(x - mean) / sqrt(var + eps)` over the last axis (LayerNorm before its weight and bias). */
export function layerNormalize(x: tf.Tensor, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.mul(centred, tf.rsqrt(tf.add(variance, eps)));
}

/** `x / sqrt(mean(x²) + eps)` over the last axis (RMSNorm before its weight). */
export function rmsNormalize(x: tf.Tensor, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(x, tf.rsqrt(tf.add(ms, eps)));
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GPT-2's tanh approximation of GELU ("gelu_new"). */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** Exact GELU, x·Φ(x), with Φ from erf. */
export function geluExact(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

export function activation(name: "gelu_new" | "gelu" | "silu" | "relu", x: tf.Tensor): tf.Tensor {
  switch (name) {
    case "gelu_new":
      return geluNew(x);
    case "gelu":
      return geluExact(x);
    case "silu":
      return silu(x);
    case "relu":
      return tf.relu(x);
  }
}

/**
 * RoPE tables for one head size. Rotation is written as `x·C + (x @ R)·S`, where R is the signed permutation that
 * maps each dimension to its partner (`interleaved`: pairs (2i, 2i+1); `halves`: (i, i + d/2)), and C, S hold the
 * cos and sin of each dimension's frequency at each position.
 */
export interface RopeTables {
  cos: tf.Tensor2D; // [n_ctx, d_head]
  sin: tf.Tensor2D; // [n_ctx, d_head]
  R: tf.Tensor2D; // [d_head, d_head]
  Rt: tf.Tensor2D; // [d_head, d_head]
}

export function ropeTables(dHead: number, nCtx: number, theta: number, style: "interleaved" | "halves"): RopeTables {
  const half = dHead / 2;
  const cos = new Float32Array(nCtx * dHead);
  const sin = new Float32Array(nCtx * dHead);
  const R = new Float32Array(dHead * dHead);
  for (let i = 0; i < half; i++) {
    // Frequency computed in float32, as llama2.c and HF do.
    const freq = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / dHead))));
    const [a, b] = style === "interleaved" ? [2 * i, 2 * i + 1] : [i, i + half];
    for (let p = 0; p < nCtx; p++) {
      const angle = Math.fround(p * freq);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * dHead + a] = c;
      cos[p * dHead + b] = c;
      sin[p * dHead + a] = s;
      sin[p * dHead + b] = s;
    }
    // rotate(x)[a] = -x[b]; rotate(x)[b] = x[a]; as a matrix on row vectors: (x @ R)[j] = Σ_i x[i] R[i, j].
    R[b * dHead + a] = -1;
    R[a * dHead + b] = 1;
  }
  const Rt = new Float32Array(dHead * dHead);
  for (let i = 0; i < dHead; i++) for (let j = 0; j < dHead; j++) Rt[j * dHead + i] = R[i * dHead + j];
  return {
    cos: tf.tensor2d(cos, [nCtx, dHead]),
    sin: tf.tensor2d(sin, [nCtx, dHead]),
    R: tf.tensor2d(R, [dHead, dHead]),
    Rt: tf.tensor2d(Rt, [dHead, dHead]),
  };
}

/** Apply RoPE. x: [B, T, H, dh]; cos, sin: [B, T, 1, dh] (gathered at each token's position). */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, tables: RopeTables): tf.Tensor {
  return tf.add(tf.mul(x, cos), tf.mul(matMulConst(x, tables.R, tables.Rt), sin));
}
