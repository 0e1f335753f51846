/**
 * A batch run in its own process, for test/api.test.ts (kill -9 resume, concurrent writers, the key-leak search):
 *
 *   node --import tsx test/helpers/api-batch-child.ts '{"baseURL":…,"db":…,"prefix":"q","from":0,"to":60,…}'
 *
 * Runs requests `${prefix} ${i}` for i in [from, to) through openaiClient (and, with `anthropicBaseURL`, the same
 * through anthropicClient) with runBatch and the response cache at `db`. Prints `done <i> <cached>` after each result
 * is stored, and `stats <json>` at the end; writes the results (texts and error messages) to `out` and the batch's
 * log lines to `logFile` when given. Keys come from the environment only.
 */
import * as fs from "node:fs";
import { anthropicClient } from "../../kit/api/anthropic";
import { runBatch, type BatchRequest } from "../../kit/api/batch";
import { openResponseCache } from "../../kit/api/cache";
import { openaiClient } from "../../kit/api/openai";

interface ChildArgs {
  baseURL: string;
  anthropicBaseURL?: string;
  db: string;
  prefix: string;
  from: number;
  to: number;
  /** Extra user messages sent as their own requests (e.g. "BAD REQUEST …", "ECHO KEY"). */
  extra?: string[];
  concurrency?: number;
  retries?: number;
  timeoutMs?: number;
  out?: string;
  logFile?: string;
  progress?: boolean;
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]) as ChildArgs;
  const cache = openResponseCache(a.db);
  const users = [...Array.from({ length: a.to - a.from }, (_, k) => `${a.prefix} ${a.from + k}`), ...(a.extra ?? [])];
  const requests: BatchRequest[] = users.map((u, i) => ({ id: String(i), messages: [{ role: "user", content: u }], params: { maxTokens: 16, seed: 1 } }));
  const log = (line: string) => {
    if (a.logFile) fs.appendFileSync(a.logFile, `${line}\n`);
    process.stderr.write(`${line}\n`);
  };
  const clients = [openaiClient({ model: "fake-model", baseURL: a.baseURL, timeoutMs: a.timeoutMs ?? 5000 })];
  if (a.anthropicBaseURL) clients.push(anthropicClient({ model: "claude-fake", baseURL: a.anthropicBaseURL, timeoutMs: a.timeoutMs ?? 5000 }));
  const all: unknown[] = [];
  for (const client of clients) {
    const run = await runBatch(requests, {
      client,
      cache,
      concurrency: a.concurrency ?? 2,
      retries: a.retries ?? 4,
      backoff: { baseMs: 20, maxMs: 200 },
      timeoutMs: a.timeoutMs ?? 5000,
      progress: a.progress ? { mode: "lines", intervalMs: 0 } : false,
      log,
      onResult: (r) => process.stdout.write(`done ${r.index} ${r.ok ? (r.cached ? "hit" : "call") : "error"}\n`),
    });
    all.push({ provider: client.provider, stats: run.stats, results: run.results.map((r) => (r.ok ? { ok: true, text: r.response.text, cached: r.cached } : { ok: false, error: r.error.message, stack: r.error.stack })) });
    process.stdout.write(`stats ${JSON.stringify(run.stats)}\n`);
  }
  process.stdout.write(`cache ${JSON.stringify(cache.stats())}\n`);
  if (a.out) fs.writeFileSync(a.out, JSON.stringify(all, null, 1));
  cache.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`child failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
