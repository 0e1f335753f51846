/**
 * One completion for `persona-kit serve`: sampling through `generate` (seeded, so the same seed gives the same text),
 * stop strings checked after every step, then one teacher-forced forward pass over the prompt and the answer for the
 * log-probabilities of the chosen tokens and their most likely alternatives (the model's raw distribution, before
 * temperature and top-p, as OpenAI reports them).
 */
import { tf } from "../backend";
import { generate } from "../runtime/generate";
import type { HookedTransformer } from "../model/transformer";

export interface EngineOptions {
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stop: readonly string[];
  /** Alternatives per position to return (0–20); -1 for no log-probabilities at all. */
  topLogprobs: number;
  /**
   * Text as a continuation of the prompt (`/v1/completions`: prompt + text reads as the whole text, leading space
   * included); default false (chat: the answer's text alone).
   */
  continuation?: boolean;
  /** Called with each new piece of text as it is generated (before stop strings are known to be complete). */
  onToken?: (piece: string) => void;
}

export interface EngineToken {
  id: number;
  /** The text this token adds to the answer (pieces concatenate to `text`). */
  text: string;
  logprob: number;
  top: { id: number; text: string; logprob: number }[];
}

export interface EngineResult {
  text: string;
  finishReason: "stop" | "length";
  /** The answer's tokens (EOS and anything after a stop string left out). */
  tokens: EngineToken[];
  promptTokens: number;
  /** Tokens generated (EOS and stop-string tokens included), for `usage`. */
  completionTokens: number;
}

class StopSignal extends Error {}

/** Generate one answer to `promptIds` with `model`. */
export function complete(model: HookedTransformer, promptIds: readonly number[], o: EngineOptions): EngineResult {
  const tok = model.tokenizer;
  if (!tok) throw new Error("complete: the model has no tokenizer");
  const nCtx = model.cfg.n_ctx;
  const room = nCtx - promptIds.length;
  const maxNew = Math.max(0, Math.min(o.maxTokens, room));
  const eos = tok.eosTokenId ?? model.cfg.eosTokenId ?? null;
  const generated: number[] = [];
  let stopAt = -1; // index in the answer's text where a stop string begins
  let emitted = "";
  const promptText = o.continuation ? tok.decode(promptIds) : "";
  const textOf = (ids: readonly number[]): string => {
    const own = ids.filter((id) => id !== eos);
    if (!o.continuation) return tok.decode(own);
    const whole = tok.decode([...promptIds, ...own]);
    return whole.startsWith(promptText) ? whole.slice(promptText.length) : tok.decode(own);
  };
  try {
    if (maxNew > 0) {
      generate(model, [promptIds.slice()], {
        maxNewTokens: maxNew,
        temperature: o.temperature,
        topP: o.topP,
        seed: o.seed,
        onStep: (_step, next) => {
          const id = next[0];
          if (id < 0) return;
          generated.push(id);
          if (o.stop.length === 0 && !o.onToken) return;
          const text = textOf(generated);
          if (o.stop.length > 0) {
            const hits = o.stop.map((s) => text.indexOf(s)).filter((i) => i >= 0);
            if (hits.length > 0) {
              stopAt = Math.min(...hits);
              throw new StopSignal();
            }
          }
          if (o.onToken && text.startsWith(emitted) && text.length > emitted.length) {
            // Hold back a tail that could be the start of a stop string, so streamed text never shows one.
            const hold = o.stop.reduce((h, s) => Math.max(h, overlap(text, s)), 0);
            const upto = text.length - hold;
            if (upto > emitted.length) {
              o.onToken(text.slice(emitted.length, upto));
              emitted = text.slice(0, upto);
            }
          }
        },
      });
    }
  } catch (e) {
    if (!(e instanceof StopSignal)) throw e;
  }
  const full = textOf(generated);
  let finishReason: "stop" | "length" = generated.length > 0 && generated[generated.length - 1] === eos ? "stop" : "length";
  let text = full;
  if (stopAt >= 0) {
    text = full.slice(0, stopAt);
    finishReason = "stop";
  }
  if (o.onToken && text.length > emitted.length && text.startsWith(emitted)) o.onToken(text.slice(emitted.length));

  // The answer's tokens: drop EOS, and tokens that only add text at or after the stop string.
  const answerIds: number[] = [];
  const pieces: string[] = [];
  let prev = "";
  for (const id of generated) {
    if (id === eos) break;
    const cur = textOf([...answerIds, id]);
    if (prev.length >= text.length && stopAt >= 0) break;
    answerIds.push(id);
    pieces.push(cur.startsWith(prev) ? cur.slice(prev.length) : (tok.idToToken(id) ?? ""));
    prev = cur;
  }
  const tokens: EngineToken[] = answerIds.map((id, i) => ({ id, text: pieces[i], logprob: NaN, top: [] }));
  if (o.topLogprobs >= 0 && answerIds.length > 0) fillLogprobs(model, promptIds, answerIds, tokens, o.topLogprobs, textOf);
  return { text, finishReason, tokens, promptTokens: promptIds.length, completionTokens: generated.length };
}

/** Length of the longest proper prefix of `stop` that `text` ends with. */
function overlap(text: string, stop: string): number {
  for (let k = Math.min(stop.length - 1, text.length); k > 0; k--) if (text.endsWith(stop.slice(0, k))) return k;
  return 0;
}

function fillLogprobs(
  model: HookedTransformer,
  promptIds: readonly number[],
  answerIds: readonly number[],
  tokens: EngineToken[],
  k: number,
  textOf: (ids: readonly number[]) => string,
): void {
  const seq = [...promptIds, ...answerIds];
  const input = seq.slice(0, -1);
  const P = promptIds.length;
  const A = answerIds.length;
  const V = model.cfg.d_vocab;
  const rows = tf.tidy(() => {
    const logits = model.forward(tf.tensor2d(input, [1, input.length], "int32"), {});
    return tf.logSoftmax(logits.slice([0, P - 1, 0], [1, A, V]).reshape([A, V]));
  });
  const data = rows.dataSync() as Float32Array;
  rows.dispose();
  for (let i = 0; i < A; i++) {
    const row = data.subarray(i * V, (i + 1) * V);
    tokens[i].logprob = row[answerIds[i]];
    if (k > 0) {
      const prefix = answerIds.slice(0, i);
      const before = textOf(prefix);
      tokens[i].top = topK(row, k).map((id) => {
        const after = textOf([...prefix, id]);
        const text = after.startsWith(before) && after.length > before.length ? after.slice(before.length) : (model.tokenizer!.idToToken(id) ?? "");
        return { id, text, logprob: row[id] };
      });
    }
  }
}

/** Ids of the k largest entries, largest first (ties: smaller id first). */
function topK(row: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let id = 0; id < row.length; id++) {
    if (best.length < k) {
      best.push(id);
      best.sort((a, b) => row[b] - row[a] || a - b);
    } else if (row[id] > row[best[k - 1]]) {
      best[k - 1] = id;
      best.sort((a, b) => row[b] - row[a] || a - b);
    }
  }
  return best;
}
