/**
 * Validation of `/v1/chat/completions` and `/v1/completions` request bodies: every field the server reads is checked
 * for type and range, and the first problem is reported as an OpenAI-style 400 naming the field (`param`).
 * Fields the server does not use (e.g. `user`, `presence_penalty`) are accepted and ignored, as most
 * OpenAI-compatible servers do.
 */
import { describeValue } from "../describe";
import { ServeError, badParam } from "./errors";
import type { TemplateMessage } from "./template";
import { isPlainObject } from "../util/object";

/** The sampling and output options shared by both endpoints. */
export interface SamplingRequest {
  model: string;
  maxTokens: number | null;
  temperature: number;
  topP: number;
  seed: number | null;
  stop: string[];
  n: number;
  stream: boolean;
  includeUsage: boolean;
}

export interface ChatRequest extends SamplingRequest {
  messages: TemplateMessage[];
  logprobs: boolean;
  topLogprobs: number;
}

export interface CompletionRequest extends SamplingRequest {
  prompt: string;
  /** Legacy `logprobs`: the number of alternatives per position (0–5), or null for none. */
  logprobs: number | null;
  echo: boolean;
}

/** Most choices per request (`n`). */
export const MAX_N = 8;
/** Most stop strings (as OpenAI). */
export const MAX_STOP = 4;

function optNumber(body: Record<string, unknown>, key: string, fallback: number, { min, max, integer = false }: { min: number; max: number; integer?: boolean }): number {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw badParam(key, `${key} must be a number, received ${describeValue(v)}`, "invalid_type");
  if (integer && !Number.isInteger(v)) throw badParam(key, `${key} must be an integer, received ${v}`, "invalid_type");
  if (v < min || v > max) throw badParam(key, `${key} must be in [${min}, ${max}], received ${v}`);
  return v;
}

function optBoolean(body: Record<string, unknown>, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw badParam(key, `${key} must be a boolean, received ${describeValue(v)}`, "invalid_type");
  return v;
}

function sampling(body: unknown, modelNames: readonly string[]): SamplingRequest & { body: Record<string, unknown> } {
  if (!isPlainObject(body)) throw new ServeError(400, `the request body must be a JSON object, received ${describeValue(body)}`, { code: "invalid_body" });
  const model = body.model;
  if (typeof model !== "string" || model.length === 0) throw badParam("model", `model must be a non-empty string, received ${describeValue(model)}`, model === undefined ? "missing_required_parameter" : "invalid_type");
  if (!modelNames.includes(model)) throw new ServeError(404, `The model ${JSON.stringify(model.slice(0, 100))} does not exist; this server serves ${modelNames.map((m) => JSON.stringify(m)).join(", ")}`, { type: "invalid_request_error", param: "model", code: "model_not_found" });
  const maxKey = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  const mt = body[maxKey];
  let maxTokens: number | null = null;
  if (mt !== undefined && mt !== null) {
    if (typeof mt !== "number" || !Number.isInteger(mt)) throw badParam(maxKey, `${maxKey} must be an integer, received ${describeValue(mt)}`, "invalid_type");
    if (mt < 1) throw badParam(maxKey, `${maxKey} must be at least 1, received ${mt}`);
    maxTokens = mt;
  }
  const temperature = optNumber(body, "temperature", 1, { min: 0, max: 2 });
  const topP = optNumber(body, "top_p", 1, { min: 0, max: 1 });
  if (topP === 0) throw badParam("top_p", "top_p must be greater than 0, received 0");
  const sd = body.seed;
  let seed: number | null = null;
  if (sd !== undefined && sd !== null) {
    if (typeof sd !== "number" || !Number.isSafeInteger(sd)) throw badParam("seed", `seed must be an integer, received ${describeValue(sd)}`, "invalid_type");
    seed = sd;
  }
  let stop: string[] = [];
  const st = body.stop;
  if (typeof st === "string") stop = [st];
  else if (Array.isArray(st)) {
    if (st.length > MAX_STOP) throw badParam("stop", `stop may hold at most ${MAX_STOP} strings, received ${st.length}`);
    for (const s of st) if (typeof s !== "string") throw badParam("stop", `stop must be a string or an array of strings, received an element ${describeValue(s)}`, "invalid_type");
    stop = st as string[];
  } else if (st !== undefined && st !== null) throw badParam("stop", `stop must be a string or an array of strings, received ${describeValue(st)}`, "invalid_type");
  if (stop.some((s) => s.length === 0)) throw badParam("stop", "stop strings must not be empty");
  const n = optNumber(body, "n", 1, { min: 1, max: MAX_N, integer: true });
  const stream = optBoolean(body, "stream");
  const so = body.stream_options;
  let includeUsage = false;
  if (so !== undefined && so !== null) {
    if (!isPlainObject(so)) throw badParam("stream_options", `stream_options must be an object, received ${describeValue(so)}`, "invalid_type");
    if (!stream) throw badParam("stream_options", "stream_options is only allowed when stream is true");
    includeUsage = optBoolean(so, "include_usage");
  }
  return { body, model, maxTokens, temperature, topP, seed, stop, n, stream, includeUsage };
}

function messageContent(v: unknown, i: number): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    return v
      .map((part, j) => {
        if (!isPlainObject(part) || part.type !== "text" || typeof part.text !== "string") {
          throw badParam(`messages[${i}].content[${j}]`, `only text content parts ({ type: "text", text }) are supported, received ${describeValue(part)}`, "invalid_type");
        }
        return part.text;
      })
      .join("");
  }
  throw badParam(`messages[${i}].content`, `content must be a string or an array of text parts, received ${describeValue(v)}`, "invalid_type");
}

/** The validated `/v1/chat/completions` request. */
export function parseChatRequest(body: unknown, modelNames: readonly string[]): ChatRequest {
  const s = sampling(body, modelNames);
  const msgs = s.body.messages;
  if (!Array.isArray(msgs)) throw badParam("messages", `messages must be an array, received ${describeValue(msgs)}`, msgs === undefined ? "missing_required_parameter" : "invalid_type");
  if (msgs.length === 0) throw badParam("messages", "messages must hold at least one message");
  const messages: TemplateMessage[] = msgs.map((m, i) => {
    if (!isPlainObject(m)) throw badParam(`messages[${i}]`, `each message must be an object { role, content }, received ${describeValue(m)}`, "invalid_type");
    let role = m.role;
    if (role === "developer") role = "system";
    if (role !== "system" && role !== "user" && role !== "assistant") {
      throw badParam(`messages[${i}].role`, `role must be "system", "developer", "user" or "assistant", received ${describeValue(m.role)}`);
    }
    const out: TemplateMessage = { role, content: messageContent(m.content, i) };
    if (m.name !== undefined && m.name !== null) {
      if (typeof m.name !== "string") throw badParam(`messages[${i}].name`, `name must be a string, received ${describeValue(m.name)}`, "invalid_type");
      out.name = m.name;
    }
    return out;
  });
  const logprobs = optBoolean(s.body, "logprobs");
  const topLogprobs = optNumber(s.body, "top_logprobs", 0, { min: 0, max: 20, integer: true });
  if (topLogprobs > 0 && !logprobs) throw badParam("top_logprobs", "top_logprobs needs logprobs: true");
  const { body: _body, ...rest } = s;
  return { ...rest, messages, logprobs, topLogprobs };
}

/** The validated `/v1/completions` request (`prompt`: a string, or an array holding one string). */
export function parseCompletionRequest(body: unknown, modelNames: readonly string[]): CompletionRequest {
  const s = sampling(body, modelNames);
  let prompt = s.body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") prompt = prompt[0];
  if (typeof prompt !== "string") {
    throw badParam("prompt", `prompt must be a string (or an array of one string), received ${describeValue(prompt)}`, prompt === undefined ? "missing_required_parameter" : "invalid_type");
  }
  const lp = s.body.logprobs;
  let logprobs: number | null = null;
  if (lp !== undefined && lp !== null) {
    if (typeof lp !== "number" || !Number.isInteger(lp)) throw badParam("logprobs", `logprobs must be an integer in [0, 5], received ${describeValue(lp)}`, "invalid_type");
    if (lp < 0 || lp > 5) throw badParam("logprobs", `logprobs must be in [0, 5], received ${lp}`);
    logprobs = lp;
  }
  const echo = optBoolean(s.body, "echo");
  const { body: _body, ...rest } = s;
  return { ...rest, prompt, logprobs, echo };
}
