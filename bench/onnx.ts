/**
 * ONNX Runtime measurements for bench/run.ts: ORT's own matMul rate, the GPT-2-small-shaped forward pass with the
 * full residual cache through `runWithCacheOnnx`, and stories260K generation through `generateOnnx`. The helpers
 * (timing, recording) are bench/run.ts's, passed in, so the method and the output format are the same.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { HookedTransformer } from "../kit/model/transformer";
import { mulberry32 } from "../kit/model/params";
import { presetConfig, type ModelConfig } from "../kit/model/config";
import { HookedTransformer as Model } from "../kit/model/transformer";
import { readLlama2cCheckpoint } from "../kit/io/llama2c";
import { runcTokensPerSec } from "./peers/runc";
import { clearOnnxSessions, generateOnnx, onnxSession, runWithCacheOnnx, SyncSession, OrtTensor } from "../kit/onnx";
import { DT, GraphBuilder } from "../kit/onnx/proto";

export interface BenchTimingSpec {
  warmup: number;
  minTotalMs: number;
  minReps: number;
  maxReps: number;
}

export interface BenchContext {
  timeIt: (label: string, fn: () => void | Promise<void>, sp: BenchTimingSpec) => Promise<{ medianMs: number }>;
  spec: (full: BenchTimingSpec, quick?: Partial<BenchTimingSpec>) => BenchTimingSpec;
  record: (r: { name: string; value: number; unit: string; target?: { text: string; met: boolean } }) => void;
  wanted: (name: string) => boolean;
  log: (msg: string) => void;
  atLeast: (value: number, min: number, label?: string) => { text: string; met: boolean };
}

/** Numbers measured by one group and used by another (ratios and speed-ups need both sides from this run). */
export const measured: {
  onnxMatmulGflops: number | null;
  onnxForwardMs: number | null;
  tfjsGenerate: { batch1: number | null; batch32: number | null };
} = { onnxMatmulGflops: null, onnxForwardMs: null, tfjsGenerate: { batch1: null, batch32: null } };

const N = 512;

/** GFLOP/s of ONNX Runtime's MatMul on two 512×512 float32 matrices (a one-node graph, default session threads). */
export async function onnxMatmulRate(ctx: BenchContext): Promise<number> {
  const g = new GraphBuilder();
  g.input("a", DT.FLOAT, [N, N]);
  g.input("b", DT.FLOAT, [N, N]);
  g.op("MatMul", ["a", "b"], {}, "c");
  g.output("c", DT.FLOAT, [N, N]);
  const session = new SyncSession(g.encode());
  const rand = mulberry32(5);
  const a = new OrtTensor("float32", Float32Array.from({ length: N * N }, () => rand() - 0.5), [N, N]);
  const b = new OrtTensor("float32", Float32Array.from({ length: N * N }, () => rand() - 0.5), [N, N]);
  try {
    const t = await ctx.timeIt("ORT MatMul 512³", () => void session.run({ a, b }), ctx.spec({ warmup: 5, minTotalMs: 2000, minReps: 10, maxReps: 500 }));
    return (2 * N * N * N) / t.medianMs / 1e6;
  } finally {
    session.dispose();
  }
}

export async function benchOnnxMatmul(ctx: BenchContext): Promise<void> {
  measured.onnxMatmulGflops = await onnxMatmulRate(ctx);
  ctx.record({ name: "matmul.onnx.gflops", value: measured.onnxMatmulGflops, unit: "GFLOP/s" });
}

/**
 * `runWithCacheOnnx(tokens, { namesFilter: resid })` on a seeded random gpt2-small (8 × 128 tokens): the same pass
 * as bench/run.ts's `forward.gpt2-small.resid_cache.*`, logits and cache returned as tf tensors.
 */
export async function benchForwardOnnx(ctx: BenchContext, forwardFlops: (cfg: ModelConfig, B: number, T: number) => number): Promise<void> {
  const cfg = presetConfig("gpt2-small");
  const B = 8;
  const T = 128;
  const model = Model.fromConfig(cfg, { seed: 0 });
  const rand = mulberry32(99);
  const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(rand() * cfg.d_vocab)));
  const filter = (name: string) => name.includes("resid");
  try {
    const t0 = performance.now();
    onnxSession(model, { hooks: filter });
    ctx.log(`    graph built and loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (once per model and hook set)`);
    let cached = 0;
    const t = await ctx.timeIt(
      "runWithCacheOnnx resid, 8×128",
      () => {
        const { logits, cache } = runWithCacheOnnx(model, ids, { namesFilter: filter });
        logits.dataSync();
        cached = cache.size;
        logits.dispose();
        cache.dispose();
      },
      ctx.spec({ warmup: 1, minTotalMs: 0, minReps: 3, maxReps: 3 }, { warmup: 1, minReps: 1, maxReps: 1 }),
    );
    ctx.log(`    ${cached} activations cached per pass`);
    measured.onnxForwardMs = t.medianMs;
    const gflops = forwardFlops(cfg, B, T) / t.medianMs / 1e6;
    ctx.record({ name: "forward.gpt2-small.resid_cache.onnx.tokens_per_s", value: ((B * T) / t.medianMs) * 1000, unit: "tokens/s" });
    ctx.record({ name: "forward.gpt2-small.resid_cache.onnx.ms", value: t.medianMs, unit: "ms" });
    ctx.record({ name: "forward.gpt2-small.resid_cache.onnx.model_gflops", value: gflops, unit: "GFLOP/s" });
    if (ctx.wanted("forward.gpt2-small.resid_cache.onnx.ratio_to_matmul")) {
      if (measured.onnxMatmulGflops === null) throw new Error("ratio_to_matmul needs matmul.onnx.gflops from this run");
      const ratio = gflops / measured.onnxMatmulGflops;
      ctx.record({ name: "forward.gpt2-small.resid_cache.onnx.ratio_to_matmul", value: ratio, unit: "ratio", target: ctx.atLeast(ratio, 0.8) });
    }
  } finally {
    clearOnnxSessions(model);
    model.dispose();
  }
}

/** llama2.c's run.c on the same model and length, and the ONNX rows' ratios to it (bench/peers/llama2c). */
function benchRunc(ctx: BenchContext, storiesBin: string, n: number, onnxTps: Record<number, number>): void {
  if (!ctx.wanted("generate.stories260K.runc") && !ctx.wanted("ratio_to_runc")) return;
  const tokenizer = path.join(path.dirname(storiesBin), "tok512.bin");
  const r = runcTokensPerSec(storiesBin, tokenizer, { steps: n, reps: 5 });
  if (r.value === null) return ctx.log(`    skipped generate.stories260K.runc.*: ${r.note}`);
  ctx.log(`    run.c runs: ${r.runs.map((x) => x.toFixed(0)).join(", ")} tokens/s`);
  ctx.record({ name: "generate.stories260K.runc.batch1.tokens_per_s", value: r.value, unit: "tokens/s" });
  for (const batch of [1, 32]) {
    if (onnxTps[batch] !== undefined) ctx.record({ name: `generate.stories260K.onnx.batch${batch}.ratio_to_runc`, value: onnxTps[batch] / r.value, unit: "ratio" });
  }
}

/** stories260K generation through `generateOnnx`, the same workloads as `generate.stories260K.*`. */
export async function benchGenerateOnnx(ctx: BenchContext, storiesBin: string, newTokens: number): Promise<void> {
  if (!fs.existsSync(storiesBin)) {
    ctx.log(`  skipped: ${storiesBin} not found (set PERSONA_KIT_STORIES260K to its path)`);
    return;
  }
  const ck = readLlama2cCheckpoint(storiesBin);
  const model: HookedTransformer = new Model(ck.config, ck.params);
  const bos = model.cfg.bosTokenId ?? 1;
  const n = newTokens;
  try {
    const row = (batch: 1 | 32, label: string, temperature: number, seed: number) => async () => {
      const name = `generate.stories260K.onnx.batch${batch}.tokens_per_s`;
      if (!ctx.wanted(name) && !ctx.wanted(`generate.stories260K.onnx.batch${batch}.speedup_over_tfjs`)) return;
      const prompts = Array.from({ length: batch }, () => [bos]);
      let produced = 0;
      const t = await ctx.timeIt(
        label,
        () => {
          const r = generateOnnx(model, prompts, { maxNewTokens: n, temperature, seed, stopTokens: [] });
          produced = r.newTokens.reduce((s, x) => s + x.length, 0);
        },
        ctx.spec({ warmup: 1, minTotalMs: 2000, minReps: 3, maxReps: 20 }),
      );
      const tps = (produced / t.medianMs) * 1000;
      const target = batch === 1 ? 8000 : 25000;
      ctx.record({ name, value: tps, unit: "tokens/s", target: ctx.atLeast(tps, target) });
      if (batch === 1) ctx.record({ name: "generate.stories260K.onnx.batch1.us_per_step", value: (t.medianMs * 1000) / (produced / batch), unit: "µs" });
      onnxTps[batch] = tps;
      const ref = measured.tfjsGenerate[`batch${batch}`];
      if (ref !== null) ctx.record({ name: `generate.stories260K.onnx.batch${batch}.speedup_over_tfjs`, value: tps / ref, unit: "×" });
      else ctx.log(`    (no generate.stories260K.batch${batch}.tokens_per_s from this run: speed-up not computed)`);
    };
    const onnxTps: Record<number, number> = {};
    await row(1, "generateOnnx batch 1, greedy", 0, 0)();
    await row(32, "generateOnnx batch 32, temperature 1", 1, 7)();
    benchRunc(ctx, storiesBin, n, onnxTps);
  } finally {
    clearOnnxSessions(model);
    model.dispose();
  }
}
