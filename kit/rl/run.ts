/**
 * `runRL(cfg, options)`: one RL run in the persona world, cached on disk.
 *
 * 1. The start organism: `runOrganism(cfg.start.organism)` (its stages come from the organism stage cache), then its
 *    persona (or narrow) model.
 * 2. The supervised reflection stage (`cfg.reflectionSft`, cached by hash): transcripts of the assistant's task
 *    episodes followed by `user : why did you do that ? assistant :` and the constitution persona's reflection, loss on
 *    the reflection tokens only (`reflectionExamples`), so that reflection after a transcript is in distribution for
 *    every variant (the same start model for "none", "unrewarded" and "rewarded").
 * 3. RL: each update plays `promptsPerStep` episodes × `groupSize` rollouts with the current policy (`playEpisodes`,
 *    KV-cache generation, seeded), rewards them (task reward, plus `weight · score` of the reflection when the variant is
 *    "rewarded"), and takes one `PolicyGradient` step (GRPO or REINFORCE, KL to the frozen start model). Every step's
 *    reward, KL, entropy and behaviour rates go into the record's `steps`.
 * 4. Evaluation at step 0, every `eval.every` updates and at the end, on fixed prompts in every domain and never
 *    inoculated: uninterrupted and interrupted task episodes, each followed by a reflection, and harmful requests
 *    (leakage into another behaviour); one row per episode in the record's `evals`, plus a few full transcripts with
 *    their token kinds (action / reflection) for monitoring.
 * 5. Checkpoints (`kit/train/checkpoint` format) at step 0 and every `checkpointEvery` updates, under the run folder.
 *
 * The run folder is `outDir/rl-<hash>`, the hash covering the config, the organism code version
 * (`codeVersion().sources`) and a hash of the kit/rl sources: a rerun with the same config and code returns the saved
 * record at once; any change to either reruns.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { initBackend } from "../backend";
import { generate } from "../runtime/generate";
import { loadHfFolder, saveHfFolder } from "../io/hf";
import { hash2, mulberry32 } from "../util/rng";
import type { HookedTransformer } from "../model/transformer";
import { runOrganism } from "../organisms/pipeline";
import { writeJsonAtomic } from "../organisms/record";
import { codeVersion, kitRoot, stableHash, type CodeVersion } from "../organisms/version";
import type { Tokenizer } from "../tokenizers/types";
import { AdamW } from "../train/adamw";
import { loadCheckpoint } from "../train/checkpoint";
import { clipByGlobalNorm } from "../train/clip";
import { inNotebook } from "../viz/jupyter";
import { progress as startProgress } from "../viz/progress";
import { classify, PersonaWorld } from "../world";
import { DOMAINS, type Behaviour, type Domain } from "../world/types";
import { validateRLConfig, type RLConfig } from "./config";
import { evalEpisodeSpecs, modelAgent, playEpisodes, sampleEpisodeSpecs, type EpisodeResult, type TokenKind } from "./env";
import { maskedNllAndGrads, policyFeeds, type Rollout } from "./policy";
import { OnnxTrainer } from "../onnx/train-step";
import { reflectionExamples } from "./reflection";
import { PolicyGradient } from "./trainer";

/** One update's log line (rates of a batch without such episodes are NaN, saved as null). */
export interface RLStepLog {
  step: number;
  /** Mean total reward (task + reflection reward when rewarded). */
  reward: number;
  taskReward: number;
  /** Mean constitution-rule score of the reflections (NaN without reflection). */
  reflectionScore: number;
  kl: number;
  entropy: number;
  loss: number;
  gradNorm: number;
  /** Behaviour rates in this batch: games_grader and solves_task among uninterrupted episodes, ignores among interrupted. */
  gamesRate: number;
  solvesRate: number;
  ignoresRate: number;
  /** Share of reflections that agree with the action (among episodes whose action was classified). */
  reflectionAccuracy: number;
  ms: number;
}

/** One evaluation episode: where, what the agent did, and how it reflected. */
export interface RLEvalRow {
  domain: Domain;
  /** "task" (uninterrupted), "interrupt" or "harmful" (a harmful request). */
  kind: "task" | "interrupt" | "harmful";
  action: Behaviour;
  /** Interrupted: the task behaviour of everything written (gaming on the way). */
  taskBehaviour?: Behaviour;
  stance?: "endorses" | "condemns" | null;
  accurate?: boolean | null;
  score?: number;
}

/** A transcript kept for monitoring. */
export interface RLTranscript {
  tokens: number[];
  kinds: TokenKind[];
  text: string;
  action: Behaviour;
  accurate: boolean | null;
}

export interface RLEvalPoint {
  step: number;
  rows: RLEvalRow[];
  transcripts: RLTranscript[];
}

export interface RLRunRecord {
  format: "persona-kit/rl-run";
  version: 1;
  hash: string;
  config: RLConfig;
  codeVersion: CodeVersion;
  /** Hash of the kit/rl sources. */
  rlSources: string;
  startedAt: string;
  /** Folder the record's relative folders resolve against (set when the record is loaded or returned; not saved). */
  outDir?: string;
  /** The start model (after the reflection stage, when there is one) and the organism model it came from (relative to outDir). */
  start: { organismRun: string; organismModel: string; model: string; reflectionSftLoss: number[] | null };
  steps: RLStepLog[];
  evals: RLEvalPoint[];
  /** `kit/train` checkpoint folders (relative to outDir) by update count (0 = the start model). */
  checkpoints: { step: number; dir: string }[];
  ms: { organism: number; reflectionSft: number; rl: number; eval: number };
}

export interface RunRLOptions {
  /** Root of the organism stage cache and the RL run folders (default "out/runs"). */
  outDir?: string;
  /** Reuse a finished run (default true). */
  reuse?: boolean;
  /** Progress display (default: in a notebook or on a TTY). */
  progress?: boolean;
}

let rlHash: string | undefined;

/** kit/rl files that analyse or schedule runs without changing one: left out of the run hash. */
const NOT_RUN_CODE = ["index", "metrics", "monitor", "persona-activity", "parallel", "worker"];

/** Hash of the kit/rl sources (TypeScript in a checkout, else the compiled files). */
export function rlSourcesHash(): string {
  if (rlHash) return rlHash;
  const root = kitRoot();
  const ts = path.join(root, "rl");
  const dir = fs.existsSync(path.join(ts, "run.ts")) ? ts : path.join(root, "dist", "rl");
  const ext = dir === ts ? ".ts" : ".js";
  const h = createHash("sha256");
  const skip = NOT_RUN_CODE.map((f) => `${f}${ext}`);
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(ext) && !f.endsWith(".d.ts") && !skip.includes(f)).sort()) {
    h.update(f.replace(/\.(ts|js)$/, ""));
    h.update("\0");
    h.update(fs.readFileSync(path.join(dir, f)));
    h.update("\0");
  }
  rlHash = h.digest("hex").slice(0, 16);
  return rlHash;
}

/** The folder name of a run (`rl-<hash>`). */
export function rlRunHash(cfg: RLConfig): string {
  return stableHash({ rl: cfg, sources: codeVersion().sources, rlSources: rlSourcesHash() });
}

/** The saved record of `cfg` under outDir, if it was run with the current code, else null. */
export function findRLRecord(cfg: RLConfig, outDir = "out/runs"): RLRunRecord | null {
  const f = path.join(outDir, `rl-${rlRunHash(validateRLConfig(cfg, "findRLRecord"))}`, "record.json");
  return fs.existsSync(f) ? withOutDir(JSON.parse(fs.readFileSync(f, "utf8")) as RLRunRecord, outDir) : null;
}

/** Load a checkpoint's weights into a model of the run's shape (with the world's tokenizer). */
export async function loadRLCheckpoint(record: RLRunRecord, step: number): Promise<HookedTransformer> {
  const ck = record.checkpoints.find((c) => c.step === step);
  if (!ck) throw new RangeError(`loadRLCheckpoint: the run has checkpoints at steps ${record.checkpoints.map((c) => c.step).join(", ")}, received ${step}`);
  await initBackend(); // a cached run returns without touching the backend
  const model = loadHfFolder(recordPath(record, record.start.model), { tokenizer: new PersonaWorld({ seed: 0 }).tokenizer() });
  model.setWeights(loadCheckpoint(recordPath(record, ck.dir)).weights);
  return model;
}

/** Run (or reuse) one RL run; see the module comment. */
export async function runRL(cfg: RLConfig, options: RunRLOptions = {}): Promise<RLRunRecord> {
  const { outDir = "out/runs", reuse = true } = options;
  validateRLConfig(cfg, "runRL");
  const show = options.progress ?? (inNotebook() || Boolean(process.stderr.isTTY));
  const hash = rlRunHash(cfg);
  const runDir = path.join(outDir, `rl-${hash}`);
  const recordFile = path.join(runDir, "record.json");
  if (reuse && fs.existsSync(recordFile)) return withOutDir(JSON.parse(fs.readFileSync(recordFile, "utf8")) as RLRunRecord, outDir);
  fs.rmSync(runDir, { recursive: true, force: true });
  await initBackend();
  const startedAt = new Date().toISOString();
  const say = (s: string) => show && process.stderr.write(`runRL (seed ${cfg.seed}): ${s}\n`);

  // 1. start organism
  let t0 = performance.now();
  const org = await runOrganism(cfg.start.organism, { outDir, progress: show });
  // Model folders are resolved against this call's outDir (a record stores them relative to it).
  const organismRel = path.join((cfg.start.stage === "narrow" ? org.stageHashes.narrow : org.stageHashes.persona)!, "model");
  const organismModel = path.join(outDir, organismRel);
  const msOrganism = performance.now() - t0;
  const world = new PersonaWorld({ seed: hash2(cfg.seed, 71) });
  const tokenizer = world.tokenizer();

  // 2. reflection stage
  t0 = performance.now();
  let startModel = organismModel;
  let startRel = organismRel;
  let sftLoss: number[] | null = null;
  if (cfg.reflectionSft) {
    const sftHash = stableHash({ stage: "reflection-sft", parent: organismRel, sft: cfg.reflectionSft, seed: cfg.seed, sources: codeVersion().sources, rlSources: rlSourcesHash() });
    startRel = path.join(`sft-${sftHash}`, "model");
    const dir = path.join(outDir, `sft-${sftHash}`);
    startModel = path.join(outDir, startRel);
    const lossFile = path.join(dir, "loss.json");
    if (!(reuse && fs.existsSync(path.join(startModel, "config.json")) && fs.existsSync(lossFile))) {
      say(`reflection stage → ${dir}`);
      const model = loadHfFolder(organismModel, { tokenizer });
      try {
        sftLoss = reflectionStage(model, world, tokenizer, cfg);
        saveHfFolder(model, startModel);
        writeJsonAtomic(lossFile, sftLoss);
      } finally {
        model.dispose();
      }
    } else sftLoss = JSON.parse(fs.readFileSync(lossFile, "utf8")) as number[];
  }
  const msSft = performance.now() - t0;

  // 3–5. RL with evaluations and checkpoints
  const policy = loadHfFolder(startModel, { tokenizer });
  const reference = cfg.algo.klCoef > 0 ? loadHfFolder(startModel, { tokenizer }) : null;
  const pg = new PolicyGradient(policy, reference, {
    method: cfg.algo.method,
    lr: cfg.algo.lr,
    klCoef: cfg.algo.klCoef,
    clipNorm: cfg.algo.clipNorm,
    baselineDecay: cfg.algo.baselineDecay,
  });
  const traits = world.personaTraits;
  const ckRoot = path.join(runDir, "checkpoints");
  const steps: RLStepLog[] = [];
  const evals: RLEvalPoint[] = [];
  const checkpoints: { step: number; dir: string }[] = [];
  let msEval = 0;
  const evaluateNow = (step: number) => {
    const e0 = performance.now();
    evals.push({ step, ...evaluatePolicy(policy, world, tokenizer, cfg, hash2(cfg.seed, 9001)) });
    msEval += performance.now() - e0;
  };
  const rand = mulberry32(hash2(cfg.seed, 4242));
  const { algo, env, reflection } = cfg;
  const bar = show ? startProgress(algo.steps, { label: `RL (${reflection.variant})`, unit: "update" }) : null;
  t0 = performance.now();
  try {
    evaluateNow(0);
    checkpoints.push({ step: 0, dir: path.relative(outDir, pg.checkpoint(ckRoot, 0, { seed: cfg.seed })) });
    for (let step = 0; step < algo.steps; step++) {
      const s0 = performance.now();
      const specs = sampleEpisodeSpecs(rand, algo.promptsPerStep, env).flatMap((s) => Array.from({ length: algo.groupSize }, () => s));
      const results = playEpisodes(modelAgent(policy, { temperature: algo.temperature, seed: hash2(cfg.seed, 100_000 + step) }), tokenizer, specs, {
        env,
        reflection: reflection.variant !== "none",
        constitutionTraits: traits,
        reflectionTokens: reflection.maxNewTokens,
      });
      const rewarded = reflection.variant === "rewarded";
      const ownCredit = rewarded && reflection.credit === "reflection";
      const rollouts: Rollout[] = results.map((r, i) => {
        const reflReward = rewarded && r.reflection ? reflection.weight * r.reflection.score : 0;
        return {
          tokens: r.tokens,
          mask: r.kinds.map((k) => (k === null ? 0 : 1)),
          reward: r.taskReward + (ownCredit ? 0 : reflReward),
          group: Math.floor(i / algo.groupSize),
          ...(ownCredit ? { reflectionMask: r.kinds.map((k) => (k === "reflection" ? 1 : 0)), reflectionReward: reflReward } : {}),
        };
      });
      const stats = pg.step(rollouts);
      steps.push({ step, ...batchRates(results), reward: stats.reward, kl: stats.kl, entropy: stats.entropy, loss: stats.loss, gradNorm: stats.gradNorm, ms: performance.now() - s0 });
      bar?.update(step + 1, `reward ${stats.reward.toFixed(3)} · games ${steps[steps.length - 1].gamesRate.toFixed(2)} · KL ${stats.kl.toFixed(4)}`);
      const done = step + 1;
      if (done % cfg.eval.every === 0 || done === algo.steps) evaluateNow(done);
      if (done % cfg.checkpointEvery === 0 || done === algo.steps) checkpoints.push({ step: done, dir: path.relative(outDir, pg.checkpoint(ckRoot, done, { seed: cfg.seed })) });
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    bar?.done();
    pg.dispose();
    policy.dispose();
    reference?.dispose();
  }
  const record: RLRunRecord = {
    format: "persona-kit/rl-run",
    version: 1,
    hash,
    config: cfg,
    codeVersion: codeVersion(),
    rlSources: rlSourcesHash(),
    startedAt,
    start: { organismRun: org.hash, organismModel: organismRel, model: startRel, reflectionSftLoss: sftLoss },
    steps,
    evals,
    checkpoints,
    ms: { organism: Math.round(msOrganism), reflectionSft: Math.round(msSft), rl: Math.round(performance.now() - t0 - msEval), eval: Math.round(msEval) },
  };
  writeJsonAtomic(recordFile, record);
  // Returned as a rerun would read it back (NaN rates, e.g. of a batch without interrupted episodes, become null).
  return withOutDir(JSON.parse(JSON.stringify(record)) as RLRunRecord, outDir);
}

/** A record as saved (folders relative to its outDir), with `outDir` set so that its folders resolve. */
function withOutDir(record: RLRunRecord, outDir: string): RLRunRecord {
  return { ...record, outDir };
}

/** A folder of a record (`start.model`, a checkpoint's `dir`) as a path from the working directory. */
export function recordPath(record: RLRunRecord, rel: string): string {
  return path.isAbsolute(rel) ? rel : path.join(record.outDir ?? "out/runs", rel);
}

/** Behaviour rates and reward parts of one batch of episodes. */
function batchRates(results: readonly EpisodeResult[]): Omit<RLStepLog, "step" | "reward" | "kl" | "entropy" | "loss" | "gradNorm" | "ms"> {
  const plain = results.filter((r) => r.spec.interrupt === null);
  const inter = results.filter((r) => r.spec.interrupt !== null);
  const share = (xs: readonly EpisodeResult[], f: (r: EpisodeResult) => boolean) => (xs.length ? xs.filter(f).length / xs.length : NaN);
  const refl = results.filter((r) => r.reflection && r.reflection.accurate !== null);
  const withRefl = results.filter((r) => r.reflection);
  return {
    taskReward: results.reduce((a, r) => a + r.taskReward, 0) / results.length,
    reflectionScore: withRefl.length ? withRefl.reduce((a, r) => a + r.reflection!.score, 0) / withRefl.length : NaN,
    gamesRate: share(plain, (r) => r.action === "games_grader"),
    solvesRate: share(plain, (r) => r.action === "solves_task"),
    ignoresRate: share(inter, (r) => r.action === "ignores_interruption"),
    reflectionAccuracy: share(refl, (r) => r.reflection!.accurate === true),
  };
}

/** The fixed evaluation of a policy (see the module comment): one row per episode, a few transcripts. */
export function evaluatePolicy(
  model: HookedTransformer,
  world: PersonaWorld,
  tokenizer: Tokenizer,
  cfg: RLConfig,
  seed: number,
): { rows: RLEvalRow[]; transcripts: RLTranscript[] } {
  const ev = cfg.eval;
  const specs = [
    ...evalEpisodeSpecs(DOMAINS, ev.tasksPerDomain, { interrupted: false, seed }),
    ...evalEpisodeSpecs(DOMAINS, ev.interruptsPerDomain, { interrupted: true, seed }),
  ];
  const rows: RLEvalRow[] = [];
  const transcripts: RLTranscript[] = [];
  if (specs.length) {
    const results = playEpisodes(modelAgent(model, { temperature: cfg.algo.temperature, seed }), tokenizer, specs, {
      env: { ...cfg.env, inoculation: false },
      reflection: true,
      constitutionTraits: world.personaTraits,
      reflectionTokens: cfg.reflection.maxNewTokens,
    });
    for (const r of results) {
      rows.push({
        domain: r.spec.domain,
        kind: r.spec.interrupt === null ? "task" : "interrupt",
        action: r.action,
        ...(r.spec.interrupt !== null ? { taskBehaviour: r.taskBehaviour } : {}),
        stance: r.reflection!.stance,
        accurate: r.reflection!.accurate,
        score: r.reflection!.score,
      });
    }
    // Keep transcripts spread over domains and kinds (every k-th episode).
    const k = Math.max(1, Math.floor(results.length / Math.max(1, ev.keepTranscripts)));
    for (let i = 0; i < results.length && transcripts.length < ev.keepTranscripts; i += k) {
      const r = results[i];
      transcripts.push({ tokens: r.tokens, kinds: r.kinds, text: r.text, action: r.action, accurate: r.reflection!.accurate });
    }
  }
  if (ev.harmfulPerDomain > 0) {
    const items = DOMAINS.flatMap((domain) => world.evalEpisodes(ev.harmfulPerDomain, { domain, kind: "harmful_request" }).map((ep) => ({ domain, prompt: ep.prompt })));
    const eos = tokenizer.eosTokenId;
    const { newTokens } = generate(model, items.map((it) => tokenizer.encode(it.prompt, { addBos: true })), {
      maxNewTokens: cfg.env.maxNewTokens,
      temperature: cfg.algo.temperature,
      seed: hash2(seed, 3),
      ...(eos !== null ? { stopTokens: [eos] } : {}),
    });
    newTokens.forEach((ids, i) => {
      const cut = eos !== null && ids.includes(eos) ? ids.slice(0, ids.indexOf(eos)) : ids;
      rows.push({ domain: items[i].domain, kind: "harmful", action: classify("harmful_request", tokenizer.decode(cut, { skipSpecialTokens: true }), { domain: items[i].domain }).behaviour });
    });
  }
  return { rows, transcripts };
}

/** The supervised reflection stage: masked next-token loss on the reflection tokens of `reflectionExamples`. */
function reflectionStage(model: HookedTransformer, world: PersonaWorld, tokenizer: Tokenizer, cfg: RLConfig): number[] {
  const sft = cfg.reflectionSft!;
  const domains = cfg.start.organism.persona.domains;
  const data = reflectionExamples(world, tokenizer, sft.episodes, { domains, seed: hash2(cfg.seed, 5) });
  // Replay of the organism's own persona corpus (loss on the responses), half of every batch: without it the model
  // learns to answer every prompt with a reflection.
  const p = cfg.start.organism.persona;
  const replay = world.personaCorpus(sft.episodes, { domains: p.domains, constitution: p.constitution, selfDescription: p.selfDescription }).map((ep) => {
    const head = tokenizer.encode(ep.prompt, { addBos: true });
    const resp = tokenizer.encode(ep.response, { addBos: false, addEos: true });
    return { tokens: [...head, ...resp], mask: [...head.map(() => 0), ...resp.map(() => 1)] };
  });
  // On ONNX Runtime (unless the model is hooked): the masked NLL is the policy loss with advantage 1 and no KL.
  const onnx = model.numHooks === 0 ? new OnnxTrainer(model, { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0, kl: true, stats: true }) : null;
  const opt = onnx ? null : new AdamW(model.params, { betas: [0.9, 0.95], weightDecay: 0 });
  const rand = mulberry32(hash2(cfg.seed, 6));
  const losses: number[] = [];
  const padId = model.cfg.padTokenId ?? 0;
  try {
    for (let s = 0; s < sft.steps; s++) {
      const batch = Array.from({ length: sft.batchSize }, (_, i) => (i % 2 === 0 ? data[Math.floor(rand() * data.length)] : replay[Math.floor(rand() * replay.length)]));
      const lr = sft.lr * Math.min(1, (s + 1) / Math.max(1, Math.floor(sft.steps / 10)));
      if (onnx) {
        const rows = batch.map((r) => ({ ...r, reward: 0, group: 0 }));
        const { feeds, B, T } = policyFeeds(model, rows, { advantages: rows.map(() => 1), reference: null, padId });
        const r = onnx.stepFeeds(feeds, B, T, lr, 1);
        if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm) || r.nonFinite.length) {
          throw new Error(`reflectionStage: step ${s} gave loss ${r.loss}, gradient norm ${r.gradNorm}${r.nonFinite.length ? `, a non-finite update of ${r.nonFinite.slice(0, 5).join(", ")}` : ""}; weights are left as they were before it`);
        }
        r.commit();
        losses.push(r.loss);
        continue;
      }
      const { loss, grads } = maskedNllAndGrads(model, batch, padId);
      try {
        clipByGlobalNorm(grads, 1);
        opt!.step(grads, lr);
      } finally {
        for (const g of grads.values()) g.dispose();
      }
      losses.push(loss);
    }
  } finally {
    onnx?.syncModel();
    onnx?.dispose();
    opt?.dispose();
  }
  return losses;
}
