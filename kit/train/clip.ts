/**
 * Global-norm gradient clipping (as `torch.nn.utils.clip_grad_norm_`): the L2 norm of all gradients taken together,
 * and, when it exceeds `maxNorm`, every gradient scaled by `maxNorm / (norm + 1e-6)`.
 *
 * The norm is computed in float32 on the backend and read back once (one sync). A non-finite norm is returned as is
 * and nothing is scaled: the caller decides what to do with a NaN or an overflow (the trainer stops).
 */
import { tf } from "../backend";

/** Added to the norm before dividing, as PyTorch does, so a norm of exactly `maxNorm` scales by just under 1. */
export const CLIP_EPS = 1e-6;

/** The global L2 norm of a set of tensors (0 for none). */
export function globalNorm(tensors: Iterable<tf.Tensor>): number {
  const list = [...tensors];
  if (list.length === 0) return 0;
  const total = tf.tidy(() => {
    const sums = list.map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(sums.length === 1 ? sums[0] : tf.addN(sums));
  });
  const norm = total.dataSync()[0];
  total.dispose();
  return norm;
}

/**
 * Clip `grads` in place to a global norm of at most `maxNorm` and return the norm before clipping. Scaled gradients
 * replace the originals in the map (the originals are disposed). `maxNorm = null` or `Infinity` only measures.
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number | null): number {
  if (maxNorm !== null && !(maxNorm > 0)) throw new RangeError(`clipByGlobalNorm: maxNorm must be a positive number or null, received ${maxNorm}`);
  const norm = globalNorm(grads.values());
  if (maxNorm === null || !Number.isFinite(maxNorm) || !Number.isFinite(norm) || norm <= maxNorm) return norm;
  const coef = maxNorm / (norm + CLIP_EPS);
  const scale = tf.scalar(coef);
  for (const [name, g] of grads) {
    grads.set(name, tf.mul(g, scale));
    g.dispose();
  }
  scale.dispose();
  return norm;
}
