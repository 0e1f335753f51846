/**
 * kit/util: the one home of the kit's low-level helpers (edit distance, plain objects, seeded RNG, Wilson intervals
 * and quantiles, the config validators' field checks). Golden values pin the RNG streams the organisms' seeds name.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { editDistance, nearMatches } from "../kit/util/editDistance";
import { isPlainObject } from "../kit/util/object";
import { fnv1a, hash2, mulberry32, normalSampler } from "../kit/util/rng";
import { escapeHtml, escapeHtmlText } from "../kit/util/html";
import { bootstrapMean, mean, quantile, wilson } from "../kit/util/stats";
import { fields, section, showValue, unknownKeys } from "../kit/util/validate";
import * as params from "../kit/model/params";
import * as metrics from "../kit/organisms/metrics";

describe("editDistance(a, b)", () => {
  it("editDistance counts insertions, deletions and substitutions (kitten → sitting is 3)", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("sitting", "kitten")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("abc", "")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
    expect(editDistance("flaw", "lawn")).toBe(2);
  });

  it("nearMatches(name, known, k) returns the k closest names, ties in alphabetical order", () => {
    expect(nearMatches("hook_resid_pre", ["hook_resid_post", "hook_resid_pre", "hook_attn_out", "ln1"], 2)).toEqual(["hook_resid_pre", "hook_resid_post"]);
    expect(nearMatches("ab", ["ad", "ac", "zz"], 2)).toEqual(["ac", "ad"]);
    expect(nearMatches("x", [], 3)).toEqual([]);
  });
});

describe("isPlainObject(value)", () => {
  it("isPlainObject accepts objects and rejects null, arrays and primitives", () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject({ a: 1 })).toBe(true);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject("s")).toBe(false);
    expect(isPlainObject(undefined)).toBe(false);
  });
});

describe("rng: mulberry32(seed), normalSampler(rand), hash2(a, b), fnv1a(text)", () => {
  it("mulberry32(42) gives the same stream as before the move (golden values)", () => {
    const r = mulberry32(42);
    expect([r(), r(), r()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  });

  it("normalSampler(mulberry32(7)) gives the same Box–Muller stream as before the move (golden values)", () => {
    const n = normalSampler(mulberry32(7));
    expect([n(), n(), n()]).toEqual([2.759372987028844, 1.131981118666697, -0.06805135650735404]);
  });

  it("hash2(a, b) gives the same seeds as before the move and depends on the order of its arguments", () => {
    expect([hash2(0, 0), hash2(1, 2), hash2(0xffffffff, -1)]).toEqual([2037038050, 2835814530, 3659173052]);
    expect(hash2(1, 2)).not.toBe(hash2(2, 1));
  });

  it("fnv1a(text) is the 32-bit FNV-1a hash (offset basis for the empty string, 0xe40c292c for 'a')", () => {
    expect(fnv1a("")).toBe(0x811c9dc5);
    expect(fnv1a("a")).toBe(0xe40c292c);
    expect(fnv1a("foobar")).toBe(0xbf9cf968);
  });

  it("the model's params module re-exports the same mulberry32 and normalSampler", () => {
    expect(params.mulberry32).toBe(mulberry32);
    expect(params.normalSampler).toBe(normalSampler);
  });
});

describe("stats: wilson(k, n, z), quantile(sorted, q)", () => {
  it("wilson(0, 10) is the textbook [0, 0.2775]; organisms/metrics re-exports this one", () => {
    const w = wilson(0, 10);
    expect(w.rate).toBe(0);
    expect(w.lower).toBe(0);
    expect(w.upper).toBeCloseTo(0.2775, 4);
    expect(metrics.wilson).toBe(wilson);
  });

  it("wilson refuses n < 0, k > n and z ≤ 0 with the same messages as before", () => {
    expect(() => wilson(1, -1)).toThrow("wilson: n must be an integer ≥ 0, received -1");
    expect(() => wilson(3, 2)).toThrow("wilson: k must be an integer in [0, n = 2], received 3");
    expect(() => wilson(1, 2, 0)).toThrow("wilson: z must be a positive number, received 0");
  });

  it("mean(xs) is the arithmetic mean, NaN for no values", () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(mean([])).toBeNaN();
  });

  it("quantile(sorted, q) interpolates linearly between neighbours (type 7)", () => {
    const s = Float64Array.from([1, 2, 3, 4]);
    expect(quantile(s, 0)).toBe(1);
    expect(quantile(s, 1)).toBe(4);
    expect(quantile(s, 0.5)).toBe(2.5);
    expect(quantile([10, 20], 0.25)).toBe(12.5);
  });
});

describe("html: escapeHtml(s), escapeHtmlText(s)", () => {
  it("escapeHtml escapes &, <, > and double quotes; escapeHtmlText leaves quotes", () => {
    expect(escapeHtml(`a & <b> "c"`)).toBe("a &amp; &lt;b&gt; &quot;c&quot;");
    expect(escapeHtmlText(`a & <b> "c"`)).toBe(`a &amp; &lt;b&gt; "c"`);
    expect(escapeHtml("&amp;")).toBe("&amp;amp;");
  });
});

describe("validate: fields(problems, obj, where), section(…), unknownKeys(…)", () => {
  it("fields(…) checks append one message per bad field naming where.key, the expectation and the value", () => {
    const problems: string[] = [];
    const f = fields(problems, { a: 0, b: -1, c: Infinity, d: "x", e: 5, s: 2 ** 32, o: "z" }, "algo");
    expect(f.posInt("a")).toBe(false);
    expect(f.nonNegInt("b")).toBe(false);
    expect(f.posNum("c")).toBe(false);
    expect(f.bool("d")).toBe(false);
    expect(f.posInt("e")).toBe(true);
    expect(f.seed("s")).toBe(false);
    expect(f.oneOf("o", ["x", "y"], { quote: true })).toBe(false);
    expect(f.finite("missing")).toBe(false);
    expect(problems).toEqual([
      "algo.a must be a positive integer, received 0",
      "algo.b must be an integer ≥ 0, received -1",
      "algo.c must be a positive finite number, received null",
      "algo.d must be a boolean, received \"x\"",
      "algo.s must be an integer in [0, 2^32), received 4294967296",
      "algo.o must be one of \"x\", \"y\", received \"z\"",
      "algo.missing must be a finite number, received undefined",
    ]);
  });

  it("section(problems, parent, name, known) reports a non-object, null unless nullable, and unknown keys", () => {
    const problems: string[] = [];
    const parent = { a: 3, b: null, c: { steps: 1, stpes: 2 } };
    expect(section(problems, parent, "a", ["x"])).toBeNull();
    expect(section(problems, parent, "b", ["x"], { nullable: true })).toBeNull();
    expect(section(problems, parent, "c", ["steps"], { suggest: true })).toEqual(parent.c);
    expect(problems).toEqual(["a must be an object, received 3", "c.stpes is not a config field (did you mean c.steps?); known: steps"]);
  });

  it("unknownKeys without suggest names only the known keys; showValue writes undefined by name", () => {
    const problems: string[] = [];
    unknownKeys(problems, { sed: 1 }, ["seed", "model"]);
    expect(problems).toEqual(["sed is not a config field; known: seed, model"]);
    expect(showValue(undefined)).toBe("undefined");
    expect(showValue("a")).toBe('"a"');
  });
});

describe("kit/util imports nothing from the rest of the kit", () => {
  it("every import in kit/util/*.ts is a sibling in kit/util", () => {
    const dir = path.join(__dirname, "..", "kit", "util");
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      for (const m of text.matchAll(/from\s+"([^"]+)"/g)) expect(`${f}: ${m[1]}`).toMatch(/: \.\/[\w]+$/);
    }
  });
});

describe("bootstrapMean(xs, { reps, seed })", () => {
  it("bootstrapMean(xs) brackets the mean, is seeded, and collapses for constant values", () => {
    const xs = [0.1, 0.4, 0.35, 0.8, 0.5, 0.2, 0.9, 0.3];
    const a = bootstrapMean(xs, { seed: 1 });
    expect(a.mean).toBeCloseTo(mean(xs), 12);
    expect(a.lower).toBeLessThan(a.mean);
    expect(a.upper).toBeGreaterThan(a.mean);
    expect(bootstrapMean(xs, { seed: 1 })).toEqual(a);
    expect(bootstrapMean([0.5, 0.5, 0.5])).toEqual({ mean: 0.5, lower: 0.5, upper: 0.5 });
    expect(() => bootstrapMean([])).toThrow(/bootstrapMean: xs is empty/);
  });
});
