/**
 * Tests for the workshop edition (kit/workshop, notebooks/workshop, scripts/make-workshop.mjs):
 * - every solution notebook runs end to end in process (runNotebook) and every check in it passes;
 * - every generated exercise notebook runs end to end too, its checks fail with "not implemented yet" (the stub's
 *   TODO), and the cells that use the learner's functions say "skipped" instead of crashing;
 * - the generator's --check passes on the committed notebooks, it is idempotent, and a changed solution is detected;
 * - each check function, called on typical wrong answers, names the specific mistake.
 *
 * The notebooks import "persona-kit" (kit/dist: `npm run build` first; `npm test` does). Figures are not rendered to
 * PNG here (PERSONA_KIT_CHROMIUM points nowhere), which only saves time: the checks are what is tested.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Everything from the built package (kit/dist), the same module instance the notebooks load in this process: a second
// copy of the kit (its TypeScript sources) would register the embedded model's variables twice in TensorFlow.js.
import {
  CHECK_MIME,
  checkBundle,
  checkDiffOfMeans,
  checkLeakageCI,
  checkLeakagePrediction,
  checkProbeByLayer,
  checkResidCache,
  checkSpearman,
  checkSteering,
  closeRenderer,
  diffOfMeans,
  hint,
  hintText,
  runNotebook,
  tf,
  wilson,
  workshopModel,
  type CheckResult,
  type HookedTransformer,
  type Notebook,
} from "persona-kit";
import { tempFiles } from "./helpers/temp-files";

const repo = path.resolve(__dirname, "..");
const workshop = path.join(repo, "notebooks", "workshop");
const solutions = path.join(workshop, "solutions");
const names = fs.readdirSync(solutions).filter((f) => f.endsWith(".ipynb")).sort();
const tmp = tempFiles("workshop-");
const savedChromium = process.env.PERSONA_KIT_CHROMIUM;

beforeAll(() => {
  if (!fs.existsSync(path.join(repo, "kit", "dist", "workshop", "index.js"))) {
    throw new Error("kit/dist/workshop/index.js is missing: run `npm run build` before these tests (npm test does)");
  }
  process.env.PERSONA_KIT_CHROMIUM = path.join(tmp.root, "no-chromium");
});
afterAll(async () => {
  if (savedChromium === undefined) delete process.env.PERSONA_KIT_CHROMIUM;
  else process.env.PERSONA_KIT_CHROMIUM = savedChromium;
  await closeRenderer();
});

const text = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v ?? ""));

/** Every workshop check displayed in an executed notebook, and every "skipped" line. */
function outputsOf(nb: Notebook): { checks: { passed: boolean; line: string; plain: string }[]; skipped: string[] } {
  const checks: { passed: boolean; line: string; plain: string }[] = [];
  const skipped: string[] = [];
  for (const cell of nb.cells) {
    for (const o of cell.outputs ?? []) {
      if (o.output_type !== "display_data") continue;
      const json = o.data[CHECK_MIME] as { passed: boolean; line: string } | undefined;
      if (json) checks.push({ passed: json.passed, line: json.line, plain: text(o.data["text/plain"]) });
      else if (text(o.data["text/plain"]).startsWith("⏭ skipped")) skipped.push(text(o.data["text/plain"]));
    }
  }
  return { checks, skipped };
}

describe("make-workshop.mjs", () => {
  it("--check passes: the committed exercise notebooks are what the solutions generate", () => {
    const r = spawnSync(process.execPath, [path.join(repo, "scripts", "make-workshop.mjs"), "--check"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${names.length} exercise notebooks match their solutions`);
  });

  it("exerciseNotebook(text) replaces solution regions by TODO stubs or STUB lines, clears outputs, and is idempotent", async () => {
    const { exerciseNotebook, stubSource } = (await import(path.join(repo, "scripts", "make-workshop.mjs"))) as {
      exerciseNotebook: (t: string, n: string) => string;
      stubSource: (s: string, w: string) => string;
    };
    const src = "function f(x: number): number[] {\n  // BEGIN SOLUTION: double x\n  // STUB: return [];\n  return [2 * x];\n  // END SOLUTION\n}";
    expect(stubSource(src, "t")).toBe("function f(x: number): number[] {\n  return [];\n}");
    expect(stubSource("  // BEGIN SOLUTION: add one\n  return x + 1;\n  // END SOLUTION", "t")).toBe('  throw new Error("TODO: add one");');
    expect(() => stubSource("// BEGIN SOLUTION\nreturn 1;", "nb cell 3")).toThrow('nb cell 3: "// BEGIN SOLUTION" on line 1 has no "// END SOLUTION"');
    expect(() => stubSource("return 1;\n// END SOLUTION", "nb cell 2")).toThrow('nb cell 2: "// END SOLUTION" on line 2 without a BEGIN SOLUTION');
    for (const f of names) {
      const solution = fs.readFileSync(path.join(solutions, f), "utf8");
      const generated = exerciseNotebook(solution, f);
      expect(generated).toBe(fs.readFileSync(path.join(workshop, f), "utf8"));
      expect(generated).not.toContain("BEGIN SOLUTION");
      expect(generated).toContain('throw new Error(\\"TODO: ');
      expect(exerciseNotebook(solution, f)).toBe(generated); // deterministic
    }
    // A changed solution is a drift --check would report: the generated text differs from the committed one.
    const first = fs.readFileSync(path.join(solutions, names[0]), "utf8");
    expect(exerciseNotebook(first.replace("Hooks and the activation cache", "Hooks and caches"), names[0])).not.toBe(fs.readFileSync(path.join(workshop, names[0]), "utf8"));
  });
});

describe("workshop notebooks", () => {
  it("has 6 parts, each with a solution and a generated exercise notebook", () => {
    expect(names).toEqual(["01-hooks-and-caching.ipynb", "02-diff-of-means-direction.ipynb", "03-probe-by-layer.ipynb", "04-steering.ipynb", "05-leakage-with-cis.ipynb", "06-predicting-leakage.ipynb"]);
    for (const f of names) expect(fs.existsSync(path.join(workshop, f))).toBe(true);
  });

  it.each(names)("runNotebook(solutions/%s) runs end to end and every check passes", async (f) => {
    const run = await runNotebook(path.join(solutions, f), { outPath: path.join(tmp.root, "solutions", f) });
    expect(run.failedCell?.error ?? null).toBe(null);
    expect(run.ok).toBe(true);
    const { checks, skipped } = outputsOf(run.notebook);
    expect(checks.length).toBeGreaterThan(0);
    for (const c of checks) expect(c.line).toMatch(/^✓ \d\.\d \w+: passed/);
    expect(skipped).toEqual([]);
  });

  it.each(names)("runNotebook(%s) (the exercise) runs end to end; its checks fail as not implemented, dependent cells skip", async (f) => {
    const run = await runNotebook(path.join(workshop, f), { outPath: path.join(tmp.root, "exercises", f) });
    expect(run.failedCell?.error ?? null).toBe(null);
    expect(run.ok).toBe(true);
    const { checks, skipped } = outputsOf(run.notebook);
    expect(checks.length).toBeGreaterThan(0);
    for (const c of checks) {
      expect(c.passed).toBe(false);
      expect(c.line).toMatch(/^✗ \d\.\d \w+: not implemented yet — your function threw "Error: TODO: /);
      expect(c.plain).toMatch(/Stuck\? hint\("\d\.\d", 1\)/);
    }
    expect(skipped.length).toBeGreaterThan(0);
    for (const s of skipped) expect(s).toMatch(/^⏭ skipped: this cell uses your solution of \d\.\d \w+( and \d\.\d \w+)*; it runs once (that check passes|those checks pass)\.$/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The checks on typical wrong answers (display: false: the result is returned, not shown)

const quiet = { display: false };
const failing = (r: CheckResult) => {
  expect(r.passed).toBe(false);
  return r.line;
};

function lastResid(model: HookedTransformer, text: string, layer: number, hook = "resid_post", pos: "last" | "first" | "all" = "last"): number[] {
  const { logits, cache } = model.runWithCache(text);
  const act = cache.get(hook, layer);
  const T = act.shape[1]!;
  const out = tf.tidy(() => Array.from((pos === "all" ? act : act.slice([0, pos === "last" ? T - 1 : 0, 0], [1, 1, -1]).reshape([-1])).dataSync()));
  logits.dispose();
  cache.dispose();
  return out;
}

describe("checkResidCache(fn)", () => {
  it("passes a right answer and fails a 1-D tensor (the signature asks for number[]), naming the type", async () => {
    expect((await checkResidCache((m, t, l) => lastResid(m, t, l), quiet)).line).toMatch(/^✓ 1\.1 lastTokenResid: passed \(6 cases: 3 prompts of different lengths/);
    expect(failing(await checkResidCache((m, t, l) => tf.tensor1d(lastResid(m, t, l)), quiet))).toContain("your return value is a tf.Tensor of shape [64], but the exercise asks for a number[]");
  });
  it("names the off-by-one layer, resid_pre, the BOS position, and a shape mismatch with both shapes", async () => {
    expect(failing(await checkResidCache((m, t, l) => lastResid(m, t, l === 0 ? 1 : 0), quiet))).toContain("off by one layer: you returned blocks.1.hook_resid_post (after block 1), but layer = 0 asks for blocks.0.hook_resid_post");
    expect(failing(await checkResidCache((m, t, l) => lastResid(m, t, l, "resid_pre"), quiet))).toContain("you returned blocks.0.hook_resid_pre, the residual stream *before* block 0");
    expect(failing(await checkResidCache((m, t, l) => lastResid(m, t, l, "resid_post", "first"), quiet))).toContain("wrong position: you read position 0 (the BOS token)");
    const shape = failing(await checkResidCache((m, t, l) => { const v = lastResid(m, t, l, "resid_post", "all"); return [[v]]; }, quiet));
    expect(shape).toMatch(/shape mismatch: expected \[64\] \(d_model\), received \[1, 1, \d+\] — that is every position of the sequence/);
  });
  it("reports a thrown error, a missing return and a non-function without throwing", async () => {
    const thrown = await checkResidCache(() => { throw new RangeError("index out of range"); }, quiet);
    expect(thrown.line).toContain('your function threw an error on lastTokenResid(model, "coding . user : please format the code . assistant :", 0): RangeError: index out of range');
    expect(failing(await checkResidCache(() => undefined, quiet))).toContain("should be numbers (an array or a tensor), received undefined (did you forget to return?)");
    expect(failing(await checkResidCache(42 as never, quiet))).toContain("expected your function lastTokenResid to be passed in, received number 42");
    expect(failing(await checkResidCache(async () => { throw new Error("async oops"); }, quiet))).toContain("Error: async oops");
    const disposed = (m: HookedTransformer, t: string, l: number) => { const { logits, cache } = m.runWithCache(t); const a = cache.get("resid_post", l); logits.dispose(); cache.dispose(); return a; };
    expect(failing(await checkResidCache(disposed, quiet))).toContain("your return value is a tensor that was already disposed");
  });
});

const direction = (X: number[][], y: number[]) => {
  const d = X[0].length;
  const mean = (c: number) => { const rows = X.filter((_, i) => y[i] === c); return Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length); };
  const raw = mean(1).map((v, j) => v - mean(0)[j]);
  return { raw, unit: raw.map((v) => v / Math.hypot(...raw)) };
};

describe("checkDiffOfMeans(fn)", () => {
  it("passes the kit's own diffOfMeans direction", async () => {
    expect((await checkDiffOfMeans((X, y) => Array.from(diffOfMeans(X, y).direction), quiet)).passed).toBe(true);
  });
  it("names the sign flip, the missing normalisation, the wrong axis and class sums", async () => {
    expect(failing(await checkDiffOfMeans((X, y) => direction(X, y).unit.map((v) => -v), quiet))).toContain("sign flipped: you returned mean(class 0) − mean(class 1)");
    expect(failing(await checkDiffOfMeans((X, y) => direction(X, y).raw, quiet))).toContain("not normalised: your vector has norm 5; divide");
    expect(failing(await checkDiffOfMeans((X) => X.map((r) => r.reduce((a, b) => a + b, 0) / r.length), quiet))).toContain("mean over the wrong axis: you returned [6], one value per row (n = 6 examples)");
    const sums = (X: number[][], y: number[]) => { const s = X[0].map((_, j) => X.reduce((a, r, i) => a + (y[i] ? r[j] : -r[j]), 0)); return s.map((v) => v / Math.hypot(...s)); };
    expect(failing(await checkDiffOfMeans(sums, quiet))).toContain("you subtracted class sums, not class means");
  });
});

const probe = (acts: number[][][], labels: number[], train: number[], test: number[]) =>
  acts.map((X) => {
    const dm = diffOfMeans(train.map((i) => X[i]), train.map((i) => labels[i]));
    return dm.score(test.map((i) => X[i])).filter((s, k) => (s > dm.threshold ? 1 : 0) === labels[test[k]]).length / test.length;
  });

describe("checkProbeByLayer(fn)", () => {
  it("passes a right answer", async () => {
    expect((await checkProbeByLayer(probe, quiet)).line).toBe("✓ 3.1 probeAccuracyByLayer: passed (2 seeded synthetic cases, 4 and 3 layers)");
  });
  it("names a missing layer, a shifted layer, train accuracy, flipped labels and percentages", async () => {
    expect(failing(await checkProbeByLayer((a, l, tr, te) => probe(a.slice(1), l, tr, te), quiet))).toContain("off by one: you returned 3 accuracies for 4 entries of acts");
    expect(failing(await checkProbeByLayer((a, l, tr, te) => probe([...a.slice(1), a[a.length - 1]], l, tr, te), quiet))).toContain("off by one layer: your accuracy at index l is the one of layer l + 1");
    expect(failing(await checkProbeByLayer((a, l, tr) => probe(a, l, tr, tr), quiet))).toContain("you measured accuracy on the training rows");
    expect(failing(await checkProbeByLayer((a, l, tr, te) => probe(a, l, tr, te).map((v) => 1 - v), quiet))).toContain("labels or sign flipped: your accuracies are 1 − the right ones");
    expect(failing(await checkProbeByLayer((a, l, tr, te) => probe(a, l, tr, te).map((v) => 100 * v), quiet))).toContain("percentages: return accuracies as fractions");
  });
});

const hookOf = (sign: number, layerShift = 0, scale = (v: number[], a: number) => v.map((x) => x * a)) => (v: number[], alpha: number, layer: number) =>
  [`blocks.${layer + layerShift}.hook_resid_post`, (act: tf.Tensor) => tf.add(act, tf.mul(tf.tensor1d(scale(v, alpha)), sign))] as [string, (a: tf.Tensor) => tf.Tensor];

describe("checkSteering(fn)", () => {
  it("passes a right hook and leaves no hook attached", async () => {
    expect((await checkSteering(hookOf(1), quiet)).passed).toBe(true);
    expect((await workshopModel()).numHooks).toBe(0);
  });
  it("names the sign flip, the off-by-one layer, a forgotten alpha, a normalised v and a hook that returns nothing", async () => {
    expect(failing(await checkSteering(hookOf(-1), quiet))).toContain("sign flipped: you subtracted alpha · v");
    expect(failing(await checkSteering(hookOf(1, 1), quiet))).toContain('off by one layer: your hook is on "blocks.2.hook_resid_post", but layer = 1 asks for "blocks.1.hook_resid_post"');
    expect(failing(await checkSteering(hookOf(1, 0, (v) => v), quiet))).toContain("alpha is missing: you added v, not alpha · v");
    expect(failing(await checkSteering(hookOf(1, 0, (v, a) => v.map((x) => (a * x) / Math.hypot(...v))), quiet))).toContain("you normalised v");
    expect(failing(await checkSteering((v, a, l) => [`blocks.${l}.hook_resid_post`, () => undefined], quiet))).toContain("your hook function returned nothing");
    expect(failing(await checkSteering(() => "blocks.1.hook_resid_post", quiet))).toContain("a hook is a pair [hookName, (act) => newAct]");
    expect(failing(await checkSteering((v, a) => ["resid_post", (act: tf.Tensor) => tf.add(act, tf.mul(tf.tensor1d(v), a))], quiet))).toContain('use the full hook name "blocks.1.hook_resid_post", not "resid_post"');
  });
});

describe("checkLeakageCI(fn)", () => {
  it("passes the kit's wilson, with [0, 1] for n = 0", async () => {
    expect((await checkLeakageCI((k, n) => wilson(k, n), quiet)).passed).toBe(true);
  });
  it("names the normal (Wald) approximation, a 90% level, swapped bounds and NaN at n = 0", async () => {
    const wald = (k: number, n: number) => { const p = k / n; const h = 1.96 * Math.sqrt((p * (1 - p)) / n); return { lower: p - h, upper: p + h }; };
    expect(failing(await checkLeakageCI(wald, quiet))).toContain("wrong interval: that is the normal approximation (Wald, p ± 1.96·√(p(1 − p)/n)), not Wilson");
    expect(failing(await checkLeakageCI((k, n) => wilson(k, n, 1.645), quiet))).toContain("wrong confidence level: that is the Wilson interval for a 90% interval (z = 1.645)");
    expect(failing(await checkLeakageCI((k, n) => { const w = wilson(k, n); return { lower: w.upper, upper: w.lower }; }, quiet))).toContain("lower and upper are swapped");
    expect(failing(await checkLeakageCI((k, n) => (n === 0 ? { lower: NaN, upper: NaN } : wilson(k, n)), quiet))).toContain("n = 0 (no observations): the rate is unknown, so return the whole range { lower: 0, upper: 1 }");
    expect(failing(await checkLeakageCI((k, n) => [wilson(k, n).lower, wilson(k, n).upper], quiet))).toContain("return an object { lower, upper } of numbers; wilsonInterval(3, 48) returned an array of length 2");
  });
});

const projDiff = (D: number[][], O: number[][], v: number[]) => {
  const u = v.map((x) => x / Math.hypot(...v));
  const p = (rows: number[][]) => rows.reduce((s, r) => s + r.reduce((a, x, j) => a + x * u[j], 0), 0) / rows.length;
  return p(D) - p(O);
};

describe("checkLeakagePrediction(fn)", () => {
  it("passes a right answer", async () => {
    expect((await checkLeakagePrediction(projDiff, quiet)).line).toBe("✓ 6.1 projectionDifference: passed (2 cases with exact answers)");
  });
  it("names the sign flip, the unnormalised direction, the missing subtraction and sums", async () => {
    expect(failing(await checkLeakagePrediction((D, O, v) => -projDiff(D, O, v), quiet))).toContain("sign flipped: you computed own − dataset");
    expect(failing(await checkLeakagePrediction((D, O, v) => projDiff(D, O, v) * Math.hypot(...v), quiet))).toContain("not normalised: you projected onto v itself (‖v‖ = 5)");
    expect(failing(await checkLeakagePrediction((D, O, v) => projDiff(D, D.map((r) => r.map(() => 0)), v), quiet))).toContain("you returned the dataset's mean projection alone; subtract the mean projection of the model's own responses");
    expect(failing(await checkLeakagePrediction((D, O, v) => projDiff(D, O, v) * D.length, quiet))).toContain("you summed over rows; average instead");
  });
});

const ranksOf = (v: number[], ordinal = false) => {
  const order = v.map((x, i) => [x, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const r: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (!ordinal && j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) r[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
};
const pearsonR = (a: number[], b: number[]) => {
  const ma = a.reduce((s, x) => s + x, 0) / a.length;
  const mb = b.reduce((s, x) => s + x, 0) / b.length;
  const sab = a.reduce((s, x, i) => s + (x - ma) * (b[i] - mb), 0);
  return sab / Math.sqrt(a.reduce((s, x) => s + (x - ma) ** 2, 0) * b.reduce((s, x) => s + (x - mb) ** 2, 0));
};

describe("checkSpearman(fn)", () => {
  it("passes Pearson's r of average ranks", async () => {
    expect((await checkSpearman((x, y) => pearsonR(ranksOf(x), ranksOf(y)), quiet)).line).toBe("✓ 6.2 spearmanRho: passed (4 cases: non-linear monotone, decreasing, with ties, numbers that sort differently as text)");
  });
  it("names Pearson on raw values, ties broken by position, and a lost sign", async () => {
    expect(failing(await checkSpearman(pearsonR, quiet))).toContain("that is Pearson's r of the raw values");
    expect(failing(await checkSpearman((x, y) => pearsonR(ranksOf(x, true), ranksOf(y, true)), quiet))).toContain("ties: tied values must share the average of their ranks");
    expect(failing(await checkSpearman((x, y) => Math.abs(pearsonR(ranksOf(x), ranksOf(y))), quiet))).toContain("the sign is lost");
  });
});

describe("checkBundle(result)", () => {
  it("carries the line as text/plain, a coloured text/html block, text/markdown and the JSON part", async () => {
    const r = await checkLeakagePrediction((D, O, v) => -projDiff(D, O, v), quiet);
    const b = checkBundle(r);
    expect(String(b["text/plain"]).split("\n")[0]).toBe(r.line);
    expect(String(b["text/html"])).toContain("#c62828");
    expect(String(b["text/html"])).toContain("sign flipped: you computed own − dataset");
    expect(String(b["text/markdown"])).toMatch(/^\*\*✗ 6\.1 projectionDifference: sign flipped/);
    expect(b[CHECK_MIME]).toEqual({ exercise: "6.1", name: "projectionDifference", passed: false, line: r.line });
  });
});

describe("hint(exercise, level)", () => {
  it("gives three levels by id or function name, and names the exercises on a bad id", () => {
    expect(hintText("1.1")).toContain("runWithCache");
    expect(hintText("wilsonInterval", 3)).toContain("z * z");
    expect(() => hintText("9.9")).toThrow(/hint: exercise must be one of "1\.1" \(lastTokenResid\), .* received "9\.9"/);
    expect(() => hintText("1.1", 4)).toThrow("hint: level must be 1, 2 or 3, received 4");
  });
  it("hint() outside a notebook prints one line with the level and where to go next", () => {
    const written: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      expect(hint("addDirectionHook", 2)).toBeUndefined();
    } finally {
      process.stdout.write = write;
    }
    expect(written.join("")).toMatch(/^Hint 2\/3 for 4\.1 addDirectionHook: .*broadcasts.* \(more: hint\("4\.1", 3\)\)\n$/);
  });
});
