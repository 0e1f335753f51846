/**
 * The workshop checks never pass a wrong answer and never fail a right one:
 * - issue 23's false passes and false fails, each as its own test;
 * - a mutation test: every check against the plausible wrong answers (each must fail, naming its mistake) and the
 *   valid alternative solutions (each must pass) listed in test/workshop-answers/.
 * Fast (no notebooks run); imports the built kit like test/workshop.test.ts (`npm run build` first).
 */
import { describe, expect, it } from "vitest";
import {
  checkDiffOfMeans,
  checkLeakageCI,
  checkLeakagePrediction,
  checkProbeByLayer,
  checkResidCache,
  checkSpearman,
  checkSteering,
  hintHtml,
  hintText,
  workshopModel,
  type CheckOptions,
  type CheckResult,
} from "persona-kit";
import { diffmeans, interval, prediction, probe31, resid, spearman, steering, type AnswerList } from "./workshop-answers";

const quiet = { display: false };
type Check<F> = (fn: F, options?: CheckOptions) => Promise<CheckResult>;

/** The answer called `name` in a list (right or wrong). */
function answer<F>(list: AnswerList<F>, name: string): F {
  const a = [...list.right, ...list.wrong].find((x) => x.name === name);
  if (!a) throw new Error(`no answer "${name}" in the ${list.exercise} list`);
  return a.fn;
}
const plain = (r: CheckResult) => [r.line, ...r.details].join("\n");

describe("issue 23: false passes now fail with a specific message", () => {
  it("checkSteering(fn) fails a hook that scales v in place (v[i] *= alpha), naming v and the α sweep it breaks", async () => {
    const r = await checkSteering(answer(steering, "scales v in place when called"), quiet);
    expect(r.passed).toBe(false);
    expect(r.line).toContain("your function changed its input v (v[0]: was 1, now 2)");
    expect(r.line).toContain("scaled in place it is all zeros after α = 0");
    expect((await workshopModel()).numHooks).toBe(0);
  });
  it("checkDiffOfMeans(fn) fails a difference of means that sums into a row of X, naming X", async () => {
    const r = await checkDiffOfMeans(answer(diffmeans, "sums into the first row of each class (changes X)"), quiet);
    expect(r.line).toMatch(/^✗ 2\.1 diffOfMeansDirection: your function changed its input X \(X\[\d\]\[\d\]: was -?\d+, now -?\d+\)/);
  });
  it("checkResidCache(fn) fails a tensor where number[] is asked, naming the type", async () => {
    const r = await checkResidCache(answer(resid, "a tf.Tensor instead of number[]"), quiet);
    expect(r.line).toContain("your return value is a tf.Tensor of shape [64], but the exercise asks for a number[] of length d_model = 64");
    expect(r.line).toContain("Array.from(t.dataSync())");
  });
  it("checkProbeByLayer(fn) fails scoring every row outside train instead of the test rows", async () => {
    const r = await checkProbeByLayer(answer(probe31, "every row outside train scored (test ignored)"), quiet);
    expect(r.line).toContain("you scored every row outside train; score exactly the rows listed in test");
  });
});

describe("issue 23: false fails now pass", () => {
  it("checkLeakageCI(fn) passes Wilson with the exact z = 1.959963984540054", async () => {
    expect((await checkLeakageCI(answer(interval, "the exact quantile z = 1.959963984540054"), quiet)).passed).toBe(true);
  });
  it("checkSpearman(fn) passes average ranks with Pearson's r computed in float32", async () => {
    expect((await checkSpearman(answer(spearman, "average ranks, Pearson's r in float32"), quiet)).passed).toBe(true);
  });
  it("checkSpearman(fn) shows more digits and the gap when expected and received print the same", async () => {
    const r = await checkSpearman((x, y) => (answer(spearman, "the solution: Pearson's r of average ranks")(x, y) as number) - 3e-5, quiet);
    expect(r.line).toContain("wrong value");
    expect(plain(r)).toMatch(/\nexpected 1\nreceived 0\.99997 \(they differ by 3\.00e-5\)/);
  });
});

describe("issue 23: messages that pointed the wrong way", () => {
  it("checkResidCache(fn) names the second-to-last token", async () => {
    expect((await checkResidCache(answer(resid, "the second-to-last token"), quiet)).line).toContain("wrong position: you read position 10 = T − 2, the second-to-last token");
  });
  it("checkProbeByLayer(fn) names slicing by train.length (indices used as counts)", async () => {
    expect((await checkProbeByLayer(answer(probe31, "slices by train.length"), quiet)).line).toContain("train and test are lists of row indices, not counts");
  });
  it("checkLeakagePrediction(fn) names a division by ‖v‖²", async () => {
    expect((await checkLeakagePrediction(answer(prediction, "divided by ‖v‖²"), quiet)).line).toContain("you divided by ‖v‖²");
  });
  it("checkSpearman(fn) names lowest-rank ties and JavaScript's default string sort", async () => {
    expect((await checkSpearman(answer(spearman, "ties given the lowest rank (indexOf in the sorted list)"), quiet)).line).toContain("you gave tied values the lowest of their ranks");
    expect((await checkSpearman(answer(spearman, "JavaScript's default sort"), quiet)).line).toContain("compares numbers as text");
  });
});

// The mutation test: each check against every answer in its list.
const suite = <F>(list: AnswerList<F>, check: Check<F>) => [list.exercise, list, check] as unknown as [string, AnswerList<never>, Check<never>];
const suites = [
  suite(resid, checkResidCache),
  suite(diffmeans, checkDiffOfMeans),
  suite(probe31, checkProbeByLayer),
  suite(steering, checkSteering),
  suite(interval, checkLeakageCI),
  suite(prediction, checkLeakagePrediction),
  suite(spearman, checkSpearman),
];

describe.each(suites)("the check of exercise %s against test/workshop-answers", (_, list, check) => {
  it.each(list.right.map((a) => [a.name, a] as const))("passes the right answer: %s", async (_, a) => {
    const r = await check(a.fn, quiet);
    expect(plain(r)).toMatch(new RegExp(`^✓ ${list.exercise.replace(".", "\\.")} `));
  });
  it.each(list.wrong.map((a) => [a.name, a] as const))("fails the wrong answer: %s", async (_, a) => {
    const r = await check(a.fn, quiet);
    expect(r.passed).toBe(false);
    expect(plain(r)).toContain(a.message);
  });
});

describe("issue 23: teaching material in the kit", () => {
  it("hintHtml(text) renders `code` and ``code with ` inside`` as <code>, escaped, so JupyterLab shows hint code as code", () => {
    expect(hintHtml("use `a < b` here")).toBe('use <code style="white-space:pre-wrap">a &lt; b</code> here');
    const h = hintHtml(hintText("4.1", 3));
    expect(h).toContain('<code style="white-space:pre-wrap">return [`blocks.${layer}.hook_resid_post`, (act) =&gt; tf.add(');
    expect(h).not.toMatch(/`return/);
  });
  it("hintText(\"3.1\", 1) no longer says acts starts with the embedding", () => {
    expect(hintText("3.1", 1)).not.toContain("embedding");
    expect(hintText("3.1", 1)).toContain("rows listed in `test`");
  });
});
