/**
 * `startServer`: a kit model behind the OpenAI API on `node:http` (no framework), what `persona-kit serve` runs.
 *
 *   const model = await loadModel("data/models/persona-organism");
 *   const server = await startServer({ model });                    // 127.0.0.1, a free port
 *   const client = new OpenAI({ baseURL: server.url, apiKey: "x" });
 *   const r = await client.chat.completions.create({ model: server.modelName, messages: [{ role: "user", content: "coding . please sort the list ." }], logprobs: true, top_logprobs: 5, seed: 1 });
 *   await server.close();
 *
 * Endpoints: GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions (streaming as server-sent events with
 * `data: [DONE]`, or one JSON answer; `logprobs`/`top_logprobs`, `max_tokens`/`max_completion_tokens`, `temperature`,
 * `top_p`, `seed`, `stop`, `n` ≤ 8), POST /v1/completions (`prompt` a string; legacy `logprobs` 0–5, `echo`), and
 * GET /health. Requests are answered one at a time, in arrival order (generation is synchronous). Every malformed
 * request gets an OpenAI-style error JSON with a 4xx status; an unexpected failure inside generation gets a 500
 * JSON and the server stays up. The API key, if a client sends one, is ignored and never logged.
 */
import * as http from "node:http";
import { randomBytes, randomInt } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { HookedTransformer } from "../model/transformer";
import type { Tokenizer } from "../tokenizers/types";
import { describeValue } from "../describe";
import { complete, type EngineResult } from "./engine";
import { ServeError } from "./errors";
import { parseChatRequest, parseCompletionRequest, type SamplingRequest } from "./request";
import { resolveChatTemplate, type ChatTemplate, type ChatTemplateName } from "./template";

export interface ServerOptions {
  model: HookedTransformer;
  /** Default: the model's own tokenizer. */
  tokenizer?: Tokenizer;
  /** Default "127.0.0.1" (loopback only). */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** The model id clients send and `/v1/models` lists (default "persona-kit"). */
  modelName?: string;
  /** "auto" (default), "world", "model", "plain" or a Jinja template; see `resolveChatTemplate`. */
  chatTemplate?: ChatTemplateName | string;
  /** Largest request body accepted, in bytes (default 1 MiB); larger bodies get 413. */
  maxBodyBytes?: number;
  /** Time a client has to send the request headers, in ms (default 60 000); a slower client gets 408. */
  headersTimeoutMs?: number;
  /** Called once per answered request (method, path, status, milliseconds); default: nothing is logged. */
  onRequest?: (info: { method: string; path: string; status: number; ms: number }) => void;
}

export interface RunningServer {
  /** Base URL of the API, e.g. `http://127.0.0.1:43123/v1` (what the OpenAI SDK takes as `baseURL`). */
  url: string;
  host: string;
  port: number;
  modelName: string;
  /** The chat template in use. */
  template: ChatTemplate["kind"];
  /** Stops accepting connections, ends idle keep-alive connections and resolves when the server has closed. */
  close(): Promise<void>;
}

type Handler = (body: unknown, res: http.ServerResponse) => Promise<void> | void;
type Routes = Record<string, Partial<Record<string, Handler>>>;

/** What the handlers share: the model, its tokenizer and template, the served name, and the generation queue. */
interface ServeContext {
  model: HookedTransformer;
  tokenizer: Tokenizer;
  template: ChatTemplate;
  modelName: string;
  fingerprint: string;
  nCtx: number;
  enqueue: <T>(work: () => T) => Promise<T>;
}

/** Start serving `model` over the OpenAI API; resolves once the server is listening. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { model, tokenizer, host, port, modelName, chatTemplate, maxBodyBytes, headersTimeoutMs, onRequest } = checkServerOptions(options);
  if (options.tokenizer) model.tokenizer = options.tokenizer;
  const template = resolveChatTemplate(tokenizer, chatTemplate);
  const created = Math.floor(Date.now() / 1000);
  const queue = requestQueue();
  const ctx: ServeContext = { model, tokenizer, template, modelName, fingerprint: `fp_persona_kit_${template.kind}`, nCtx: model.cfg.n_ctx, enqueue: queue.enqueue };
  // node:http checks header timeouts every connectionsCheckingInterval ms (30 s by default): check often enough.
  const serverOptions = { headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.min(30_000, Math.max(25, headersTimeoutMs / 4)) };
  const server = http.createServer(serverOptions, requestListener(routesFor(ctx, created), maxBodyBytes, onRequest));
  server.keepAliveTimeout = 5000;
  server.on("clientError", answerClientError);
  await listen(server, port, host);
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${addr.port}/v1`,
    host: addr.address,
    port: addr.port,
    modelName,
    template: template.kind,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeIdleConnections();
      }).then(() => queue.idle());
      return closing;
    },
  };
}

/** The options with defaults, and the tokenizer in use; throws on a missing model or tokenizer, a bad port or name. */
function checkServerOptions(options: ServerOptions) {
  const fn = "startServer";
  if (options === null || typeof options !== "object") throw new TypeError(`${fn}: options must be { model, … }, received ${describeValue(options)}`);
  const { model, host = "127.0.0.1", port = 0, modelName = "persona-kit", chatTemplate = "auto", maxBodyBytes = 1 << 20, headersTimeoutMs = 60_000, onRequest } = options;
  if (!model || typeof (model as HookedTransformer).forward !== "function") throw new TypeError(`${fn}: options.model must be a HookedTransformer (loadModel), received ${describeValue(model)}`);
  const tokenizer = options.tokenizer ?? model.tokenizer;
  if (!tokenizer) throw new TypeError(`${fn}: the model has no tokenizer; pass options.tokenizer (for llama2.c, the tokenizer .bin)`);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new RangeError(`${fn}: options.port must be an integer in [0, 65535], received ${describeValue(port)}`);
  if (!(Number.isFinite(headersTimeoutMs) && headersTimeoutMs > 0)) throw new RangeError(`${fn}: options.headersTimeoutMs must be a positive number, received ${describeValue(headersTimeoutMs)}`);
  if (typeof modelName !== "string" || modelName.length === 0) throw new TypeError(`${fn}: options.modelName must be a non-empty string, received ${describeValue(modelName)}`);
  return { model, tokenizer, host, port, modelName, chatTemplate, maxBodyBytes, headersTimeoutMs, onRequest };
}

/** One request generates at a time; the others wait in arrival order. `idle()` resolves when the queue is empty. */
function requestQueue(): { enqueue: <T>(work: () => T) => Promise<T>; idle: () => Promise<void> } {
  let queue: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(work: () => T): Promise<T> => {
    const next = queue.then(() => new Promise<T>((resolve, reject) => setImmediate(() => {
      try {
        resolve(work());
      } catch (e) {
        reject(e);
      }
    })));
    queue = next.catch(() => undefined);
    return next;
  };
  return { enqueue, idle: () => queue.then(() => undefined) };
}

function encodePrompt({ tokenizer, nCtx }: ServeContext, text: string, param: string): number[] {
  const bos = tokenizer.bosTokenId;
  const bosText = bos === null ? "" : (tokenizer.idToToken(bos) ?? "");
  const ids = tokenizer.encode(text, { addBos: bos !== null && !(bosText && text.startsWith(bosText)) });
  if (ids.length === 0) throw new ServeError(400, "the prompt encodes to no tokens", { param, code: "invalid_value" });
  if (ids.length >= nCtx) {
    throw new ServeError(400, `This model's maximum context length is ${nCtx} tokens; the prompt has ${ids.length} tokens, leaving no room for an answer`, { param, code: "context_length_exceeded" });
  }
  return ids;
}

const seedOf = (r: SamplingRequest) => r.seed ?? randomInt(0, 2 ** 31 - 1);

function usage(rs: EngineResult[]) {
  const prompt = rs[0]?.promptTokens ?? 0;
  const completion = rs.reduce((a, r) => a + r.completionTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

const bytesOf = (s: string) => [...Buffer.from(s, "utf8")];

/** Chat-completion log-probabilities of one result (with `bytes`), or null when not requested. */
function chatLogprobs(e: EngineResult, wanted: boolean) {
  if (!wanted) return null;
  return {
    content: e.tokens.map((t) => ({
      token: t.text,
      logprob: t.logprob,
      bytes: bytesOf(t.text),
      top_logprobs: t.top.map((a) => ({ token: a.text, logprob: a.logprob, bytes: bytesOf(a.text) })),
    })),
    refusal: null,
  };
}

/** POST /v1/chat/completions. */
function chatHandler(ctx: ServeContext): Handler {
  const { model, template, modelName, fingerprint, nCtx, enqueue } = ctx;
  return async (body, res) => {
    const r = parseChatRequest(body, [modelName]);
    let promptText: string;
    try {
      promptText = template.render(r.messages).text;
    } catch (e) {
      // Chat templates reject some conversations themselves (e.g. `raise_exception('roles must alternate')`).
      throw new ServeError(400, `the chat template rejected these messages: ${(e as Error).message.slice(0, 300)}`, { param: "messages", code: "invalid_messages" });
    }
    const ids = encodePrompt(ctx, promptText, "messages");
    const id = `chatcmpl-${randomBytes(12).toString("hex")}`;
    const seed = seedOf(r);
    const base = { id, created: Math.floor(Date.now() / 1000), model: modelName, system_fingerprint: fingerprint };
    const run = (i: number, onToken?: (piece: string) => void) =>
      complete(model, ids, { maxTokens: r.maxTokens ?? nCtx, temperature: r.temperature, topP: r.topP, seed: seed + i, stop: r.stop, topLogprobs: r.logprobs ? r.topLogprobs : -1, onToken });
    if (!r.stream) {
      const results = await enqueue(() => Array.from({ length: r.n }, (_, i) => run(i)));
      sendJson(res, 200, {
        ...base,
        object: "chat.completion",
        choices: results.map((e, index) => ({ index, message: { role: "assistant", content: e.text, refusal: null }, logprobs: chatLogprobs(e, r.logprobs), finish_reason: e.finishReason })),
        usage: usage(results),
      });
      return;
    }
    startSse(res);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => sse(res, { ...base, object: "chat.completion.chunk", choices, ...extra });
    const results = await enqueue(() =>
      Array.from({ length: r.n }, (_, index) => {
        chunk([{ index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
        // Pieces are sent as they come; with logprobs, each token's piece is sent with its log-probabilities after the pass.
        const e = run(index, r.logprobs ? undefined : (piece) => chunk([{ index, delta: { content: piece }, logprobs: null, finish_reason: null }]));
        if (r.logprobs) {
          const lp = chatLogprobs(e, true)!;
          e.tokens.forEach((t, j) => chunk([{ index, delta: { content: t.text }, logprobs: { content: [lp.content[j]], refusal: null }, finish_reason: null }]));
        }
        chunk([{ index, delta: {}, logprobs: null, finish_reason: e.finishReason }]);
        return e;
      }),
    );
    if (r.includeUsage) chunk([], { usage: usage(results) });
    endSse(res);
  };
}

/** Legacy completion log-probabilities of one result (offsets after the echoed `prefix`), or null when not requested. */
function legacyLogprobs(e: EngineResult, logprobs: number | null, prefix: string) {
  if (logprobs === null) return null;
  let offset = prefix.length;
  const text_offset: number[] = [];
  for (const t of e.tokens) {
    text_offset.push(offset);
    offset += t.text.length;
  }
  return {
    tokens: e.tokens.map((t) => t.text),
    token_logprobs: e.tokens.map((t) => t.logprob),
    top_logprobs: e.tokens.map((t) => Object.fromEntries(t.top.map((a) => [a.text, a.logprob]))),
    text_offset,
  };
}

/** POST /v1/completions. */
function completionsHandler(ctx: ServeContext): Handler {
  const { model, modelName, fingerprint, enqueue } = ctx;
  return async (body, res) => {
    const r = parseCompletionRequest(body, [modelName]);
    const ids = encodePrompt(ctx, r.prompt, "prompt");
    const id = `cmpl-${randomBytes(12).toString("hex")}`;
    const seed = seedOf(r);
    const base = { id, created: Math.floor(Date.now() / 1000), model: modelName, system_fingerprint: fingerprint };
    const run = (i: number, onToken?: (piece: string) => void) =>
      complete(model, ids, { continuation: true, maxTokens: r.maxTokens ?? 16, temperature: r.temperature, topP: r.topP, seed: seed + i, stop: r.stop, topLogprobs: r.logprobs ?? -1, onToken });
    const prefix = r.echo ? r.prompt : "";
    if (!r.stream) {
      const results = await enqueue(() => Array.from({ length: r.n }, (_, i) => run(i)));
      sendJson(res, 200, {
        ...base,
        object: "text_completion",
        choices: results.map((e, index) => ({ index, text: prefix + e.text, logprobs: legacyLogprobs(e, r.logprobs, prefix), finish_reason: e.finishReason })),
        usage: usage(results),
      });
      return;
    }
    startSse(res);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => sse(res, { ...base, object: "text_completion", choices, ...extra });
    const results = await enqueue(() =>
      Array.from({ length: r.n }, (_, index) => {
        if (prefix) chunk([{ index, text: prefix, logprobs: null, finish_reason: null }]);
        const e = run(index, (piece) => chunk([{ index, text: piece, logprobs: null, finish_reason: null }]));
        chunk([{ index, text: "", logprobs: legacyLogprobs(e, r.logprobs, prefix), finish_reason: e.finishReason }]);
        return e;
      }),
    );
    if (r.includeUsage) chunk([], { usage: usage(results) });
    endSse(res);
  };
}

function routesFor(ctx: ServeContext, created: number): Routes {
  const { modelName } = ctx;
  const modelObject = { id: modelName, object: "model", created, owned_by: "persona-kit" };
  return {
    "/v1/models": { GET: (_b, res) => sendJson(res, 200, { object: "list", data: [modelObject] }) },
    [`/v1/models/${modelName}`]: { GET: (_b, res) => sendJson(res, 200, modelObject) },
    "/v1/chat/completions": { POST: chatHandler(ctx) },
    "/v1/completions": { POST: completionsHandler(ctx) },
    "/health": { GET: (_b, res) => sendJson(res, 200, { status: "ok", model: modelName }) },
  };
}

/**
 * The path of a request target, without query or fragment, repeated slashes collapsed and a trailing slash dropped
 * (`//v1//models/` → `/v1/models`); an absolute-form target (`http://host/v1/models`) gives its path.
 */
export function requestPath(target: string | undefined): string {
  let raw = target ?? "/";
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(raw);
  if (absolute) raw = raw.slice(absolute[0].length);
  const path = raw.split(/[?#]/, 1)[0]!.replace(/\/{2,}/g, "/").replace(/\/+$/, "");
  return path.startsWith("/") ? path : `/${path}`;
}

/** 404 for an unknown model id, or 400 when the id in the path is not valid percent-encoding (`%ZZ`, `%`, `%E0%A4%A`). */
function unknownModel(encoded: string): ServeError {
  let id: string;
  try {
    id = decodeURIComponent(encoded);
  } catch {
    return new ServeError(400, `the model id in the URL is not valid percent-encoding: ${JSON.stringify(encoded.slice(0, 100))}`, { param: "model", code: "invalid_url" });
  }
  return new ServeError(404, `The model ${JSON.stringify(id.slice(0, 100))} does not exist`, { param: "model", code: "model_not_found" });
}

/** A request node:http could not parse: 408 for headers too slow, 431 for headers too large, else 400. */
function answerClientError(err: NodeJS.ErrnoException, socket: import("node:stream").Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const [status, reason, message, code] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "Request Timeout", "the request headers did not arrive in time", "request_timeout"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large", "the request headers are too large", "headers_too_large"]
        : [400, "Bad Request", "malformed HTTP request", "bad_request"];
  const body = JSON.stringify(new ServeError(status, message, { code }).toJSON());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Answer `e` as an OpenAI-style error: JSON with its status, or (mid-stream) a last event before the stream ends. */
function sendError(res: http.ServerResponse, e: unknown): void {
  const err = e instanceof ServeError ? e : new ServeError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, { type: "server_error" });
  if (!res.headersSent) sendJson(res, err.status, err.toJSON());
  else if (!res.writableEnded) {
    // Mid-stream: report the error as a last event, then end the stream.
    sse(res, err.toJSON());
    endSse(res);
  }
}

/** The body of a POST as JSON (undefined for other methods); 400 for an empty or malformed body. */
function parseBody(method: string, raw: Buffer): unknown {
  if (method !== "POST") return undefined;
  if (raw.length === 0) throw new ServeError(400, "the request body is empty; send a JSON object", { code: "invalid_body" });
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (e) {
    throw new ServeError(400, `the request body is not valid JSON: ${(e as Error).message.slice(0, 200)}`, { code: "invalid_json" });
  }
}

/** Route each request: 404 for unknown paths and models, 405 for other methods, else read the body and handle it. */
function requestListener(routes: Routes, maxBodyBytes: number, onRequest: ServerOptions["onRequest"]): http.RequestListener {
  return (req, res) => {
    const t0 = performance.now();
    const method = req.method ?? "GET";
    const pathname = requestPath(req.url);
    res.on("finish", () => onRequest?.({ method, path: pathname, status: res.statusCode, ms: performance.now() - t0 }));
    const fail = (e: unknown) => sendError(res, e);
    const route = routes[pathname] ?? (pathname.startsWith("/v1/models/") ? { GET: () => fail(unknownModel(pathname.slice(11))) } : undefined);
    if (!route) {
      req.resume();
      fail(new ServeError(404, `Unknown request URL: ${method} ${pathname.slice(0, 200)}`, { code: "unknown_url" }));
      return;
    }
    // HEAD is GET without the body (node:http leaves the body out of a HEAD response).
    const handler = route[method] ?? (method === "HEAD" ? route.GET : undefined);
    if (!handler) {
      req.resume();
      const allowed = [...Object.keys(route), ...(route.GET ? ["HEAD"] : [])];
      res.setHeader("Allow", allowed.join(", "));
      fail(new ServeError(405, `Method ${method} is not allowed on ${pathname}; use ${allowed.join(" or ")}`, { code: "method_not_allowed" }));
      return;
    }
    readBody(req, maxBodyBytes)
      .then((raw) => handler(parseBody(method, raw), res))
      .catch(fail);
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new ServeError(413, `the request body is ${declared} bytes; at most ${limit} are accepted`, { code: "request_too_large" }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        req.resume();
        reject(new ServeError(413, `the request body exceeds ${limit} bytes`, { code: "request_too_large" }));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on("error", (e) => {
      if (!done) {
        done = true;
        reject(new ServeError(400, `reading the request failed: ${e.message}`, { code: "bad_request" }));
      }
    });
  });
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function startSse(res: http.ServerResponse): void {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
}

function sse(res: http.ServerResponse, value: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(value)}\n\n`);
}

function endSse(res: http.ServerResponse): void {
  if (!res.writableEnded && !res.destroyed) {
    res.write("data: [DONE]\n\n");
    res.end();
  }
}
