/**
 * The layers' building blocks, written around the wasm backend's fast paths.
 *
 * TensorFlow.js on wasm runs a plain `matMul(a, b)` at ~20 GFLOP/s but the transposed forms that autograd uses for
 * matMul's gradient at 1–2 GFLOP/s, and has no `UnsortedSegmentSum` kernel (the gradient of `gather`). So:
 * - `linear` has a custom gradient that transposes explicitly, then multiplies plainly; it transposes the narrower of
 *   the input and the output gradient (wasm's Transpose runs at ~0.1 G elements/s), and computes the bias gradient
 *   inside a matMul rather than with a row-axis `sum` (which transposes internally);
 * - `embedLookup` copies rows on the CPU when the table is small (wasm's GatherV2 is ~10× slower than a copy), and
 *   its custom gradient scatter-adds rows on the CPU (exact, no missing kernel);
 * - `matMulConst` multiplies by a constant matrix whose transpose is given (RoPE's rotation);
 * - `geluNew`, `layerNormalize` and `rmsNormalize` have closed-form gradients: the same forward kernels (bit-identical
 *   values), and a handful of cheap elementwise ops backward instead of autograd's chain (which for GELU re-runs the
 *   slow `Pow` kernel, and for the norms adds a broadcast reduction per op).
 */
import { tf } from "../backend";

/** `x @ W (+ b)` over the last axis of `x`. x: [..., in], W: [in, out], b: [out] → [..., out]. */
export function linear(x: tf.Tensor, W: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  const outDim = W.shape[1]!;
  const lead = x.shape.slice(0, -1);
  const x2d = x.reshape([-1, inDim]); // [n, in]
  const y = b ? matMulBiasFast(x2d, W, b) : matMulFast(x2d, W); // [n, out]
  return y.reshape([...lead, outDim]);
}

/** Whether a gradient tape is recording (inside `tf.grad`, `tf.variableGrads`, …). */
export function taping(): boolean {
  return (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/**
 * A differentiable op from a forward function and its gradient (a typed wrapper over `tf.customGrad`). When no
 * gradient tape is recording (inference), the forward function runs bare: same kernels, no wrapper overhead.
 */
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
  return (...inputs: tf.Tensor[]) => (taping() ? (g(...inputs) as tf.Tensor) : f(...inputs).value);
}

/** Plain 2-D matMul whose gradient avoids transposed-matMul kernels. a: [n, in], w: [in, out]. */
const matMulFast = customOp((a: tf.Tensor, w: tf.Tensor) => ({
  value: tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D),
  saved: [a, w],
  grad: (dy, [sa, sw]) => [tf.matMul(dy as tf.Tensor2D, tf.transpose(sw) as tf.Tensor2D), weightGrads(sa as tf.Tensor2D, dy as tf.Tensor2D, false)[0]],
}));

/** `a @ w + bias` (the same kernels as `tf.add(tf.matMul(a, w), bias)`), with `matMulFast`'s gradient plus the bias's. */
const matMulBiasFast = customOp((a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) => ({
  value: tf.add(tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D), bias),
  saved: [a, w],
  grad: (dy, [sa, sw]) => {
    const [dW, db] = weightGrads(sa as tf.Tensor2D, dy as tf.Tensor2D, true);
    return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sw) as tf.Tensor2D), dW, db!];
  },
}));

/**
 * Gradients of `a @ w (+ bias)` with respect to w (and bias), given dy: [n, out] and a: [n, in], with one explicit
 * transpose of the narrower of a and dy followed by plain matMuls:
 * - in ≤ out: aᵀ with a row of ones appended, times dy: rows 0..in-1 are dW, the last row is Σ_rows dy (the bias grad);
 * - in > out: dWᵀ = dyᵀ @ a, transposed back (small), and the bias grad as dyᵀ @ 1.
 */
function weightGrads(a: tf.Tensor2D, dy: tf.Tensor2D, withBias: boolean): [tf.Tensor, tf.Tensor | null] {
  const [n, inDim] = a.shape;
  const outDim = dy.shape[1];
  if (inDim <= outDim) {
    const at = tf.transpose(a); // [in, n]
    if (!withBias) return [tf.matMul(at, dy), null];
    const r = tf.matMul(tf.concat([at, tf.ones([1, n])], 0), dy); // [in + 1, out]
    return [r.slice([0, 0], [inDim, outDim]), r.slice([inDim, 0], [1, outDim]).reshape([outDim])];
  }
  const dyt = tf.transpose(dy); // [out, n]
  const dW = tf.transpose(tf.matMul(dyt, a)); // [in, out]
  return [dW, withBias ? tf.matMul(dyt, tf.ones([n, 1])).reshape([outDim]) : null];
}

/**
 * Batched matMul C[n] = A[n] @ B[n] through wasm's XNNPACK depthwise convolution, 2.5–3× faster than wasm's
 * `BatchMatMul` (a plain loop) on attention shapes. A: [N, M, K], B: [N, K, P] → [N, M, P]. Depthwise conv with
 * input [1, M, K, N] (height M, width K, channel N) and filter [1, K, N, P] (channel multiplier P), VALID padding:
 * out[0, m, 0, n·P + p] = Σ_k A[n, m, k] · B[n, k, p]. The gradient uses the same kernel.
 */
function bmmConv(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [N, M, K] = a.shape as [number, number, number];
  const P = b.shape[2]!;
  const x = tf.transpose(a, [1, 2, 0]).reshape([1, M, K, N]) as tf.Tensor4D;
  const f = tf.transpose(b, [1, 0, 2]).reshape([1, K, N, P]) as tf.Tensor4D;
  const out = tf.depthwiseConv2d(x, f, 1, "valid"); // [1, M, 1, N·P]
  return tf.transpose(out.reshape([M, N, P]), [1, 0, 2]);
}

const bmmOp = customOp((a: tf.Tensor, b: tf.Tensor) => ({
  value: bmmConv(a, b),
  saved: [a, b],
  grad: (dy, [sa, sb]) => [bmmConv(dy, tf.transpose(sb, [0, 2, 1])), bmmConv(tf.transpose(sa, [0, 2, 1]), dy)],
}));

/**
 * `tf.matMul(a, b)` for rank ≥ 3 tensors with equal leading (batch) dims: [..., M, K] @ [..., K, P] → [..., M, P].
 * Few rows per product (M < 8: one decoding step) go to `BatchMatMul` directly: the convolution's three
 * transposes cost more than they save there. `transposeB` multiplies by Bᵀ for B: [..., P, K].
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, { transposeB = false }: { transposeB?: boolean } = {}): tf.Tensor {
  const lead = a.shape.slice(0, -2);
  const [M, K] = a.shape.slice(-2) as [number, number];
  if (M < 8) return tf.matMul(a, b, false, transposeB);
  const bt = transposeB ? tf.transpose(b, [...lead.map((_, i) => i), lead.length + 1, lead.length]) : b; // [..., K, P]
  const P = bt.shape[bt.shape.length - 1]!;
  const N = lead.reduce((x, y) => x * y, 1);
  return bmmOp(a.reshape([N, M, K]), bt.reshape([N, K, P])).reshape([...lead, M, P]);
}

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
    // Exact row copies either way; reading the table back is worth it only when it is small next to the output.
    value: n <= 4 * idArr.length ? gatherRowsOnCpu(t, idArr, n, d) : tf.gather(t, flat),
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

/** `table[ids]` by copying rows on the CPU. table: [n, d] → [ids.length, d]. */
function gatherRowsOnCpu(table: tf.Tensor, ids: Int32Array, n: number, d: number): tf.Tensor2D {
  const src = table.dataSync() as Float32Array;
  const out = new Float32Array(ids.length * d);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < n)) throw new RangeError(`embedLookup: id ${id} at index ${i} is outside the table's ${n} rows`);
    out.set(src.subarray(id * d, id * d + d), i * d);
  }
  return tf.tensor2d(out, [ids.length, d]);
}

/** `(x - mean) / sqrt(var + eps)` over the last axis (LayerNorm before its weight and bias). */
export function layerNormalize(x: tf.Tensor, eps: number): tf.Tensor {
  const f = customOp((a: tf.Tensor) => {
    const mean = tf.mean(a, -1, true);
    const centred = tf.sub(a, mean);
    const variance = tf.mean(tf.square(centred), -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const y = tf.mul(centred, rstd);
    return {
      value: y,
      saved: [y, rstd],
      // dx = rstd · (dy − mean(dy) − y · mean(dy · y))
      grad: (dy, [sy, sr]) => [
        tf.mul(tf.sub(tf.sub(dy, tf.mean(dy, -1, true)), tf.mul(sy, tf.mean(tf.mul(dy, sy), -1, true))), sr),
      ],
    };
  });
  return f(x);
}

/** `x / sqrt(mean(x²) + eps)` over the last axis (RMSNorm before its weight). */
export function rmsNormalize(x: tf.Tensor, eps: number): tf.Tensor {
  const f = customOp((a: tf.Tensor) => {
    const ms = tf.mean(tf.square(a), -1, true);
    const rstd = tf.rsqrt(tf.add(ms, eps));
    const y = tf.mul(a, rstd);
    return {
      value: y,
      saved: [y, rstd],
      // dx = rstd · (dy − y · mean(dy · y))
      grad: (dy, [sy, sr]) => [tf.mul(tf.sub(dy, tf.mul(sy, tf.mean(tf.mul(dy, sy), -1, true))), sr)],
    };
  });
  return f(x);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** GPT-2's tanh approximation of GELU ("gelu_new"). */
export function geluNew(x: tf.Tensor): tf.Tensor {
  return geluNewOp(x);
}

/**
 * y = ½x(1 + tanh(u)) = x·σ(2u), u = √(2/π)(x + k x³), written with sigmoid and without `Pow` (both `Pow` and
 * `Tanh` are slow on wasm). dy/dx = s + 2x·s(1 − s)·du/dx with s = σ(2u), computed from the saved x and s.
 */
const geluNewOp = customOp((x: tf.Tensor) => {
  const twoU = tf.mul(tf.mul(x, tf.add(tf.mul(tf.square(x), GELU_K), 1)), 2 * SQRT_2_OVER_PI); // 2u
  const s = tf.sigmoid(twoU);
  return {
    value: tf.mul(x, s),
    saved: [x, s],
    grad: (dy, [sx, ss]) => {
      const du = tf.add(tf.mul(tf.square(sx), 3 * GELU_K * SQRT_2_OVER_PI), SQRT_2_OVER_PI); // du/dx
      const g = tf.add(ss, tf.mul(tf.mul(tf.mul(sx, 2), tf.mul(ss, tf.sub(1, ss))), du)); // dy/dx
      return [tf.mul(dy, g)];
    },
  };
});

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
