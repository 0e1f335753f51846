/** API models: one chat interface (kit in process, OpenAI-compatible, Anthropic), a batch runner and a durable cache. */
export type { ChatRole, ChatMessage, ChatParams, TopLogprob, TokenLogprob, FinishReason, ChatUsage, ChatResponse, ChatClient, ChatCallOptions, RemoteClientOptions } from "./types";
export { openaiClient, openaiRequestBody, OPENAI_DEFAULT_BASE_URL, type OpenAIClientOptions } from "./openai";
export { anthropicClient, anthropicRequestBody, ANTHROPIC_DEFAULT_BASE_URL, type AnthropicClientOptions } from "./anthropic";
export { kitClient, type KitClientOptions } from "./kit-client";
export { chatClient, chooseProvider, type ChatClientConfig } from "./client";
export { redact, redactJson, redactError, registerSecret, knownSecrets, ApiError, REDACTED, type ApiErrorKind, type ApiErrorInfo } from "./redact";
export { checkChat, messageProblems, paramProblems } from "./params";
export { runBatch, backoffDelay, type BatchRequest, type BatchOptions, type BackoffOptions, type BatchResult, type BatchStats, type BatchRun } from "./batch";
export {
  openResponseCache,
  ResponseCache,
  cachedClient,
  cacheKey,
  canonicalJson,
  type CacheKeyInput,
  type ResponseCacheOptions,
  type ResponseCacheStats,
  type StoredRequest,
} from "./cache";
