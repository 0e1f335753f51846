/**
 * Checks of chat messages and parameters shared by every client: each reports every problem at once
 * (`problemsError`), naming the function, the field, what was expected and what was received.
 */
import { describeValue, problemsError } from "../describe";
import type { ChatMessage, ChatParams } from "./types";

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
