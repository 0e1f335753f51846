/**
 * Principal components of a feature matrix: the covariance by one matMul on the kit's backend, then power
 * iteration with deflation (float64, seeded start vectors). Each component's largest-|value| entry is made positive,
 * so that the output is deterministic.
 *
 *   const p = pca(X, { k: 2 });      // p.components [k][d], p.explainedVarianceRatio, p.transform(X) → [n][k]
 */
import { tf } from "../backend";
import { describeValue } from "../describe";
import { mulberry32 } from "../util/rng";
import { toDense, type Dense, type Matrix } from "./data";

export interface PcaOptions {
  /** Number of components. Default 2. */
  k?: number;
  /** Subtract the column means first. Default true. */
  center?: boolean;
  /** Power-iteration cap per component. Default 2000. */
  maxIter?: number;
  /** Seed of the start vectors. Default 0. */
  seed?: number;
}

export interface Pca {
  /** [k][d], unit rows. */
  components: Float32Array[];
  /** Variance along each component (eigenvalues of the covariance, divisor n − 1). */
  explainedVariance: number[];
  /** explainedVariance / total variance. */
  explainedVarianceRatio: number[];
  /** Column means subtracted (zeros when center is false). */
  mean: Float32Array;
  /** Coordinates of rows on the components: [n][k]. */
  transform(X: Matrix): number[][];
}

export function pca(X: Matrix, { k = 2, center = true, maxIter = 2000, seed = 0 }: PcaOptions = {}): Pca {
  const where = "pca";
  const A = toDense(X as Matrix | Dense, where);
  const { n, d } = A;
  if (!(Number.isInteger(k) && k >= 1 && k <= d)) throw new RangeError(`${where}: options.k must be an integer in [1, d = ${d}], received ${describeValue(k)}`);
  if (n < 2) throw new RangeError(`${where}: X needs at least 2 rows, received ${n}`);
  const mean = new Float32Array(d);
  if (center) {
    const s = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) s[j] += A.data[i * d + j];
    for (let j = 0; j < d; j++) mean[j] = s[j] / n;
  }
  const xc = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xc[i * d + j] = A.data[i * d + j] - mean[j];
  const Xc = tf.tensor2d(xc, [n, d]);
  const XcT = tf.transpose(Xc); // transposed once: a plain matMul below
  const Ct = tf.matMul(XcT, Xc);
  const C = Float64Array.from(Ct.dataSync() as Float32Array);
  tf.dispose([Xc, XcT, Ct]);
  for (let i = 0; i < C.length; i++) C[i] /= n - 1;
  let total = 0;
  for (let j = 0; j < d; j++) total += C[j * d + j];

  const rand = mulberry32(seed);
  const components: Float32Array[] = [];
  const explainedVariance: number[] = [];
  const Cv = (v: Float64Array): Float64Array => {
    const out = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += C[i * d + j] * v[j];
      out[i] = s;
    }
    return out;
  };
  for (let c = 0; c < k; c++) {
    let v: Float64Array = new Float64Array(d);
    for (let j = 0; j < d; j++) v[j] = rand() - 0.5;
    normalise(v);
    let lambda = 0;
    for (let it = 0; it < maxIter; it++) {
      const w = Cv(v);
      const norm = normalise(w);
      if (norm === 0) break;
      let diff = 0;
      for (let j = 0; j < d; j++) diff = Math.max(diff, Math.abs(w[j] - v[j]));
      v = w;
      lambda = norm;
      if (diff < 1e-10) break;
    }
    const Cvv = Cv(v);
    lambda = 0;
    for (let j = 0; j < d; j++) lambda += v[j] * Cvv[j];
    // Deterministic sign: the largest-|value| entry positive.
    let big = 0;
    for (let j = 1; j < d; j++) if (Math.abs(v[j]) > Math.abs(v[big])) big = j;
    if (v[big] < 0) for (let j = 0; j < d; j++) v[j] = -v[j];
    components.push(Float32Array.from(v));
    explainedVariance.push(Math.max(0, lambda));
    // Deflate: C ← C − λ v vᵀ.
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) C[i * d + j] -= lambda * v[i] * v[j];
  }
  return {
    components,
    explainedVariance,
    explainedVarianceRatio: explainedVariance.map((e) => (total > 0 ? e / total : 0)),
    mean,
    transform(Xt: Matrix): number[][] {
      const B = toDense(Xt as Matrix | Dense, "Pca.transform");
      if (B.d !== d) throw new RangeError(`Pca.transform: X must have ${d} features (as fitted), received ${B.d}`);
      const out: number[][] = [];
      for (let i = 0; i < B.n; i++) {
        out.push(
          components.map((comp) => {
            let s = 0;
            for (let j = 0; j < d; j++) s += (B.data[i * d + j] - mean[j]) * comp[j];
            return s;
          }),
        );
      }
      return out;
    },
  };
}

function normalise(v: Float64Array): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  const norm = Math.sqrt(s);
  if (norm > 0) for (let j = 0; j < v.length; j++) v[j] /= norm;
  return norm;
}
