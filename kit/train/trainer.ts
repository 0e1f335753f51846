/**
 * `train(model, data, options)`: next-token training of a HookedTransformer with AdamW, a learning-rate schedule,
 * global-norm clipping, seeded batches, NaN guards, evaluation, progress and resumable checkpoints.
 *
 * One step k (0-based): batch k of `makeBatcher(data, …)` → loss and gradients by `tf.variableGrads` over
 * `model.loss(batch, { training: true })` (or a masked mean for padded sequences) → global gradient norm, clipped
 * to `clipNorm` → AdamW update at `lrAt(k)`. Everything a step computes depends only on the weights, the optimizer
 * state and k, so a run stopped after a checkpoint and resumed with `resume: true` produces bit-identical losses
 * and weights to an uninterrupted run.
 *
 * A NaN or ±Inf loss or gradient norm stops training with an error naming the step, before the update: the model
 * keeps the weights of the last finite step.
 *
 * Runtimes: `"tfjs"` (the reference) or `"onnx"`, where the whole step (forward, loss, backward, clipping, AdamW)
 * is one ONNX Runtime run of a gradient graph (`kit/onnx/train-step.ts`); parameters and moments stay in
 * Float32Arrays and are copied into the model's variables before evaluations, checkpoints, `onStep` and at the end
 * (weights assigned to the model in `onStep` are taken up by the next step). `"auto"` (default)
 * picks onnx when the model has no permanent hooks (they run only on the tfjs path), and a resume continues on the
 * runtime its checkpoint recorded. Resumes are bit-identical within a runtime.
 */
import { tf } from "../backend";
import type { HookedTransformer } from "../model/transformer";
import { AdamW, type AdamWState } from "./adamw";
import { OnnxTrainer, trainableVariables, type Trainable } from "../onnx/train-step";
import type { FwdHook } from "../model/hooks";
import { hasInterventions, interventionProblems, onnxInterventionFeeds, onnxInterventionHooks, tfjsInterventionHooks, type TrainingInterventions } from "./steer";
import { dataProblems, isSequenceList, makeBatcher, sequenceListSeqLen, type Batch, type Batcher, type TrainData } from "./batches";
import { latestCheckpoint, loadCheckpoint, removeStaleTemps, saveCheckpoint, TRAINER_STATE_FORMAT, TRAINER_STATE_VERSION, type TrainerState } from "./checkpoint";
import { clipByGlobalNorm } from "./clip";
import { lrAt, SCHEDULE_NAMES, type ScheduleName } from "./schedule";
import { formatDuration, progress as startProgress, type Progress } from "../viz/progress";
import { problemsError } from "../describe";
import { editDistance } from "../util/editDistance";

export interface StepRecord {
  /** 0-based index of the update. */
  step: number;
  /** Training loss of this step's batch (mean next-token cross-entropy, nats), before the update. */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  tokensPerSec: number;
  /** Wall time of the step (batch, forward, backward, clipping, update). */
  ms: number;
  /** Mean loss on `evalData`, after this step's update, on steps where evaluation ran. */
  evalLoss?: number;
  /** With `monitor`: each direction's mean projection over the counted tokens (before any intervention), before the update. */
  projections?: number[];
}

export interface TrainResult {
  /** Every step's record, including those restored from a checkpoint when resuming. */
  records: StepRecord[];
  /** The last step's training loss. */
  finalLoss: number;
  /** Mean throughput of the steps this call ran (the first excluded when there are more than two). */
  tokensPerSec: number;
  /** The last evaluation's loss, when `evalData` was given. */
  evalLoss?: number;
  /** Folder of the last checkpoint written or resumed from, when `checkpointDir` was given. */
  checkpoint?: string;
}

export interface TrainOptions extends TrainingInterventions {
  /** Total updates of the run (when resuming, the run continues up to this many). */
  steps: number;
  /** Default 32. */
  batchSize?: number;
  /** Input positions per row; default `model.cfg.n_ctx` (for a list of sequences: min(n_ctx, longest − 1)). */
  seqLen?: number;
  /** Peak learning rate; default 1e-3. */
  lr?: number;
  /** Default "cosine". */
  schedule?: ScheduleName;
  /** Default 0. */
  warmupSteps?: number;
  /** Floor of the decay as a fraction of lr; default 0.1. */
  minLrRatio?: number;
  /** Decoupled weight decay on matrices (not norms, biases or embeddings); default 0.1. */
  weightDecay?: number;
  /** Also decay the embeddings; default false. */
  decayEmbeddings?: boolean;
  /** Default [0.9, 0.95]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Clip the global gradient norm to this; null or Infinity to disable. Default 1.0. */
  clipNorm?: number | null;
  /** Seeds the batches; default 0. */
  seed?: number;
  /** Padding id for short sequences; default cfg.padTokenId ?? cfg.eosTokenId ?? 0. */
  padId?: number;
  /** Folder for checkpoints (a `step-N` subfolder each); a checkpoint is always written at the end. */
  checkpointDir?: string;
  /** Also checkpoint every this many steps. */
  checkpointEvery?: number;
  /** Checkpoints kept in checkpointDir; default 1. */
  keepCheckpoints?: number;
  /** Continue from the newest checkpoint in checkpointDir (start fresh if there is none). Default false. */
  resume?: boolean;
  /** Called after every step (awaited). */
  onStep?: (record: StepRecord) => void | Promise<void>;
  /**
   * Progress line on stderr (`kit/viz/progress`: redrawn in place on a TTY, a line every 10 s otherwise; an updating
   * HTML bar in a notebook); default: when stderr is a TTY.
   */
  progress?: boolean;
  /** Print progress every this many steps; default about once a second (TTY) or every 10 s (pipe). */
  progressEvery?: number;
  /** Held-out data (same forms as `data`) evaluated every `evalEvery` steps and at the end. */
  evalData?: TrainData;
  /** Default: only at the end. */
  evalEvery?: number;
  /** Batches per evaluation (the same ones every time); default 4. */
  evalBatches?: number;
  /**
   * Where the steps run: "tfjs", "onnx" (ONNX Runtime gradient graphs), or "auto" (default): onnx unless the model
   * has permanent hooks; when resuming, the runtime the checkpoint recorded.
   */
  runtime?: TrainRuntime | "auto";
  /**
   * Per-token loss weights for a list of sequences (one array per sequence, as long as it): `lossMasks[i][t]` weighs
   * the prediction of token t of sequence i (t ≥ 1), e.g. 1 on assistant tokens only (`sft` builds them). Padding
   * stays uncounted.
   */
  lossMasks?: readonly ArrayLike<number>[];
}

export type TrainRuntime = "tfjs" | "onnx";

const KNOWN_OPTIONS = [
  "steps", "batchSize", "seqLen", "lr", "schedule", "warmupSteps", "minLrRatio", "weightDecay", "decayEmbeddings", "betas", "eps",
  "clipNorm", "seed", "padId", "checkpointDir", "checkpointEvery", "keepCheckpoints", "resume", "onStep", "progress", "progressEvery",
  "evalData", "evalEvery", "evalBatches", "runtime", "lossMasks", "steering", "ablate", "monitor",
] as const;

/** Options that fix a run's numbers: a resume must use the same values. */
const DETERMINING = ["batchSize", "seqLen", "lr", "schedule", "warmupSteps", "minLrRatio", "weightDecay", "decayEmbeddings", "betas", "eps", "clipNorm", "seed", "padId"] as const;

type Resolved = Required<Omit<TrainOptions, "checkpointDir" | "checkpointEvery" | "onStep" | "progress" | "progressEvery" | "evalData" | "evalEvery" | "runtime" | "lossMasks" | keyof TrainingInterventions>> &
  Pick<TrainOptions, "runtime" | "lossMasks" | keyof TrainingInterventions> &
  Pick<TrainOptions, "checkpointDir" | "checkpointEvery" | "onStep" | "progress" | "progressEvery" | "evalData" | "evalEvery"> & { clipNorm: number | null };

/** Train `model` in place on `data` (a token stream or a list of sequences). */
export async function train(model: HookedTransformer, data: TrainData, options: TrainOptions): Promise<TrainResult> {
  const o = resolveOptions(model, data, options);
  const { steps, batchSize, seqLen, seed, padId, checkpointDir } = o;
  const batcher = makeBatcher(data, { batchSize, seqLen, seed, padId, lossMasks: o.lossMasks });
  const evalBatcher = o.evalData !== undefined ? makeBatcher(o.evalData, { batchSize, seqLen, seed, padId }) : null;
  const evalEvery = o.evalEvery ?? steps;
  const dataHash = fingerprint(data, o.lossMasks);
  const trainable: Trainable = model.adapters.live() ? "adapter" : "all"; // an active LoRA adapter: only A and B train
  const vars = trainableVariables(model, trainable);
  const iv: TrainingInterventions = { steering: o.steering, ablate: o.ablate, monitor: o.monitor };
  if (checkpointDir !== undefined) removeStaleTemps(checkpointDir);
  const resumeDir = o.resume && checkpointDir !== undefined ? latestCheckpoint(checkpointDir) : null;
  const ck = resumeDir ? loadCheckpoint(resumeDir) : null;
  const runtime = chooseRuntime(model, o.runtime, ck ? (ck.state.runtime ?? "tfjs") : null, resumeDir);
  const adamOptions = { betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, decayEmbeddings: o.decayEmbeddings };
  const onnx = runtime === "onnx" ? new OnnxTrainer(model, { ...adamOptions, ...(trainable === "adapter" ? { trainable } : {}), ...(hasInterventions(iv) ? onnxInterventionHooks(iv) : {}) }) : null;
  const onnxExtra = onnx && hasInterventions(iv) ? onnxInterventionFeeds(iv) : {};
  const adamw = onnx ? null : new AdamW(vars, adamOptions);
  const optimizer: { readonly t: number; exportState(): AdamWState; importState(s: AdamWState): void } = onnx ?? adamw!;
  let records: StepRecord[] = [];
  let start = 0;
  let checkpoint: string | undefined;
  let progress: Progress | undefined;

  try {
    if (ck && resumeDir) {
      checkResumable(model, o, dataHash, ck.state, resumeDir);
      const missing = [...vars.keys()].filter((n) => !ck.weights.has(n));
      if (missing.length) throw new RangeError(`train: checkpoint ${resumeDir} lacks parameters ${missing.join(", ")}`);
      if (trainable === "all") model.setWeights(ck.weights);
      else tf.tidy(() => vars.forEach((v, n) => v.assign(tf.tensor(ck.weights.get(n)!, v.shape))));
      optimizer.importState(ck.optimizer);
      start = ck.state.step;
      records = ck.state.records.slice(0, start);
      checkpoint = resumeDir;
    }

    const state = (step: number): TrainerState => ({
      format: TRAINER_STATE_FORMAT,
      version: TRAINER_STATE_VERSION,
      step,
      t: optimizer.t,
      seed,
      options: { ...determining(o), steps, dataHash },
      records,
      config: model.cfg,
      runtime,
    });

    let lastFinite: StepRecord | undefined = records[records.length - 1];
    progress = progressBar(o, steps, start, () => records[records.length - 1]);
    for (let step = start; step < steps; step++) {
      const began = performance.now();
      const lr = lrAt(step, { lr: o.lr, totalSteps: steps, schedule: o.schedule, warmupSteps: o.warmupSteps, minLrRatio: o.minLrRatio });
      const batch = batcher(step);
      const record: StepRecord = onnx ? onnxStep(onnx, batch, step, lr, o.clipNorm, lastFinite, began, onnxExtra) : tfjsStep(model, vars, adamw!, batch, step, lr, o.clipNorm, lastFinite, began, iv);
      records.push(record);
      lastFinite = record;
      if (evalBatcher && ((step + 1) % evalEvery === 0 || step === steps - 1)) {
        onnx?.syncModel();
        record.evalLoss = evaluateBatches(model, evalBatcher, o.evalBatches);
      }
      progress.update(step + 1, stepSummary(record));
      if (o.onStep) {
        onnx?.syncModel(); // the callback sees (and may change) the current weights
        await o.onStep(record);
      }
      if (checkpointDir !== undefined && ((o.checkpointEvery !== undefined && (step + 1) % o.checkpointEvery === 0) || step === steps - 1)) {
        onnx?.syncModel();
        checkpoint = saveCheckpoint(checkpointDir, { model, params: vars, optimizer, state: state(step + 1) }, { keep: o.keepCheckpoints });
      }
      await new Promise<void>((resolve) => setImmediate(resolve)); // let I/O, timers and signals through
    }
    if (checkpointDir !== undefined && start >= steps && !checkpoint) {
      checkpoint = saveCheckpoint(checkpointDir, { model, params: vars, optimizer, state: state(start) }, { keep: o.keepCheckpoints });
    }
  } finally {
    progress?.done();
    if (onnx) {
      onnx.syncModel(); // the weights of the last committed step
      onnx.dispose();
    }
    adamw?.dispose();
  }

  const ran = records.slice(start);
  const timed = ran.length > 2 ? ran.slice(1) : ran.length ? ran : records;
  const totalMs = timed.reduce((a, r) => a + r.ms, 0);
  const evals = records.filter((r) => r.evalLoss !== undefined);
  return {
    records,
    finalLoss: records.length ? records[records.length - 1].loss : NaN,
    tokensPerSec: totalMs > 0 ? (timed.length * batchSize * seqLen * 1000) / totalMs : 0,
    ...(evals.length ? { evalLoss: evals[evals.length - 1].evalLoss } : {}),
    ...(checkpoint ? { checkpoint } : {}),
  };
}

/** The runtime a run uses: the explicit choice, else the resumed checkpoint's, else onnx unless hooks are attached. */
function chooseRuntime(model: HookedTransformer, asked: TrainRuntime | "auto" | undefined, resumed: TrainRuntime | null, dir: string | null): TrainRuntime {
  if (asked !== undefined && asked !== "auto" && resumed !== null && asked !== resumed) {
    throw new RangeError(`train: cannot resume from ${dir} with runtime ${JSON.stringify(asked)}: it was trained with ${JSON.stringify(resumed)} (resumes are bit-identical only within a runtime; pass runtime "auto" or ${JSON.stringify(resumed)})`);
  }
  const dropout = model.adapters.live()?.config.dropout ?? 0; // adapter dropout is not recorded into the gradient graphs
  const runtime = asked === undefined || asked === "auto" ? (resumed ?? (model.numHooks === 0 && dropout === 0 ? "onnx" : "tfjs")) : asked;
  if (runtime === "onnx" && dropout > 0) {
    throw new RangeError(`train: runtime "onnx" cannot apply the active adapter's dropout (${dropout}); pass runtime "tfjs" or an adapter with dropout 0`);
  }
  if (runtime === "onnx" && model.numHooks > 0) {
    throw new RangeError(`train: runtime "onnx" cannot run the model's ${model.numHooks} permanent hook${model.numHooks > 1 ? "s" : ""} (they run on the tfjs path only); remove them or pass runtime "tfjs"`);
  }
  return runtime;
}

/** One step on TensorFlow.js: variableGrads over the batch loss, clipping, AdamW (which refuses a non-finite update). */
function tfjsStep(
  model: HookedTransformer,
  vars: ReadonlyMap<string, tf.Variable>,
  adamw: AdamW,
  batch: Batch,
  step: number,
  lr: number,
  clipNorm: number | null,
  lastFinite: StepRecord | undefined,
  began: number,
  iv: TrainingInterventions,
): StepRecord {
  const paramOf = new Map([...vars].map(([name, v]) => [v.name, name]));
  const projections: number[] = [];
  const hooks = hasInterventions(iv) ? tfjsInterventionHooks(iv, batch, projections) : [];
  const { value, grads } = tf.variableGrads(() => batchLoss(model, batch, true, hooks), [...vars.values()]);
  const gradMap = new Map<string, tf.Tensor>();
  for (const [vname, g] of Object.entries(grads)) gradMap.set(paramOf.get(vname) ?? vname, g);
  try {
    const loss = value.dataSync()[0];
    const ctx = stepContext(step, lr, lastFinite);
    const gradNorm = checkFinite(loss, () => clipByGlobalNorm(gradMap, clipNorm), ctx);
    try {
      adamw.step(gradMap, lr);
    } catch (e) {
      throw new Error(`train: ${(e as Error).message} ${ctx.where}; ${ctx.last}`);
    }
    return stepRecord({ step, loss, lr, gradNorm }, batch, began, projections.length ? projections : undefined);
  } finally {
    value.dispose();
    for (const g of gradMap.values()) g.dispose();
  }
}

/** Where a step is (for its error messages) and the last finite loss before it. */
function stepContext(step: number, lr: number, lastFinite: StepRecord | undefined): { where: string; last: string } {
  const where = `at step ${step} (lr ${fmt(lr)})`;
  const last = lastFinite ? `last finite loss ${fmt(lastFinite.loss)} at step ${lastFinite.step}` : "no finite loss before it";
  return { where, last };
}

/** Throw before any update when the loss, then the gradient norm (computed only after a finite loss), is not finite. */
function checkFinite(loss: number, gradNormOf: () => number, { where, last }: { where: string; last: string }): number {
  if (!Number.isFinite(loss)) throw new Error(`train: loss is ${loss} ${where}; ${last}; weights are left as they were before this step`);
  const gradNorm = gradNormOf();
  if (!Number.isFinite(gradNorm)) {
    throw new Error(`train: gradient norm is ${gradNorm} ${where}, loss ${fmt(loss)}; ${last}; weights are left as they were before this step`);
  }
  return gradNorm;
}

/** A step's record, its throughput measured from `began` (either runtime). */
function stepRecord(fields: Pick<StepRecord, "step" | "loss" | "lr" | "gradNorm">, batch: Batch, began: number, projections?: number[]): StepRecord {
  const ms = Math.max(performance.now() - began, 1e-3);
  return { ...fields, tokensPerSec: (batch.batchSize * batch.seqLen * 1000) / ms, ms, ...(projections ? { projections } : {}) };
}

/** One step on ONNX Runtime: committed only when the loss, the gradient norm and the update are all finite. */
function onnxStep(
  trainer: OnnxTrainer,
  batch: Batch,
  step: number,
  lr: number,
  clipNorm: number | null,
  lastFinite: StepRecord | undefined,
  began: number,
  extra: Parameters<OnnxTrainer["step"]>[3],
): StepRecord {
  const r = trainer.step(batch, lr, clipNorm, extra);
  const { where, last } = stepContext(step, lr, lastFinite);
  checkFinite(r.loss, () => r.gradNorm, { where, last });
  if (r.nonFinite.length > 0) {
    const bad = r.nonFinite;
    throw new Error(
      `train: update ${trainer.t + 1} (lr ${lr}) would make ${bad.length} parameter${bad.length > 1 ? "s" : ""} non-finite (${bad.slice(0, 5).join(", ")}${bad.length > 5 ? ", …" : ""}); nothing was changed ${where}; ${last}`,
    );
  }
  r.commit();
  return stepRecord({ step, loss: r.loss, lr, gradNorm: r.gradNorm }, batch, began, r.projections);
}

/**
 * Mean next-token loss of `model` on `data` over `batches` seeded batches (no gradients), weighted by the targets
 * each batch counts.
 */
export function evaluateLoss(
  model: HookedTransformer,
  data: TrainData,
  { batchSize = 32, seqLen, batches = 4, seed = 0, padId }: { batchSize?: number; seqLen?: number; batches?: number; seed?: number; padId?: number } = {},
): number {
  const L = seqLen ?? defaultSeqLen(model, data);
  const problems = dataProblems(data, { seqLen: L, vocabSize: model.cfg.d_vocab });
  if (problems.length) throw new RangeError(`evaluateLoss: ${problems.join("; ")}`);
  return evaluateBatches(model, makeBatcher(data, { batchSize, seqLen: L, seed, padId: padId ?? defaultPadId(model) }), batches);
}

function evaluateBatches(model: HookedTransformer, batcher: Batcher, batches: number): number {
  let sum = 0;
  let count = 0;
  for (let k = 0; k < batches; k++) {
    const batch = batcher(k);
    const loss = tf.tidy(() => batchLoss(model, batch, false));
    sum += loss.dataSync()[0] * batch.targets;
    count += batch.targets;
    loss.dispose();
  }
  return sum / count;
}

/** The loss of one batch: `model.loss` when every target counts, else the mask-weighted mean cross-entropy. */
function batchLoss(model: HookedTransformer, batch: Batch, training: boolean, fwdHooks: readonly FwdHook[] = []): tf.Scalar {
  const { batchSize: B, seqLen: T } = batch;
  const tokens = tf.tensor2d(batch.tokens, [B, T + 1], "int32");
  if (!batch.mask && fwdHooks.length === 0) return model.loss(tokens, { training });
  const V = model.cfg.d_vocab;
  const logits = model.forward(tokens.slice([0, 0], [B, T]) as tf.Tensor2D, { training, fwdHooks }); // [B, T, V]
  const logp = tf.logSoftmax(logits.reshape([-1, V])); // [B·T, V]
  const targets = tokens.slice([0, 1], [B, T]).reshape([-1]) as tf.Tensor1D;
  const picked = tf.sum(tf.mul(logp, tf.oneHot(targets, V)), -1); // [B·T]
  const mask = batch.mask ? tf.tensor1d(batch.mask) : tf.onesLike(picked);
  return tf.div(tf.neg(tf.sum(tf.mul(picked, mask))), batch.targets) as tf.Scalar;
}

// ----------------------------------------------------------------------------------------------------------------
// Options

function defaultSeqLen(model: HookedTransformer, data: TrainData): number {
  return isSequenceList(data) ? sequenceListSeqLen(model.cfg.n_ctx, data) : model.cfg.n_ctx;
}

function defaultPadId(model: HookedTransformer): number {
  return model.cfg.padTokenId ?? model.cfg.eosTokenId ?? 0;
}

/** Apply defaults and check everything at once; throws one RangeError listing every problem. */
function resolveOptions(model: HookedTransformer, data: TrainData, options: TrainOptions): Resolved {
  const problems: string[] = [];
  if (!model || typeof model !== "object" || !(model.params instanceof Map) || !model.cfg) {
    throw new TypeError(`train: model must be a HookedTransformer, received ${model === null ? "null" : typeof model}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`train: options must be an object with at least { steps }, received ${options === null ? "null" : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!(KNOWN_OPTIONS as readonly string[]).includes(key)) {
      const near = nearest(key, KNOWN_OPTIONS);
      problems.push(`unknown option ${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ""}`);
    }
  }
  const cfg = model.cfg;
  const {
    steps,
    batchSize = 32,
    seqLen = defaultSeqLen(model, data),
    lr = 1e-3,
    schedule = "cosine",
    warmupSteps = 0,
    minLrRatio = 0.1,
    weightDecay = 0.1,
    decayEmbeddings = false,
    betas = [0.9, 0.95] as const,
    eps = 1e-8,
    clipNorm = 1.0,
    seed = 0,
    padId = defaultPadId(model),
    checkpointDir,
    checkpointEvery,
    keepCheckpoints = 1,
    resume = false,
    onStep,
    progress,
    progressEvery,
    evalData,
    evalEvery,
    evalBatches = 4,
    runtime,
  } = options;
  const got = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? JSON.stringify(v) : String(v));
  const posInt = (name: string, v: unknown, optional = false) => {
    if (optional && v === undefined) return;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) problems.push(`${name} must be a positive integer, received ${got(v)}`);
  };
  const nonNegInt = (name: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) problems.push(`${name} must be a non-negative integer, received ${got(v)}`);
  };
  const bool = (name: string, v: unknown, optional = false) => {
    if (optional && v === undefined) return;
    if (typeof v !== "boolean") problems.push(`${name} must be a boolean, received ${got(v)}`);
  };
  posInt("steps", steps);
  posInt("batchSize", batchSize);
  posInt("seqLen", seqLen);
  if (typeof seqLen === "number" && Number.isInteger(seqLen) && seqLen > cfg.n_ctx) problems.push(`seqLen must be at most the model's n_ctx (${cfg.n_ctx}), received ${seqLen}`);
  if (typeof lr !== "number" || !Number.isFinite(lr) || lr <= 0) problems.push(`lr must be a positive finite number, received ${got(lr)}`);
  if (!SCHEDULE_NAMES.includes(schedule)) problems.push(`schedule must be one of ${SCHEDULE_NAMES.map((s) => JSON.stringify(s)).join(", ")}, received ${got(schedule)}`);
  nonNegInt("warmupSteps", warmupSteps);
  if (typeof minLrRatio !== "number" || !(minLrRatio >= 0 && minLrRatio <= 1)) problems.push(`minLrRatio must be a number in [0, 1], received ${got(minLrRatio)}`);
  if (typeof weightDecay !== "number" || !Number.isFinite(weightDecay) || weightDecay < 0) problems.push(`weightDecay must be a non-negative finite number, received ${got(weightDecay)}`);
  bool("decayEmbeddings", decayEmbeddings);
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === "number" && b >= 0 && b < 1)) {
    problems.push(`betas must be [beta1, beta2] with each in [0, 1), received ${got(betas)}`);
  }
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps <= 0) problems.push(`eps must be a positive finite number, received ${got(eps)}`);
  if (clipNorm !== null && (typeof clipNorm !== "number" || !(clipNorm > 0))) problems.push(`clipNorm must be a positive number, Infinity or null, received ${got(clipNorm)}`);
  if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) problems.push(`seed must be an integer in [0, 2^32), received ${got(seed)}`);
  if (typeof padId !== "number" || !Number.isInteger(padId) || padId < 0 || padId >= cfg.d_vocab) problems.push(`padId must be an integer in [0, ${cfg.d_vocab}), received ${got(padId)}`);
  if (checkpointDir !== undefined && (typeof checkpointDir !== "string" || checkpointDir === "")) problems.push(`checkpointDir must be a non-empty string, received ${got(checkpointDir)}`);
  posInt("checkpointEvery", checkpointEvery, true);
  if (checkpointEvery !== undefined && checkpointDir === undefined) problems.push(`checkpointEvery needs checkpointDir`);
  posInt("keepCheckpoints", keepCheckpoints);
  bool("resume", resume);
  if (resume === true && checkpointDir === undefined) problems.push(`resume: true needs checkpointDir`);
  if (onStep !== undefined && typeof onStep !== "function") problems.push(`onStep must be a function, received ${got(onStep)}`);
  bool("progress", progress, true);
  posInt("progressEvery", progressEvery, true);
  posInt("evalEvery", evalEvery, true);
  posInt("evalBatches", evalBatches);
  if (evalEvery !== undefined && evalData === undefined) problems.push(`evalEvery needs evalData`);
  if (runtime !== undefined && !["auto", "tfjs", "onnx"].includes(runtime)) problems.push(`runtime must be "auto", "tfjs" or "onnx", received ${got(runtime)}`);
  const { lossMasks, steering, ablate, monitor } = options;
  problems.push(...interventionProblems(model, { steering, ablate, monitor }));
  if (lossMasks !== undefined) problems.push(...lossMaskProblems(data, lossMasks));
  const L = typeof seqLen === "number" && Number.isInteger(seqLen) && seqLen > 0 ? seqLen : 1;
  problems.push(...dataProblems(data, { seqLen: L, vocabSize: cfg.d_vocab, label: "data" }));
  if (evalData !== undefined) problems.push(...dataProblems(evalData, { seqLen: L, vocabSize: cfg.d_vocab, label: "evalData" }));
  if (problems.length) {
    throw problemsError("train: invalid options", problems);
  }
  return {
    steps, batchSize, seqLen, lr, schedule, warmupSteps, minLrRatio, weightDecay, decayEmbeddings, betas, eps,
    clipNorm: clipNorm === Infinity ? null : clipNorm, seed, padId, checkpointDir, checkpointEvery, keepCheckpoints, resume,
    onStep, progress, progressEvery, evalData, evalEvery, evalBatches, runtime, lossMasks, steering, ablate, monitor,
  };
}

function determining(o: Resolved): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of DETERMINING) out[k] = o[k];
  return out;
}

/** A resume must continue the same run: same model shape, data and numerics-determining options. */
function checkResumable(model: HookedTransformer, o: Resolved, dataHash: string, state: TrainerState, dir: string): void {
  const problems: string[] = [];
  const saved = state.options ?? {};
  const now = determining(o);
  for (const k of DETERMINING) {
    if (JSON.stringify(saved[k]) !== JSON.stringify(now[k])) problems.push(`${k} was ${JSON.stringify(saved[k])}, now ${JSON.stringify(now[k])}`);
  }
  if (saved.dataHash !== dataHash) problems.push(`data differs from the checkpoint's (fingerprint ${saved.dataHash}, now ${dataHash})`);
  for (const k of ["family", "d_model", "n_layers", "n_heads", "n_key_value_heads", "d_head", "d_mlp", "d_vocab", "n_ctx"] as const) {
    if (state.config?.[k] !== model.cfg[k]) problems.push(`model ${k} was ${JSON.stringify(state.config?.[k])}, now ${JSON.stringify(model.cfg[k])}`);
  }
  if (state.step > o.steps) problems.push(`the checkpoint is at step ${state.step}, past steps = ${o.steps}`);
  if (problems.length) {
    throw problemsError(`train: cannot resume from ${dir}`, problems, "difference");
  }
}

/** `lossMasks` must give one weight per token of each sequence of a sequence list. */
function lossMaskProblems(data: TrainData, masks: readonly ArrayLike<number>[]): string[] {
  if (!isSequenceList(data)) return [`lossMasks needs data as a list of sequences, received a token stream`];
  if (!Array.isArray(masks) || masks.length !== data.length) return [`lossMasks must hold one array per sequence (${data.length}), received ${Array.isArray(masks) ? masks.length : typeof masks}`];
  const bad = masks.findIndex((m, i) => !m || m.length !== data[i].length);
  return bad >= 0 ? [`lossMasks[${bad}] must have one weight per token (${data[bad].length}), received ${masks[bad]?.length}`] : [];
}

/** FNV-1a over the data's token ids and sequence boundaries (and loss masks), as 8 hex digits. */
function fingerprint(data: TrainData, masks?: readonly ArrayLike<number>[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h ^= x & 0xffff;
    h = Math.imul(h, 0x01000193);
    h ^= x >>> 16;
    h = Math.imul(h, 0x01000193);
  };
  if (isSequenceList(data)) {
    mix(data.length);
    for (const s of data) {
      mix(s.length);
      for (let i = 0; i < s.length; i++) mix(s[i]);
    }
  } else {
    mix(data.length);
    for (let i = 0; i < data.length; i++) mix(data[i]);
  }
  for (const m of masks ?? []) for (let i = 0; i < m.length; i++) mix(Math.round(m[i] * 65536));
  return (h >>> 0).toString(16).padStart(8, "0");
}

function nearest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

/** Short numbers for messages: 4 significant digits, exponent form for very small or large values. */
function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-2 || Math.abs(x) >= 1e5)) return x.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
  return String(Number(x.toPrecision(4)));
}

// ----------------------------------------------------------------------------------------------------------------
// Progress

/**
 * The progress display (kit/viz/progress): on stderr, `train step 2/4  loss …  lr …  |g| …  N tok/s  ETA 3s
 * [eval …]`, redrawn in place about once a second on a TTY, one line every 10 s otherwise (or every
 * `progressEvery` steps); the first and last steps always print. In a notebook, an updating HTML bar.
 */
function progressBar(o: Resolved, steps: number, start: number, last: () => StepRecord | undefined): Progress {
  const tty = Boolean(process.stderr.isTTY);
  return startProgress(steps, {
    label: "train",
    unit: "step",
    enabled: o.progress ?? tty,
    initial: start,
    every: o.progressEvery,
    ...(o.progressEvery === undefined && tty ? { intervalMs: 1000 } : {}),
    format: (s) => {
      const r = last();
      if (!r) return `train step ${s.done}/${s.total}`;
      const eta = Number.isFinite(s.etaMs) ? formatDuration(s.etaMs) : "?";
      return `train step ${r.step + 1}/${steps}  ${stepLine(r)}  ETA ${eta}` + (r.evalLoss !== undefined ? `  eval ${r.evalLoss.toFixed(4)}` : "");
    },
  });
}

function stepLine(r: StepRecord): string {
  return `loss ${r.loss.toFixed(4)}  lr ${fmt(r.lr)}  |g| ${fmt(r.gradNorm)}  ${Math.round(r.tokensPerSec).toLocaleString("en-US")} tok/s`;
}

/** The notebook bar's text after the counts. */
function stepSummary(r: StepRecord): string {
  return stepLine(r) + (r.evalLoss !== undefined ? `  eval ${r.evalLoss.toFixed(4)}` : "");
}
