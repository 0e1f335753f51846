/**
 * Graded hints for the workshop exercises: level 1 names the idea, level 2 the kit calls and the shape bookkeeping,
 * level 3 is nearly the solution.
 *
 *   hint("1.1");            // level 1
 *   hint("lastTokenResid", 3);
 */
import { displayWriter } from "../viz/jupyter";

interface ExerciseHints {
  name: string;
  levels: [string, string, string];
}

/** Hints by exercise id ("1.1" … "6.1"). */
export const HINTS: Record<string, ExerciseHints> = {
  "1.1": {
    name: "lastTokenResid",
    levels: [
      "`model.runWithCache(text)` returns `{ logits, cache }`; `cache.get(\"resid_post\", layer)` is the residual stream after block `layer`, shape [batch = 1, positions, d_model].",
      "Take the last position of axis 1: `act.slice([0, T - 1, 0], [1, 1, d])` then `.reshape([d])` (or `.squeeze()`), and read it with `Array.from(x.dataSync())`. Dispose `logits` and `cache` (or wrap in `tf.tidy`).",
      "`const { logits, cache } = model.runWithCache(text); const act = cache.get(\"resid_post\", layer); const T = act.shape[1]; const out = tf.tidy(() => Array.from(act.slice([0, T - 1, 0], [1, 1, -1]).reshape([-1]).dataSync())); logits.dispose(); cache.dispose(); return out;`",
    ],
  },
  "2.1": {
    name: "diffOfMeansDirection",
    levels: [
      "Average the rows of each class separately (over axis 0, the examples), subtract class 0's mean from class 1's, and scale the result to length 1.",
      "Keep two sums of length d and two counts; divide each sum by its own count (the classes need not be the same size). Then divide the difference by its Euclidean norm √(Σ v_j²).",
      "`const d = X[0].length; const mean = (c) => { const rows = X.filter((_, i) => y[i] === c); return Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length); }; const m1 = mean(1), m0 = mean(0); const raw = m1.map((v, j) => v - m0[j]); const n = Math.hypot(...raw); return raw.map((v) => v / n);`",
    ],
  },
  "3.1": {
    name: "probeAccuracyByLayer",
    levels: [
      "For every entry of `acts` (one point of the network each, in forward order): fit a probe on the rows listed in `train`, predict the rows listed in `test`, count the fraction predicted right.",
      "`diffOfMeans(Xtrain, ytrain)` (from persona-kit) gives `{ score, threshold }`; `score(Xtest)` returns one projection per test row; predict 1 when `score > threshold`. Select rows with `train.map((i) => X[i])`.",
      "`return acts.map((X) => { const dm = diffOfMeans(train.map((i) => X[i]), train.map((i) => labels[i])); const s = dm.score(test.map((i) => X[i])); return s.filter((v, k) => (v > dm.threshold ? 1 : 0) === labels[test[k]]).length / test.length; });`",
    ],
  },
  "4.1": {
    name: "addDirectionHook",
    levels: [
      "A forward hook is a pair `[hookName, fn]`; `fn(act)` returns the activation the model should use instead. The residual stream after block `layer` is `blocks.${layer}.hook_resid_post`.",
      "`act` is [batch, positions, d_model]; `tf.add(act, tf.mul(tf.tensor1d(v), alpha))` broadcasts the vector over batch and positions. Return the result (tensors made inside the hook are cleaned up by the forward pass).",
      "``return [`blocks.${layer}.hook_resid_post`, (act) => tf.add(act, tf.mul(tf.tensor1d(v), alpha))];`` (`tf.tensor1d(v)` reads v once; never change v itself: the notebook reuses it for every α)",
    ],
  },
  "5.1": {
    name: "wilsonInterval",
    levels: [
      "The Wilson score interval inverts the normal test around the true rate instead of the observed one, so it stays inside [0, 1] and does not collapse at k = 0. With n = 0 nothing is known: return [0, 1].",
      "With p = k/n and z = 1.96: centre = (p + z²/(2n)) / (1 + z²/n); half-width = z/(1 + z²/n) · √(p(1 − p)/n + z²/(4n²)).",
      "`if (n === 0) return { lower: 0, upper: 1 }; const z = 1.96, p = k / n, den = 1 + z * z / n; const c = (p + z * z / (2 * n)) / den; const h = (z / den) * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)); return { lower: Math.max(0, c - h), upper: Math.min(1, c + h) };`",
    ],
  },
  "6.1": {
    name: "projectionDifference",
    levels: [
      "Project every response's activation onto the unit direction, average per set, and subtract: how much further along the trait direction the dataset's responses are than the model's own answers.",
      "v̂ = direction / ‖direction‖; a row's projection is Σ_j row[j]·v̂[j] (over its features). Average the projections over rows for each set, then dataset − own.",
      "`const n = Math.hypot(...direction); const u = direction.map((x) => x / n); const proj = (rows) => rows.reduce((s, r) => s + r.reduce((a, x, j) => a + x * u[j], 0), 0) / rows.length; return proj(datasetActs) - proj(ownActs);`",
    ],
  },
  "6.2": {
    name: "spearmanRho",
    levels: [
      "Spearman's ρ is Pearson's correlation of the ranks: replace each value by its rank (1 = smallest) in its own list, then correlate the two rank lists.",
      "Sort the indices by value; values that are tied share the average of the ranks they occupy (tied for ranks 2 and 3 → both 2.5). Pearson's r = Σ(a − ā)(b − b̄) / √(Σ(a − ā)² Σ(b − b̄)²).",
      "`const rank = (v) => { const o = v.map((x, i) => [x, i]).sort((a, b) => a[0] - b[0]); const r = []; for (let i = 0; i < o.length; ) { let j = i; while (j + 1 < o.length && o[j + 1][0] === o[i][0]) j++; for (let k = i; k <= j; k++) r[o[k][1]] = (i + j) / 2 + 1; i = j + 1; } return r; };` then Pearson's r of `rank(xs)` and `rank(ys)`.",
    ],
  },
};

/** Hint text as HTML: escaped, with `code` and ``code with ` inside`` spans as <code> (JupyterLab shows the HTML). */
export function hintHtml(text: string): string {
  const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const code = (c: string) => `<code style="white-space:pre-wrap">${esc(c)}</code>`;
  let out = "";
  let last = 0;
  for (const m of text.matchAll(/``\s?([\s\S]+?)\s?``|`([^`]+)`/g)) {
    out += esc(text.slice(last, m.index)) + code(m[1] ?? m[2]);
    last = m.index! + m[0].length;
  }
  return out + esc(text.slice(last));
}

/** The hint text for an exercise ("1.1" or the function name) at a level (1–3). Throws on an unknown exercise. */
export function hintText(exercise: string, level = 1): string {
  const id = HINTS[exercise] ? exercise : Object.keys(HINTS).find((k) => HINTS[k].name === exercise);
  if (!id) throw new RangeError(`hint: exercise must be one of ${Object.keys(HINTS).map((k) => `"${k}" (${HINTS[k].name})`).join(", ")}, received ${JSON.stringify(exercise)}`);
  if (!Number.isInteger(level) || level < 1 || level > 3) throw new RangeError(`hint: level must be 1, 2 or 3, received ${JSON.stringify(level)}`);
  return HINTS[id].levels[level - 1];
}

/** Show a hint for an exercise in the notebook (or print it). Returns nothing, so a cell ending with it shows it once. */
export function hint(exercise: string, level = 1): void {
  const id = HINTS[exercise] ? exercise : Object.keys(HINTS).find((k) => HINTS[k].name === exercise) ?? exercise;
  const text = hintText(exercise, level);
  const more = level < 3 ? ` (more: hint("${id}", ${level + 1}))` : " (the last level)";
  const line = `Hint ${level}/3 for ${id} ${HINTS[id].name}: ${text}${more}`;
  const write = displayWriter();
  if (write) {
    const html = `<div style="border-left:4px solid #1565c0;background:#e3f2fd;padding:8px 12px;margin:6px 0;font-family:sans-serif"><strong>Hint ${level}/3 · ${id} ${HINTS[id].name}</strong><div>${hintHtml(text)}</div><div style="color:#555">${more.trim()}</div></div>`;
    write({ data: { "text/plain": line, "text/markdown": `**Hint ${level}/3 · ${id} ${HINTS[id].name}:** ${text}${more}`, "text/html": html }, metadata: {}, transient: {} }, false);
  } else process.stdout.write(`${line}\n`);
}
