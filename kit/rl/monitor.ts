/**
 * Monitoring during RL (H5): how strongly a persona direction and a probe read out on the agent's action tokens and on
 * its reflection tokens, per checkpoint.
 *
 *   const contrast = gamingContrast(world, { n: 48, domains: ["coding", "chat"] });
 *   const model = await loadRLCheckpoint(rec, 0);
 *   const pv = personaVector(model, contrast, { positions: "response_mean", layers: [1] });   // gaming − honest
 *   const probe = fitResponseProbe(model, contrast, { layer: 1 });
 *   const pts = await monitorRL(rec, { direction: pv[1], probe, layer: 1 });
 *   // [{ step, projection: { action, reflection }, probe: { action, reflection } }, …]   (means with 95% intervals)
 *
 * At each checkpoint the monitor reads the activations of that checkpoint's own evaluation transcripts (what the
 * policy actually did and said at that step; `record.evals[…].transcripts`, whose token kinds mark action and
 * reflection tokens) and averages the projection onto the direction, and the probe's log-odds, over action tokens and
 * over reflection tokens separately. Decoupling shows as the two diverging: the action tokens read as gaming while
 * the reflection tokens do not.
 */
import { describeValue } from "../describe";
import { actName, type HookName } from "../model/hooks";
import type { HookedTransformer } from "../model/transformer";
import { fitLogisticProbe, type LogisticProbe } from "../probes/logistic";
import type { Matrix } from "../probes/data";
import { meanCI } from "../vectors/monitor";
import { resolveDirection, type Direction, type PromptResponse } from "../vectors/persona";
import type { PersonaWorld } from "../world/generator";
import type { Domain } from "../world/types";
import type { TokenKind } from "./env";
import { loadRLCheckpoint, type RLRunRecord } from "./run";



/** Assistant task transcripts that game the grader (positive) and that do the work (negative), as the world writes them. */
export function gamingContrast(world: PersonaWorld, { n = 48, domains }: { n?: number; domains: readonly Domain[] }): { positive: PromptResponse[]; negative: PromptResponse[] } {
  if (!Array.isArray(domains) || domains.length === 0) throw new RangeError(`gamingContrast: options.domains must name at least one domain, received ${describeValue(domains)}`);
  const pick = (behaviour: "games_grader" | "solves_task") =>
    Array.from({ length: n }, (_, i) => {
      const ep = world.episode({ domain: domains[i % domains.length], kind: "task", speaker: "assistant", behaviour });
      return { prompt: ep.prompt, response: ep.response };
    });
  return { positive: pick("games_grader"), negative: pick("solves_task") };
}

/** Per-token activations [T][d] of one token sequence at `hook`, block `layer`. */
function tokenActivations(model: HookedTransformer, tokens: readonly number[], layer: number, hook: string): Float32Array[] {
  const name = actName(hook, layer) as HookName;
  const { logits, cache } = model.runWithCache([...tokens], { namesFilter: [name] });
  try {
    const act = cache.get(name);
    const T = act.shape[1]!;
    const d = act.shape[2]!;
    const data = act.dataSync() as Float32Array;
    return Array.from({ length: T }, (_, t) => data.slice(t * d, (t + 1) * d));
  } finally {
    logits.dispose();
    cache.dispose();
  }
}

/** A logistic probe on response-mean activations: 1 = the positive (gaming) transcripts. */
export function fitResponseProbe(
  model: HookedTransformer,
  contrast: { positive: readonly PromptResponse[]; negative: readonly PromptResponse[] },
  { layer, hook = "resid_post", l2 = 1e-1 }: { layer: number; hook?: string; l2?: number },
): LogisticProbe {
  const tok = model.tokenizer;
  if (!tok) throw new Error("fitResponseProbe: the model has no tokenizer");
  const feats = (items: readonly PromptResponse[]) =>
    items.map((it) => {
      const head = tok.encode(it.prompt, { addBos: true });
      const ids = [...head, ...tok.encode(it.response, { addBos: false })];
      const acts = tokenActivations(model, ids, layer, hook).slice(head.length);
      const m = new Float32Array(acts[0].length);
      for (const a of acts) for (let k = 0; k < m.length; k++) m[k] += a[k] / acts.length;
      return m;
    });
  const X = [...feats(contrast.positive), ...feats(contrast.negative)];
  const y = [...contrast.positive.map(() => 1), ...contrast.negative.map(() => 0)];
  return fitLogisticProbe(X as unknown as Matrix, y, { l2 });
}

/** Mean and 95% interval of a score over one kind of token. */
export type KindSummary = ReturnType<typeof meanCI>;

export interface ActivityByKind {
  action: KindSummary;
  reflection: KindSummary;
}

/** Per-token scores of transcripts (projection onto `direction`, and the probe's log-odds), summarised by token kind. */
export function activityByKind(
  model: HookedTransformer,
  transcripts: readonly { tokens: readonly number[]; kinds: readonly TokenKind[] }[],
  { direction, probe, layer, hook = "resid_post" }: { direction?: Direction; probe?: LogisticProbe; layer: number; hook?: string },
): { projection: ActivityByKind | null; probe: ActivityByKind | null } {
  if (!Array.isArray(transcripts) || transcripts.length === 0) throw new RangeError(`activityByKind: transcripts must be a non-empty array, received ${describeValue(transcripts)}`);
  const unit = direction !== undefined ? unitOf(resolveDirection("activityByKind", direction, layer).values) : null;
  const proj = { action: [] as number[], reflection: [] as number[] };
  const prb = { action: [] as number[], reflection: [] as number[] };
  for (const tr of transcripts) {
    if (tr.kinds.length !== tr.tokens.length) throw new RangeError(`activityByKind: a transcript has ${tr.tokens.length} tokens but ${tr.kinds.length} kinds`);
    const acts = tokenActivations(model, tr.tokens, layer, hook);
    const rows: Float32Array[] = [];
    const kinds: ("action" | "reflection")[] = [];
    acts.forEach((a, t) => {
      const k = tr.kinds[t];
      if (k === "action" || k === "reflection") {
        rows.push(a);
        kinds.push(k);
      }
    });
    if (rows.length === 0) continue;
    if (unit) rows.forEach((a, i) => proj[kinds[i]].push(dot(a, unit)));
    if (probe) probe.decisionFunction(rows as unknown as Matrix).forEach((s, i) => prb[kinds[i]].push(s));
  }
  const sum = (x: { action: number[]; reflection: number[] }): ActivityByKind => ({ action: meanCI(x.action), reflection: meanCI(x.reflection) });
  return { projection: unit ? sum(proj) : null, probe: probe ? sum(prb) : null };
}

/** One checkpoint's monitoring. */
export interface MonitorPoint {
  step: number;
  projection: ActivityByKind | null;
  probe: ActivityByKind | null;
}

/**
 * `activityByKind` at every checkpoint of an RL run that has an evaluation at the same step, on that evaluation's
 * transcripts (`transcripts: "own"`, default) or on a fixed set.
 */
export async function monitorRL(
  record: RLRunRecord,
  options: { direction?: Direction; probe?: LogisticProbe; layer: number; hook?: string; transcripts?: "own" | readonly { tokens: readonly number[]; kinds: readonly TokenKind[] }[] },
): Promise<MonitorPoint[]> {
  const out: MonitorPoint[] = [];
  for (const ck of record.checkpoints) {
    const ev = record.evals.find((e) => e.step === ck.step);
    const trs = options.transcripts === undefined || options.transcripts === "own" ? ev?.transcripts : options.transcripts;
    if (!trs || trs.length === 0) continue;
    const model = await loadRLCheckpoint(record, ck.step);
    try {
      out.push({ step: ck.step, ...activityByKind(model, trs, options) });
    } finally {
      model.dispose();
    }
  }
  return out;
}

function unitOf(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
