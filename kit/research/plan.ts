/**
 * Preregistration: a notebook's analysis plan, fixed in code before any run, validated, hashed and written to disk.
 *
 *   const plan = preregister({
 *     id: "01-shallow-vs-deep-persona",
 *     question: "Does a shallow persona leak narrowly trained gaming more than a deep one?",
 *     arms: { shallow: "2 domains, 60 steps", deep: "4 domains, 180 steps, constitution" },
 *     seeds: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
 *     hypotheses: [{ id: "H1", claim: "shallow leaks more", metric: "heldout_gaming_did", contrast: ["shallow", "deep"], prediction: "greater" }],
 *   });
 *
 * The plan names every hypothesis with its metric, contrast, test and predicted direction; the confirmatory seeds;
 * optional pilot seeds (disjoint: a pilot never counts); α and the multiple-comparison correction. `preregister`
 * reports every problem at once, fills the defaults, hashes the canonical JSON (SHA-256), writes
 * `<dir>/<id>.json` with the hash and the time (re-registering the same plan keeps the first time), and displays the
 * plan in the notebook. `testHypothesis` and `decide`
 * (hypothesis.ts, decide.ts) accept only what the plan names.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describeValue } from "../describe";
import { canonicalJson } from "../organisms/version";
import { isPlainObject } from "../util/object";
import { display } from "./display";

/** How a hypothesis is tested (the unit resampled is the seed, or the arm for "spearman"). */
export const PLAN_TESTS = ["paired-bootstrap", "bootstrap", "one-sample", "spearman"] as const;
export type PlanTest = (typeof PLAN_TESTS)[number];

export interface HypothesisPlan {
  /** Label shown with the verdict ("H1", "H1.breadth", "API-1"). */
  id: string;
  /** What the hypothesis says, in words. */
  claim: string;
  /** The name of the per-(arm, seed) value the test reads; observations with another metric are refused. */
  metric: string;
  /**
   * The arms compared: `[a, b]` for the bootstrap tests (estimate: mean of a − mean of b), `[a]` for "one-sample"
   * (mean of a vs 0). Not used by "spearman" (see `arms`).
   */
  contrast?: string[];
  /** The predicted sign of the estimate: "greater" (> 0) or "less" (< 0). */
  prediction: "greater" | "less";
  /** Default "paired-bootstrap" (a − b per seed; arms share a seed's pretraining). */
  test?: PlanTest;
  /** "spearman" only: the predictor metric, correlated with `metric` over `arms` (e.g. datasets). */
  predictor?: string;
  /** "spearman" only: the units correlated (arm names, ≥ 4). */
  arms?: string[];
  /** Default "primary". Holm's correction covers every hypothesis of the plan, whatever its role. */
  role?: "primary" | "secondary";
  /**
   * A precondition: the id of an earlier hypothesis of the plan (e.g. a manipulation check) that must be supported
   * for this one to be decided. When it is not, `decide` reports this one as not tested (never "supported"), whatever
   * its own test says.
   */
  requires?: string;
}

export interface AnalysisPlan {
  /** The notebook stem (the results record's file name). */
  id: string;
  question: string;
  /** Every arm or condition a hypothesis names, with what it is. */
  arms: Record<string, string>;
  /** Confirmatory seeds: every one must be observed in every arm a test reads. */
  seeds: number[];
  /** Seeds of pilot runs (labelled pilots; never counted); disjoint from `seeds`. Default []. */
  pilotSeeds?: number[];
  hypotheses: HypothesisPlan[];
  /** Default 0.05. */
  alpha?: number;
  /** Default "holm" (across the plan's hypotheses). */
  correction?: "holm" | "none";
  /** Bootstrap resamples. Default 10000. */
  reps?: number;
  /** Optional notes fixed with the plan (exclusions, what an arm holds constant). */
  notes?: string;
}

/** A hypothesis with its defaults filled. */
export type ResolvedHypothesis = HypothesisPlan & { test: PlanTest; role: "primary" | "secondary" };

/** A plan with its defaults filled: what is hashed. */
export type ResolvedPlan = Omit<AnalysisPlan, "pilotSeeds" | "alpha" | "correction" | "reps" | "hypotheses"> & {
  pilotSeeds: number[];
  alpha: number;
  correction: "holm" | "none";
  reps: number;
  hypotheses: ResolvedHypothesis[];
};

/** What `preregister` returns: the resolved plan, its hash and where it was written. */
export interface RegisteredPlan {
  plan: ResolvedPlan;
  /** SHA-256 (hex) of the resolved plan's canonical JSON. */
  hash: string;
  registeredAt: string;
  /** The file written (null with `write: false`). */
  path: string | null;
}

/** Fewest confirmatory seeds a plan may fix: a percentile bootstrap over fewer units gives degenerate intervals. */
export const MIN_SEEDS = 5;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function seedProblems(seeds: unknown, where: string, problems: string[]): number[] {
  if (!Array.isArray(seeds) || seeds.some((s) => !Number.isInteger(s))) {
    problems.push(`${where} must be an array of integer seeds, received ${describeValue(seeds)}`);
    return [];
  }
  if (new Set(seeds).size !== seeds.length) problems.push(`${where} has repeated seeds: ${JSON.stringify(seeds)}`);
  return seeds as number[];
}

function hypothesisProblems(h: unknown, i: number, arms: Set<string>, problems: string[]): void {
  const at = `hypotheses[${i}]`;
  if (!isPlainObject(h)) {
    problems.push(`${at} must be an object { id, claim, metric, contrast, prediction, test? }, received ${describeValue(h)}`);
    return;
  }
  for (const k of ["id", "claim", "metric"] as const) {
    if (typeof h[k] !== "string" || (h[k] as string).trim() === "") problems.push(`${at}.${k} must be a non-empty string, received ${describeValue(h[k])}`);
  }
  if (h.prediction !== "greater" && h.prediction !== "less") problems.push(`${at}.prediction must be "greater" or "less", received ${describeValue(h.prediction)}`);
  const test = h.test ?? "paired-bootstrap";
  if (!(PLAN_TESTS as readonly unknown[]).includes(test)) problems.push(`${at}.test must be one of ${PLAN_TESTS.join(", ")}, received ${describeValue(h.test)}`);
  if (h.role !== undefined && h.role !== "primary" && h.role !== "secondary") problems.push(`${at}.role must be "primary" or "secondary", received ${describeValue(h.role)}`);
  const known = (names: unknown, where: string, size: number | "≥4") => {
    if (!Array.isArray(names) || (size === "≥4" ? names.length < 4 : names.length !== size)) {
      problems.push(`${at}.${where} must list ${size === "≥4" ? "at least 4" : size} arm name${size === 1 ? "" : "s"}, received ${describeValue(names)}`);
      return;
    }
    for (const a of names) if (!arms.has(a as string)) problems.push(`${at}.${where} names arm ${describeValue(a)}, which the plan's arms do not define (${[...arms].join(", ")})`);
    if (new Set(names).size !== names.length) problems.push(`${at}.${where} repeats an arm: ${JSON.stringify(names)}`);
  };
  if (test === "spearman") {
    if (typeof h.predictor !== "string" || h.predictor === "" || h.predictor === h.metric) problems.push(`${at}.predictor must name a metric other than ${describeValue(h.metric)} for a "spearman" test, received ${describeValue(h.predictor)}`);
    known(h.arms, "arms", "≥4");
  } else known(h.contrast, "contrast", test === "one-sample" ? 1 : 2);
}

/** Every problem of a plan (empty when it is valid). */
export function planProblems(plan: unknown): string[] {
  const problems: string[] = [];
  if (!isPlainObject(plan)) return [`the plan must be an object { id, question, arms, seeds, hypotheses, … }, received ${describeValue(plan)}`];
  const known = new Set(["id", "question", "arms", "seeds", "pilotSeeds", "hypotheses", "alpha", "correction", "reps", "notes"]);
  for (const k of Object.keys(plan)) if (!known.has(k)) problems.push(`unknown field ${JSON.stringify(k)} (known: ${[...known].join(", ")})`);
  if (typeof plan.id !== "string" || !ID_PATTERN.test(plan.id)) problems.push(`id must be a file-name-safe string (letters, digits, . _ -), received ${describeValue(plan.id)}`);
  if (typeof plan.question !== "string" || plan.question.trim() === "") problems.push(`question must be a non-empty string, received ${describeValue(plan.question)}`);
  const arms = new Set<string>();
  if (!isPlainObject(plan.arms) || Object.keys(plan.arms).length === 0) problems.push(`arms must be an object { name: description } with at least one arm, received ${describeValue(plan.arms)}`);
  else for (const [k, v] of Object.entries(plan.arms)) {
    arms.add(k);
    if (typeof v !== "string") problems.push(`arms.${k} must be a description string, received ${describeValue(v)}`);
  }
  const seeds = seedProblems(plan.seeds, "seeds", problems);
  if (Array.isArray(plan.seeds) && seeds.length < MIN_SEEDS) problems.push(`seeds must list at least ${MIN_SEEDS} confirmatory seeds (a bootstrap over fewer gives degenerate intervals), received ${seeds.length}`);
  const pilots = plan.pilotSeeds === undefined ? [] : seedProblems(plan.pilotSeeds, "pilotSeeds", problems);
  const overlap = pilots.filter((s) => seeds.includes(s));
  if (overlap.length > 0) problems.push(`pilotSeeds must be disjoint from seeds (a pilot never counts), but both contain ${overlap.join(", ")}`);
  if (!Array.isArray(plan.hypotheses) || plan.hypotheses.length === 0) problems.push(`hypotheses must be a non-empty array, received ${describeValue(plan.hypotheses)}`);
  else {
    plan.hypotheses.forEach((h, i) => hypothesisProblems(h, i, arms, problems));
    const ids = plan.hypotheses.map((h) => (isPlainObject(h) ? h.id : undefined));
    plan.hypotheses.forEach((h, i) => {
      if (!isPlainObject(h) || h.requires === undefined) return;
      if (!ids.slice(0, i).includes(h.requires as string)) problems.push(`hypotheses[${i}].requires must name an earlier hypothesis of the plan (${ids.slice(0, i).join(", ") || "none"}), received ${describeValue(h.requires)}`);
    });
    const dup = ids.filter((x, i) => ids.indexOf(x) !== i);
    if (dup.length > 0) problems.push(`hypothesis ids must be unique, repeated: ${[...new Set(dup)].join(", ")}`);
  }
  if (plan.alpha !== undefined && !(typeof plan.alpha === "number" && plan.alpha > 0 && plan.alpha < 0.5)) problems.push(`alpha must be a number in (0, 0.5), received ${describeValue(plan.alpha)}`);
  if (plan.correction !== undefined && plan.correction !== "holm" && plan.correction !== "none") problems.push(`correction must be "holm" or "none", received ${describeValue(plan.correction)}`);
  if (plan.reps !== undefined && !(Number.isInteger(plan.reps) && (plan.reps as number) >= 1000)) problems.push(`reps must be an integer ≥ 1000, received ${describeValue(plan.reps)}`);
  if (plan.notes !== undefined && typeof plan.notes !== "string") problems.push(`notes must be a string, received ${describeValue(plan.notes)}`);
  return problems;
}

/** The plan with its defaults filled (throws a RangeError listing every problem). */
export function resolvePlan(plan: AnalysisPlan, fn = "preregister"): ResolvedPlan {
  const problems = planProblems(plan);
  if (problems.length > 0) throw new RangeError(`${fn}: the analysis plan has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n  - ${problems.join("\n  - ")}`);
  return {
    ...plan,
    pilotSeeds: plan.pilotSeeds ?? [],
    alpha: plan.alpha ?? 0.05,
    correction: plan.correction ?? "holm",
    reps: plan.reps ?? 10000,
    hypotheses: plan.hypotheses.map((h) => ({ ...h, test: h.test ?? "paired-bootstrap", role: h.role ?? "primary" })),
  } as ResolvedPlan;
}

/** SHA-256 (hex) of a resolved plan's canonical JSON (key order does not matter). */
export function planHash(plan: ResolvedPlan): string {
  return createHash("sha256").update(canonicalJson(plan)).digest("hex");
}

export interface PreregisterOptions {
  /** Where the plan file goes (default "../out/plans": the repository's out/ as seen from notebooks/). */
  dir?: string;
  /** Write the file (default true). */
  write?: boolean;
  /** Display the plan in the notebook (default true; printed as text outside a notebook). */
  show?: boolean;
}

/**
 * Validate, resolve, hash and record an analysis plan before any run. Writes `<dir>/<id>.json`
 * (`{ hash, registeredAt, plan }`); when that file already holds a plan with another hash, the old one is kept as
 * `<id>.<old hash prefix>.json` so a changed plan never silently replaces the record of the earlier one; the same plan
 * registered again keeps its first `registeredAt`.
 */
export function preregister(plan: AnalysisPlan, { dir = "../out/plans", write = true, show = true }: PreregisterOptions = {}): RegisteredPlan {
  const resolved = resolvePlan(plan);
  const hash = planHash(resolved);
  let registeredAt = new Date().toISOString();
  let file: string | null = null;
  if (write) {
    fs.mkdirSync(dir, { recursive: true });
    file = path.join(dir, `${resolved.id}.json`);
    if (fs.existsSync(file)) {
      const old = JSON.parse(fs.readFileSync(file, "utf8")) as { hash?: string; registeredAt?: string };
      if (old.hash === hash && typeof old.registeredAt === "string") registeredAt = old.registeredAt; // the same plan, registered earlier
      else if (old.hash) fs.renameSync(file, path.join(dir, `${resolved.id}.${old.hash.slice(0, 12)}.json`));
    }
    fs.writeFileSync(file, `${JSON.stringify({ hash, registeredAt, plan: resolved }, null, 1)}\n`);
  }
  const registered: RegisteredPlan = { plan: resolved, hash, registeredAt, path: file };
  if (show) display(planBundle(registered));
  return registered;
}

function planMarkdown({ plan, hash }: RegisteredPlan): string {
  const rows = plan.hypotheses.map((h) => {
    const what = h.test === "spearman" ? `Spearman(${h.predictor}, ${h.metric}) over ${h.arms!.length} arms` : h.test === "one-sample" ? `mean ${h.contrast![0]} vs 0` : `${h.contrast![0]} − ${h.contrast![1]}`;
    return `| ${h.id} | ${h.role} | ${h.claim}${h.requires ? ` (decided only if ${h.requires} is supported)` : ""} | \`${h.metric}\` | ${what} | ${h.test} | ${h.prediction === "greater" ? "> 0" : "< 0"} |`;
  });
  const arms = Object.entries(plan.arms).map(([k, v]) => `- **${k}**: ${v}`);
  return [
    `**Preregistered analysis plan** \`${plan.id}\` · sha256 \`${hash.slice(0, 16)}\``,
    "",
    plan.question,
    "",
    ...arms,
    "",
    "| id | role | claim | metric | estimate | test | predicted |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `Confirmatory seeds: ${plan.seeds.join(", ")} (n = ${plan.seeds.length})${plan.pilotSeeds.length > 0 ? `; pilot seeds (never counted): ${plan.pilotSeeds.join(", ")}` : ""}. ` +
      `α = ${plan.alpha}, ${plan.correction === "holm" ? `Holm correction across the ${plan.hypotheses.length} hypotheses` : "no correction"}, ${plan.reps} bootstrap resamples. ` +
      `Decision: supported when the ${plan.correction === "holm" ? "Holm-adjusted " : ""}p < α and the estimate has the predicted sign; not supported when p < α with the other sign; otherwise inconclusive.`,
    ...(plan.notes ? ["", plan.notes] : []),
  ].join("\n");
}

/** The display bundle of a registered plan (markdown, plain text and the JSON part `application/vnd.persona-kit.plan+json`). */
export function planBundle(registered: RegisteredPlan): Record<string, unknown> {
  const md = planMarkdown(registered);
  return { "text/markdown": md, "text/plain": md, "application/vnd.persona-kit.plan+json": { hash: registered.hash, plan: registered.plan } };
}
