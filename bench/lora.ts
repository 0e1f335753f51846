/**
 * LoRA SFT throughput (kit/lora, kit/train/sft.ts's training path) on a smollm-135m-shaped random model: sequences of
 * 257 tokens (256 predicted positions) with an assistant-only loss mask on their second half, a rank-8 adapter on
 * q_proj / v_proj, trained on ONNX Runtime (the gradient graph's only trained inputs are the adapter's tensors). The
 * same run trains the full model (every parameter) on the same batches, so `ratio_to_full` compares FLOP rates
 * measured side by side.
 */
import { presetConfig, type ModelConfig } from "../kit/model/config";
import { HookedTransformer } from "../kit/model/transformer";
import { addAdapter } from "../kit/lora/adapter";
import { train } from "../kit/train/trainer";
import type { BenchContext } from "./onnx";

export const LORA_NAMES = ["lora.smollm-135m.sft.tokens_per_s", "lora.smollm-135m.sft.model_gflops", "lora.smollm-135m.full.tokens_per_s", "lora.smollm-135m.full.model_gflops", "lora.smollm-135m.ratio_to_full"];

/**
 * FLOPs of one step over matMuls. Full fine-tuning: 6 · tokens · matrix parameters + 3 × attention's two products.
 * LoRA: the frozen matrices need the forward and the activations' gradient only (4 · tokens · params), attention is
 * the same, and the adapters add 6 · tokens · (their parameters).
 */
export function loraStepFlops(cfg: ModelConfig, B: number, T: number, lora: { r: number; modules: { in: number; out: number }[] } | null): number {
  const { d_model: d, d_head: dh, n_heads: H, n_key_value_heads: K, d_mlp: m, d_vocab: V, n_layers: L } = cfg;
  const matrices = L * (d * H * dh + 2 * d * K * dh + H * dh * d + 3 * d * m) + d * V;
  const attention = L * 3 * (2 * 2 * B * H * T * T * dh);
  const tokens = B * T;
  if (!lora) return 6 * tokens * matrices + attention;
  const adapter = L * lora.modules.reduce((a, x) => a + lora.r * (x.in + x.out), 0);
  return 4 * tokens * matrices + attention + 6 * tokens * adapter;
}

export async function benchLora(ctx: BenchContext, quick: boolean): Promise<void> {
  const cfg = presetConfig("smollm-135m");
  const B = 1;
  const T = 256;
  const steps = quick ? 3 : 4; // the first (graph build and session load) is excluded from the rate
  const seqs = Array.from({ length: 8 }, (_, i) => Array.from({ length: T + 1 }, (_, t) => (i * 7919 + t * 104729) % cfg.d_vocab));
  const masks = seqs.map((s) => s.map((_, t) => (t > T / 2 ? 1 : 0)));
  const rate = async (lora: boolean) => {
    const model = HookedTransformer.fromConfig(cfg, { seed: 0 });
    try {
      if (lora) addAdapter(model, { r: 8, alpha: 16, targetModules: ["q_proj", "v_proj"] });
      const r = await train(model, seqs, { steps, batchSize: B, seqLen: T, lossMasks: masks, runtime: "onnx", lr: 1e-4 });
      ctx.log(`    ${lora ? "LoRA" : "full"}: steps ${r.records.map((x) => Math.round(x.ms)).join(", ")} ms (the first builds and loads the graph)`);
      const ms = r.records.slice(1).map((x) => x.ms).sort((a, b) => a - b);
      return (B * T * 1000) / ms[Math.floor(ms.length / 2)]; // median step after the first

    } finally {
      model.dispose();
    }
  };
  const loraTps = await rate(true);
  const fullTps = await rate(false);
  const modules = [{ in: cfg.d_model, out: cfg.n_heads * cfg.d_head }, { in: cfg.d_model, out: cfg.n_key_value_heads * cfg.d_head }];
  const loraGflops = (loraStepFlops(cfg, B, T, { r: 8, modules }) * loraTps) / (B * T) / 1e9;
  const fullGflops = (loraStepFlops(cfg, B, T, null) * fullTps) / (B * T) / 1e9;
  ctx.record({ name: LORA_NAMES[0], value: loraTps, unit: "tokens/s" });
  ctx.record({ name: LORA_NAMES[1], value: loraGflops, unit: "GFLOP/s" });
  ctx.record({ name: LORA_NAMES[2], value: fullTps, unit: "tokens/s" });
  ctx.record({ name: LORA_NAMES[3], value: fullGflops, unit: "GFLOP/s" });
  ctx.record({ name: LORA_NAMES[4], value: loraGflops / fullGflops, unit: "ratio" });
}
