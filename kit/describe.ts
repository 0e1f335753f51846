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
