/**
 * "Did you mean" for mistyped names (CLI flags and commands, option keys): the nearest known name by edit distance,
 * offered only when it is within a few edits, so that a name unlike any known one gets no misleading guess.
 */
import { editDistance, nearMatches } from "./model/hooks";

/** " (did you mean X?)" when one of `known` is within max(2, ⌊|name|/3⌋) edits of `name`, else "". */
export function didYouMean(name: string, known: readonly string[], prefix = ""): string {
  const [near] = nearMatches(name, known, 1);
  if (near === undefined || editDistance(name, near) > Math.max(2, Math.floor(name.length / 3))) return "";
  return ` (did you mean ${prefix}${near}?)`;
}
