/**
 * `anthropicClient({ model, baseURL, apiKey, timeoutMs })`: a `ChatClient` over Anthropic's Messages API through the
 * official `@anthropic-ai/sdk`.
 *
 *   const client = anthropicClient({ model: "claude-sonnet-4-5" }); // key from ANTHROPIC_API_KEY
 *   const r = await client.chat([{ role: "system", content: "you are terse" }, { role: "user", content: "hi" }]);
 *
 * - The key comes from `ANTHROPIC_API_KEY` (or `apiKey`, redacted like the environment's); `baseURL` from
 *   `ANTHROPIC_BASE_URL`, then Anthropic's (the SDK appends `/v1/messages`). A non-Anthropic host may have no key.
 * - System messages become the `system` field (joined by blank lines); `maxTokens` → `max_tokens` (default 256),
 *   `temperature`, `topP` → `top_p` (sent only when given: newer Claude models reject them), `stop` → `stop_sequences`. The Messages API has no seed and no log-probabilities:
 *   `seed` is not sent and responses have `logprobs: undefined` (judges then parse the number from the text).
 * - SDK retries off (`runBatch` retries); failures become `ApiError`s as in `openaiClient`.
 */
import Anthropic from "@anthropic-ai/sdk";
import { checkChat, remoteClientSettings } from "./params";
import { ApiError, redact, retryAfterMs } from "./redact";
import type { ChatCallOptions, ChatClient, ChatMessage, ChatParams, ChatResponse, FinishReason, RemoteClientOptions } from "./types";

export interface AnthropicClientOptions extends RemoteClientOptions {
  /** The model name sent to the API. */
  model: string;
}

export const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";

/** A ChatClient over the Anthropic Messages API (see the file comment). */
export function anthropicClient(options: AnthropicClientOptions): ChatClient {
  const where = "anthropicClient";
  const { model, timeoutMs, maxRetries, defaultMaxTokens, baseURL, endpoint, endpointId, apiKey } = remoteClientSettings(where, options, {
    baseUrlEnv: "ANTHROPIC_BASE_URL",
    keyEnv: "ANTHROPIC_API_KEY",
    defaultBaseURL: ANTHROPIC_DEFAULT_BASE_URL,
    keyHost: "api.anthropic.com",
  });

  const sdk = new Anthropic({ apiKey: apiKey ?? "no-key", baseURL, timeout: timeoutMs, maxRetries });

  const chat = async (messages: readonly ChatMessage[], params: ChatParams = {}, call: ChatCallOptions = {}): Promise<ChatResponse> => {
    checkChat(`${where}.chat`, messages, params);
    const body = anthropicRequestBody(model, messages, params, defaultMaxTokens);
    let msg: Anthropic.Messages.Message;
    try {
      msg = (await sdk.messages.create(body, { signal: call.signal, timeout: call.timeoutMs ?? timeoutMs })) as Anthropic.Messages.Message;
    } catch (e) {
      throw anthropicError(`${where}.chat`, e, endpoint, model);
    }
    if (!msg || !Array.isArray(msg.content)) {
      throw new ApiError({ where: `${where}.chat`, kind: "malformed", host: endpoint, model, apiMessage: `expected { content: [{ type: "text", text }] }, received ${redact(JSON.stringify(msg)).slice(0, 200)}` });
    }
    const text = msg.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    const out: ChatResponse = { text, finishReason: stopReason(msg.stop_reason), model: typeof msg.model === "string" && msg.model ? msg.model : model };
    if (msg.usage) out.usage = { promptTokens: msg.usage.input_tokens, completionTokens: msg.usage.output_tokens };
    return out;
  };

  return Object.freeze({ provider: "anthropic" as const, model, endpoint: endpointId, chat });
}

/** The Messages API request for `messages` and `params`: system messages moved to `system`. */
export function anthropicRequestBody(model: string, messages: readonly ChatMessage[], params: ChatParams, defaultMaxTokens = 256): Anthropic.Messages.MessageCreateParamsNonStreaming {
  const system = messages.filter((m) => m.role === "system").map((m) => m.content);
  const turns = messages.filter((m) => m.role !== "system").map((m) => ({ role: m.role as "user" | "assistant", content: m.content }));
  // temperature and top_p are not in this SDK's types (newer Claude models take neither); sent only when asked.
  const body: Anthropic.Messages.MessageCreateParamsNonStreaming & { temperature?: number; top_p?: number } = { model, max_tokens: params.maxTokens ?? defaultMaxTokens, messages: turns };
  if (system.length > 0) body.system = system.join("\n\n");
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.topP !== undefined) body.top_p = params.topP;
  if (params.stop !== undefined && params.stop.length > 0) body.stop_sequences = [...params.stop];
  return body;
}

function stopReason(r: string | null | undefined): FinishReason {
  if (r === "end_turn" || r === "stop_sequence") return "stop";
  if (r === "max_tokens") return "length";
  if (r === "tool_use") return "tool_calls";
  if (r === "refusal") return "content_filter";
  return "other";
}

function anthropicError(where: string, e: unknown, host: string, model: string): Error {
  if (e instanceof ApiError) return e;
  if (e instanceof Anthropic.APIUserAbortError) return new ApiError({ where, kind: "timeout", host, model, apiMessage: "aborted (the caller's time limit)" });
  if (e instanceof Anthropic.APIConnectionTimeoutError) return new ApiError({ where, kind: "timeout", host, model, apiMessage: "no response within the time limit" });
  if (e instanceof Anthropic.APIConnectionError) return new ApiError({ where, kind: "connection", host, model, apiMessage: e.message });
  if (e instanceof Anthropic.APIError) {
    const body = e.error as { error?: { message?: unknown }; message?: unknown } | undefined;
    const msg = typeof body?.error?.message === "string" ? body.error.message : typeof body?.message === "string" ? body.message : e.message;
    const headers = e.headers;
    return new ApiError({ where, kind: "http", status: e.status, host, model, apiMessage: msg, retryAfterMs: headers ? retryAfterMs((n) => headers.get(n)) : undefined });
  }
  if (e instanceof SyntaxError) return new ApiError({ where, kind: "malformed", host, model, apiMessage: `the response is not valid JSON (${e.message})` });
  return new ApiError({ where, kind: "malformed", host, model, apiMessage: e instanceof Error ? e.message : String(e) });
}
