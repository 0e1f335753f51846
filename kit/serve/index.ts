/** `persona-kit serve`: a kit model behind the OpenAI API (see server.ts). */
export { startServer, type ServerOptions, type RunningServer } from "./server";
export { ServeError, type ServeErrorType } from "./errors";
export { resolveChatTemplate, isWorldTokenizer, type ChatTemplate, type ChatTemplateName, type TemplateMessage } from "./template";
export { parseChatRequest, parseCompletionRequest, MAX_N, MAX_STOP, type ChatRequest, type CompletionRequest, type SamplingRequest } from "./request";
export { complete, type EngineOptions, type EngineResult, type EngineToken } from "./engine";
