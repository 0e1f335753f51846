/** Exercise 3.1 probeAccuracyByLayer: right and wrong answers (see types.ts). */
import { diffOfMeans, tf, type ProbeByLayerFn } from "persona-kit";
import type { AnswerList } from "./types";

type Rows = (n: number, train: number[], test: number[]) => { fit: number[]; score: number[] };

/** The exercise's probe with the rows (and labels) chosen by `rows`, as the answer's mistake would choose them. */
function probe(acts: number[][][], labels: number[], train: number[], test: number[], rows: Rows = (_, tr, te) => ({ fit: tr, score: te }), { fitLabels, scoreLabels, threshold }: { fitLabels?: number[]; scoreLabels?: number[]; threshold?: number } = {}): number[] {
  const { fit, score } = rows(labels.length, train, test);
  return acts.map((X) => {
    const dm = diffOfMeans(fit.map((i) => X[i]), fitLabels ?? fit.map((i) => labels[i]));
    const ys = scoreLabels ?? score.map((i) => labels[i]);
    return dm.score(score.map((i) => X[i])).filter((s, k) => (s > (threshold ?? dm.threshold) ? 1 : 0) === ys[k]).length / score.length;
  });
}
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

export const probe31: AnswerList<ProbeByLayerFn> = {
  exercise: "3.1",
  right: [
    { name: "the solution", fn: (a, l, tr, te) => probe(a, l, tr, te) },
    {
      name: "a hand-written difference of means in float32 tensors",
      fn: (acts, labels, train, test) =>
        acts.map((X) =>
          tf.tidy(() => {
            const xs = tf.tensor2d(train.map((i) => X[i]));
            const y = tf.tensor1d(train.map((i) => labels[i])).reshape([-1, 1]);
            const m1 = xs.mul(y).sum(0).div(y.sum());
            const m0 = xs.mul(tf.sub(1, y)).sum(0).div(tf.sub(1, y).sum());
            const dir = m1.sub(m0);
            const u = dir.div(dir.norm());
            const thr = m1.add(m0).div(2).dot(u);
            const pred = tf.tensor2d(test.map((i) => X[i])).dot(u).greater(thr).cast("int32");
            const ok = pred.equal(tf.tensor1d(test.map((i) => labels[i]), "int32")).sum().dataSync()[0];
            return ok / test.length;
          }),
        ),
    },
    {
      name: "a loop with a Set of test rows",
      fn: (acts, labels, train, test) => {
        const out: number[] = [];
        for (const X of acts) {
          const dm = diffOfMeans(train.map((i) => X[i]), train.map((i) => labels[i]));
          let right = 0;
          for (const i of new Set(test)) if ((dm.score([X[i]])[0] > dm.threshold ? 1 : 0) === labels[i]) right++;
          out.push(right / test.length);
        }
        return out;
      },
    },
  ],
  wrong: [
    { name: "every row outside train scored (test ignored)", fn: (a, l, tr, te) => probe(a, l, tr, te, (n, train) => ({ fit: train, score: range(0, n).filter((i) => !train.includes(i)) })), message: "you scored every row outside train; score exactly the rows listed in test" },
    { name: "slices by train.length", fn: (a, l, tr, te) => probe(a, l, tr, te, (n, train) => ({ fit: range(0, train.length), score: range(train.length, n) })), message: "you fitted on the first train.length rows and scored the rest" },
    { name: "slices by train.length and test.length", fn: (a, l, tr, te) => probe(a, l, tr, te, (n, train, test) => ({ fit: range(0, train.length), score: range(train.length, train.length + test.length) })), message: "you fitted on the first train.length rows and scored the next test.length" },
    { name: "scores the last test.length rows", fn: (a, l, tr, te) => probe(a, l, tr, te, (n, train, test) => ({ fit: train, score: range(n - test.length, n) })), message: "you scored the last test.length rows" },
    { name: "labels[k] for test row k", fn: (a, l, tr, te) => probe(a, l, tr, te, undefined, { scoreLabels: l.slice(0, te.length) }), message: "you compared the prediction for test row k with labels[k]" },
    { name: "labels[k] for training row k", fn: (a, l, tr, te) => probe(a, l, tr, te, undefined, { fitLabels: l.slice(0, tr.length) }), message: "you fitted with labels[k] for training row k" },
    { name: "train accuracy", fn: (a, l, tr) => probe(a, l, tr, tr), message: "you measured accuracy on the training rows" },
    { name: "evaluated on every row", fn: (a, l, tr, te) => probe(a, l, tr, te, (n, train) => ({ fit: train, score: range(0, n) })), message: "you evaluated on every row (train and test)" },
    { name: "fitted on every row", fn: (a, l, tr, te) => probe(a, l, tr, te, (n, train, test) => ({ fit: range(0, n), score: test })), message: "you fitted the probe on every row" },
    { name: "a zero threshold", fn: (a, l, tr, te) => probe(a, l, tr, te, undefined, { threshold: 0 }), message: "threshold: you classified by score > 0" },
    { name: "1 − accuracy", fn: (a, l, tr, te) => probe(a, l, tr, te).map((v) => 1 - v), message: "labels or sign flipped" },
    { name: "percentages", fn: (a, l, tr, te) => probe(a, l, tr, te).map((v) => 100 * v), message: "percentages: return accuracies as fractions" },
    { name: "the first entry skipped", fn: (a, l, tr, te) => probe(a.slice(1), l, tr, te), message: "off by one: you returned 3 accuracies for 4 entries of acts" },
    { name: "shifted by a layer", fn: (a, l, tr, te) => probe([...a.slice(1), a[a.length - 1]], l, tr, te), message: "off by one layer: your accuracy at index l is the one of layer l + 1" },
    { name: "a Float64Array", fn: (a, l, tr, te) => Float64Array.from(probe(a, l, tr, te)), message: "your return value is a Float64Array, but the exercise asks for a number[]" },
    { name: "sorts the test indices in place", fn: (a, l, tr, te) => { te.sort((x, y) => y - x); return probe(a, l, tr, te); }, message: "your function changed its input test (test[0]" },
  ],
};
