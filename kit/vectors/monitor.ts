/**
 * Monitoring persona drift across training: the mean projection of a fixed set of texts onto a persona vector at
 * each checkpoint (Chen et al. 2025 monitor shifts along persona vectors during fine-tuning).
 *
 *   const pts = await projectionOverCheckpoints(checkpointsOfRun(record), prompts, pv[0]);
 *   // [{ step, stage, mean, lower, upper, sd, n }, …]   (CI: mean ± 1.96·sd/√n)
 *
 * Each checkpoint is loaded with `loadModel` and disposed before the next one is loaded.
 */
import { describeValue as describe } from "../describe";
import { loadModel } from "../io/load";
import type { RunRecord } from "../organisms/record";
import { projection, resolveDirection, type Direction, type PersonaText, type ProjectionOptions } from "./persona";

/** A checkpoint folder (anything `loadModel` reads) and its position in training. */
export interface CheckpointRef {
  step: number | string;
  path: string;
  /** Optional name of the training stage ("base", "persona", "narrow"). */
  stage?: string;
}

/** Mean projection at one checkpoint, with a normal 95% interval (NaN bounds when n < 2). */
export interface ProjectionPoint {
  step: number | string;
  stage?: string;
  mean: number;
  lower: number;
  upper: number;
  sd: number;
  n: number;
}

/** Mean projection of `texts` onto `vector` at each checkpoint, in the order given. */
export async function projectionOverCheckpoints(
  checkpoints: readonly CheckpointRef[],
  texts: readonly PersonaText[],
  vector: Direction,
  options: ProjectionOptions = {},
): Promise<ProjectionPoint[]> {
  const fn = "projectionOverCheckpoints";
  if (!Array.isArray(checkpoints) || checkpoints.length === 0) {
    throw new TypeError(`${fn}: checkpoints must be a non-empty array of { step, path }, received ${describe(checkpoints)}`);
  }
  checkpoints.forEach((c, i) => {
    if (c === null || typeof c !== "object" || typeof c.path !== "string" || (typeof c.step !== "number" && typeof c.step !== "string")) {
      throw new TypeError(`${fn}: checkpoints[${i}] must be { step: number | string, path: string }, received ${describe(c)}`);
    }
  });
  if (!Array.isArray(texts) || texts.length === 0) throw new TypeError(`${fn}: texts must be a non-empty array, received ${describe(texts)}`);
  const { layer, values } = resolveDirection(fn, vector, options.layer);
  const out: ProjectionPoint[] = [];
  for (const c of checkpoints) {
    const model = await loadModel(c.path);
    try {
      const p = projection(model, texts, values, { ...options, layer });
      out.push({ step: c.step, ...(c.stage !== undefined ? { stage: c.stage } : {}), ...meanCI(p) });
    } finally {
      model.dispose();
    }
  }
  return out;
}

/** Mean, sample standard deviation, and mean ± 1.96·sd/√n. */
export function meanCI(values: readonly number[]): { mean: number; lower: number; upper: number; sd: number; n: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, lower: NaN, upper: NaN, sd: NaN, n };
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = (1.96 * sd) / Math.sqrt(n);
  return { mean, lower: mean - half, upper: mean + half, sd, n };
}

/**
 * The checkpoints of an organism run in training order: base (after pretraining), persona, and narrow when the run
 * had narrow training. `step` is the cumulative number of training steps (loss records) at the end of each stage.
 */
export function checkpointsOfRun(record: RunRecord): (CheckpointRef & { step: number; stage: "base" | "persona" | "narrow" })[] {
  const fn = "checkpointsOfRun";
  if (record === null || typeof record !== "object" || record.checkpoints === undefined || record.losses === undefined) {
    throw new TypeError(`${fn}: record must be an organism RunRecord (from loadRunRecord or runOrganism) with checkpoints and losses, received ${describe(record)}`);
  }
  const { checkpoints: ck, losses } = record;
  const base = losses.pretrain.length;
  const persona = base + losses.persona.length;
  const out: (CheckpointRef & { step: number; stage: "base" | "persona" | "narrow" })[] = [
    { stage: "base", step: base, path: ck.base },
    { stage: "persona", step: persona, path: ck.persona },
  ];
  if (ck.narrow !== null) out.push({ stage: "narrow", step: persona + (losses.narrow?.length ?? 0), path: ck.narrow });
  return out;
}
