/**
 * `runBatch(requests, { client, concurrency, ratePerMinute, retries, backoff, timeoutMs, cache, progress })`: many chat
 * calls with a concurrency limit, a rate limit, retries, a durable cache and a progress bar with ETA.
 *
 *   const cache = openResponseCache("out/api-cache.sqlite");
 *   const run = await runBatch(prompts.map((p) => ({ messages: [{ role: "user", content: p }], params: { maxTokens: 20 } })),
 *     { client, cache, concurrency: 8, ratePerMinute: 500 });
 *   run.results[i].ok ? run.results[i].response.text : run.results[i].error.message;
 *   run.stats; // { requests, succeeded, failed, cacheHits, cacheMisses, calls, retries, elapsedMs }
 *
 * - Cache first: every request already stored is answered from the cache (no call), and the cache is checked again
 *   just before each call. A worker takes a lease on the key in the cache before calling (renewed while the call
 *   runs); a process that finds another's lease waits for that answer instead of calling (see kit/api/cache.ts).
 *   Every answer that comes back is committed to the cache before the next call starts on that worker, so a run
 *   killed at any moment and started again repeats no completed call and loses none.
 * - Results are redacted like stored answers (`redactResponse`): a live result reads as its cached copy will.
 * - Retries (up to `retries` per request) on 408/409/429, 5xx, timeouts, dropped connections and malformed responses,
 *   with exponential backoff and jitter: wait `min(maxMs, baseMs · factor^(attempt−1))`, jittered by ±`jitter`/2. A 429
 *   with `Retry-After` waits at least that long, and pauses every worker (the server asked the client, not the
 *   request, to slow down). Other 4xx are not retried: the request fails with the API's message.
 * - A request that fails for good is reported in its own result (`ok: false`, `error`); the others still run and
 *   every completed answer is returned (and cached). Nothing throws except invalid options.
 * - `timeoutMs` limits each attempt (the call is aborted); `ratePerMinute` spaces call starts (retries included).
 * - Errors and log lines are redacted (`redact`): no key reaches the results, the progress display or `log`.
 */
import { progress as progressBar, type ProgressOptions } from "../viz/progress";
import { redactResponse, type ResponseCache } from "./cache";
import { checkChat } from "./params";
import { ApiError, redact, redactError } from "./redact";
import type { ChatClient, ChatMessage, ChatParams, ChatResponse } from "./types";

export interface BatchRequest {
  messages: readonly ChatMessage[];
  params?: ChatParams;
  /** Your label for the request (returned in its result). */
  id?: string;
  /** Sample number: requests identical but for `sample` are different calls (and cache entries). */
  sample?: number;
}

export interface BackoffOptions {
  /** First retry's base wait (default 500 ms). */
  baseMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Longest wait (default 30 000 ms; also caps Retry-After). */
  maxMs?: number;
  /** Relative spread of the jitter: the wait is multiplied by a uniform draw from [1 − jitter/2, 1 + jitter/2] (default 0.5). */
  jitter?: number;
}

export interface BatchOptions {
  client: ChatClient;
  /** Calls in flight at once (default 4). */
  concurrency?: number;
  /** Call starts per minute, at most (default: no limit). */
  ratePerMinute?: number;
  /** Retries per request after the first attempt (default 4). */
  retries?: number;
  backoff?: BackoffOptions;
  /** Time limit of each attempt (default 60 000 ms). */
  timeoutMs?: number;
  cache?: ResponseCache;
  /** Show a progress bar with ETA (default true); or progress options. */
  progress?: boolean | ProgressOptions;
  /** Called with each result as it completes (after it is cached). */
  onResult?: (result: BatchResult) => void;
  /** Called with one redacted line per retry and failure. */
  log?: (line: string) => void;
  /** Source of the jitter (default Math.random). */
  random?: () => number;
  /** Stop starting new calls when aborted (results so far are returned; the rest fail with "aborted"). */
  signal?: AbortSignal;
}

interface ResultBase {
  index: number;
  id?: string;
  /** Calls made for this request (0 when it came from the cache). */
  attempts: number;
}

export type BatchResult =
  | (ResultBase & { ok: true; response: ChatResponse; cached: boolean })
  | (ResultBase & { ok: false; error: Error });

export interface BatchStats {
  requests: number;
  succeeded: number;
  failed: number;
  cacheHits: number;
  cacheMisses: number;
  /** HTTP (or in-process) calls made, retries included. */
  calls: number;
  retries: number;
  elapsedMs: number;
}

export interface BatchRun {
  /** One per request, in request order. */
  results: BatchResult[];
  stats: BatchStats;
}

/** The wait before retry number `attempt` (1-based), see `BackoffOptions`. */
export function backoffDelay(attempt: number, backoff: BackoffOptions = {}, random: () => number = Math.random): number {
  const { baseMs = 500, factor = 2, maxMs = 30_000, jitter = 0.5 } = backoff;
  const raw = Math.min(maxMs, baseMs * factor ** Math.max(0, attempt - 1));
  return Math.max(0, raw * (1 - jitter / 2 + jitter * random()));
}

function checkOptions(options: BatchOptions): string[] {
  const out: string[] = [];
  if (!options || typeof options !== "object") return [`options must be { client, … }, received ${String(options)}`];
  const { client, concurrency = 4, ratePerMinute, retries = 4, backoff = {}, timeoutMs = 60_000 } = options;
  if (!client || typeof client.chat !== "function") out.push("options.client must be a ChatClient (openaiClient, anthropicClient, kitClient or chatClient)");
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) out.push(`options.concurrency must be an integer ≥ 1, received ${concurrency}`);
  if (ratePerMinute !== undefined && !(Number.isFinite(ratePerMinute) && ratePerMinute > 0)) out.push(`options.ratePerMinute must be a positive number, received ${ratePerMinute}`);
  if (!(Number.isInteger(retries) && retries >= 0)) out.push(`options.retries must be an integer ≥ 0, received ${retries}`);
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) out.push(`options.timeoutMs must be a positive number, received ${timeoutMs}`);
  const { baseMs = 500, factor = 2, maxMs = 30_000, jitter = 0.5 } = backoff;
  if (!(Number.isFinite(baseMs) && baseMs >= 0)) out.push(`options.backoff.baseMs must be a number ≥ 0, received ${baseMs}`);
  if (!(Number.isFinite(factor) && factor >= 1)) out.push(`options.backoff.factor must be a number ≥ 1, received ${factor}`);
  if (!(Number.isFinite(maxMs) && maxMs >= 0)) out.push(`options.backoff.maxMs must be a number ≥ 0, received ${maxMs}`);
  if (!(Number.isFinite(jitter) && jitter >= 0 && jitter <= 1)) out.push(`options.backoff.jitter must be in [0, 1], received ${jitter}`);
  return out;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** Run `requests` through `options.client` (see the file comment). */
export async function runBatch(requests: readonly BatchRequest[], options: BatchOptions): Promise<BatchRun> {
  const problems = checkOptions(options);
  if (!Array.isArray(requests)) problems.unshift(`requests must be an array of { messages, params? }, received ${typeof requests}`);
  if (problems.length > 0) throw new RangeError(`${WHERE}: ${problems.length} problem${problems.length > 1 ? "s" : ""}:\n  - ${problems.join("\n  - ")}`);
  const batch = new BatchJob(requests, options);
  const todo = batch.answerFromCache();
  return batch.callAll(todo);
}

const WHERE = "runBatch";

/** One `runBatch` call's state: results, stats, progress, and the shared start schedule of its workers. */
class BatchJob {
  private readonly client: ChatClient;
  private readonly o: BatchOptions & Required<Pick<BatchOptions, "concurrency" | "retries" | "backoff" | "timeoutMs" | "random">>;
  private readonly t0 = performance.now();
  private readonly results: (BatchResult | undefined)[];
  private readonly stats: BatchStats;
  private readonly keys: (string | undefined)[];
  private readonly bar: ReturnType<typeof progressBar> | null;
  private completed = 0;
  /** performance.now() before which no call may start (rate limit). */
  private nextStart = 0;
  /** performance.now() before which no call may start (a 429's Retry-After). */
  private pausedUntil = 0;

  constructor(
    private readonly requests: readonly BatchRequest[],
    options: BatchOptions,
  ) {
    const { concurrency = 4, retries = 4, backoff = {}, timeoutMs = 60_000, random = Math.random } = options;
    this.o = { ...options, concurrency, retries, backoff, timeoutMs, random };
    this.client = options.client;
    const n = requests.length;
    this.results = new Array(n).fill(undefined);
    this.keys = new Array(n).fill(undefined);
    this.stats = { requests: n, succeeded: 0, failed: 0, cacheHits: 0, cacheMisses: 0, calls: 0, retries: 0, elapsedMs: 0 };
    const progressOptions: ProgressOptions | null = options.progress === false ? null : { label: "runBatch", unit: "req", ...(typeof options.progress === "object" ? options.progress : {}) };
    this.bar = progressOptions && n > 0 ? progressBar(n, progressOptions) : null;
  }

  private say(line: string): void {
    try {
      this.o.log?.(redact(line));
    } catch {
      // a failing logger must not stop the batch
    }
  }

  private summary(): string {
    return redact(`cache ${this.stats.cacheHits} · retries ${this.stats.retries} · failed ${this.stats.failed}`);
  }

  private tick(): void {
    this.bar?.update(this.completed, this.summary());
  }

  private finish(r: BatchResult): void {
    this.results[r.index] = r;
    this.completed++;
    if (r.ok) this.stats.succeeded++;
    else this.stats.failed++;
    this.tick();
    try {
      this.o.onResult?.(r);
    } catch {
      // a failing callback must not lose the batch
    }
  }

  /** Step 1: validate each request and answer what the cache holds; returns the indices left to call. */
  answerFromCache(): number[] {
    const { client } = this;
    const { cache } = this.o;
    const todo: number[] = [];
    this.requests.forEach((req, index) => {
      const id = req && typeof req === "object" ? req.id : undefined;
      try {
        if (!req || typeof req !== "object") throw new TypeError(`${WHERE}: requests[${index}] must be { messages, params? }, received ${String(req)}`);
        checkChat(`${WHERE}: requests[${index}]`, req.messages, req.params);
      } catch (e) {
        this.finish({ index, id, ok: false, attempts: 0, error: redactError(e) });
        return;
      }
      if (cache) {
        const key = cache.key(client, req.messages, req.params, req.sample);
        this.keys[index] = key;
        const hit = cache.get(key);
        if (hit) {
          this.stats.cacheHits++;
          this.finish({ index, id, ok: true, attempts: 0, cached: true, response: hit });
          return;
        }
        this.stats.cacheMisses++;
      }
      todo.push(index);
    });
    return todo;
  }

  /** Step 2: the calls, `concurrency` at a time, starts spaced by the rate limit and any Retry-After pause. */
  async callAll(todo: readonly number[]): Promise<BatchRun> {
    let next = 0;
    const worker = async () => {
      while (next < todo.length) await this.runOne(todo[next++]);
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.o.concurrency, todo.length) }, worker));
    } finally {
      this.stats.elapsedMs = performance.now() - this.t0;
      this.bar?.done(this.summary());
    }
    return { results: this.results as BatchResult[], stats: this.stats };
  }

  /** Wait until a call may start (rate limit, Retry-After pause), then book the next start. */
  private async acquire(): Promise<void> {
    const spacingMs = this.o.ratePerMinute ? 60_000 / this.o.ratePerMinute : 0;
    const { signal } = this.o;
    for (;;) {
      const now = performance.now();
      const at = Math.max(this.nextStart, this.pausedUntil);
      if (now >= at) {
        this.nextStart = Math.max(now, this.nextStart) + spacingMs;
        return;
      }
      await sleep(at - now, signal);
      if (signal?.aborted) return;
    }
  }

  /** One attempt, aborted after `timeoutMs` or with the batch's signal. */
  private async callOnce(req: BatchRequest): Promise<ChatResponse> {
    const { client } = this;
    const { timeoutMs, signal } = this.o;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const call = client.chat(req.messages, req.params, { signal: controller.signal, timeoutMs });
      // A client that ignores the signal still cannot hold the batch past the time limit.
      const timeout = new Promise<never>((_, reject) => {
        controller.signal.addEventListener("abort", () => reject(new ApiError({ where: `${WHERE} (${client.provider} ${client.model})`, kind: "timeout", host: client.endpoint || undefined, apiMessage: signal?.aborted ? "the batch was aborted" : `no answer within timeoutMs ${timeoutMs}` })), { once: true });
      });
      timeout.catch(() => undefined);
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * One request. With a cache: answered from it if the answer was stored since the batch started (another process, or
   * a duplicate request); otherwise called once this process holds the key's lease (waiting while another process holds
   * it), the lease renewed while the call runs and released after.
   */
  private async runOne(index: number): Promise<void> {
    const key = this.keys[index];
    const { cache, signal } = this.o;
    if (!cache || key === undefined) return this.callWithRetries(index);
    const hit = await cache.acquire(key, { signal });
    if (hit) {
      this.stats.cacheHits++;
      this.stats.cacheMisses--;
      return this.finish({ index, id: this.requests[index].id, ok: true, attempts: 0, cached: true, response: hit });
    }
    const renew = setInterval(() => cache.renew(key), cache.leaseMs / 3);
    try {
      return await this.callWithRetries(index);
    } finally {
      clearInterval(renew);
      cache.release(key);
    }
  }

  /** Call one request until it succeeds, fails for good, or the batch is aborted. */
  private async callWithRetries(index: number): Promise<void> {
    const req = this.requests[index];
    const { signal } = this.o;
    let attempts = 0;
    for (;;) {
      if (signal?.aborted) return this.finish({ index, id: req.id, ok: false, attempts, error: new Error(`${WHERE}: aborted before requests[${index}] completed`) });
      await this.acquire();
      if (signal?.aborted) continue;
      attempts++;
      this.stats.calls++;
      let response: ChatResponse;
      try {
        response = await this.callOnce(req);
      } catch (e) {
        if (await this.retryAfter(index, attempts, e)) continue;
        return;
      }
      this.store(index, req, response);
      // The live answer redacted as the stored one is, so a rerun from the cache reads the same.
      return this.finish({ index, id: req.id, ok: true, attempts, cached: false, response: { ...redactResponse(response), cached: false } });
    }
  }

  /**
   * After a failed attempt: wait and return true when the error is retryable and retries are left (a Retry-After
   * pauses every worker); else record the failure and return false.
   */
  private async retryAfter(index: number, attempts: number, e: unknown): Promise<boolean> {
    const { signal, retries, backoff, random } = this.o;
    const err = redactError(e, WHERE);
    const retryable = err instanceof ApiError && err.retryable && !signal?.aborted;
    if (retryable && attempts <= retries) {
      let wait = backoffDelay(attempts, backoff, random);
      if (err.retryAfterMs !== undefined) {
        const ra = Math.min(err.retryAfterMs, backoff.maxMs ?? 30_000);
        wait = Math.max(wait, ra);
        this.pausedUntil = Math.max(this.pausedUntil, performance.now() + ra);
      }
      this.stats.retries++;
      this.say(`${WHERE}: requests[${index}] attempt ${attempts} failed (${err.message}); retry in ${Math.round(wait)} ms`);
      this.tick();
      await sleep(wait, signal);
      return true;
    }
    const why = retryable ? ` after ${attempts} attempts` : "";
    const error = err instanceof ApiError && why ? Object.assign(err, { message: `${err.message} (gave up${why})` }) : err;
    this.say(`${WHERE}: requests[${index}] failed: ${error.message}`);
    this.finish({ index, id: this.requests[index].id, ok: false, attempts, error });
    return false;
  }

  /** Commit an answer to the cache before the worker starts its next call (a cache failure is logged, not fatal). */
  private store(index: number, req: BatchRequest, response: ChatResponse): void {
    const { client } = this;
    const { cache } = this.o;
    if (!cache) return;
    try {
      cache.put(this.keys[index] ?? cache.key(client, req.messages, req.params, req.sample), { provider: client.provider, endpoint: client.endpoint, model: client.model, params: req.params, messages: req.messages, sample: req.sample }, response);
    } catch (e) {
      this.say(`${WHERE}: requests[${index}] answered but not cached: ${redactError(e).message}`);
    }
  }
}
