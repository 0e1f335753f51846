/**
 * persona-kit benchmarks: matMul rate, training throughput, generation speed, logistic-probe fitting,
 * forward-with-cache speed; each inference measurement also on the ONNX Runtime path (bench/onnx.ts).
 *
 *   npx tsx bench/run.ts                 # readable table on stdout
 *   npx tsx bench/run.ts --json          # one JSON object per line on stdout: {"name","value","unit"}; logs on stderr
 *   npx tsx bench/run.ts --only generate # only measurements whose name contains the substring
 *   npx tsx bench/run.ts --quick         # fewer repetitions (smoke test)
 *
 * Every number is measured in this process; ratios are computed from numbers measured in this run. Each measurement
 * runs warm-up repetitions, then repeats until about 2 s (or a rep cap) have passed, and reports the median.
 * Names and formulas are documented in bench/README.md.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { spawnSync } from "node:child_process";
import { initBackend, tf } from "../kit/backend";
import { presetConfig, type ModelConfig } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import { mulberry32, normalSampler } from "../kit/model/params";
import { generate } from "../kit/runtime/generate";
import { readLlama2cCheckpoint } from "../kit/io/llama2c";
import { train, type TrainRuntime } from "../kit/train/trainer";
import { fitLogisticProbe } from "../kit/probes/logistic";
import { benchForwardOnnx, benchGenerateOnnx, benchOnnxMatmul, measured, onnxMatmulRate, type BenchContext } from "./onnx";
import { withInferencePath } from "../kit/runtime/route";
import { benchLora, LORA_NAMES } from "./lora";

/** The generate.* and forward.* rows without `.onnx.` measure the TensorFlow.js path, whatever automatic routing would pick. */
const tfjsPath = <T>(fn: () => T): T => withInferencePath("tfjs", fn);

// ---------------------------------------------------------------------------------------------------------------
// Options

interface Options {
  json: boolean;
  only: string | null;
  quick: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const opts: Options = { json: false, only: null, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") opts.json = true;
    else if (a === "--quick") opts.quick = true;
    else if (a === "--only") {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) usage(`--only needs a substring`);
      opts.only = v;
    } else if (a.startsWith("--only=")) opts.only = a.slice("--only=".length);
    else if (a === "--help" || a === "-h") usage(null);
    else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  return opts;
}

function usage(problem: string | null): never {
  const text = "usage: tsx bench/run.ts [--json] [--only <substring>] [--quick]";
  if (problem) {
    process.stderr.write(`bench: ${problem}\n${text}\n`);
    process.exit(2);
  }
  process.stdout.write(text + "\n");
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
const stderrWrite = process.stderr.write.bind(process.stderr);
const log = (msg: string) => void stderrWrite(msg + "\n");

/**
 * The wasm backend reports XNNPACK failures (e.g. "XNN status ... Got status 6", out of memory) on stderr and may go
 * on computing; a measurement during which that happened is not trusted. Watch stderr for them.
 */
const xnnErrors: string[] = [];
process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
  const text = typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("utf8") : String(chunk);
  if (text.includes("XNN status")) xnnErrors.push(text.trim());
  return (stderrWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stderr.write;

// ---------------------------------------------------------------------------------------------------------------
// Results

interface Target {
  /** Human-readable target, e.g. "≥ 0.5". */
  text: string;
  met: boolean;
}

interface Result {
  name: string;
  value: number;
  unit: string;
  target?: Target;
  /** Set when the measurement could not be made; the value is then NaN and nothing is printed in --json mode. */
  failed?: string;
}

const results: Result[] = [];
const wanted = (name: string) => opts.only === null || name.includes(opts.only);
/** Results of the group in progress: printed (--json) once the group has finished cleanly. */
let pending: Result[] = [];

function record(r: Result): void {
  if (!wanted(r.name)) return;
  pending.push(r);
  log(`  ${r.name} = ${fmt(r.value)} ${r.unit}`);
}

function flush(failure: string | null, names: readonly string[]): void {
  if (failure) {
    // A failed group's numbers are not reported, even those measured before the failure.
    for (const name of names.filter(wanted)) results.push({ name, value: NaN, unit: "", failed: failure });
  } else {
    for (const r of pending) {
      results.push(r);
      if (opts.json) process.stdout.write(JSON.stringify({ name: r.name, value: round(r.value), unit: r.unit }) + "\n");
    }
  }
  pending = [];
}

function atLeast(value: number, min: number, label = ""): Target {
  return { text: `≥ ${fmt(min)}${label}`, met: value >= min };
}

function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  const mag = Math.abs(v);
  const digits = mag >= 100 ? 1 : mag >= 1 ? 3 : 4;
  return Number(v.toFixed(digits));
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const mag = Math.abs(v);
  if (mag >= 1000) return Math.round(v).toLocaleString("en-US");
  if (mag >= 100) return v.toFixed(1);
  if (mag >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

// ---------------------------------------------------------------------------------------------------------------
// Timing

interface TimingSpec {
  warmup: number;
  /** Stop once the measured reps add up to this many ms (and at least minReps ran). */
  minTotalMs: number;
  minReps: number;
  maxReps: number;
}

interface Timing {
  medianMs: number;
  reps: number;
  samples: number[];
}

const QUICK = opts.quick;

function spec(full: TimingSpec, quick: Partial<TimingSpec> = {}): TimingSpec {
  if (!QUICK) return full;
  return { warmup: 1, minTotalMs: 300, minReps: 1, maxReps: Math.min(full.maxReps, 3), ...quick };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeIt(label: string, fn: () => void | Promise<void>, sp: TimingSpec): Promise<Timing> {
  for (let i = 0; i < sp.warmup; i++) await fn();
  const samples: number[] = [];
  let total = 0;
  while (samples.length < sp.maxReps && (samples.length < sp.minReps || total < sp.minTotalMs)) {
    const t0 = performance.now();
    await fn();
    const dt = performance.now() - t0;
    samples.push(dt);
    total += dt;
  }
  const t: Timing = { medianMs: median(samples), reps: samples.length, samples };
  log(`    [${label}] warm-up ${sp.warmup}, ${t.reps} reps, median ${t.medianMs.toFixed(2)} ms (min ${Math.min(...samples).toFixed(2)}, max ${Math.max(...samples).toFixed(2)})`);
  return t;
}

let backendAborted: string | null = null;

/**
 * Run one group of measurements. Its results are reported only if it finishes without an exception and without an
 * XNNPACK error; otherwise each of its names gets a failed row (table) and a stderr note, and the exit code is 1.
 * Also reports tensors left allocated by the group.
 */
async function group(title: string, names: readonly string[], fn: () => Promise<void>): Promise<void> {
  log(`\n== ${title}`);
  if (backendAborted) {
    log(`  skipped: the wasm backend aborted earlier (${backendAborted})`);
    flush(`not run: wasm backend aborted earlier`, names);
    process.exitCode = 1;
    return;
  }
  const before = tf.memory().numTensors;
  const xnnBefore = xnnErrors.length;
  const t0 = performance.now();
  let failure: string | null = null;
  try {
    await fn();
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    log(`  FAILED: ${(e as Error).stack ?? e}`);
    failure = msg.split("\n")[0].slice(0, 80);
    if (/Aborted\(|memory access out of bounds/.test(msg)) {
      backendAborted = msg.split("\n")[0].slice(0, 80);
      failure = "wasm backend aborted";
    }
  }
  const xnn = xnnErrors.slice(xnnBefore);
  if (xnn.length > 0) {
    const status6 = xnn.some((m) => m.includes("status 6"));
    failure = `XNNPACK error${status6 ? " (status 6: out of memory)" : ""}${failure ? `, then ${failure}` : ""}`;
    log(`  results not trusted: ${xnn.length} XNNPACK error message(s) during this group: ${xnn[0]}`);
  }
  if (failure) process.exitCode = 1;
  flush(failure, names);
  const leaked = tf.memory().numTensors - before;
  log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s${leaked !== 0 ? `; ${leaked} tensors still allocated after the group` : ""})`);
}

// ---------------------------------------------------------------------------------------------------------------
// 1. matMul

const MATMUL_N = 512;
let matmulGflops: number | null = null;

/** GFLOP/s of `tf.matMul` on two 512×512 matrices (optionally with transposeB), median over reps. */
async function matmulRate(transposeB: boolean): Promise<number> {
  const n = MATMUL_N;
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  try {
    const t = await timeIt(
      transposeB ? "matMul 512³ transposeB" : "matMul 512³",
      () => {
        const c = tf.matMul(a, b, false, transposeB);
        c.dataSync();
        c.dispose();
      },
      transposeB
        ? spec({ warmup: 1, minTotalMs: 2000, minReps: 3, maxReps: 50 })
        : spec({ warmup: 3, minTotalMs: 2000, minReps: 5, maxReps: 300 }),
    );
    return (2 * n * n * n) / t.medianMs / 1e6;
  } finally {
    a.dispose();
    b.dispose();
  }
}

async function benchMatmul(): Promise<void> {
  matmulGflops = await matmulRate(false);
  record({ name: "matmul.wasm.gflops", value: matmulGflops, unit: "GFLOP/s" });
  if (wanted("matmul.wasm.transposeB.gflops")) {
    record({ name: "matmul.wasm.transposeB.gflops", value: await matmulRate(true), unit: "GFLOP/s" });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Training

/**
 * FLOPs of one training step counted over matMuls only (see bench/README.md):
 *   6 · tokens · (parameters in matrices, unembedding included; embedding lookup, norms and biases excluded)
 * + 3 · (2 · 2 · B · H · T · T · d_head) per layer   (QKᵀ and pattern·V, forward + 2× backward).
 */
export function trainStepFlops(cfg: ModelConfig, B: number, T: number): number {
  const { d_model: d, d_head: dh, n_heads: H, n_key_value_heads: K, d_mlp: m, d_vocab: V, n_layers: L } = cfg;
  const attnMats = d * H * dh + 2 * d * K * dh + H * dh * d; // W_Q, W_K, W_V, W_O
  const mlpMats = (cfg.family === "llama" ? 3 : 2) * d * m; // W_in (+ W_gate), W_out
  const matrixParams = L * (attnMats + mlpMats) + d * V; // + unembedding (tied or not: it is a matMul)
  const tokens = B * T;
  const attention = L * 3 * (2 * 2 * B * H * T * T * dh);
  return 6 * tokens * matrixParams + attention;
}

const TRAIN_PRESET = "organism-small" as const;
const TRAIN_B = 32;
const TRAIN_T = 64; // positions predicted per sequence; each sequence holds T + 1 tokens

async function benchTrain(): Promise<void> {
  const cfg = presetConfig(TRAIN_PRESET);
  const B = TRAIN_B;
  const T = TRAIN_T;
  if (T > cfg.n_ctx) throw new RangeError(`train bench: T ${T} exceeds n_ctx ${cfg.n_ctx}`);
  const model = HookedTransformer.fromConfig(cfg, { seed: 0 });
  const tokensPerStep = B * T;
  const flops = trainStepFlops(cfg, B, T);
  log(`  ${TRAIN_PRESET}: ${model.numParams.toLocaleString("en-US")} params, batch ${B}×${T}, ${(flops / 1e9).toFixed(2)} GFLOP per step (matMul count)`);
  // train() runs a fixed number of steps, so the rep count is fixed up front: ~0.8 s a step, 2 + 10 steps ≈ 10 s.
  const sp = spec({ warmup: 2, minTotalMs: 0, minReps: 10, maxReps: 10 }, { warmup: 1, minReps: 2, maxReps: 2 });
  let stepMs: number;
  try {
    stepMs = await timeTrainer(model, cfg, B, T, sp, "tfjs");
  } finally {
    model.dispose();
  }
  const tokensPerSec = (tokensPerStep / stepMs) * 1000;
  const modelGflops = flops / stepMs / 1e6;
  record({ name: `train.${TRAIN_PRESET}.tokens_per_s`, value: tokensPerSec, unit: "tokens/s" });
  record({ name: `train.${TRAIN_PRESET}.step_ms`, value: stepMs, unit: "ms" });
  record({ name: `train.${TRAIN_PRESET}.model_gflops`, value: modelGflops, unit: "GFLOP/s" });
  if (wanted(`train.${TRAIN_PRESET}.ratio_to_matmul`)) {
    if (matmulGflops === null) throw new Error("ratio_to_matmul needs matmul.wasm.gflops from this run");
    const ratio = modelGflops / matmulGflops;
    record({ name: `train.${TRAIN_PRESET}.ratio_to_matmul`, value: ratio, unit: "ratio", target: atLeast(ratio, 0.5) });
  }
}

/**
 * Time the kit's trainer: one `train()` call of warm-up + reps steps on a seeded random token stream; the step time
 * is the median of the trainer's per-step `ms` (batch, forward, backward, clipping, AdamW update) after warm-up.
 */
async function timeTrainer(model: HookedTransformer, cfg: ModelConfig, B: number, T: number, sp: TimingSpec, runtime: TrainRuntime): Promise<number> {
  const steps = sp.warmup + sp.maxReps;
  const rand = mulberry32(1234);
  const stream = new Int32Array(1 << 16);
  for (let i = 0; i < stream.length; i++) stream[i] = Math.floor(rand() * cfg.d_vocab);
  const t0 = performance.now();
  const out = await train(model, stream, { steps, batchSize: B, seqLen: T, lr: 1e-3, seed: 1234, progress: false, runtime });
  const wall = performance.now() - t0;
  const timed = out.records.slice(sp.warmup).map((r) => r.ms);
  if (timed.length === 0) throw new Error("train() returned no step records after the warm-up steps");
  const stepMs = median(timed);
  log(
    `    [train() step, ${runtime}] ${sp.warmup} warm-up + ${timed.length} steps, median ${stepMs.toFixed(1)} ms ` +
      `(min ${Math.min(...timed).toFixed(1)}, max ${Math.max(...timed).toFixed(1)}); whole call ${(wall / steps).toFixed(1)} ms/step`,
  );
  log(`    final loss ${out.finalLoss.toFixed(4)} (random tokens: ln ${cfg.d_vocab} = ${Math.log(cfg.d_vocab).toFixed(4)})`);
  return stepMs;
}

/** PyTorch's tokens/s on the same step (bench/torch_train.py), or null with the reason when torch is not importable. */
function torchTokensPerSec(threads: number, steps: number, warmup: number): { value: number | null; note: string } {
  const script = path.join(__dirname, "torch_train.py");
  const r = spawnSync("/usr/bin/python3", [script, "--threads", String(threads), "--steps", String(steps), "--warmup", String(warmup)], { encoding: "utf8", timeout: 600_000 });
  if (r.error || r.status !== 0) return { value: null, note: (r.error?.message ?? r.stderr.trim().split("\n").pop() ?? `exit ${r.status}`).slice(0, 120) };
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { tokens_per_s: number; torch: string };
  return { value: out.tokens_per_s, note: `torch ${out.torch}` };
}

/**
 * The kit's trainer on ONNX Runtime (`runtime: "onnx"`, 1 intra-op thread) and PyTorch's (1 thread, same shape,
 * AdamW, clipping), alternated `TRAIN_ORT_REPEATS` times back to back so that both see the same load; each side's
 * value is the median of its repeats, and the spread of the per-pair ratios is logged.
 */
const TRAIN_ORT_REPEATS = 3;
async function benchTrainOnnx(): Promise<void> {
  const cfg = presetConfig(TRAIN_PRESET);
  const B = TRAIN_B;
  const T = TRAIN_T;
  const sp = spec({ warmup: 2, minTotalMs: 0, minReps: 10, maxReps: 10 }, { warmup: 1, minReps: 2, maxReps: 2 });
  const repeats = QUICK ? 1 : TRAIN_ORT_REPEATS;
  const ours: number[] = [];
  const theirs: number[] = [];
  let torchNote = "";
  for (let i = 0; i < repeats; i++) {
    const model = HookedTransformer.fromConfig(cfg, { seed: 0 });
    try {
      ours.push(((B * T) / (await timeTrainer(model, cfg, B, T, sp, "onnx"))) * 1000);
    } finally {
      model.dispose();
    }
    if (!wanted(`train.${TRAIN_PRESET}.ratio_to_torch`) && !wanted(`train.${TRAIN_PRESET}.torch.tokens_per_s`)) continue;
    const t = torchTokensPerSec(1, sp.maxReps, sp.warmup);
    torchNote = t.note;
    if (t.value === null) break;
    theirs.push(t.value);
    log(`    repeat ${i + 1}: ours ${fmt(ours[i])} tokens/s, PyTorch ${fmt(t.value)} tokens/s (${torchNote}), ratio ${(ours[i] / t.value).toFixed(3)}`);
  }
  const tps = median(ours);
  const flops = trainStepFlops(cfg, B, T);
  const gflops = (flops * tps) / (B * T) / 1e9;
  log(`    ours over ${ours.length} repeats: ${ours.map((x) => fmt(x)).join(", ")} tokens/s`);
  record({ name: `train.${TRAIN_PRESET}.onnx.tokens_per_s`, value: tps, unit: "tokens/s" });
  record({ name: `train.${TRAIN_PRESET}.onnx.model_gflops`, value: gflops, unit: "GFLOP/s" });
  if (wanted(`train.${TRAIN_PRESET}.onnx.ratio_to_matmul`)) {
    if (measured.onnxMatmulGflops === null) throw new Error("onnx.ratio_to_matmul needs matmul.onnx.gflops from this run");
    record({ name: `train.${TRAIN_PRESET}.onnx.ratio_to_matmul`, value: gflops / measured.onnxMatmulGflops, unit: "ratio" });
  }
  if (theirs.length === 0) {
    if (torchNote) log(`    skipped train.${TRAIN_PRESET}.ratio_to_torch: /usr/bin/python3 cannot run bench/torch_train.py (${torchNote}); apt-get install python3-torch`);
    return;
  }
  const ratios = theirs.map((x, i) => ours[i] / x);
  log(`    PyTorch over ${theirs.length} repeats: ${theirs.map((x) => fmt(x)).join(", ")} tokens/s; per-pair ratios ${ratios.map((r) => r.toFixed(3)).join(", ")} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)})`);
  record({ name: `train.${TRAIN_PRESET}.torch.tokens_per_s`, value: median(theirs), unit: "tokens/s" });
  const ratio = tps / median(theirs);
  record({ name: `train.${TRAIN_PRESET}.ratio_to_torch`, value: ratio, unit: "ratio", target: atLeast(ratio, 1) });
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Generation on stories260K

const STORIES_BIN = process.env.PERSONA_KIT_STORIES260K ?? path.resolve(__dirname, "../data/models/stories260K-llama2c/stories260K.bin");
const GEN_NEW_TOKENS = 200;
/** llama2.c's C run.c on this machine kind (quoted, not measured here): the reference for the targets. */
const LLAMA2C_RUN_C_TOKENS_PER_S = 9500;

async function benchGenerate(): Promise<void> {
  if (!fs.existsSync(STORIES_BIN)) {
    log(`  skipped: ${STORIES_BIN} not found (set PERSONA_KIT_STORIES260K to its path)`);
    return;
  }
  const ck = readLlama2cCheckpoint(STORIES_BIN);
  const model = new HookedTransformer(ck.config, ck.params);
  const bos = model.cfg.bosTokenId ?? 1;
  const n = GEN_NEW_TOKENS;
  try {
    if (wanted("generate.stories260K.batch1")) {
      let produced = 0;
      const t = await timeIt(
        "generate batch 1, greedy",
        () => {
          const r = tfjsPath(() => generate(model, [[bos]], { maxNewTokens: n, temperature: 0, stopTokens: [] }));
          produced = r.newTokens[0].length;
        },
        spec({ warmup: 1, minTotalMs: 2000, minReps: 3, maxReps: 20 }),
      );
      if (produced !== n) log(`    note: produced ${produced} tokens, not ${n}`);
      const tps = (produced / t.medianMs) * 1000;
      measured.tfjsGenerate.batch1 = tps;
      record({
        name: "generate.stories260K.batch1.tokens_per_s",
        value: tps,
        unit: "tokens/s",
        target: atLeast(tps, LLAMA2C_RUN_C_TOKENS_PER_S / 4, " (¼ run.c)"),
      });
      record({ name: "generate.stories260K.batch1.ms_per_token", value: t.medianMs / produced, unit: "ms" });
    }
    if (wanted("generate.stories260K.batch32")) {
      const B = 32;
      const prompts = Array.from({ length: B }, () => [bos]);
      let produced = 0;
      let distinct = 0;
      const t = await timeIt(
        "generate batch 32, temperature 1",
        () => {
          const r = tfjsPath(() => generate(model, prompts, { maxNewTokens: n, temperature: 1, seed: 7, stopTokens: [] }));
          produced = r.newTokens.reduce((s, row) => s + row.length, 0);
          distinct = new Set(r.newTokens.map((row) => row.join(","))).size;
        },
        spec({ warmup: 1, minTotalMs: 2000, minReps: 3, maxReps: 20 }),
      );
      log(`    ${distinct} distinct rows of ${B}`);
      const tps = (produced / t.medianMs) * 1000;
      measured.tfjsGenerate.batch32 = tps;
      record({
        name: "generate.stories260K.batch32.tokens_per_s",
        value: tps,
        unit: "tokens/s",
        target: atLeast(tps, LLAMA2C_RUN_C_TOKENS_PER_S, " (run.c b1)"),
      });
    }
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3b. Logistic probe fit

const PROBE_N = 10_000;
const PROBE_D = 768;

/**
 * `fitLogisticProbe` with default options on 10,000 × 768 seeded standard-normal features, labels from a seeded
 * random direction plus noise (separable-ish). FLOPs: the matMuls the solver ran (its `info.matmulFlops`: one
 * 2·n·(d+1)² Hessian per fresh Newton step; the host-side float64 matvecs are not counted).
 */
async function benchProbe(): Promise<void> {
  const n = PROBE_N;
  const d = PROBE_D;
  const normal = normalSampler(mulberry32(4242));
  const w = Array.from({ length: d }, () => normal());
  const X: Float32Array[] = [];
  const y: (0 | 1)[] = [];
  for (let i = 0; i < n; i++) {
    const row = new Float32Array(d);
    let s = 0;
    for (let j = 0; j < d; j++) {
      row[j] = normal();
      s += row[j] * w[j];
    }
    X.push(row);
    y.push(s / Math.sqrt(d) + 0.5 * normal() > 0 ? 1 : 0);
  }
  let info: ReturnType<typeof fitLogisticProbe>["info"] | null = null;
  const t = await timeIt(
    `fitLogisticProbe ${n}×${d}`,
    () => {
      info = fitLogisticProbe(X, y).info;
    },
    spec({ warmup: 1, minTotalMs: 0, minReps: 3, maxReps: 3 }, { warmup: 0, minReps: 1, maxReps: 1 }),
  );
  const fit = info as ReturnType<typeof fitLogisticProbe>["info"] | null;
  if (!fit) throw new Error("fitLogisticProbe did not run");
  if (!fit.converged) throw new Error(`fitLogisticProbe did not converge in ${fit.iterations} iterations`);
  log(`    ${fit.iterations} Newton iterations (${fit.hessians} Hessians), ${(fit.matmulFlops / 1e9).toFixed(2)} GFLOP in matMuls, final loss ${fit.loss.toFixed(5)}`);
  const gflops = fit.matmulFlops / t.medianMs / 1e6;
  record({ name: "probe.logistic.fit_ms", value: t.medianMs, unit: "ms" });
  record({ name: "probe.logistic.gflops", value: gflops, unit: "GFLOP/s" });
  if (wanted("probe.logistic.ratio_to_matmul")) {
    if (matmulGflops === null) throw new Error("ratio_to_matmul needs matmul.wasm.gflops from this run");
    record({ name: "probe.logistic.ratio_to_matmul", value: gflops / matmulGflops, unit: "ratio" });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Forward with residual cache, GPT-2-small shape

/** Forward FLOPs over matMuls: 2 · tokens · matrix params + 2 · 2 · B · H · T · T · d_head per layer. */
export function forwardFlops(cfg: ModelConfig, B: number, T: number): number {
  return trainStepFlops(cfg, B, T) / 3;
}

/** Size of the wasm backend's heap (MiB); wasm32 caps it at 4 GiB and it never shrinks. */
function wasmHeapMiB(): string {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? `${Math.round(heap.length / 2 ** 20)} MiB` : "n/a";
}

async function benchForward(): Promise<void> {
  const cfg = presetConfig("gpt2-small");
  const B = 8;
  const T = 128;
  const t0 = performance.now();
  const model = HookedTransformer.fromConfig(cfg, { seed: 0 });
  log(`  gpt2-small random init: ${model.numParams.toLocaleString("en-US")} params in ${((performance.now() - t0) / 1000).toFixed(1)} s; wasm heap ${wasmHeapMiB()}`);
  const rand = mulberry32(99);
  const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(rand() * cfg.d_vocab)));
  const tokens = tf.tensor2d(ids, [B, T], "int32");
  let cached = 0;
  try {
    const t = await timeIt(
      "runWithCache resid, 8×128",
      () => {
        const { logits, cache } = tfjsPath(() => model.runWithCache(tokens, { namesFilter: (name) => name.includes("resid") }));
        logits.dataSync(); // the pass is done when the logits are readable
        cached = cache.size;
        logits.dispose();
        cache.dispose();
      },
      spec({ warmup: 1, minTotalMs: 0, minReps: 2, maxReps: 2 }, { warmup: 0, minReps: 1, maxReps: 1 }),
    );
    log(`    ${cached} activations cached per pass; wasm heap ${wasmHeapMiB()} (limit 4096 MiB)`);
    record({ name: "forward.gpt2-small.resid_cache.tokens_per_s", value: ((B * T) / t.medianMs) * 1000, unit: "tokens/s" });
    record({ name: "forward.gpt2-small.resid_cache.ms", value: t.medianMs, unit: "ms" });
    record({ name: "forward.gpt2-small.resid_cache.model_gflops", value: forwardFlops(cfg, B, T) / t.medianMs / 1e6, unit: "GFLOP/s" });
    if (wanted("forward.gpt2-small.resid_cache.onnx.speedup_over_tfjs")) {
      if (measured.onnxForwardMs === null) log("    (no forward.gpt2-small.resid_cache.onnx.ms from this run: speed-up not computed)");
      else record({ name: "forward.gpt2-small.resid_cache.onnx.speedup_over_tfjs", value: t.medianMs / measured.onnxForwardMs, unit: "×" });
    }
  } catch (e) {
    log(`    wasm heap at failure: ${wasmHeapMiB()} (limit 4096 MiB)`);
    throw e;
  } finally {
    // After a wasm abort even disposal throws; keep the original error.
    try {
      tokens.dispose();
      model.dispose();
    } catch (e) {
      log(`    (disposal failed too: ${(e as Error).message})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ONNX Runtime (bench/onnx.ts), with this file's timing and recording

const onnxCtx: BenchContext = { timeIt, spec, record, wanted, log, atLeast };

// ---------------------------------------------------------------------------------------------------------------
// Main

const GROUPS: { title: string; names: string[]; run: () => Promise<void>; needs?: string[]; needsOnnx?: string[] }[] = [
  { title: "matMul (wasm)", names: ["matmul.wasm.gflops", "matmul.wasm.transposeB.gflops"], run: benchMatmul },
  { title: "matMul (ONNX Runtime)", names: ["matmul.onnx.gflops"], run: () => benchOnnxMatmul(onnxCtx) },
  {
    title: `training (${TRAIN_PRESET}, batch ${TRAIN_B}×${TRAIN_T})`,
    names: [
      `train.${TRAIN_PRESET}.tokens_per_s`,
      `train.${TRAIN_PRESET}.step_ms`,
      `train.${TRAIN_PRESET}.model_gflops`,
      `train.${TRAIN_PRESET}.ratio_to_matmul`,
    ],
    run: benchTrain,
    needs: [`train.${TRAIN_PRESET}.ratio_to_matmul`],
  },
  {
    title: `training on ONNX Runtime vs PyTorch (${TRAIN_PRESET}, batch ${TRAIN_B}×${TRAIN_T}, 1 thread each)`,
    names: [
      `train.${TRAIN_PRESET}.onnx.tokens_per_s`,
      `train.${TRAIN_PRESET}.onnx.model_gflops`,
      `train.${TRAIN_PRESET}.onnx.ratio_to_matmul`,
      `train.${TRAIN_PRESET}.torch.tokens_per_s`,
      `train.${TRAIN_PRESET}.ratio_to_torch`,
    ],
    run: benchTrainOnnx,
    needsOnnx: [`train.${TRAIN_PRESET}.onnx.ratio_to_matmul`],
  },
  {
    title: `generation (stories260K, ${GEN_NEW_TOKENS} new tokens)`,
    names: ["generate.stories260K.batch1.tokens_per_s", "generate.stories260K.batch1.ms_per_token", "generate.stories260K.batch32.tokens_per_s"],
    run: benchGenerate,
  },
  {
    title: `generation on ONNX Runtime (stories260K, ${GEN_NEW_TOKENS} new tokens)`,
    names: [
      "generate.stories260K.onnx.batch1.tokens_per_s",
      "generate.stories260K.onnx.batch1.speedup_over_tfjs",
      "generate.stories260K.onnx.batch1.us_per_step",
      "generate.stories260K.onnx.batch32.tokens_per_s",
      "generate.stories260K.onnx.batch32.speedup_over_tfjs",
      "generate.stories260K.runc.batch1.tokens_per_s",
      "generate.stories260K.onnx.batch1.ratio_to_runc",
      "generate.stories260K.onnx.batch32.ratio_to_runc",
    ],
    run: () => benchGenerateOnnx(onnxCtx, STORIES_BIN, GEN_NEW_TOKENS),
  },
  {
    title: `logistic probe fit (${PROBE_N.toLocaleString("en-US")} × ${PROBE_D})`,
    names: ["probe.logistic.fit_ms", "probe.logistic.gflops", "probe.logistic.ratio_to_matmul"],
    run: benchProbe,
    needs: ["probe.logistic.ratio_to_matmul"],
  },
  {
    title: "forward with residual cache on ONNX Runtime (gpt2-small shape, 8×128)",
    names: [
      "forward.gpt2-small.resid_cache.onnx.tokens_per_s",
      "forward.gpt2-small.resid_cache.onnx.ms",
      "forward.gpt2-small.resid_cache.onnx.model_gflops",
      "forward.gpt2-small.resid_cache.onnx.ratio_to_matmul",
    ],
    run: () => benchForwardOnnx(onnxCtx, forwardFlops),
    needsOnnx: ["forward.gpt2-small.resid_cache.onnx.ratio_to_matmul"],
  },
  { title: "LoRA SFT (smollm-135m shape, 1×256, rank 8 on q/v, ONNX Runtime) vs full fine-tuning", names: LORA_NAMES, run: () => benchLora(onnxCtx, QUICK) },
  // Last on purpose: the largest allocation; if the wasm backend aborts (out of its 4 GiB heap), nothing else can run.
  {
    title: "forward with residual cache (gpt2-small shape, 8×128)",
    names: [
      "forward.gpt2-small.resid_cache.tokens_per_s",
      "forward.gpt2-small.resid_cache.ms",
      "forward.gpt2-small.resid_cache.model_gflops",
      "forward.gpt2-small.resid_cache.onnx.speedup_over_tfjs",
    ],
    run: benchForward,
  },
];

function machineLines(backend: string): string[] {
  const cpus = os.cpus();
  const env = tf.env();
  const flag = (f: string) => {
    try {
      return env.getBool(f) ? "yes" : "no";
    } catch {
      return "?";
    }
  };
  return [
    `machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? "unknown CPU"}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.arch()}`,
    `node ${process.version}, @tensorflow/tfjs ${tf.version.tfjs}, backend ${backend} (SIMD ${flag("WASM_HAS_SIMD_SUPPORT")}, threads ${flag("WASM_HAS_MULTITHREAD_SUPPORT")})`,
    `mode: ${QUICK ? "quick (fewer reps)" : "full"}${opts.only !== null ? `, only names containing ${JSON.stringify(opts.only)}` : ""}; load average at the start ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
  ];
}

function table(rows: readonly Result[]): string {
  const head = ["name", "value", "unit", "target"];
  const body = rows.map((r) =>
    r.failed
      ? [r.name, "—", "", `✗ FAILED: ${r.failed}`]
      : [r.name, fmt(r.value), r.unit, r.target ? `${r.target.met ? "✓" : "✗"} ${r.target.text}` : ""],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => [...row[i]].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i] + c.length - [...c].length))).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const header = machineLines(backend);
  for (const l of header) log(l);
  const selected = GROUPS.filter((g) => g.names.some(wanted));
  if (selected.length === 0) {
    log(`bench: no measurement name contains ${JSON.stringify(opts.only)}; names: ${GROUPS.flatMap((g) => g.names).join(", ")}`);
    process.exitCode = 2;
    return;
  }
  // ratio_to_matmul divides by matmul.wasm.gflops from this run: measure it even when --only leaves it out.
  const needsMatmul = selected.some((g) => g.needs?.some(wanted)) && !selected.includes(GROUPS[0]);
  if (needsMatmul) {
    await group("matMul (wasm): needed by ratio_to_matmul, not printed", [], async () => {
      matmulGflops = await matmulRate(false);
      log(`    matmul.wasm.gflops = ${fmt(matmulGflops)} GFLOP/s (dependency)`);
    });
  }
  // ratio_to_matmul on the ONNX path divides by matmul.onnx.gflops from this run.
  if (selected.some((g) => g.needsOnnx?.some(wanted)) && !selected.includes(GROUPS[1])) {
    await group("matMul (ONNX Runtime): needed by the ONNX ratio_to_matmul, not printed", [], async () => {
      measured.onnxMatmulGflops = await onnxMatmulRate(onnxCtx);
      log(`    matmul.onnx.gflops = ${fmt(measured.onnxMatmulGflops)} GFLOP/s (dependency)`);
    });
  }
  for (const g of selected) await group(g.title, g.names, g.run);

  const endLoad = `load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} (other processes on these ${os.cpus().length} cores skew the numbers)`;
  log(`\n${endLoad}`);
  if (!opts.json) {
    process.stdout.write(header.join("\n") + "\n" + endLoad + "\n\n" + table(results) + "\n");
    const missed = results.filter((r) => !r.failed && r.target && !r.target.met);
    const failed = results.filter((r) => r.failed);
    if (missed.length) process.stdout.write(`\n${missed.length} target${missed.length > 1 ? "s" : ""} missed: ${missed.map((r) => r.name).join(", ")}\n`);
    if (failed.length) process.stdout.write(`${failed.length} measurement${failed.length > 1 ? "s" : ""} failed (details on stderr): ${failed.map((r) => r.name).join(", ")}\n`);
  }
}

main().catch((e) => {
  log(`bench: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
