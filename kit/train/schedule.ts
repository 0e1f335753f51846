/**
 * Learning-rate schedules: pure functions of the step.
 *
 * Steps are 0-based: step 0 is the first optimizer update, step `totalSteps - 1` the last. Every schedule starts with
 * an optional linear warmup (`lr · (step + 1) / warmupSteps` for the first `warmupSteps` steps, so the first update is
 * never zero), then:
 * - `constant`: `lr`;
 * - `cosine`:   half a cosine from `lr` down to `minLrRatio · lr`;
 * - `linear`:   a straight line from `lr` down to `minLrRatio · lr`.
 * The decay's progress is `(step - warmupSteps) / (totalSteps - warmupSteps)`, clamped to [0, 1] (so steps past the
 * end stay at the floor).
 */

export type ScheduleName = "constant" | "cosine" | "linear";

export const SCHEDULE_NAMES: readonly ScheduleName[] = ["constant", "cosine", "linear"];

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Steps the decay spans (the training run's length). */
  totalSteps: number;
  /** Default `"cosine"`. */
  schedule?: ScheduleName;
  /** Default 0. */
  warmupSteps?: number;
  /** The decay's floor as a fraction of `lr`; default 0.1. Ignored by `constant`. */
  minLrRatio?: number;
}

/** The learning rate of update `step` (0-based). */
export function lrAt(step: number, { lr, totalSteps, schedule = "cosine", warmupSteps = 0, minLrRatio = 0.1 }: ScheduleOptions): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`lrAt: step must be a non-negative integer, received ${step}`);
  if (!SCHEDULE_NAMES.includes(schedule)) {
    throw new RangeError(`lrAt: schedule must be one of ${SCHEDULE_NAMES.map((s) => JSON.stringify(s)).join(", ")}, received ${JSON.stringify(schedule)}`);
  }
  if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  if (schedule === "constant") return lr;
  const span = totalSteps - warmupSteps;
  const progress = span <= 0 ? 1 : Math.min(1, Math.max(0, (step - warmupSteps) / span));
  const minLr = lr * minLrRatio;
  const shape = schedule === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return minLr + (lr - minLr) * shape;
}
