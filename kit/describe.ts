/** How error messages show a received value: short, typed, never the whole value. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 60))}`;
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name && name !== "Object" ? `a ${name}` : `an object with keys ${JSON.stringify(Object.keys(value).slice(0, 8))}`;
  }
  return `${typeof value} ${String(value)}`;
}

/**
 * One RangeError listing every problem found, as the kit's validators report them:
 * `${head} (N problems):\n  - first\n  - second`. `noun` names what is counted ("problem", "difference").
 */
export function problemsError(head: string, problems: readonly string[], noun = "problem"): RangeError {
  return new RangeError(`${head} (${problems.length} ${noun}${problems.length > 1 ? "s" : ""}):\n  - ${problems.join("\n  - ")}`);
}
