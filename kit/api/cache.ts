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
 * - Leases: a process about to call for a key takes a lease on it in the database (`lease(key)`: "leased", or "busy"
 *   when another live process holds one, or "stored"); the others wait for the answer (`acquire`) instead of paying
 *   for the same call. A lease expires `leaseMs` after it was taken or last renewed (`renew`), so the leases of a
 *   process killed with `kill -9` lapse and another process takes the key over: repeats stay bounded by the calls in
 *   flight when it died. A lease whose owner was a process of this machine that no longer exists is taken over at
 *   once. `put` and `release` end the lease.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
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
  /** How long a lease on an in-flight key lasts unless renewed (default 30 000 ms); see the file comment. */
  leaseMs?: number;
}

/** What `lease(key)` found: the answer is stored, this process now holds the lease, or another process does. */
export type LeaseState = "stored" | "leased" | "busy";

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
  /** This cache object's lease owner id (process id and a random part). */
  readonly owner = `${os.hostname()}:${process.pid}:${randomBytes(6).toString("hex")}`;
  readonly leaseMs: number;
  private readonly leaseTx: (key: string, now: number) => LeaseState;
  private readonly renewStmt: Database.Statement<[number, string, string]>;
  private readonly releaseStmt: Database.Statement<[string, string]>;

  constructor(file: string, options: ResponseCacheOptions = {}) {
    const { busyTimeoutMs = 10_000, synchronous = "normal", leaseMs = 30_000 } = options;
    if (!(Number.isFinite(leaseMs) && leaseMs > 0)) throw new RangeError(`openResponseCache: options.leaseMs must be a positive number, received ${leaseMs}`);
    this.leaseMs = leaseMs;
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
    this.db.exec("CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_ms INTEGER NOT NULL)");
    const stored = this.db.prepare<[string], { one: number }>("SELECT 1 AS one FROM responses WHERE key = ?");
    const expire = this.db.prepare<[string, number]>("DELETE FROM leases WHERE key = ? AND expires_ms <= ?");
    const take = this.db.prepare<[string, string, number]>("INSERT OR IGNORE INTO leases (key, owner, expires_ms) VALUES (?, ?, ?)");
    const holder = this.db.prepare<[string], { owner: string }>("SELECT owner FROM leases WHERE key = ?");
    const forget = this.db.prepare<[string, string]>("DELETE FROM leases WHERE key = ? AND owner = ?");
    const tx = this.db.transaction((key: string, now: number): LeaseState => {
      if (stored.get(key)) return "stored";
      expire.run(key, now);
      if (take.run(key, this.owner, now + this.leaseMs).changes > 0) return "leased";
      const owner = holder.get(key)?.owner;
      if (owner === this.owner) return "leased";
      if (owner !== undefined && ownerIsDead(owner)) {
        // A process on this machine that no longer exists (killed with kill -9): its lease need not wait to lapse.
        forget.run(key, owner);
        take.run(key, this.owner, now + this.leaseMs);
        return "leased";
      }
      return "busy";
    });
    this.leaseTx = (key, now) => tx.immediate(key, now);
    this.renewStmt = this.db.prepare("UPDATE leases SET expires_ms = ? WHERE key = ? AND owner = ?");
    this.releaseStmt = this.db.prepare("DELETE FROM leases WHERE key = ? AND owner = ?");
  }

  /** Take the lease on `key` unless its answer is stored or another live process holds it (see the file comment). */
  lease(key: string): LeaseState {
    return this.leaseTx(key, Date.now());
  }

  /** Extend this process's lease on `key` by `leaseMs` from now (while its call is still running). */
  renew(key: string): void {
    this.renewStmt.run(Date.now() + this.leaseMs, key, this.owner);
  }

  /** Give up this process's lease on `key` (after a failed call), so another process may take it at once. */
  release(key: string): void {
    this.releaseStmt.run(key, this.owner);
  }

  /**
   * Wait until `key` is stored (resolves with the answer, counted as a hit) or this process holds its lease (resolves
   * undefined: make the call, then `put`). Polls every `pollMs` while another process holds the lease.
   */
  async acquire(key: string, { pollMs = 50, signal }: { pollMs?: number; signal?: AbortSignal } = {}): Promise<ChatResponse | undefined> {
    for (;;) {
      const state = this.lease(key);
      if (state === "leased") return undefined;
      if (state === "stored") {
        const hit = this.get(key);
        if (hit) return hit;
      }
      if (signal?.aborted) return undefined;
      await new Promise((r) => setTimeout(r, pollMs));
    }
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
    const info = this.db.transaction(() => {
      const r = this.putStmt.run(key, request.provider, request.endpoint ?? "", request.model, req, res, Date.now());
      this.releaseStmt.run(key, this.owner);
      return r;
    }).immediate();
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

/** Whether a lease owner (`host:pid:random`) is a process of this machine that no longer runs. */
function ownerIsDead(owner: string): boolean {
  const [host, pid] = owner.split(":");
  if (host !== os.hostname() || !/^\d+$/.test(pid ?? "")) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** `response` as the cache stores it: every string redacted (`redact`), so a live answer reads like a cached one. */
export function redactResponse(response: ChatResponse): ChatResponse {
  try {
    return JSON.parse(redact(JSON.stringify(response))) as ChatResponse;
  } catch {
    return { ...response, text: redact(response.text) }; // a secret whose redaction broke the JSON escaping
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
      const hit = cache.get(key) ?? (await cache.acquire(key, { signal: options?.signal }));
      if (hit) return hit;
      const renew = setInterval(() => cache.renew(key), cache.leaseMs / 3);
      try {
        const response = await client.chat(messages, params, options);
        cache.put(key, { provider: client.provider, endpoint: client.endpoint, model: client.model, params, messages }, response);
        return { ...redactResponse(response), cached: false };
      } finally {
        clearInterval(renew);
        cache.release(key);
      }
    },
  });
}
