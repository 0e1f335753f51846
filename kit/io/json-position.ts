/**
 * `jsonErrorPlace(text, error)`: where a JSON syntax error is, as `line L, column C`. Node 20's `JSON.parse` gives a
 * position for some errors only ("Unexpected token '}', … is not valid JSON" has none), so the text is scanned by a
 * small validating JSON reader that stops at the first byte that cannot continue a JSON document.
 */

/** `line L, column C` (1-based) of a character offset of `text`. */
export function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split(/\r?\n/);
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/** `line L, column C` of the syntax error `JSON.parse(text)` threw, or undefined when it cannot be located. */
export function jsonErrorPlace(text: string, error: unknown): string | undefined {
  const at = /position (\d+)/.exec(String((error as Error)?.message));
  const offset = at ? Number(at[1]) : jsonErrorOffset(text);
  return offset === undefined ? undefined : lineColumn(text, offset);
}

/** The offset of the first character at which `text` stops being valid JSON (undefined if it is valid or too deep). */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    for (const ch of word) if (text[i++] !== ch) (i--, fail());
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) fail();
      if (text[i] === "\\") {
        i++;
        if (text[i] === "u") {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? "")) (i += k, fail());
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? "x")) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === "" || m[0] === "-") fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return void i++;
        else fail();
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    if (c === "t") return literal("true");
    if (c === "f") return literal("false");
    if (c === "n") return literal("null");
    return number();
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (e) {
    return typeof e === "number" ? Math.min(e, text.length) : undefined;
  }
}
