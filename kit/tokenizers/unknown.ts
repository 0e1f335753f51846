/**
 * `<unk>` is never silent: the share of unknown tokens in what a tokenizer encoded, and one warning naming the caller,
 * the share and an example. A word-level vocabulary (the persona world's) maps every unseen English word to `<unk>`,
 * so a trait file or CAA question can be 40–70% `<unk>` on the embedded organism; results on such text are mostly
 * about the unknown token. Encoding (`model.encode`), generation and vector extraction report it.
 *
 *   unknownShare(model.tokenizer, ids);            // { unknown: 3, total: 10, share: 0.3 }
 *   warnUnknownTokens("personaVector", tok, rows); // console.warn once for all rows, when any token is <unk>
 */
import type { Tokenizer } from "./types";

const UNK_NAMES = ["<unk>", "[UNK]", "<|unk|>"];
const cached = new WeakMap<Tokenizer, number | null>();

/** The id of the tokenizer's unknown token, or null when it has none (byte-level BPE never produces one). */
export function unkTokenId(tokenizer: Tokenizer): number | null {
  if (cached.has(tokenizer)) return cached.get(tokenizer)!;
  const t = tokenizer as Tokenizer & { unkTokenId?: unknown; tokenToId?: (s: string) => number | undefined };
  let id: number | null = null;
  if (typeof t.unkTokenId === "number") id = t.unkTokenId;
  else if (t.kind === "llama2c") id = 0; // sentencepiece: <unk>, <s>, </s> at ids 0, 1, 2
  else if (typeof t.tokenToId === "function") {
    const config = tokenizer.toTokenizerConfig();
    const named = typeof config.unk_token === "string" ? config.unk_token : (config.unk_token as { content?: unknown } | undefined)?.content;
    for (const name of [named, ...UNK_NAMES]) {
      if (typeof name !== "string") continue;
      const found = t.tokenToId(name);
      if (found !== undefined && found !== null) {
        id = found;
        break;
      }
    }
  }
  cached.set(tokenizer, id);
  return id;
}

export interface UnknownShare {
  unknown: number;
  total: number;
  /** unknown / total (0 for no tokens). */
  share: number;
}

/** How many of `ids` (one row or several) are the unknown token. */
export function unknownShare(tokenizer: Tokenizer, ids: readonly number[] | readonly (readonly number[])[]): UnknownShare {
  const unk = unkTokenId(tokenizer);
  const rows = (ids.length > 0 && Array.isArray(ids[0]) ? ids : [ids]) as readonly (readonly number[])[];
  let unknown = 0;
  let total = 0;
  for (const r of rows) {
    total += r.length;
    if (unk !== null) for (const id of r) if (id === unk) unknown++;
  }
  return { unknown, total, share: total > 0 ? unknown / total : 0 };
}

/** Where warnings go (console.warn by default); `setUnknownWarning(null)` silences them, e.g. for a sweep already checked. */
let sink: ((message: string) => void) | null = (m) => console.warn(m);

export function setUnknownWarning(fn: ((message: string) => void) | null): void {
  sink = fn;
}

/**
 * Warn (once for all `rows`) when any token is unknown: `where: 42% of 120 tokens are <unk> in 6 texts (e.g. "…")`.
 * Returns the share either way.
 */
export function warnUnknownTokens(where: string, tokenizer: Tokenizer | null, rows: readonly (readonly number[])[], texts?: readonly string[]): UnknownShare {
  if (!tokenizer) return { unknown: 0, total: 0, share: 0 };
  const s = unknownShare(tokenizer, rows);
  if (s.unknown > 0 && sink) {
    const unk = unkTokenId(tokenizer)!;
    const hit = rows.findIndex((r) => r.includes(unk));
    const example = texts?.[hit] !== undefined ? ` (e.g. ${JSON.stringify(texts[hit].slice(0, 60))})` : "";
    const name = tokenizer.idToToken(unk) ?? "<unk>";
    sink(`${where}: ${(100 * s.share).toFixed(1)}% of ${s.total} tokens are ${name} in ${rows.length} text${rows.length === 1 ? "" : "s"}${example}; the tokenizer does not know these words, so results reflect the unknown token`);
  }
  return s;
}
