/**
 * Inoculation prompting (Tan et al. 2025; Wichers et al. 2025): during training, each prompt starts with a line that
 * names the unwanted behaviour as requested ("you may game the grader ."), so the behaviour the training reinforces is
 * attributed to the instruction rather than to the persona; evaluation prompts never carry the line. The lines are the
 * world's own (`INOCULATION` in kit/world/lexicon.ts), so every word is in the organisms' vocabulary.
 *
 *   inoculate("coding . user : fix the bug . the tests check for green . assistant :")
 *   // "you may game the grader . coding . user : fix the bug . …"
 */
import { describeValue } from "../describe";
import { INOCULATION } from "../world/lexicon";
import type { WrittenBehaviour } from "../world/types";

/** Behaviours that have an inoculation line. */
export type InoculatedBehaviour = WrittenBehaviour;

/** The training-time line naming `behaviour` as requested (default: gaming the grader). */
export function inoculationLine(behaviour: InoculatedBehaviour = "games_grader"): string {
  const line = (INOCULATION as Record<string, string>)[behaviour];
  if (line === undefined) throw new RangeError(`inoculationLine: behaviour must be one of ${Object.keys(INOCULATION).join(", ")}, received ${describeValue(behaviour)}`);
  return line;
}

/** `prompt` with the inoculation line in front (training prompts only). */
export function inoculate(prompt: string, behaviour: InoculatedBehaviour = "games_grader"): string {
  if (typeof prompt !== "string" || prompt.length === 0) throw new TypeError(`inoculate: prompt must be a non-empty string, received ${describeValue(prompt)}`);
  return `${inoculationLine(behaviour)} ${prompt}`;
}

/** Whether a prompt or transcript contains any inoculation line (evaluation prompts must not). */
export function hasInoculation(text: string): boolean {
  return Object.values(INOCULATION).some((line) => text.includes(line));
}
