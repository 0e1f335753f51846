/**
 * A seeded next-token sampler: greedy (temperature 0), temperature, top-k and top-p (nucleus), in that order,
 * on one row of logits. Deterministic for a given seed and call sequence.
 */
import { mulberry32 } from "../model/params";

export interface SamplingOptions {
  /** 0 means greedy (argmax; the first maximum on ties, as llama2.c does). Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
}

export function checkSamplingOptions({ temperature = 1, topK = 0, topP = 1 }: SamplingOptions, where: string): void {
  if (!(Number.isFinite(temperature) && temperature >= 0)) throw new RangeError(`${where}: temperature must be a finite number ≥ 0, received ${temperature}`);
  if (!(Number.isInteger(topK) && topK >= 0)) throw new RangeError(`${where}: topK must be an integer ≥ 0, received ${topK}`);
  if (!(Number.isFinite(topP) && topP > 0 && topP <= 1)) throw new RangeError(`${where}: topP must be in (0, 1], received ${topP}`);
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export class Sampler {
  private readonly rand: () => number;

  constructor(seed = 0) {
    this.rand = mulberry32(seed);
  }

  /** One token id from one row of logits. */
  sample(logits: ArrayLike<number>, { temperature = 1, topK = 0, topP = 1 }: SamplingOptions = {}): number {
    if (temperature === 0) return argmax(logits);
    const V = logits.length;
    if (!(topK > 0 && topK < V) && topP >= 1) return this.sampleAll(logits, temperature);
    let ids = Array.from({ length: V }, (_, i) => i);
    if ((topK > 0 && topK < V) || topP < 1) ids.sort((a, b) => logits[b] - logits[a] || a - b);
    if (topK > 0 && topK < V) ids = ids.slice(0, topK);
    let max = -Infinity;
    for (const i of ids) if (logits[i] > max) max = logits[i];
    const probs = ids.map((i) => Math.exp((logits[i] - max) / temperature));
    let total = probs.reduce((a, b) => a + b, 0);
    if (topP < 1) {
      let cum = 0;
      let cut = probs.length;
      for (let j = 0; j < probs.length; j++) {
        cum += probs[j] / total;
        if (cum >= topP) {
          cut = j + 1;
          break;
        }
      }
      ids = ids.slice(0, cut);
      probs.length = cut;
      total = probs.reduce((a, b) => a + b, 0);
    }
    let r = this.rand() * total;
    for (let j = 0; j < ids.length; j++) {
      r -= probs[j];
      if (r <= 0) return ids[j];
    }
    return ids[ids.length - 1];
  }

  /** Temperature sampling over the whole vocabulary, on typed arrays (the common case; no sorting). */
  private sampleAll(logits: ArrayLike<number>, temperature: number): number {
    const V = logits.length;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
    const probs = new Float64Array(V);
    let total = 0;
    for (let i = 0; i < V; i++) total += probs[i] = Math.exp((logits[i] - max) / temperature);
    let r = this.rand() * total;
    for (let i = 0; i < V; i++) {
      r -= probs[i];
      if (r <= 0) return i;
    }
    return V - 1;
  }
}
