/**
 * Edit distance and the "did you mean" suggestions built on it, for error messages that name an unknown key, hook,
 * tensor or field together with the known names closest to it.
 */

/** Levenshtein distance between two strings (insertions, deletions and substitutions each cost 1). */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The `k` known names closest to `name` by edit distance; ties in alphabetical (locale) order. */
export function nearMatches(name: string, known: readonly string[], k = 3): string[] {
  return [...known]
    .map((n) => [n, editDistance(name, n)] as const)
    .sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]))
    .slice(0, k)
    .map(([n]) => n);
}

/** " (did you mean X?)" when one of `known` is within max(2, ⌊|name|/3⌋) edits of `name`, else "". */
export function didYouMean(name: string, known: readonly string[], prefix = ""): string {
  const [near] = nearMatches(name, known, 1);
  if (near === undefined || editDistance(name, near) > Math.max(2, Math.floor(name.length / 3))) return "";
  return ` (did you mean ${prefix}${near}?)`;
}
