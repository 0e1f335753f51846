/**
 * Hugging Face's Rust `ByteFallback` decoder, for `@huggingface/tokenizers`' JS one: a run of byte tokens
 * (`<0x36>`, `<0x87>`, …) becomes its UTF-8 text when the whole run is valid UTF-8, and otherwise one U+FFFD per
 * byte token (the JS decoder reads an invalid run leniently, so `[<0x36>, <0x87>]` gave "6\uFFFD" where Rust gives
 * "\uFFFD\uFFFD").
 */
const utf8Fatal = new TextDecoder("utf-8", { fatal: true });
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** The Rust decoder's `decode_chain`: tokens in, tokens out, byte runs replaced by their text. */
export function rustByteFallbackChain(tokens: readonly string[]): string[] {
  const out: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length === 0) return;
    try {
      out.push(utf8Fatal.decode(Uint8Array.from(run)));
    } catch {
      out.push("\uFFFD".repeat(run.length));
    }
    run = [];
  };
  for (const t of tokens) {
    const m = BYTE_TOKEN.exec(t);
    if (m) run.push(parseInt(m[1]!, 16));
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
}

interface LibDecoder {
  decode_chain(tokens: string[]): string[];
  decoders?: LibDecoder[];
  config?: { type?: string };
}

/** Give every `ByteFallback` decoder inside `decoder` (a Sequence's members too) the Rust behaviour; returns how many. */
export function useRustByteFallback(decoder: LibDecoder | null | undefined): number {
  if (!decoder) return 0;
  let n = 0;
  for (const d of decoder.decoders ?? []) n += useRustByteFallback(d);
  if (decoder.config?.type === "ByteFallback") {
    decoder.decode_chain = rustByteFallbackChain;
    n++;
  }
  return n;
}
