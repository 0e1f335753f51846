/**
 * Checks of chat messages and parameters shared by every client: each reports every problem at once
 * (`problemsError`), naming the function, the field, what was expected and what was received.
 */
import { describeValue, problemsError } from "../describe";
import { hostOf, redact, registerSecret } from "./redact";
import type { ChatMessage, ChatParams, RemoteClientOptions } from "./types";

const ROLES = new Set(["system", "user", "assistant"]);

/** Problems of `messages` (an empty list when they are fine). */
export function messageProblems(messages: unknown): string[] {
  if (!Array.isArray(messages)) return [`messages must be an array of { role, content }, received ${describeValue(messages)}`];
  if (messages.length === 0) return ["messages is empty; give at least one { role: \"user\", content }"];
  const out: string[] = [];
  messages.forEach((m: unknown, i) => {
    if (m === null || typeof m !== "object") {
      out.push(`messages[${i}] must be { role, content }, received ${describeValue(m)}`);
      return;
    }
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== "string" || !ROLES.has(role)) out.push(`messages[${i}].role must be "system", "user" or "assistant", received ${describeValue(role)}`);
    if (typeof content !== "string") out.push(`messages[${i}].content must be a string, received ${describeValue(content)}`);
  });
  return out;
}

/** Problems of `params` (an empty list when they are fine). */
export function paramProblems(params: unknown): string[] {
  if (params === undefined) return [];
  if (params === null || typeof params !== "object") return [`params must be an object, received ${describeValue(params)}`];
  const p = params as Record<string, unknown>;
  const out: string[] = [];
  const num = (k: string, ok: (v: number) => boolean, expected: string) => {
    const v = p[k];
    if (v !== undefined && !(typeof v === "number" && ok(v))) out.push(`params.${k} must be ${expected}, received ${describeValue(v)}`);
  };
  num("maxTokens", (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1");
  num("temperature", (v) => Number.isFinite(v) && v >= 0, "a finite number ≥ 0");
  num("topP", (v) => Number.isFinite(v) && v > 0 && v <= 1, "a number in (0, 1]");
  num("seed", (v) => Number.isSafeInteger(v), "an integer");
  num("topLogprobs", (v) => Number.isInteger(v) && v >= 0 && v <= 20, "an integer in [0, 20]");
  if (p.stop !== undefined && !(Array.isArray(p.stop) && p.stop.every((s) => typeof s === "string" && s.length > 0))) {
    out.push(`params.stop must be an array of non-empty strings, received ${describeValue(p.stop)}`);
  }
  if (p.logprobs !== undefined && typeof p.logprobs !== "boolean") out.push(`params.logprobs must be a boolean, received ${describeValue(p.logprobs)}`);
  const known = new Set(["maxTokens", "temperature", "topP", "seed", "stop", "logprobs", "topLogprobs"]);
  for (const k of Object.keys(p)) if (!known.has(k) && p[k] !== undefined) out.push(`params.${k} is not a chat parameter (known: ${[...known].join(", ")})`);
  return out;
}

/** Throw one RangeError listing every problem of `messages` and `params`. */
export function checkChat(where: string, messages: unknown, params: unknown): asserts messages is readonly ChatMessage[] {
  const problems = [...messageProblems(messages), ...paramProblems(params)];
  if (problems.length > 0) throw problemsError(`${where}: invalid chat request`, problems);
}

/** Parameters with undefined fields dropped (the canonical form for cache keys). */
export function cleanParams(params: ChatParams = {}): ChatParams {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) out[k] = v;
  return out as ChatParams;
}

/** Where a remote provider's defaults come from (`remoteClientSettings`). */
export interface RemoteProvider {
  /** Environment variable of the endpoint root (e.g. OPENAI_BASE_URL). */
  baseUrlEnv: string;
  /** Environment variable of the key (e.g. OPENAI_API_KEY). */
  keyEnv: string;
  /** The provider's public endpoint root, used when neither the options nor the environment give one. */
  defaultBaseURL: string;
  /** The public host that needs a key (e.g. "api.openai.com"). */
  keyHost: string;
  /** Appended to the baseURL problem, e.g. " such as http://127.0.0.1:8080/v1". */
  urlExample?: string;
}

/** A remote client's options resolved against its defaults and the environment, the key registered for redaction. */
export interface RemoteClientSettings {
  model: string;
  timeoutMs: number;
  maxRetries: number;
  defaultMaxTokens: number;
  baseURL: string;
  /** host:port of baseURL. */
  endpoint: string;
  /** What names the endpoint in cache keys (options.endpointId, default `endpoint`). */
  endpointId: string;
  apiKey: string | undefined;
}

/**
 * The options of `openaiClient` / `anthropicClient` checked (every problem in one RangeError) and resolved: defaults,
 * the provider's environment variables for baseURL and key, and the key registered with `redact`.
 */
export function remoteClientSettings(where: string, options: RemoteClientOptions & { model: string }, provider: RemoteProvider): RemoteClientSettings {
  if (options === null || typeof options !== "object") throw new TypeError(`${where}: options must be { model, baseURL?, apiKey?, timeoutMs? }, received ${String(options)}`);
  const { model, timeoutMs = 60_000, maxRetries = 0, defaultMaxTokens = 256 } = options;
  const problems: string[] = [];
  if (typeof model !== "string" || model.length === 0) problems.push(`options.model must be a non-empty string, received ${JSON.stringify(model)}`);
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) problems.push(`options.timeoutMs must be a positive number, received ${timeoutMs}`);
  if (!(Number.isInteger(maxRetries) && maxRetries >= 0)) problems.push(`options.maxRetries must be an integer ≥ 0, received ${maxRetries}`);
  if (!(Number.isInteger(defaultMaxTokens) && defaultMaxTokens >= 1)) problems.push(`options.defaultMaxTokens must be an integer ≥ 1, received ${defaultMaxTokens}`);
  const baseURL = options.baseURL ?? process.env[provider.baseUrlEnv] ?? provider.defaultBaseURL;
  const endpoint = hostOf(baseURL);
  const { endpointId = endpoint } = options;
  if (typeof endpointId !== "string") problems.push(`options.endpointId must be a string, received ${typeof endpointId}`);
  if (!endpoint) problems.push(`options.baseURL must be an http(s) URL${provider.urlExample ?? ""}, received ${JSON.stringify(redact(baseURL))}`);
  const envKey = process.env[provider.keyEnv];
  const apiKey = options.apiKey ?? (envKey && envKey.length > 0 ? envKey : undefined);
  if (apiKey === undefined && endpoint === provider.keyHost) problems.push(`no API key for ${provider.keyHost}: set ${provider.keyEnv} in the environment`);
  if (problems.length > 0) throw new RangeError(`${where}: ${problems.length} problem${problems.length > 1 ? "s" : ""}:\n  - ${problems.join("\n  - ")}`);
  registerSecret(apiKey);
  return { model, timeoutMs, maxRetries, defaultMaxTokens, baseURL, endpoint, endpointId, apiKey };
}

