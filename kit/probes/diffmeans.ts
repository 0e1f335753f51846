/**
 * Difference-of-means probes: the direction from the class-0 mean to the class-1 mean.
 *
 *   const dm = diffOfMeans(X, y);    // dm.direction (unit), dm.raw = mean1 − mean0, dm.threshold
 *   dm.score(Xtest);                 // projections on the direction; > threshold ⇒ class 1
 */
import { checkLabels, project, toDense, type Dense, type Labels, type Matrix } from "./data";
import { unit } from "./logistic";

export interface DiffOfMeans {
  /** (mean1 − mean0) / ‖mean1 − mean0‖. */
  direction: Float32Array;
  /** mean1 − mean0. */
  raw: Float32Array;
  /** Projection of the midpoint (mean0 + mean1) / 2 on the direction. */
  threshold: number;
  mean0: Float32Array;
  mean1: Float32Array;
  /** Projection of each row on the direction. */
  score(X: Matrix): number[];
}

export function diffOfMeans(X: Matrix, y: Labels): DiffOfMeans {
  const where = "diffOfMeans";
  const A = toDense(X as Matrix | Dense, where);
  const labels = checkLabels(y, A.n, where);
  const { n, d, data } = A;
  const s0 = new Float64Array(d);
  const s1 = new Float64Array(d);
  let n1 = 0;
  for (let i = 0; i < n; i++) {
    const s = labels[i] ? s1 : s0;
    n1 += labels[i];
    for (let j = 0; j < d; j++) s[j] += data[i * d + j];
  }
  const n0 = n - n1;
  const mean0 = new Float32Array(d);
  const mean1 = new Float32Array(d);
  const raw = new Float32Array(d);
  let norm = 0;
  for (let j = 0; j < d; j++) {
    mean0[j] = s0[j] / n0;
    mean1[j] = s1[j] / n1;
    const r = s1[j] / n1 - s0[j] / n0;
    raw[j] = r;
    norm += r * r;
  }
  if (!(norm > 0)) throw new RangeError(`${where}: the class means are identical (mean1 − mean0 = 0), so there is no direction`);
  const direction = unit(raw);
  let threshold = 0;
  for (let j = 0; j < d; j++) threshold += ((s0[j] / n0 + s1[j] / n1) / 2) * direction[j];
  return {
    direction,
    raw,
    threshold,
    mean0,
    mean1,
    score(Xs: Matrix): number[] {
      const B = toDense(Xs as Matrix | Dense, "DiffOfMeans.score");
      if (B.d !== d) throw new RangeError(`DiffOfMeans.score: X must have ${d} features (as fitted), received ${B.d}`);
      return project(B, direction);
    },
  };
}
