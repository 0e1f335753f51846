/**
 * Loopback test servers for kit/api: a small OpenAI-compatible chat server (and an Anthropic Messages endpoint) that
 * answer deterministically from the request and log every request they answer, and a fault-injecting proxy that
 * plays a script of faults (429 with Retry-After, 500, slow, malformed JSON, connection reset, 400) before passing
 * requests through. Plain node:http, no dependencies; used by test/api.test.ts and its child processes.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface LoggedRequest {
  path: string;
  /** The request's `messages` last user content (what tests match on). */
  user: string;
  model: string;
  /** Milliseconds since the epoch when the answer was sent. */
  at: number;
  /** The request's fields other than messages (max_tokens, seed, stop, logprobs, system, …). */
  params: Record<string, unknown>;
  /** sha256 (hex) of the key the request carried (`Authorization: Bearer KEY` or `x-api-key: KEY`), "" without one. */
  keySha256: string;
}

export interface FakeServer {
  url: string;
  /** `http://127.0.0.1:PORT/v1`. */
  baseURL: string;
  port: number;
  log: LoggedRequest[];
  /** Most requests being answered at once so far. */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

export interface FakeServerOptions {
  /** Delay before each answer (ms; default 0). */
  delayMs?: number;
  /** Append each answered request as a JSON line to this file (for cross-process checks). */
  logFile?: string;
  port?: number;
}

/** The deterministic answer of the fake model to `user`. */
export function fakeAnswer(user: string, model: string): string {
  return `echo(${model}): ${user}`;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Start the fake OpenAI + Anthropic server on 127.0.0.1. */
export async function startFakeServer(options: FakeServerOptions = {}): Promise<FakeServer> {
  const { delayMs = 0, logFile, port = 0 } = options;
  const log: LoggedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer(async (req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on("close", () => inFlight--);
    try {
      const raw = await readBody(req);
      const url = req.url ?? "";
      if (req.method === "GET" && url.endsWith("/models")) return sendJson(res, 200, { object: "list", data: [{ id: "fake-model", object: "model", created: 0, owned_by: "test" }] });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return sendJson(res, 400, { error: { message: "could not parse the JSON body", type: "invalid_request_error", param: null, code: null } });
      }
      const messages = Array.isArray(body.messages) ? (body.messages as { role: string; content: unknown }[]) : [];
      const lastUser = [...messages].reverse().find((m) => m.role === "user");
      const user = typeof lastUser?.content === "string" ? lastUser.content : Array.isArray(lastUser?.content) ? (lastUser.content as { text?: string }[]).map((b) => b.text ?? "").join("") : "";
      const model = String(body.model ?? "");
      const auth = req.headers.authorization?.replace(/^Bearer\s+/i, "") ?? (req.headers["x-api-key"] as string | undefined) ?? "";
      const keySha256 = auth ? createHash("sha256").update(auth).digest("hex") : "";
      if (user.startsWith("ECHO KEY")) {
        // Like OpenAI's 401, but careless: the message repeats the whole key (redaction must remove it).
        return sendJson(res, 401, { error: { message: `Incorrect API key provided: ${auth}. You can find your API key at https://example.invalid`, type: "invalid_request_error", param: null, code: "invalid_api_key" } });
      }
      if (user.startsWith("BAD REQUEST")) return sendJson(res, 400, { error: { message: `invalid value for 'messages': ${user}`, type: "invalid_request_error", param: "messages", code: null } });
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const text = fakeAnswer(user, model);
      const { messages: _m, ...params } = body;
      const entry: LoggedRequest = { path: url, user, model, at: Date.now(), params, keySha256 };
      if (url.endsWith("/messages")) {
        // Anthropic Messages API
        const system = typeof body.system === "string" ? body.system : "";
        const answer = system ? `${text} [system: ${system}]` : text;
        sendJson(res, 200, {
          id: `msg_${log.length}`,
          type: "message",
          role: "assistant",
          model,
          content: [{ type: "text", text: answer }],
          stop_reason: "end_turn",
          stop_sequence: null,
          usage: { input_tokens: user.split(" ").length, output_tokens: answer.split(" ").length },
        });
      } else {
        const words = text.split(" ");
        const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : 256;
        const shown = words.slice(0, maxTokens);
        const top = typeof body.top_logprobs === "number" ? body.top_logprobs : 0;
        const logprobs = body.logprobs
          ? {
              content: shown.map((w, i) => ({
                token: i === 0 ? w : ` ${w}`,
                logprob: -0.1 * (i + 1),
                bytes: null,
                top_logprobs: Array.from({ length: top }, (_, k) => ({ token: k === 0 ? (i === 0 ? w : ` ${w}`) : `alt${k}`, logprob: -0.1 * (i + 1) - k, bytes: null })),
              })),
              refusal: null,
            }
          : null;
        sendJson(res, 200, {
          id: `chatcmpl-${log.length}`,
          object: "chat.completion",
          created: Math.floor(Date.now() / 1000),
          model,
          choices: [{ index: 0, message: { role: "assistant", content: shown.join(" "), refusal: null }, logprobs, finish_reason: shown.length < words.length ? "length" : "stop" }],
          usage: { prompt_tokens: user.split(" ").length, completion_tokens: shown.length, total_tokens: user.split(" ").length + shown.length },
          seed_echo: body.seed ?? null,
        });
      }
      log.push(entry);
      if (logFile) fs.appendFileSync(logFile, `${JSON.stringify(entry)}\n`);
    } catch (e) {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `fake server: ${(e as Error).message}` } });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    baseURL: `http://127.0.0.1:${p}/v1`,
    port: p,
    log,
    get maxInFlight() {
      return maxInFlight;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export type Fault =
  | { kind: "429"; retryAfterS?: number }
  | { kind: "500" }
  | { kind: "400" }
  | { kind: "slow"; delayMs: number }
  | { kind: "malformed" }
  | { kind: "reset" }
  | { kind: "pass" };

export interface FaultProxy {
  baseURL: string;
  /** Faults still to play, in order (one per request); push to add more. After the script: pass through. */
  script: Fault[];
  /** What happened to each request, in order: the fault kind played (or "pass"). */
  played: { kind: Fault["kind"]; at: number }[];
  close(): Promise<void>;
}

/** A proxy on 127.0.0.1 in front of `upstream` that plays `script` (one fault per request, then passes through). */
export async function startFaultProxy(upstream: string, script: Fault[] = []): Promise<FaultProxy> {
  const played: FaultProxy["played"] = [];
  const state = { script };
  const server = http.createServer(async (req, res) => {
    const raw = await readBody(req);
    const fault = state.script.shift() ?? { kind: "pass" };
    played.push({ kind: fault.kind, at: Date.now() });
    const forward = async (): Promise<{ status: number; text: string; type: string }> => {
      const headers: Record<string, string> = { "content-type": "application/json" };
      for (const h of ["authorization", "x-api-key", "anthropic-version"]) if (typeof req.headers[h] === "string") headers[h] = req.headers[h] as string;
      const r = await fetch(`${upstream}${req.url}`, { method: req.method, headers, body: req.method === "GET" ? undefined : raw });
      return { status: r.status, text: await r.text(), type: r.headers.get("content-type") ?? "application/json" };
    };
    switch (fault.kind) {
      case "429":
        return sendJson(res, 429, { error: { message: "Rate limit reached, retry later", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } }, { "retry-after": String(fault.retryAfterS ?? 1) });
      case "500":
        return sendJson(res, 500, { error: { message: "The server had an error while processing your request", type: "server_error", param: null, code: null } });
      case "400":
        return sendJson(res, 400, { error: { message: "Invalid 'max_tokens': integer above maximum value", type: "invalid_request_error", param: "max_tokens", code: "integer_above_max_value" } });
      case "reset":
        req.socket.destroy();
        return;
      case "malformed": {
        const up = await forward();
        const cut = up.text.slice(0, Math.floor(up.text.length / 2));
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(cut) });
        res.end(cut);
        return;
      }
      case "slow": {
        await new Promise((r) => setTimeout(r, fault.delayMs));
        if (res.destroyed || req.socket.destroyed) return;
        break;
      }
      default:
        break;
    }
    try {
      const up = await forward();
      if (res.destroyed) return;
      res.writeHead(up.status, { "content-type": up.type, "content-length": Buffer.byteLength(up.text) });
      res.end(up.text);
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const p = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://127.0.0.1:${p}/v1`,
    get script() {
      return state.script;
    },
    set script(s: Fault[]) {
      state.script = s;
    },
    played,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
