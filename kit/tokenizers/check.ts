/**
 * `tokenizerJsonProblems(json)`: the structural checks a `tokenizer.json` must pass before it is handed to a
 * tokenizer library (which otherwise fails later with messages such as `x.split is not a function`): the model type,
 * its vocabulary (ids non-negative integers below `MAX_VOCAB`), BPE merges and added tokens.
 */
import { describeValue } from "../describe";
import { MAX_VOCAB } from "../io/bounds";

const MODEL_TYPES = ["BPE", "WordLevel", "WordPiece", "Unigram"];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isId = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v) && v >= 0 && v < MAX_VOCAB;

/** Every structural problem of a tokenizer.json object (empty when it is usable); messages name the field. */
export function tokenizerJsonProblems(json: Record<string, unknown>): string[] {
  const out: string[] = [];
  const model = json.model;
  if (!isObject(model)) return [`"model" must be an object, received ${describeValue(model)}`];
  if (typeof model.type !== "string" || !MODEL_TYPES.includes(model.type)) {
    out.push(`"model.type" must be one of ${MODEL_TYPES.join(", ")}, received ${describeValue(model.type)}`);
  }
  const vocab = model.vocab;
  if (model.type === "Unigram") {
    if (!Array.isArray(vocab) || vocab.some((e) => !Array.isArray(e) || typeof e[0] !== "string" || typeof e[1] !== "number")) {
      out.push(`"model.vocab" of a Unigram model must be an array of [piece, score] pairs, received ${describeValue(vocab)}`);
    } else if (vocab.length > MAX_VOCAB) out.push(`"model.vocab" has ${vocab.length} entries, more than ${MAX_VOCAB}`);
  } else if (!isObject(vocab)) {
    out.push(`"model.vocab" must be an object of token → id, received ${describeValue(vocab)}`);
  } else {
    const bad = Object.entries(vocab).find(([, id]) => !isId(id));
    if (bad) out.push(`"model.vocab" id of ${JSON.stringify(bad[0]).slice(0, 40)} must be an integer in [0, ${MAX_VOCAB}), received ${describeValue(bad[1])}`);
  }
  if (model.type === "BPE" && model.merges !== undefined) {
    const merges = model.merges;
    const ok = (m: unknown) => (typeof m === "string" && m.includes(" ")) || (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string");
    if (!Array.isArray(merges)) out.push(`"model.merges" must be an array, received ${describeValue(merges)}`);
    else {
      const i = merges.findIndex((m) => !ok(m));
      if (i >= 0) out.push(`"model.merges"[${i}] must be "a b" or ["a", "b"], received ${describeValue(merges[i])}`);
    }
  }
  if (json.added_tokens !== undefined && json.added_tokens !== null) {
    if (!Array.isArray(json.added_tokens)) out.push(`"added_tokens" must be an array, received ${describeValue(json.added_tokens)}`);
    else {
      const i = json.added_tokens.findIndex((t) => !isObject(t) || !isId(t.id) || typeof t.content !== "string");
      if (i >= 0) out.push(`"added_tokens"[${i}] must be { id: integer, content: string, … }, received ${describeValue(json.added_tokens[i])}`);
    }
  }
  return out;
}
