/**
 * `openResponseCache(path)`: a durable response cache in SQLite (better-sqlite3), so re-running an API experiment
 * costs nothing and a batch killed with `kill -9` resumes without repeating a completed call.
 *
 *   const cache = openResponseCache("out/api-cache.sqlite");
 *   const key = cache.key(client, messages, params);
 *   const hit = cache.get(key) ?? (cache.put(key, { … }, await client.chat(messages, params)), undefined);
 *   cache.stats(); // { hits, misses, writes, entries }
 *
 * - Key: sha256 of the canonical JSON (sorted keys, undefined dropped) of `{ provider, endpoint (host[:port] only),
 *   model, params, messages }`, plus `sample` when given (several samples of one prompt at temperature > 0 each get
 *   their own entry). Keys never go into the key or the table: what is stored (request and response) is redacted.
 * - Durability: WAL journal, `busy_timeout`, and every `put` is its own committed transaction, so a process killed at
 *   any point loses at most the calls still in flight; `synchronous = NORMAL` survives process kills (use
 *   `synchronous: "full"` to survive power loss as well).
 * - Several processes may read and write one file at once (SQLite's locking; `INSERT OR IGNORE`: the first answer
 *   stored for a key is kept).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { cleanParams } from "./params";
import { redact } from "./redact";
import type { ChatClient, ChatMessage, ChatParams, ChatResponse } from "./types";

export interface CacheKeyInput {
  provider: string;
  /** host[:port] of the endpoint ("" in process). */
  endpoint?: string;
  model: string;
  params?: ChatParams;
  messages: readonly ChatMessage[];
  /** Sample number, for several independent samples of one request. */
  sample?: number;
}

/** JSON with object keys sorted at every level and undefined fields dropped (stable across runs and processes). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortDeep(value));
}

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortDeep(x);
    }
    return out;
  }
  return v;
}

/** The cache key of a request: hex sha256 of its canonical JSON (see the file comment). */
export function cacheKey(input: CacheKeyInput): string {
  const { provider, endpoint = "", model, params, messages, sample } = input;
  const doc: Record<string, unknown> = {
    provider,
    endpoint: endpoint.toLowerCase(),
    model,
    params: cleanParams(params ?? {}),
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
  };
  if (sample !== undefined) doc.sample = sample;
  return createHash("sha256").update(canonicalJson(doc)).digest("hex");
}

export interface ResponseCacheOptions {
  /** Wait this long for another process's write lock before failing (default 10 000 ms). */
  busyTimeoutMs?: number;
  /** "normal" (default: durable against process kills) or "full" (against power loss too). */
  synchronous?: "normal" | "full";
}

export interface ResponseCacheStats {
  /** Lookups that found an answer, since this cache was opened. */
  hits: number;
  misses: number;
  /** Answers this process stored. */
  writes: number;
  /** Answers in the file now (all processes). */
  entries: number;
}

/** A request as the cache stores it beside its answer (redacted): exactly what its key was computed from. */
export type StoredRequest = CacheKeyInput;

export class ResponseCache {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string], { response: string }>;
  private readonly putStmt: Database.Statement<[string, string, string, string, string, string, number]>;
  private readonly countStmt: Database.Statement<[], { n: number }>;
  private counts = { hits: 0, misses: 0, writes: 0 };

  constructor(file: string, options: ResponseCacheOptions = {}) {
    const { busyTimeoutMs = 10_000, synchronous = "normal" } = options;
    if (typeof file !== "string" || file.length === 0) throw new TypeError(`openResponseCache: path must be a non-empty string, received ${JSON.stringify(file)}`);
    if (!(Number.isInteger(busyTimeoutMs) && busyTimeoutMs >= 0)) throw new RangeError(`openResponseCache: options.busyTimeoutMs must be an integer ≥ 0, received ${busyTimeoutMs}`);
    if (synchronous !== "normal" && synchronous !== "full") throw new RangeError(`openResponseCache: options.synchronous must be "normal" or "full", received ${JSON.stringify(synchronous)}`);
    this.path = path.resolve(file);
    fs.mkdirSync(path.dirname(this.path), { recursive: true });
    this.db = new Database(this.path, { timeout: busyTimeoutMs });
    this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // Switching to WAL needs a moment of exclusive access; busy_timeout covers a concurrent opener.
    const mode = this.db.pragma("journal_mode = WAL", { simple: true });
    if (String(mode).toLowerCase() !== "wal") throw new Error(`openResponseCache: could not switch ${this.path} to WAL mode (journal_mode is ${String(mode)})`);
    this.db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS responses (
         key TEXT PRIMARY KEY,
         provider TEXT NOT NULL,
         endpoint TEXT NOT NULL,
         model TEXT NOT NULL,
         request TEXT NOT NULL,
         response TEXT NOT NULL,
         created_ms INTEGER NOT NULL
       )`,
    );
    this.getStmt = this.db.prepare("SELECT response FROM responses WHERE key = ?");
    this.putStmt = this.db.prepare("INSERT OR IGNORE INTO responses (key, provider, endpoint, model, request, response, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.countStmt = this.db.prepare("SELECT COUNT(*) AS n FROM responses");
  }

  /** The key of `messages` and `params` sent through `client` (see `cacheKey`). */
  key(client: Pick<ChatClient, "provider" | "model" | "endpoint">, messages: readonly ChatMessage[], params?: ChatParams, sample?: number): string {
    return cacheKey({ provider: client.provider, endpoint: client.endpoint ?? "", model: client.model, params, messages, sample });
  }

  /** The stored answer for `key` (marked `cached: true`), counting a hit or a miss. */
  get(key: string): ChatResponse | undefined {
    const row = this.getStmt.get(key);
    if (!row) {
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    return { ...(JSON.parse(row.response) as ChatResponse), cached: true };
  }

  /** Whether `key` is stored (counts nothing). */
  has(key: string): boolean {
    return this.getStmt.get(key) !== undefined;
  }

  /** Store `response` for `key`, committed before this returns. The first answer stored for a key is kept. */
  put(key: string, request: StoredRequest, response: ChatResponse): void {
    const { cached: _cached, ...answer } = response;
    const req = redact(canonicalJson({ ...request, params: cleanParams(request.params ?? {}) }));
    const res = redact(JSON.stringify(answer));
    const info = this.putStmt.run(key, request.provider, request.endpoint ?? "", request.model, req, res, Date.now());
    if (info.changes > 0) this.counts.writes++;
  }

  stats(): ResponseCacheStats {
    return { ...this.counts, entries: this.countStmt.get()?.n ?? 0 };
  }

  /** Every stored request and answer (for audits and tests), oldest first. */
  entries(): { key: string; request: StoredRequest; response: ChatResponse; createdMs: number }[] {
    const rows = this.db.prepare("SELECT key, request, response, created_ms FROM responses ORDER BY created_ms, rowid").all() as { key: string; request: string; response: string; created_ms: number }[];
    return rows.map((r) => ({ key: r.key, request: JSON.parse(r.request) as StoredRequest, response: JSON.parse(r.response) as ChatResponse, createdMs: r.created_ms }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Open (creating if needed) the response cache at `path` (see the file comment). */
export function openResponseCache(file: string, options: ResponseCacheOptions = {}): ResponseCache {
  return new ResponseCache(file, options);
}

/**
 * `client` with the cache in front: a stored answer is returned (`cached: true`) without a call; a new answer is
 * committed before it is returned. `provider`, `model` and `endpoint` are the wrapped client's.
 */
export function cachedClient(client: ChatClient, cache: ResponseCache): ChatClient {
  return Object.freeze({
    provider: client.provider,
    model: client.model,
    endpoint: client.endpoint,
    async chat(messages: readonly ChatMessage[], params?: ChatParams, options?: Parameters<ChatClient["chat"]>[2]): Promise<ChatResponse> {
      const key = cache.key(client, messages, params);
      const hit = cache.get(key);
      if (hit) return hit;
      const response = await client.chat(messages, params, options);
      cache.put(key, { provider: client.provider, endpoint: client.endpoint, model: client.model, params, messages }, response);
      return { ...response, cached: false };
    },
  });
}
