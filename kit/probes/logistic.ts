/**
 * L2-regularised logistic-regression probes, fitted by Newton's method (IRLS) on the kit's backend.
 *
 *   const probe = fitLogisticProbe(X, y);            // X: number[][] | Float32Array[] | tf.Tensor2D [n, d]; y: 0/1
 *   probe.predictProba(Xtest); probe.direction();    // weights live in the original feature space
 *
 * Objective (standardised features z, class weights c_i, normalised so that Σc_i = n):
 *   (1/n) Σ c_i · logloss(y_i, σ(w·z_i + b)) + (l2/2)·‖w‖²        (the bias is not penalised)
 * Damped Newton (IRLS): the logits, objective and gradient are float64 matvecs on the host (precise, a few ms); the
 * Hessian Zᵀ·diag(s)·Z is one plain matMul on the backend against a once-transposed design matrix (wasm's transposed
 * matMuls are far slower), factored by Cholesky in float64. Later steps reuse the last factor while it still
 * contracts the Newton decrement 20× (chord steps, stopped only at a 10⁴× tighter decrement); each step backtracks
 * until the objective decreases. `info.matmulFlops` counts the backend matMuls (2·n·(d+1)² per fresh Hessian).
 */
import { tf } from "../backend";
import { describeValue } from "../describe";
import { checkLabels, project, toDense, type Dense, type Labels, type Matrix } from "./data";

export interface LogisticOptions {
  /** L2 penalty on the (standardised) weights. Default 1e-2. */
  l2?: number;
  /** "balanced": weight each class by n / (2·n_class); null: all rows weigh 1. Default "balanced". */
  classWeight?: "balanced" | null;
  /** Standardise features (mean 0, std 1; constant features keep std 1) before fitting. Default true. */
  standardize?: boolean;
  /** Newton iterations at most. Default 200. */
  maxIter?: number;
  /** Stop when half the Newton decrement (the predicted objective decrease) falls below tol. Default 1e-6. */
  tol?: number;
  /** Unused by the deterministic Newton solver; kept so that option bags can be shared with other fitters. */
  seed?: number;
}

/** What the solver did. */
export interface FitInfo {
  /** Newton iterations (each computes the gradient). */
  iterations: number;
  /** Of those, how many formed and factored a fresh Hessian (the others reused the last one). */
  hessians: number;
  converged: boolean;
  /** Final objective value (see the module comment). */
  loss: number;
  /** FLOPs of the backend matMuls the solver ran: 2·n·(d+1)² per fresh Hessian. */
  matmulFlops: number;
}

export interface LogisticProbe {
  /** Weights in the original feature space (standardisation folded in). */
  readonly weights: Float32Array;
  /** Bias in the original feature space. */
  readonly bias: number;
  /** Per-feature mean and std used for standardisation (0 and 1 when `standardize: false`). */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly info: FitInfo;
  /** P(y = 1) per row. */
  predictProba(X: Matrix): number[];
  /** w·x + b per row (the log-odds). */
  decisionFunction(X: Matrix): number[];
  /** The weights as a unit vector. */
  direction(): Float32Array;
}

/** Fit a logistic-regression probe. Throws on NaN/Inf features, labels other than 0/1, or a single class. */
export function fitLogisticProbe(
  X: Matrix,
  y: Labels,
  { l2 = 1e-2, classWeight = "balanced", standardize = true, maxIter = 200, tol = 1e-6, seed = 0 }: LogisticOptions = {},
): LogisticProbe {
  const where = "fitLogisticProbe";
  void seed;
  checkOptions(where, { l2, classWeight, maxIter, tol });
  const A = toDense(X as Matrix | Dense, where);
  const labels = checkLabels(y, A.n, where);
  const { mean, std } = standardization(A, standardize);
  const objective = new LogisticObjective(designMatrix(A, mean, std), labels, A.n, A.d, l2, classWeights(labels, classWeight));
  const fit = newtonSolve(objective, { maxIter, tol });
  const { weights, bias } = toFeatureSpace(fit.beta, mean, std);
  const info: FitInfo = { iterations: fit.iterations, hessians: fit.hessians, converged: fit.converged, loss: fit.loss, matmulFlops: fit.flops };
  return makeProbe(weights, bias, Float32Array.from(mean), Float32Array.from(std), info);
}

function checkOptions(where: string, { l2, classWeight, maxIter, tol }: Required<Pick<LogisticOptions, "l2" | "classWeight" | "maxIter" | "tol">>): void {
  if (!(typeof l2 === "number" && Number.isFinite(l2) && l2 >= 0)) throw new RangeError(`${where}: options.l2 must be a finite number ≥ 0, received ${describeValue(l2)}`);
  if (classWeight !== "balanced" && classWeight !== null) throw new RangeError(`${where}: options.classWeight must be "balanced" or null, received ${describeValue(classWeight)}`);
  if (!(Number.isInteger(maxIter) && maxIter > 0)) throw new RangeError(`${where}: options.maxIter must be a positive integer, received ${describeValue(maxIter)}`);
  if (!(typeof tol === "number" && tol > 0)) throw new RangeError(`${where}: options.tol must be a positive number, received ${describeValue(tol)}`);
}

/** Per-feature mean and std (float64 accumulation); constant features keep std 1; 0 and 1 without `standardize`. */
function standardization(A: Dense, standardize: boolean): { mean: Float64Array; std: Float64Array } {
  const { n, d } = A;
  const mean = new Float64Array(d);
  const std = new Float64Array(d).fill(1);
  if (!standardize) return { mean, std };
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += A.data[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const v = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const c = A.data[i * d + j] - mean[j];
      v[j] += c * c;
    }
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(v[j] / n);
    std[j] = s > 1e-12 * Math.max(1, Math.abs(mean[j])) ? s : 1;
  }
  return { mean, std };
}

/** Class weights, normalised so that they sum to n ("balanced"), or 1 each. */
function classWeights(labels: ArrayLike<number>, classWeight: "balanced" | null): { cw0: number; cw1: number } {
  const n = labels.length;
  let ones = 0;
  for (let i = 0; i < n; i++) ones += labels[i];
  return {
    cw1: classWeight === "balanced" ? n / (2 * ones) : 1,
    cw0: classWeight === "balanced" ? n / (2 * (n - ones)) : 1,
  };
}

/** The design matrix Z = [standardised X, 1]: [n, d + 1], row-major. */
function designMatrix(A: Dense, mean: Float64Array, std: Float64Array): Float32Array {
  const { n, d } = A;
  const D = d + 1;
  const zData = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) zData[i * D + j] = (A.data[i * d + j] - mean[j]) / std[j];
    zData[i * D + d] = 1;
  }
  return zData;
}

/**
 * The objective and its derivatives over the design matrix `z` ([n, D], D = d + 1). Logits and gradient on the host
 * in float64 (matvecs: n·D each, a few ms); only the Hessian uses the backend.
 */
class LogisticObjective {
  readonly D: number;

  constructor(
    readonly z: Float32Array,
    readonly labels: ArrayLike<number>,
    readonly n: number,
    readonly d: number,
    readonly l2: number,
    readonly cw: { cw0: number; cw1: number },
  ) {
    this.D = d + 1;
  }

  /** z · b per row. */
  logits(b: Float64Array): Float64Array {
    const { n, D, z } = this;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let acc = 0;
      const o = i * D;
      for (let j = 0; j < D; j++) acc += z[o + j] * b[j];
      out[i] = acc;
    }
    return out;
  }

  /** (1/n) Σ c_i · logloss(y_i, σ(eta_i)) + (l2/2)·‖w‖² (the bias not penalised). */
  value(eta: Float64Array, b: Float64Array): number {
    const { n, d, labels } = this;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = eta[i];
      // logloss = log(1 + exp(-e)) for y=1, log(1 + exp(e)) for y=0, computed stably
      const m = labels[i] ? -e : e;
      s += (labels[i] ? this.cw.cw1 : this.cw.cw0) * (m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m)));
    }
    let r = 0;
    for (let j = 0; j < d; j++) r += b[j] * b[j];
    return s / n + (this.l2 / 2) * r;
  }

  /** Per-row residuals c_i·(p_i − y_i) / n into `rv` and IRLS weights c_i·p_i·(1 − p_i) / n into `sv`. */
  rowWeights(eta: Float64Array, rv: Float64Array, sv: Float32Array): void {
    const { n, labels } = this;
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-eta[i]));
      const c = (labels[i] ? this.cw.cw1 : this.cw.cw0) / n;
      rv[i] = c * (p - labels[i]);
      sv[i] = c * p * (1 - p);
    }
  }

  /** zᵀ·rv + l2·w. */
  gradient(rv: Float64Array, beta: Float64Array): Float64Array {
    const { n, d, D, z } = this;
    const g = new Float64Array(D);
    for (let i = 0; i < n; i++) {
      const ri = rv[i];
      const o = i * D;
      for (let j = 0; j < D; j++) g[j] += z[o + j] * ri;
    }
    for (let j = 0; j < d; j++) g[j] += this.l2 * beta[j];
    return g;
  }

  /** The objective at beta − t·delta, with its logits. */
  trial(beta: Float64Array, delta: Float64Array, t: number): { beta: Float64Array; eta: Float64Array; loss: number } {
    const cand = beta.map((v, j) => v - t * delta[j]);
    const eta = this.logits(cand);
    return { beta: cand, eta, loss: this.value(eta, cand) };
  }
}

/**
 * The Cholesky factor of the Hessian Zᵀ·diag(sv)·Z + l2 (on the weights): one plain matMul on the backend against
 * the once-transposed design matrix, symmetrised and factored in float64.
 */
function hessianFactor(Z: tf.Tensor2D, ZT: tf.Tensor2D, sv: Float32Array, obj: LogisticObjective): Float64Array {
  const { n, d, D, l2 } = obj;
  const s = tf.tensor2d(sv, [n, 1]);
  const Zs = tf.mul(Z, s);
  const Ht = tf.matMul(ZT, Zs); // [D, D]
  const H = Float64Array.from(Ht.dataSync() as Float32Array);
  tf.dispose([s, Zs, Ht]);
  for (let a = 0; a < D; a++)
    for (let b = a + 1; b < D; b++) {
      const m = (H[a * D + b] + H[b * D + a]) / 2;
      H[a * D + b] = m;
      H[b * D + a] = m;
    }
  for (let j = 0; j < d; j++) H[j * D + j] += l2;
  H[d * D + d] += 1e-12;
  cholesky(H, D);
  return H;
}

interface NewtonFit {
  beta: Float64Array;
  iterations: number;
  hessians: number;
  converged: boolean;
  loss: number;
  flops: number;
}

/**
 * Damped Newton from beta = 0. The gradient every iteration; the Hessian only when the last step with the current
 * one contracted poorly (a chord / simplified Newton step reuses the Cholesky factor: one matvec instead of a
 * d²·n matMul).
 */
function newtonSolve(obj: LogisticObjective, { maxIter, tol }: { maxIter: number; tol: number }): NewtonFit {
  const { n, D } = obj;
  const Z = tf.tensor2d(obj.z, [n, D]);
  const ZT = tf.transpose(Z) as tf.Tensor2D;
  const fit: NewtonFit = { beta: new Float64Array(D), iterations: 0, hessians: 0, converged: false, loss: 0, flops: 0 };
  let eta: Float64Array = new Float64Array(n);
  fit.loss = obj.value(eta, fit.beta);
  let factor: Float64Array | null = null;
  let refresh = false;
  let prevDec = Infinity;
  const rv = new Float64Array(n);
  const sv = new Float32Array(n);
  const accept = (step: { beta: Float64Array; eta: Float64Array; loss: number }) => {
    fit.beta.set(step.beta);
    eta = step.eta;
    fit.loss = step.loss;
  };
  try {
    while (fit.iterations < maxIter) {
      fit.iterations++;
      obj.rowWeights(eta, rv, sv);
      const fresh: boolean = factor === null || refresh;
      const g = obj.gradient(rv, fit.beta);
      if (fresh) {
        factor = hessianFactor(Z, ZT, sv, obj);
        fit.flops += 2 * D * n * D;
        fit.hessians++;
      }
      const delta = cholSolve(factor!, g, D);
      let dec = 0;
      for (let j = 0; j < D; j++) dec += g[j] * delta[j];
      if (!(dec >= 0)) break; // not a descent direction (round-off on a singular Hessian): stop, not converged
      // A stale Hessian converges linearly, so its decrement must fall much further before the fit stops.
      refresh = !fresh && dec > 0.05 * prevDec;
      prevDec = dec;
      if (dec / 2 < (fresh ? tol : tol * 1e-4)) {
        fit.converged = true;
        const last = obj.trial(fit.beta, delta, 1); // take this last (tiny) step only if it helps
        if (last.loss <= fit.loss) accept(last);
        break;
      }
      const step = lineSearch(obj, fit.beta, delta, fit.loss, dec);
      if (!step) {
        fit.converged = dec / 2 < Math.max(tol, 1e-9 * Math.abs(fit.loss));
        break;
      }
      accept(step);
    }
  } finally {
    Z.dispose();
    ZT.dispose();
  }
  return fit;
}

/** Backtracking line search (Armijo) along −delta: the first of t = 1, 1/2, … (30 tries) that decreases enough. */
function lineSearch(obj: LogisticObjective, beta: Float64Array, delta: Float64Array, loss: number, dec: number) {
  let t = 1;
  for (let k = 0; k < 30; k++) {
    const step = obj.trial(beta, delta, t);
    if (step.loss <= loss - 1e-4 * t * dec) return step;
    t /= 2;
  }
  return null;
}

/** Weights and bias in the original feature space (standardisation folded in). */
function toFeatureSpace(beta: Float64Array, mean: Float64Array, std: Float64Array): { weights: Float32Array; bias: number } {
  const d = mean.length;
  const weights = new Float32Array(d);
  let bias = beta[d];
  for (let j = 0; j < d; j++) {
    weights[j] = beta[j] / std[j];
    bias -= (beta[j] * mean[j]) / std[j];
  }
  return { weights, bias };
}

function makeProbe(weights: Float32Array, bias: number, mean: Float32Array, std: Float32Array, info: FitInfo): LogisticProbe {
  const d = weights.length;
  const decisionFunction = (X: Matrix): number[] => {
    const A = toDense(X as Matrix | Dense, "LogisticProbe.decisionFunction");
    if (A.d !== d) throw new RangeError(`LogisticProbe.decisionFunction: X must have ${d} features (as fitted), received ${A.d}`);
    return project(A, weights, bias);
  };
  return {
    weights,
    bias,
    mean,
    std,
    info,
    decisionFunction,
    predictProba: (X: Matrix) => decisionFunction(X).map((z) => 1 / (1 + Math.exp(-z))),
    direction: () => unit(weights),
  };
}

/** v / ‖v‖ (a zero vector stays zero). */
export function unit(v: ArrayLike<number>): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const norm = Math.sqrt(s);
  const out = new Float32Array(v.length);
  if (norm > 0) for (let i = 0; i < v.length; i++) out[i] = v[i] / norm;
  return out;
}

/** In-place lower Cholesky factor L of a symmetric positive-definite H (row-major D×D): H = L Lᵀ, float64. */
function cholesky(H: Float64Array, D: number): void {
  for (let i = 0; i < D; i++) {
    const ri = i * D;
    for (let j = 0; j <= i; j++) {
      const rj = j * D;
      let s = H[ri + j];
      for (let k = 0; k < j; k++) s -= H[ri + k] * H[rj + k];
      if (i === j) {
        if (!(s > 0)) s = Math.abs(s) + 1e-12; // guard against round-off on a near-singular Hessian
        H[ri + i] = Math.sqrt(s);
      } else {
        H[ri + j] = s / H[rj + j];
      }
    }
  }
}

/** Solve L Lᵀ x = g given the factor from `cholesky`. */
function cholSolve(L: Float64Array, g: Float64Array, D: number): Float64Array {
  const x = Float64Array.from(g);
  for (let i = 0; i < D; i++) {
    let s = x[i];
    for (let k = 0; k < i; k++) s -= L[i * D + k] * x[k];
    x[i] = s / L[i * D + i];
  }
  for (let i = D - 1; i >= 0; i--) {
    let s = x[i];
    for (let k = i + 1; k < D; k++) s -= L[k * D + i] * x[k];
    x[i] = s / L[i * D + i];
  }
  return x;
}
