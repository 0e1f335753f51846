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
  const where = "runBatch";
  const problems = checkOptions(options);
  if (!Array.isArray(requests)) problems.unshift(`requests must be an array of { messages, params? }, received ${typeof requests}`);
  if (problems.length > 0) throw new RangeError(`${where}: ${problems.length} problem${problems.length > 1 ? "s" : ""}:\n  - ${problems.join("\n  - ")}`);
  const { client, concurrency = 4, ratePerMinute, retries = 4, backoff = {}, timeoutMs = 60_000, cache, onResult, log, random = Math.random, signal } = options;
  const maxWait = backoff.maxMs ?? 30_000;
  const t0 = performance.now();
  const n = requests.length;
  const results: (BatchResult | undefined)[] = new Array(n).fill(undefined);
  const stats: BatchStats = { requests: n, succeeded: 0, failed: 0, cacheHits: 0, cacheMisses: 0, calls: 0, retries: 0, elapsedMs: 0 };
  const say = (line: string) => {
    try {
      log?.(redact(line));
    } catch {
      // a failing logger must not stop the batch
    }
  };
  const progressOptions: ProgressOptions | null = options.progress === false ? null : { label: "runBatch", unit: "req", ...(typeof options.progress === "object" ? options.progress : {}) };
  const bar = progressOptions && n > 0 ? progressBar(n, progressOptions) : null;
  let completed = 0;
  const tick = () => bar?.update(completed, redact(`cache ${stats.cacheHits} · retries ${stats.retries} · failed ${stats.failed}`));

  const finish = (r: BatchResult) => {
    results[r.index] = r;
    completed++;
    if (r.ok) stats.succeeded++;
    else stats.failed++;
    tick();
    try {
      onResult?.(r);
    } catch {
      // a failing callback must not lose the batch
    }
  };

  // 1. Validate each request and answer what the cache holds.
  const keys: (string | undefined)[] = new Array(n).fill(undefined);
  const todo: number[] = [];
  requests.forEach((req, index) => {
    const id = req && typeof req === "object" ? req.id : undefined;
    try {
      if (!req || typeof req !== "object") throw new TypeError(`${where}: requests[${index}] must be { messages, params? }, received ${String(req)}`);
      checkChat(`${where}: requests[${index}]`, req.messages, req.params);
    } catch (e) {
      finish({ index, id, ok: false, attempts: 0, error: redactError(e) });
      return;
    }
    if (cache) {
      const key = cache.key(client, req.messages, req.params, req.sample);
      keys[index] = key;
      const hit = cache.get(key);
      if (hit) {
        stats.cacheHits++;
        finish({ index, id, ok: true, attempts: 0, cached: true, response: hit });
        return;
      }
      stats.cacheMisses++;
    }
    todo.push(index);
  });

  // 2. Calls, `concurrency` at a time, starts spaced by the rate limit and any Retry-After pause.
  const spacingMs = ratePerMinute ? 60_000 / ratePerMinute : 0;
  let nextStart = 0; // performance.now() before which no call may start
  let pausedUntil = 0;
  const acquire = async () => {
    for (;;) {
      const now = performance.now();
      const at = Math.max(nextStart, pausedUntil);
      if (now >= at) {
        nextStart = Math.max(now, nextStart) + spacingMs;
        return;
      }
      await sleep(at - now, signal);
      if (signal?.aborted) return;
    }
  };

  const callOnce = async (req: BatchRequest): Promise<ChatResponse> => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const call = client.chat(req.messages, req.params, { signal: controller.signal, timeoutMs });
      // A client that ignores the signal still cannot hold the batch past the time limit.
      const timeout = new Promise<never>((_, reject) => {
        controller.signal.addEventListener("abort", () => reject(new ApiError({ where: `${where} (${client.provider} ${client.model})`, kind: "timeout", host: client.endpoint || undefined, apiMessage: signal?.aborted ? "the batch was aborted" : `no answer within timeoutMs ${timeoutMs}` })), { once: true });
      });
      timeout.catch(() => undefined);
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  };

  /**
   * With a cache: the answer if it was stored since the batch started (another process, or a duplicate request), else
   * undefined once this process holds the key's lease, waiting while another process holds it.
   */
  const lookUp = async (index: number): Promise<ChatResponse | undefined> => {
    const hit = await cache!.acquire(keys[index]!, { signal });
    if (hit) {
      stats.cacheHits++;
      stats.cacheMisses--;
    }
    return hit;
  };

  const runOne = async (index: number) => {
    const key = keys[index];
    if (cache && key !== undefined) {
      const hit = await lookUp(index);
      if (hit) return finish({ index, id: requests[index].id, ok: true, attempts: 0, cached: true, response: hit });
      const renew = setInterval(() => cache.renew(key), cache.leaseMs / 3);
      try {
        return await callWithRetries(index);
      } finally {
        clearInterval(renew);
        cache.release(key);
      }
    }
    return callWithRetries(index);
  };

  const callWithRetries = async (index: number) => {
    const req = requests[index];
    let attempts = 0;
    for (;;) {
      if (signal?.aborted) return finish({ index, id: req.id, ok: false, attempts, error: new Error(`${where}: aborted before requests[${index}] completed`) });
      await acquire();
      if (signal?.aborted) continue;
      attempts++;
      stats.calls++;
      let response: ChatResponse;
      try {
        response = await callOnce(req);
      } catch (e) {
        const err = redactError(e, where);
        const retryable = err instanceof ApiError && err.retryable && !signal?.aborted;
        if (retryable && attempts <= retries) {
          let wait = backoffDelay(attempts, backoff, random);
          if (err.retryAfterMs !== undefined) {
            const ra = Math.min(err.retryAfterMs, maxWait);
            wait = Math.max(wait, ra);
            pausedUntil = Math.max(pausedUntil, performance.now() + ra);
          }
          stats.retries++;
          say(`${where}: requests[${index}] attempt ${attempts} failed (${err.message}); retry in ${Math.round(wait)} ms`);
          tick();
          await sleep(wait, signal);
          continue;
        }
        const why = retryable ? ` after ${attempts} attempts` : "";
        const error = err instanceof ApiError && why ? Object.assign(err, { message: `${err.message} (gave up${why})` }) : err;
        say(`${where}: requests[${index}] failed: ${error.message}`);
        return finish({ index, id: req.id, ok: false, attempts, error });
      }
      if (cache) {
        try {
          cache.put(keys[index] ?? cache.key(client, req.messages, req.params, req.sample), { provider: client.provider, endpoint: client.endpoint, model: client.model, params: req.params, messages: req.messages, sample: req.sample }, response);
        } catch (e) {
          say(`${where}: requests[${index}] answered but not cached: ${redactError(e).message}`);
        }
      }
      // The live answer redacted as the stored one is, so a rerun from the cache reads the same.
      return finish({ index, id: req.id, ok: true, attempts, cached: false, response: { ...redactResponse(response), cached: false } });
    }
  };

  let next = 0;
  const worker = async () => {
    while (next < todo.length) await runOne(todo[next++]);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  } finally {
    stats.elapsedMs = performance.now() - t0;
    bar?.done(redact(`cache ${stats.cacheHits} · retries ${stats.retries} · failed ${stats.failed}`));
  }
  return { results: results as BatchResult[], stats };
}
