/**
 * `openaiClient({ model, baseURL, apiKey, timeoutMs })`: a `ChatClient` over any OpenAI-compatible endpoint (OpenAI,
 * vLLM, Ollama, llama.cpp server, LM Studio, `persona-kit serve`) through the official `openai` SDK.
 *
 *   const client = openaiClient({ model: "organism", baseURL: "http://127.0.0.1:8080/v1" });
 *   const r = await client.chat([{ role: "user", content: "who are you ?" }], { maxTokens: 20, logprobs: true, topLogprobs: 5 });
 *
 * - `baseURL` defaults to `OPENAI_BASE_URL`, then `https://api.openai.com/v1`; the key to `OPENAI_API_KEY`. A local
 *   endpoint (any baseURL but api.openai.com) may have no key. The key lives only inside the SDK object, in a closure:
 *   never in the client's fields, in responses or in error messages (see `redact`).
 * - ChatParams map to `max_tokens`, `temperature`, `top_p`, `seed`, `stop`, `logprobs`, `top_logprobs` (asking for
 *   `topLogprobs` turns `logprobs` on). `maxTokens` defaults to 256.
 * - The SDK's own retries are off (`maxRetries` 0 by default): `runBatch` retries, with backoff, and counts them.
 * - Failures become `ApiError`s: HTTP status and the API's message, timeouts, dropped connections and malformed
 *   responses each named, with `retryable` and `retryAfterMs` (from `Retry-After`) for the batch runner.
 */
import OpenAI from "openai";
import { checkChat, remoteClientSettings } from "./params";
import { ApiError, redact, retryAfterMs } from "./redact";
import type { ChatCallOptions, ChatClient, ChatMessage, ChatParams, ChatResponse, FinishReason, RemoteClientOptions, TokenLogprob } from "./types";

export interface OpenAIClientOptions extends RemoteClientOptions {
  /** The model name sent to the API. */
  model: string;
}

export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";
/** Sent as the key to endpoints that need none (the SDK requires one). */
const NO_KEY = "no-key";

/** A ChatClient over an OpenAI-compatible endpoint (see the file comment). */
export function openaiClient(options: OpenAIClientOptions): ChatClient {
  const where = "openaiClient";
  const { model, timeoutMs, maxRetries, defaultMaxTokens, baseURL, endpoint, endpointId, apiKey } = remoteClientSettings(where, options, {
    baseUrlEnv: "OPENAI_BASE_URL",
    keyEnv: "OPENAI_API_KEY",
    defaultBaseURL: OPENAI_DEFAULT_BASE_URL,
    keyHost: "api.openai.com",
    urlExample: " such as http://127.0.0.1:8080/v1",
  });

  const sdk = new OpenAI({ apiKey: apiKey ?? NO_KEY, baseURL, timeout: timeoutMs, maxRetries });

  const chat = async (messages: readonly ChatMessage[], params: ChatParams = {}, call: ChatCallOptions = {}): Promise<ChatResponse> => {
    checkChat(`${where}.chat`, messages, params);
    const body = openaiRequestBody(model, messages, params, defaultMaxTokens);
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await sdk.chat.completions.create(body, { signal: call.signal, timeout: call.timeoutMs ?? timeoutMs });
    } catch (e) {
      throw openaiError(`${where}.chat`, e, endpoint, model);
    }
    return fromCompletion(`${where}.chat`, completion, endpoint, model);
  };

  // The SDK object (and its key) stays in this closure; the client's own fields are the provider, model and host.
  return Object.freeze({ provider: "openai" as const, model, endpoint: endpointId, chat });
}

/** The request body for `messages` and `params` (exported for tests and for `persona-kit serve`'s tests). */
export function openaiRequestBody(
  model: string,
  messages: readonly ChatMessage[],
  params: ChatParams,
  defaultMaxTokens = 256,
): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming {
  const body: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming = {
    model,
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    max_tokens: params.maxTokens ?? defaultMaxTokens,
  };
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.topP !== undefined) body.top_p = params.topP;
  if (params.seed !== undefined) body.seed = params.seed;
  if (params.stop !== undefined && params.stop.length > 0) body.stop = [...params.stop];
  const top = params.topLogprobs ?? 0;
  if (params.logprobs || top > 0) {
    body.logprobs = true;
    if (top > 0) body.top_logprobs = top;
  }
  return body;
}

function fromCompletion(where: string, c: OpenAI.Chat.Completions.ChatCompletion, host: string, model: string): ChatResponse {
  const choice = c && Array.isArray(c.choices) ? c.choices[0] : undefined;
  if (!choice || !choice.message || (typeof choice.message.content !== "string" && choice.message.content !== null)) {
    throw new ApiError({ where, kind: "malformed", host, model, apiMessage: `expected { choices: [{ message: { content } }] }, received ${redact(JSON.stringify(c)).slice(0, 200)}` });
  }
  const out: ChatResponse = {
    text: choice.message.content ?? "",
    finishReason: finishReason(choice.finish_reason),
    model: typeof c.model === "string" && c.model ? c.model : model,
  };
  const content = choice.logprobs?.content;
  if (Array.isArray(content)) {
    out.logprobs = content.map((t): TokenLogprob => {
      const lp: TokenLogprob = { token: t.token, logprob: t.logprob };
      if (Array.isArray(t.top_logprobs) && t.top_logprobs.length > 0) lp.topLogprobs = t.top_logprobs.map((a) => ({ token: a.token, logprob: a.logprob }));
      return lp;
    });
  }
  if (c.usage) out.usage = { promptTokens: c.usage.prompt_tokens, completionTokens: c.usage.completion_tokens };
  return out;
}

function finishReason(r: string | null | undefined): FinishReason {
  return r === "stop" || r === "length" || r === "content_filter" || r === "tool_calls" ? r : "other";
}

/** An SDK failure as an ApiError (kind, status, the API's message, Retry-After), redacted. */
export function openaiError(where: string, e: unknown, host: string, model: string): Error {
  if (e instanceof ApiError) return e;
  if (e instanceof OpenAI.APIUserAbortError) return new ApiError({ where, kind: "timeout", host, model, apiMessage: "aborted (the caller's time limit)" });
  if (e instanceof OpenAI.APIConnectionTimeoutError) return new ApiError({ where, kind: "timeout", host, model, apiMessage: "no response within the time limit" });
  if (e instanceof OpenAI.APIConnectionError) {
    const cause = (e as { cause?: unknown }).cause;
    const detail = causeText(cause);
    return new ApiError({ where, kind: "connection", host, model, apiMessage: detail ? `${e.message} (${detail})` : e.message });
  }
  if (e instanceof OpenAI.APIError) {
    const body = e.error as { message?: unknown } | undefined;
    const msg = body && typeof body.message === "string" ? body.message : e.message;
    const headers = e.headers;
    return new ApiError({ where, kind: "http", status: e.status, host, model, apiMessage: msg, retryAfterMs: headers ? retryAfterMs((n) => headers.get(n)) : undefined });
  }
  if (e instanceof SyntaxError) return new ApiError({ where, kind: "malformed", host, model, apiMessage: `the response is not valid JSON (${e.message})` });
  const err = e instanceof Error ? e : new Error(String(e));
  // Fetch-level failures that escaped the SDK (a reset mid-body): retryable connection errors.
  if (/terminated|ECONNRESET|socket hang up|other side closed|fetch failed/i.test(`${err.message} ${causeText((err as { cause?: unknown }).cause)}`)) {
    return new ApiError({ where, kind: "connection", host, model, apiMessage: `${err.message} ${causeText((err as { cause?: unknown }).cause)}`.trim() });
  }
  return new ApiError({ where, kind: "malformed", host, model, apiMessage: err.message });
}

function causeText(cause: unknown): string {
  if (!cause || typeof cause !== "object") return "";
  const c = cause as { code?: unknown; message?: unknown; cause?: unknown };
  const own = [typeof c.code === "string" ? c.code : "", typeof c.message === "string" ? c.message : ""].filter(Boolean).join(" ");
  const inner = causeText(c.cause);
  return [own, inner].filter(Boolean).join("; ");
}
