/** Token strings and single tokens, as TransformerLens's `to_str_tokens` and `to_single_token`. */
import type { Tokenizer } from "../tokenizers/types";

interface WithTokenizer {
  tokenizer: Tokenizer | null;
}

function tokenizerOf(model: WithTokenizer, where: string): Tokenizer {
  if (!model.tokenizer) throw new Error(`${where}: this model has no tokenizer; load the model with one`);
  return model.tokenizer;
}

/** One string per token of `input`, each id decoded alone (text is encoded first; BOS as the tokenizer adds it unless addBos is false). */
export function strTokens(model: WithTokenizer, input: string | readonly number[], addBos?: boolean): string[] {
  const tok = tokenizerOf(model, "toStrTokens");
  const ids = typeof input === "string" ? tok.encode(input, addBos === undefined ? {} : { addBos }) : input;
  // Each id decoded alone (" Once", not the raw piece "ĠOnce"/"▁Once"), as TransformerLens does; pieces that decode to
  // nothing alone (special tokens, partial bytes) fall back to the vocabulary entry.
  return ids.map((id) => tok.decode([id], { skipSpecialTokens: false }) || (tok.idToToken(id) ?? `#${id}`));
}

/** The one id `text` encodes to (no BOS). */
export function singleToken(model: WithTokenizer, text: string): number {
  const tok = tokenizerOf(model, "toSingleToken");
  const ids = tok.encode(text, { addBos: false });
  if (ids.length !== 1) {
    throw new RangeError(`toSingleToken: text must encode to exactly one token, received ${JSON.stringify(text)} → ${ids.length} tokens [${ids.map((id) => JSON.stringify(tok.idToToken(id) ?? String(id))).join(", ")}]`);
  }
  return ids[0];
}
