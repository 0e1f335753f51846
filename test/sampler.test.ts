import { describe, expect, it } from "vitest";
import { argmax, checkSamplingOptions, Sampler } from "../kit/generate/sampler";

const logits = [1.0, 3.0, 2.5, -1.0, 3.0, 0.0];

function frequencies(opts: ConstructorParameters<typeof Sampler>[0], sampling: Parameters<Sampler["sample"]>[1], n = 20000): number[] {
  const s = new Sampler(opts);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[s.sample(logits, sampling)]++;
  return counts.map((c) => c / n);
}

describe("Sampler", () => {
  it("argmax(row) returns the first maximum, as llama2.c does", () => {
    expect(argmax(logits)).toBe(1);
  });

  it("sample(logits, { temperature: 0 }) is greedy", () => {
    expect(new Sampler(5).sample(logits, { temperature: 0 })).toBe(1);
  });

  it("new Sampler(seed) is deterministic for a seed and differs across seeds", () => {
    const draw = (seed: number) => {
      const s = new Sampler(seed);
      return Array.from({ length: 50 }, () => s.sample(logits, { temperature: 1 }));
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
  });

  it("sample(logits, { temperature: 1 }) follows softmax(logits)", () => {
    const z = logits.map(Math.exp);
    const total = z.reduce((a, b) => a + b, 0);
    const freq = frequencies(0, { temperature: 1 });
    for (let i = 0; i < logits.length; i++) expect(Math.abs(freq[i] - z[i] / total)).toBeLessThan(0.015);
  });

  it("sample(logits, { topK: 2 }) only returns the two most likely tokens", () => {
    const freq = frequencies(3, { temperature: 1, topK: 2 });
    expect(freq[1] + freq[4]).toBe(1);
    expect(freq[1]).toBeGreaterThan(0.4);
  });

  it("sample(logits, { topP }) keeps the smallest set reaching p", () => {
    // softmax mass: tokens 1 and 4 hold ~0.34 each, token 2 ~0.21: p = 0.6 keeps {1, 4}; p = 0.8 adds 2.
    expect(frequencies(4, { temperature: 1, topP: 0.6 }).filter((f) => f > 0).length).toBe(2);
    const f = frequencies(4, { temperature: 1, topP: 0.8 });
    expect(f[2]).toBeGreaterThan(0);
    expect(f[0] + f[3] + f[5]).toBe(0);
  });

  it("checkSamplingOptions rejects bad values with the option name and value", () => {
    expect(() => checkSamplingOptions({ temperature: -1 }, "generate")).toThrow("generate: temperature must be a finite number ≥ 0, received -1");
    expect(() => checkSamplingOptions({ topK: 1.5 }, "generate")).toThrow("generate: topK must be an integer ≥ 0, received 1.5");
    expect(() => checkSamplingOptions({ topP: 0 }, "generate")).toThrow("generate: topP must be in (0, 1], received 0");
  });
});
