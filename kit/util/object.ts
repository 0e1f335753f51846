/** Plain-object checks for values parsed from JSON or given by users. */

/** True for a non-null object that is not an array (a JSON object, a config section, an options bag). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
