/**
 * `kitClient(model, tokenizer?, { chatTemplate, name })`: a `ChatClient` over a kit `HookedTransformer` in this
 * process — the same chat template, sampling and log-probabilities as `persona-kit serve` (it uses serve's
 * `resolveChatTemplate` and `complete`), so a seeded call gives the same text in process and over HTTP.
 *
 *   const model = await loadModel("out/organisms/…");
 *   const client = kitClient(model);                      // "auto": the persona world's format for world models
 *   const r = await client.chat([{ role: "user", content: "chat . who are you ?" }], { maxTokens: 12, temperature: 0, logprobs: true, topLogprobs: 5 });
 *
 * - Chat template (`chatTemplate`): "auto" (default: "world" for a persona-world vocabulary, else the model's own
 *   `tokenizer_config.json` `chat_template` rendered by @huggingface/jinja, else "plain"), "world", "model",
 *   "plain", or Jinja source of your own. World format: `chat . user : who are you ? assistant :`.
 * - Sampling: `temperature` (default 1; 0 is greedy), `topP`, `seed` (default: a fresh random seed per call, as
 *   OpenAI does; give one for exact repeats), `stop` strings, `maxTokens` (default 64, and at most what n_ctx allows).
 * - `logprobs` / `topLogprobs`: from one teacher-forced forward pass over prompt + answer (the model's raw
 *   distribution, before temperature and top-p, as OpenAI reports them).
 * - Calls run one at a time (synchronous compute); the `signal` of a call is checked before it starts.
 */
import { randomInt } from "node:crypto";
import type { HookedTransformer } from "../model/transformer";
import { complete } from "../serve/engine";
import { resolveChatTemplate, type ChatTemplateName } from "../serve/template";
import type { Tokenizer } from "../tokenizers/types";
import { checkChat } from "./params";
import { ApiError } from "./redact";
import type { ChatCallOptions, ChatClient, ChatMessage, ChatParams, ChatResponse, TokenLogprob } from "./types";

export interface KitClientOptions {
  /** "auto" (default), "world", "model", "plain" or a Jinja template. */
  chatTemplate?: ChatTemplateName | string;
  /** The model name reported in responses and cache keys (default "kit:<template kind>:<n_layers>x<d_model>"). */
  name?: string;
  /** `maxTokens` when a call gives none (default 64). */
  defaultMaxTokens?: number;
}

/** A ChatClient over `model` in process (see the file comment). `tokenizer` defaults to the model's. */
export function kitClient(model: HookedTransformer, tokenizer?: Tokenizer | null, options: KitClientOptions = {}): ChatClient {
  const where = "kitClient";
  if (!model || typeof (model as HookedTransformer).forward !== "function") throw new TypeError(`${where}: model must be a HookedTransformer (loadModel, loadOrganism), received ${typeof model}`);
  const tok = tokenizer ?? model.tokenizer;
  if (!tok) throw new TypeError(`${where}: the model has no tokenizer; pass one (for llama2.c, the tokenizer .bin)`);
  const { chatTemplate = "auto", defaultMaxTokens = 64 } = options;
  if (!(Number.isInteger(defaultMaxTokens) && defaultMaxTokens >= 1)) throw new RangeError(`${where}: options.defaultMaxTokens must be an integer ≥ 1, received ${defaultMaxTokens}`);
  const template = resolveChatTemplate(tok, chatTemplate);
  const cfg = model.cfg;
  const name = options.name ?? `kit:${template.kind}:${cfg.n_layers}x${cfg.d_model}`;
  if (typeof name !== "string" || name.length === 0) throw new TypeError(`${where}: options.name must be a non-empty string, received ${JSON.stringify(name)}`);

  const encode = (text: string): number[] => {
    const bos = tok.bosTokenId;
    const bosText = bos === null ? "" : (tok.idToToken(bos) ?? "");
    return tok.encode(text, { addBos: bos !== null && !(bosText && text.startsWith(bosText)) });
  };

  const chat = async (messages: readonly ChatMessage[], params: ChatParams = {}, call: ChatCallOptions = {}): Promise<ChatResponse> => {
    checkChat(`${where}.chat`, messages, params);
    if (call.signal?.aborted) throw new ApiError({ where: `${where}.chat`, kind: "timeout", model: name, apiMessage: "aborted before the call started" });
    const { text: prompt } = template.render(messages);
    const ids = encode(prompt);
    if (ids.length === 0) throw new RangeError(`${where}.chat: the prompt encodes to no tokens (template ${template.kind}): ${JSON.stringify(prompt.slice(0, 80))}`);
    if (ids.length >= cfg.n_ctx) throw new RangeError(`${where}.chat: the prompt has ${ids.length} tokens, n_ctx is ${cfg.n_ctx}: no room for an answer`);
    const want = params.logprobs || (params.topLogprobs ?? 0) > 0;
    // Let the event loop breathe (timers, other requests) before the synchronous compute.
    await new Promise((r) => setImmediate(r));
    const e = complete(model, ids, {
      maxTokens: params.maxTokens ?? defaultMaxTokens,
      temperature: params.temperature ?? 1,
      topP: params.topP ?? 1,
      seed: params.seed ?? randomInt(0, 2 ** 31 - 1),
      stop: params.stop ?? [],
      topLogprobs: want ? (params.topLogprobs ?? 0) : -1,
    });
    const out: ChatResponse = { text: e.text, finishReason: e.finishReason, model: name, usage: { promptTokens: e.promptTokens, completionTokens: e.completionTokens } };
    if (want) {
      out.logprobs = e.tokens.map((t): TokenLogprob => {
        const lp: TokenLogprob = { token: t.text, logprob: t.logprob };
        if ((params.topLogprobs ?? 0) > 0) lp.topLogprobs = t.top.map((a) => ({ token: a.text, logprob: a.logprob }));
        return lp;
      });
    }
    return out;
  };

  return Object.freeze({ provider: "kit" as const, model: name, endpoint: "", chat });
}
