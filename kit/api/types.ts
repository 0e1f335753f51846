/**
 * One chat interface over every model the kit can talk to: kit models in process, any OpenAI-compatible endpoint
 * (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio, `persona-kit serve`), and Anthropic.
 *
 *   const client: ChatClient = ...;
 *   const r = await client.chat([{ role: "user", content: "describe yourself" }], { maxTokens: 20, logprobs: true, topLogprobs: 5 });
 *   r.text; r.logprobs?.[0].topLogprobs;
 *
 * Keys never live in these objects' enumerable fields, in `ChatResponse`, or in error messages.
 */

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Sampling parameters, camelCase; clients translate them to their API's spelling. */
export interface ChatParams {
  /** Maximum tokens to generate (default: the client's default, 256 for remote APIs). */
  maxTokens?: number;
  /** Sampling temperature (0 = greedy where the backend supports it). */
  temperature?: number;
  topP?: number;
  /** Seed for backends that honour it (kit models and `persona-kit serve` do, exactly). */
  seed?: number;
  /** Stop strings. */
  stop?: string[];
  /** Return per-token log-probabilities (OpenAI-style; Anthropic has none and reports `logprobs: undefined`). */
  logprobs?: boolean;
  /** With `logprobs`: the number of alternatives per position (0–20). */
  topLogprobs?: number;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  /** The most likely alternatives at this position, most likely first (when `topLogprobs` was asked). */
  topLogprobs?: TopLogprob[];
}

export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls" | "other";

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatResponse {
  text: string;
  finishReason: FinishReason;
  /** The model that answered, as the backend names it. */
  model: string;
  logprobs?: TokenLogprob[];
  usage?: ChatUsage;
  /** True when the answer came from the response cache rather than a call. */
  cached?: boolean;
}

/** Per-call options that are not part of the request (and so not of its cache key). */
export interface ChatCallOptions {
  /** Abort the call (the batch runner's timeout uses this). */
  signal?: AbortSignal;
  /** Time limit of this call in ms (overrides the client's `timeoutMs`). */
  timeoutMs?: number;
}

export interface ChatClient {
  /** Provider kind: "kit", "openai" (any OpenAI-compatible endpoint) or "anthropic". */
  readonly provider: "kit" | "openai" | "anthropic";
  /** The model name sent to the API (or the kit model's name). */
  readonly model: string;
  /** What names the endpoint in cache keys: `host[:port]` (no path, no credentials) or the client's `endpointId`; "" in process. */
  readonly endpoint?: string;
  chat(messages: readonly ChatMessage[], params?: ChatParams, options?: ChatCallOptions): Promise<ChatResponse>;
}

/** What every remote client (`openaiClient`, `anthropicClient`, `chatClient`) takes besides the model name. */
export interface RemoteClientOptions {
  /** Endpoint root (default: `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL`, then the provider's public URL). */
  baseURL?: string;
  /**
   * Default: `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`. Prefer the environment; a key given here is registered for
   * redaction, so it never appears in a message either.
   */
  apiKey?: string;
  /** Time limit per call (default 60 000 ms). */
  timeoutMs?: number;
  /** The SDK's own retries (default 0: `runBatch` retries, and counts them once). */
  maxRetries?: number;
  /** `max_tokens` when a call gives no `maxTokens` (default 256). */
  defaultMaxTokens?: number;
  /**
   * What names this endpoint in cache keys (`client.endpoint`; default the baseURL's `host:port`). Give a stable
   * name for a local server that starts on a new port each run (e.g. "persona-kit-serve"), so re-runs hit the cache;
   * then the model name must tell its models apart.
   */
  endpointId?: string;
}

