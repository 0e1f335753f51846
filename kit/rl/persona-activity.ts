/**
 * H5 as RESEARCH defines it: is the persona representation active during the agent's *actions*, or only during its
 * *reflection* text, and does that change over RL? At every checkpoint of a run, a fixed reader (e.g. the
 * behaviour-matched persona probe of `kit/probes/persona`, fitted once on the run's start model) scores the action
 * tokens and the reflection tokens of that checkpoint's own evaluation transcripts; the gap is reflection − action.
 * Decoupling = the gap grows over the checkpoints (`gapGrowth`: least-squares slope of the gap per `per` updates).
 *
 *   const start = await loadRLCheckpoint(rec, 0);
 *   const probe = fitPersonaProbe(start, world, { layer: 1, n: 48, seed: 7 });
 *   const pts = await activityOverCheckpoints(rec, personaProbeReader(probe));   // [{ step, action, reflection, gap }, …]
 *   gapGrowth(pts);                                        // slope of the gap per 10 updates
 *
 * Pure analysis of a finished record: nothing here changes a run (the file is left out of the run hash).
 */
import { describeValue } from "../describe";
import type { HookedTransformer } from "../model/transformer";
import { personaActivity, type PersonaProbe, type PersonaTranscript } from "../probes/persona";
import type { Tokenizer } from "../tokenizers/types";
import { slope } from "../util/stats";
import { loadRLCheckpoint, type RLRunRecord, type RLTranscript } from "./run";

/** Transcripts as the reader gets them: token ids with their kinds (action / reflection / null). */
export type KindedTranscript = Pick<RLTranscript, "tokens" | "kinds">;

/** Persona activity of a model on one kind of agent token of `transcripts`: a number, or a summary with a mean. */
export type ActivityReader = (model: HookedTransformer, transcripts: readonly KindedTranscript[], positions: "action" | "reflection") => number | { mean: number };

/** One checkpoint's reading: mean activity on action and on reflection tokens, and their gap (reflection − action). */
export interface CheckpointActivity {
  step: number;
  action: number;
  reflection: number;
  gap: number;
}

/**
 * `read` at every checkpoint of `record` (in step order), on the transcripts of the evaluation at the same step
 * (`transcripts: "own"`, default) or on a fixed set. Each checkpoint's model is loaded, read and disposed.
 */
export async function activityOverCheckpoints(
  record: RLRunRecord,
  read: ActivityReader,
  { transcripts = "own" }: { transcripts?: "own" | readonly KindedTranscript[] } = {},
): Promise<CheckpointActivity[]> {
  const fn = "activityOverCheckpoints";
  if (!record || !Array.isArray(record.checkpoints) || !Array.isArray(record.evals)) throw new TypeError(`${fn}: record must be an RL run record (runRL's result), received ${describeValue(record)}`);
  if (typeof read !== "function") throw new TypeError(`${fn}: read must be a function (model, transcripts, positions) => number, received ${describeValue(read)}`);
  const out: CheckpointActivity[] = [];
  for (const ck of [...record.checkpoints].sort((a, b) => a.step - b.step)) {
    const trs = transcripts === "own" ? record.evals.find((e) => e.step === ck.step)?.transcripts : transcripts;
    if (!trs) throw new RangeError(`${fn}: checkpoint ${ck.step} has no evaluation at the same step (evaluations at ${record.evals.map((e) => e.step).join(", ")}); pass transcripts`);
    checkKinds(fn, ck.step, trs);
    const model = await loadRLCheckpoint(record, ck.step);
    try {
      const action = valueOf(fn, read(model, trs, "action"));
      const reflection = valueOf(fn, read(model, trs, "reflection"));
      out.push({ step: ck.step, action, reflection, gap: reflection - action });
    } finally {
      model.dispose();
    }
  }
  return out;
}

function checkKinds(fn: string, step: number, trs: readonly KindedTranscript[]): void {
  const kinds = new Set(trs.flatMap((t) => t.kinds));
  for (const k of ["action", "reflection"] as const) {
    if (!kinds.has(k)) throw new RangeError(`${fn}: the transcripts at step ${step} have no ${k} tokens (${trs.length} transcripts); H5 needs runs evaluated with a reflection turn`);
  }
}

function valueOf(fn: string, v: number | { mean: number }): number {
  const x = typeof v === "number" ? v : v?.mean;
  if (typeof x !== "number" || !Number.isFinite(x)) throw new RangeError(`${fn}: read must return a finite number or { mean }, received ${describeValue(v)}`);
  return x;
}

/** Least-squares slope of `value` over `step` (at least two distinct steps). */
export function slopeOverSteps(points: readonly { step: number; value: number }[]): number {
  const n = points.length;
  const b = slope(points.map((p) => p.step), points.map((p) => p.value));
  if (!(n >= 2 && Number.isFinite(b))) throw new RangeError(`slopeOverSteps: need at least two distinct steps, received ${n} point${n === 1 ? "" : "s"} at steps ${points.map((p) => p.step).join(", ")}`);
  return b;
}

/** Growth of the reflection − action gap: its least-squares slope over the checkpoints, per `per` updates (default 10). */
export function gapGrowth(points: readonly CheckpointActivity[], { per = 10 }: { per?: number } = {}): number {
  if (!(per > 0)) throw new RangeError(`gapGrowth: options.per must be a positive number of updates, received ${describeValue(per)}`);
  return per * slopeOverSteps(points.map((p) => ({ step: p.step, value: p.gap })));
}

/**
 * RL transcripts (token ids with kinds) as the persona probe's transcripts: `prompt` = everything before the last
 * action turn, `response` = the last action turn, `why` = the reflection request, `reflection` = the reflection. In
 * an interrupted episode the last action turn is the one after the interruption (the act that is classified); its
 * first sentence stays in the prompt. Transcripts without a non-empty action and reflection turn are left out.
 */
export function toPersonaTranscripts(transcripts: readonly KindedTranscript[], tokenizer: Tokenizer): PersonaTranscript[] {
  const dec = (ids: readonly number[]) => tokenizer.decode(ids, { skipSpecialTokens: true }).trim();
  const out: PersonaTranscript[] = [];
  for (const t of transcripts) {
    const r0 = t.kinds.indexOf("reflection");
    if (r0 < 0) continue;
    const a1 = t.kinds.lastIndexOf("action", r0) + 1;
    if (a1 === 0) continue;
    let a0 = a1;
    while (a0 > 0 && t.kinds[a0 - 1] === "action") a0--;
    let r1 = r0;
    while (r1 < t.kinds.length && t.kinds[r1] === "reflection") r1++;
    const [prompt, response, why, reflection] = [t.tokens.slice(0, a0), t.tokens.slice(a0, a1), t.tokens.slice(a1, r0), t.tokens.slice(r0, r1)].map(dec);
    if (!response || !reflection) continue;
    out.push({ prompt, response, why, reflection });
  }
  return out;
}

/** An `ActivityReader` of a fitted persona probe (`fitPersonaProbe`): `personaActivity`'s mean on the RL transcripts. */
export function personaProbeReader(probe: PersonaProbe): ActivityReader {
  return (model, transcripts, positions) => {
    if (!model.tokenizer) throw new Error("personaProbeReader: the model has no tokenizer");
    const trs = toPersonaTranscripts(transcripts, model.tokenizer);
    if (trs.length === 0) throw new RangeError(`personaProbeReader: none of the ${transcripts.length} transcripts has both an action and a reflection turn`);
    return personaActivity(model, probe, trs, { positions }).mean;
  };
}
