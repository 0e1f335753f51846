/**
 * Keys stay secret: the one redaction function every error and log path of `kit/api` goes through, and the error
 * type that API failures become.
 *
 * Secrets are the values of the environment's key variables (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, and any variable
 * whose name ends in `KEY`, `TOKEN` or `SECRET` after an underscore, with a value of 12+ characters), read at each call, plus any key a client was given
 * explicitly (registered with `registerSecret`). `redact(text)` replaces every occurrence of each (and the shapes of
 * common keys: `sk-…`, `Bearer …`) with `[REDACTED]`.
 *
 *   try { await client.chat(messages); } catch (e) { console.log(e.message); } // never contains the key
 *   // openaiClient.chat: HTTP 400 from 127.0.0.1:8080 (model gpt-x): Unknown parameter 'foo'
 */

export const REDACTED = "[REDACTED]";

const registered = new Set<string>();

/** Treat `secret` as a key from now on (clients call this for an explicitly given key). Short strings are ignored. */
export function registerSecret(secret: string | undefined | null): void {
  if (typeof secret === "string" && secret.length >= 8) registered.add(secret);
}

const SECRET_VAR = /(^|_)(API_KEY|TOKEN|SECRET|KEY)$/;

/** The secrets known now: keys in the environment and registered ones, longest first (so overlaps redact fully). */
export function knownSecrets(): string[] {
  const out = new Set<string>(registered);
  for (const [name, value] of Object.entries(process.env)) {
    if (value && value.length >= 12 && SECRET_VAR.test(name)) out.add(value);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/** Shapes of keys that must never be printed even when they are not in the environment. */
const KEY_SHAPES: RegExp[] = [/\bsk-[A-Za-z0-9_\-]{12,}/g, /\b(Bearer\s+)[A-Za-z0-9._\-~+/=]{8,}/gi, /\b(x-api-key["']?\s*[:=]\s*["']?)[^"'\s,}]{8,}/gi];

/** `text` with every known secret (see the file comment) replaced by `[REDACTED]`. */
export function redact(text: string): string {
  let out = String(text);
  for (const s of knownSecrets()) if (out.includes(s)) out = out.split(s).join(REDACTED);
  for (const re of KEY_SHAPES) out = out.replace(re, (m, prefix?: string) => (typeof prefix === "string" && m.startsWith(prefix) ? `${prefix}${REDACTED}` : REDACTED));
  return out;
}

/** JSON of `value`, redacted (for logs and records). */
export function redactJson(value: unknown): string {
  return redact(JSON.stringify(value));
}

export type ApiErrorKind = "http" | "timeout" | "connection" | "malformed" | "config";

export interface ApiErrorInfo {
  /** The function that failed, e.g. "openaiClient.chat". */
  where: string;
  kind: ApiErrorKind;
  /** HTTP status, for kind "http". */
  status?: number;
  /** The API's own message (or the transport's), redacted. */
  apiMessage: string;
  /** The host (and port) the call went to; never a URL with credentials. */
  host?: string;
  model?: string;
  /** From a `Retry-After` (or `retry-after-ms`) header, in milliseconds. */
  retryAfterMs?: number;
}

/**
 * An API call that failed. `retryable` is true for 408, 409, 429, 5xx, timeouts, dropped connections and malformed
 * responses, false for other 4xx and configuration errors. The message names the function, the status and the API's
 * message, with every key redacted.
 */
export class ApiError extends Error {
  readonly where: string;
  readonly kind: ApiErrorKind;
  readonly status?: number;
  readonly apiMessage: string;
  readonly host?: string;
  readonly model?: string;
  readonly retryAfterMs?: number;
  readonly retryable: boolean;

  constructor(info: ApiErrorInfo) {
    const apiMessage = redact(info.apiMessage);
    const what = info.kind === "http" ? `HTTP ${info.status}` : info.kind === "timeout" ? "timed out" : info.kind === "connection" ? "connection failed" : info.kind === "malformed" ? "malformed response" : "configuration error";
    const from = info.host ? ` at ${redact(info.host)}` : "";
    const model = info.model ? ` (model ${redact(info.model)})` : "";
    super(`${info.where}: ${what}${from}${model}: ${apiMessage}`);
    this.name = "ApiError";
    this.where = info.where;
    this.kind = info.kind;
    this.status = info.status;
    this.apiMessage = apiMessage;
    this.host = info.host === undefined ? undefined : redact(info.host);
    this.model = info.model;
    this.retryAfterMs = info.retryAfterMs;
    this.retryable = isRetryable(info.kind, info.status);
  }
}

function isRetryable(kind: ApiErrorKind, status: number | undefined): boolean {
  if (kind === "timeout" || kind === "connection" || kind === "malformed") return true;
  if (kind !== "http" || status === undefined) return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Milliseconds to wait from `Retry-After` (seconds or an HTTP date) or `retry-after-ms`; undefined when absent/invalid. */
export function retryAfterMs(get: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const ms = get("retry-after-ms");
  if (ms != null && ms.trim() !== "" && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const ra = get("retry-after");
  if (ra == null || ra.trim() === "") return undefined;
  if (Number.isFinite(Number(ra)) && Number(ra) >= 0) return Number(ra) * 1000;
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** An Error whose message (and stack) are redacted; ApiErrors pass through. For every catch that rethrows or logs. */
export function redactError(e: unknown, where?: string): Error {
  if (e instanceof ApiError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const err = new Error(redact(where && !msg.startsWith(where) ? `${where}: ${msg}` : msg));
  if (e instanceof Error) err.name = e.name;
  if (e instanceof Error && e.stack) err.stack = redact(e.stack.replace(e.message, err.message));
  return err;
}

/** `host[:port]` of a URL string (no path, no credentials); "" when it does not parse. */
export function hostOf(url: string | undefined): string {
  if (!url) return "";
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}
