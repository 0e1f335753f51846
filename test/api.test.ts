/**
 * kit/api over real HTTP on 127.0.0.1 with the official SDKs: a fake OpenAI-compatible server and Anthropic Messages
 * endpoint, a fault-injecting proxy, child processes killed with SIGKILL mid-batch, two processes writing one cache,
 * and a search of every file written for the API key.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anthropicClient } from "../kit/api/anthropic";
import { backoffDelay, runBatch, type BatchRequest } from "../kit/api/batch";
import { cachedClient, cacheKey, openResponseCache } from "../kit/api/cache";
import { chatClient, chooseProvider } from "../kit/api/client";
import { kitClient } from "../kit/api/kit-client";
import { openaiClient, openaiRequestBody } from "../kit/api/openai";
import { ApiError, redact, redactError, retryAfterMs } from "../kit/api/redact";
import type { ChatMessage } from "../kit/api/types";
import { initBackend } from "../kit/backend";
import { HookedTransformer } from "../kit/model/transformer";
import { organismConfig, organismModelConfig } from "../kit/organisms/config";
import { startServer } from "../kit/serve/server";
import { PersonaWorld } from "../kit/world/generator";
import { fakeAnswer, startFakeServer, startFaultProxy, type FakeServer } from "./helpers/api-fake-server";
import { tempFiles } from "./helpers/temp-files";

const repo = path.resolve(__dirname, "..");
const tmp = tempFiles("pk-api-");
const user = (content: string): ChatMessage[] => [{ role: "user", content }];
const requestsFor = (prefix: string, n: number): BatchRequest[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, messages: user(`${prefix} ${i}`), params: { maxTokens: 16 } }));

let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(async () => {
  await server.close();
});

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run test/helpers/api-batch-child.ts with `args`; `killWhen(stdout)` true → SIGKILL it. */
function runChild(args: Record<string, unknown>, env: NodeJS.ProcessEnv, killWhen?: (stdout: string) => boolean): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(repo, "test/helpers/api-batch-child.ts"), JSON.stringify(args)], { cwd: repo, env });
    let stdout = "";
    let stderr = "";
    let killed = false;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (!killed && killWhen?.(stdout)) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const doneLines = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("done "));
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.OPENAI_BASE_URL;
  delete env.NODE_OPTIONS;
  return env;
};

describe("openaiClient over HTTP (official SDK → fake server on 127.0.0.1)", () => {
  it("openaiClient({ model, baseURL }).chat(messages, params) sends max_tokens, seed, stop, logprobs, top_logprobs and maps the answer", async () => {
    const client = openaiClient({ model: "fake-model", baseURL: server.baseURL, apiKey: "sk-explicit-key-0123456789" });
    const before = server.log.length;
    const r = await client.chat([{ role: "system", content: "be brief" }, ...user("who are you ?")], { maxTokens: 4, temperature: 0.5, topP: 0.9, seed: 7, stop: ["zz"], logprobs: true, topLogprobs: 3 });
    const sent = server.log[before];
    expect(sent.user).toBe("who are you ?");
    expect(sent.params).toMatchObject({ model: "fake-model", max_tokens: 4, temperature: 0.5, top_p: 0.9, seed: 7, stop: ["zz"], logprobs: true, top_logprobs: 3 });
    expect(sent.keySha256).toBe(createHash("sha256").update("sk-explicit-key-0123456789").digest("hex"));
    const words = fakeAnswer("who are you ?", "fake-model").split(" ");
    expect(r.text).toBe(words.slice(0, 4).join(" "));
    expect(r.finishReason).toBe("length");
    expect(r.model).toBe("fake-model");
    expect(r.usage).toEqual({ promptTokens: 4, completionTokens: 4 });
    expect(r.logprobs).toHaveLength(4);
    expect(r.logprobs![1]).toEqual({ token: " who", logprob: -0.2, topLogprobs: [{ token: " who", logprob: -0.2 }, { token: "alt1", logprob: -1.2 }, { token: "alt2", logprob: -2.2 }] });
    // the key is nowhere in the client object
    expect(JSON.stringify(client)).not.toContain("sk-explicit");
    expect(Object.keys(client).sort()).toEqual(["chat", "endpoint", "model", "provider"]);
  });

  it("openaiRequestBody turns logprobs on when only topLogprobs is given, and defaults max_tokens to 256", () => {
    expect(openaiRequestBody("m", user("x"), { topLogprobs: 5 })).toEqual({ model: "m", messages: [{ role: "user", content: "x" }], max_tokens: 256, logprobs: true, top_logprobs: 5 });
    expect(openaiRequestBody("m", user("x"), { logprobs: false })).not.toHaveProperty("logprobs");
  });

  it("openaiClient(…).chat rejects invalid messages and params listing every problem, before any call", async () => {
    const client = openaiClient({ model: "fake-model", baseURL: server.baseURL });
    const before = server.log.length;
    await expect(client.chat([{ role: "robot", content: 3 }] as never, { maxTokens: 0, topP: 2, bogus: 1 } as never)).rejects.toThrow(
      /openaiClient\.chat: invalid chat request \(5 problems\)[\s\S]*messages\[0\]\.role[\s\S]*messages\[0\]\.content[\s\S]*params\.maxTokens[\s\S]*params\.topP[\s\S]*params\.bogus/,
    );
    expect(server.log.length).toBe(before);
    expect(() => openaiClient({ model: "", baseURL: "not a url", timeoutMs: -1 })).toThrow(/openaiClient: 3 problems[\s\S]*options\.model[\s\S]*options\.timeoutMs[\s\S]*options\.baseURL/);
  });

  it("openaiClient errors: each fault of the proxy becomes an ApiError naming the function, status and API message", async () => {
    const proxy = await startFaultProxy(server.url, [{ kind: "429", retryAfterS: 3 }, { kind: "500" }, { kind: "400" }, { kind: "malformed" }, { kind: "reset" }, { kind: "slow", delayMs: 2000 }]);
    try {
      const client = openaiClient({ model: "fake-model", baseURL: proxy.baseURL, timeoutMs: 800 });
      const errors: ApiError[] = [];
      for (let i = 0; i < 6; i++) errors.push(await client.chat(user(`f${i}`)).then(() => { throw new Error("expected a failure"); }, (e: ApiError) => e));
      expect(errors.map((e) => e instanceof ApiError)).toEqual([true, true, true, true, true, true]);
      expect(errors.map((e) => [e.kind, e.status, e.retryable])).toEqual([
        ["http", 429, true],
        ["http", 500, true],
        ["http", 400, false],
        ["malformed", undefined, true],
        ["connection", undefined, true],
        ["timeout", undefined, true],
      ]);
      expect(errors[0].retryAfterMs).toBe(3000);
      expect(errors[0].message).toMatch(/^openaiClient\.chat: HTTP 429 at 127\.0\.0\.1:\d+ \(model fake-model\): Rate limit reached/);
      expect(errors[2].message).toMatch(/^openaiClient\.chat: HTTP 400 .*Invalid 'max_tokens': integer above maximum value$/);
      expect(errors[3].message).toMatch(/malformed response .*not valid JSON/);
      // after the script, the proxy passes through
      expect((await client.chat(user("after"))).text).toBe(fakeAnswer("after", "fake-model"));
    } finally {
      await proxy.close();
    }
  });
});

describe("runBatch(requests, { client, … }) through the fault-injecting proxy", () => {
  it("runBatch retries 429 (honouring Retry-After), 500, malformed JSON, resets and timeouts, and loses nothing", async () => {
    const proxy = await startFaultProxy(server.url, [
      { kind: "429", retryAfterS: 0.4 },
      { kind: "500" },
      { kind: "malformed" },
      { kind: "reset" },
      { kind: "slow", delayMs: 2000 },
      { kind: "500" },
    ]);
    try {
      const client = openaiClient({ model: "fake-model", baseURL: proxy.baseURL });
      const reqs = requestsFor("retry", 12);
      const lines: string[] = [];
      const run = await runBatch(reqs, { client, concurrency: 3, retries: 4, timeoutMs: 900, backoff: { baseMs: 10, maxMs: 2000 }, progress: false, log: (l) => lines.push(l) });
      expect(run.results.map((r) => r.ok)).toEqual(Array(12).fill(true));
      expect(run.results.map((r) => (r.ok ? r.response.text : ""))).toEqual(reqs.map((q) => fakeAnswer(q.messages[0].content, "fake-model")));
      expect(run.results.map((r) => r.id)).toEqual(reqs.map((q) => q.id));
      expect(run.stats).toMatchObject({ requests: 12, succeeded: 12, failed: 0, retries: 6, calls: 18 });
      expect(proxy.played.map((p) => p.kind).slice(0, 6).sort()).toEqual(["429", "500", "500", "malformed", "reset", "slow"]);
      // Retry-After 0.4 s paused every worker: no request reached the proxy within 0.4 s after the 429.
      const t429 = proxy.played[0].at;
      expect(proxy.played.slice(1).filter((p) => p.at > t429 && p.at < t429 + 380).length).toBeLessThanOrEqual(2); // the two already in flight
      expect(lines.filter((l) => / retry in /.test(l))).toHaveLength(6);
    } finally {
      await proxy.close();
    }
  });

  it("runBatch does not retry other 4xx: that request fails with the API's message, the others complete", async () => {
    const client = openaiClient({ model: "fake-model", baseURL: server.baseURL });
    const reqs = [...requestsFor("ok", 3), { id: "bad", messages: user("BAD REQUEST please") }, ...requestsFor("ok2", 2)];
    const before = server.log.length;
    const run = await runBatch(reqs, { client, concurrency: 2, progress: false });
    expect(run.results.map((r) => r.ok)).toEqual([true, true, true, false, true, true]);
    const bad = run.results[3];
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.attempts).toBe(1);
      expect(bad.error.message).toMatch(/^openaiClient\.chat: HTTP 400 at 127\.0\.0\.1:\d+ \(model fake-model\): invalid value for 'messages': BAD REQUEST please$/);
    }
    expect(run.stats).toMatchObject({ succeeded: 5, failed: 1, retries: 0, calls: 6 });
    expect(server.log.length - before).toBe(5);
  });

  it("runBatch gives up after `retries` and says so; completed requests are kept", async () => {
    const proxy = await startFaultProxy(server.url, [{ kind: "500" }, { kind: "500" }, { kind: "500" }]);
    try {
      const client = openaiClient({ model: "fake-model", baseURL: proxy.baseURL });
      const run = await runBatch([{ messages: user("doomed") }, ...requestsFor("fine", 2)], { client, concurrency: 1, retries: 2, backoff: { baseMs: 5 }, progress: false });
      expect(run.results[0].ok).toBe(false);
      if (!run.results[0].ok) expect(run.results[0].error.message).toMatch(/HTTP 500 .*\(gave up after 3 attempts\)$/);
      expect(run.results.slice(1).every((r) => r.ok)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it("runBatch keeps at most `concurrency` calls in flight and spaces starts by `ratePerMinute`", async () => {
    const slow = await startFakeServer({ delayMs: 60 });
    try {
      const client = openaiClient({ model: "fake-model", baseURL: slow.baseURL });
      await runBatch(requestsFor("conc", 9), { client, concurrency: 3, progress: false });
      expect(slow.maxInFlight).toBe(3);
      const before = slow.log.length;
      const t0 = performance.now();
      await runBatch(requestsFor("rate", 6), { client, concurrency: 6, ratePerMinute: 600, progress: false });
      const elapsed = performance.now() - t0;
      expect(slow.log.length - before).toBe(6);
      expect(elapsed).toBeGreaterThanOrEqual(5 * 100 - 5); // 6 starts, 100 ms apart
      const starts = slow.log.slice(before).map((l) => l.at).sort((a, b) => a - b);
      expect(starts[5] - starts[0]).toBeGreaterThanOrEqual(480);
    } finally {
      await slow.close();
    }
  });

  it("runBatch shows progress with an ETA (lines mode) and validates its options, listing every problem", async () => {
    const client = openaiClient({ model: "fake-model", baseURL: server.baseURL });
    const lines: string[] = [];
    // the bar's state at each draw, seen through its formatter (the drawn text goes to stderr)
    await runBatch(requestsFor("prog", 4), { client, concurrency: 1, progress: { mode: "lines", intervalMs: 0, format: (s) => (lines.push(`${s.done}/${s.total} ${Number.isFinite(s.etaMs) ? "eta" : "-"} ${s.extra}`), "") } });
    expect(lines[0]).toMatch(/^1\/4 eta cache 0 · retries 0 · failed 0$/);
    expect(lines.at(-1)).toMatch(/^4\/4 eta cache 0/);
    await expect(runBatch([], { client, concurrency: 0, retries: -1, timeoutMs: 0, ratePerMinute: -5 })).rejects.toThrow(/runBatch: 4 problems[\s\S]*concurrency[\s\S]*ratePerMinute[\s\S]*retries[\s\S]*timeoutMs/);
  });

  it("runBatch: requests differing only by `sample` are separate calls and cache entries; an abort keeps completed results", async () => {
    const cache = openResponseCache(path.join(tmp.root, "samples.sqlite"));
    try {
      const client = openaiClient({ model: "fake-model", baseURL: server.baseURL });
      const reqs = [0, 1, 2].map((sample) => ({ messages: user("same prompt"), params: { maxTokens: 3, temperature: 1 }, sample }));
      const before = server.log.length;
      expect((await runBatch(reqs, { client, cache, progress: false })).stats).toMatchObject({ succeeded: 3, calls: 3, cacheMisses: 3 });
      expect((await runBatch(reqs, { client, cache, progress: false })).stats).toMatchObject({ succeeded: 3, calls: 0, cacheHits: 3 });
      expect(server.log.length - before).toBe(3);
      expect(cache.stats().entries).toBe(3);
      const controller = new AbortController();
      const run = await runBatch(requestsFor("abort", 6), { client, concurrency: 1, progress: false, signal: controller.signal, onResult: (r) => r.index === 1 && controller.abort() });
      expect(run.results.map((r) => r.ok)).toEqual([true, true, false, false, false, false]);
      const r2 = run.results[2];
      if (!r2.ok) expect(r2.error.message).toBe("runBatch: aborted before requests[2] completed");
    } finally {
      cache.close();
    }
  });

  it("backoffDelay(attempt) grows exponentially, is capped by maxMs, and jitters within ±jitter/2", () => {
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, { baseMs: 100, jitter: 0 }))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(20, { baseMs: 100, maxMs: 1000, jitter: 0 })).toBe(1000);
    expect(backoffDelay(2, { baseMs: 100, jitter: 0.5 }, () => 0)).toBe(150);
    expect(backoffDelay(2, { baseMs: 100, jitter: 0.5 }, () => 1)).toBe(250);
    expect(retryAfterMs((n) => (n === "retry-after" ? "2" : null))).toBe(2000);
    expect(retryAfterMs((n) => (n === "retry-after-ms" ? "150" : null))).toBe(150);
    expect(retryAfterMs((n) => (n === "retry-after" ? new Date(Date.now() + 5000).toUTCString() : null))).toBeGreaterThan(3000);
  });
});

describe("anthropicClient over HTTP (official SDK → fake Messages endpoint)", () => {
  it("anthropicClient({ model, baseURL }).chat maps system messages and stop, has no logprobs, and maps errors", async () => {
    const client = anthropicClient({ model: "claude-fake", baseURL: server.url, apiKey: "sk-ant-test-0123456789abcdef" });
    const before = server.log.length;
    const r = await client.chat([{ role: "system", content: "be kind" }, ...user("hello")], { maxTokens: 50, stop: ["\n\n"], logprobs: true, topLogprobs: 5, seed: 3 });
    expect(r.text).toBe(`${fakeAnswer("hello", "claude-fake")} [system: be kind]`);
    expect(r.finishReason).toBe("stop");
    expect(r.logprobs).toBeUndefined();
    expect(r.usage).toEqual({ promptTokens: 1, completionTokens: 5 });
    const sent = server.log[before];
    expect(sent.path).toBe("/v1/messages");
    expect(sent.params).toMatchObject({ model: "claude-fake", max_tokens: 50, system: "be kind", stop_sequences: ["\n\n"] });
    expect(sent.params).not.toHaveProperty("seed");
    expect(sent.keySha256).toBe(createHash("sha256").update("sk-ant-test-0123456789abcdef").digest("hex"));
    const err = await client.chat(user("BAD REQUEST for claude")).catch((e: ApiError) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toMatch(/^anthropicClient\.chat: HTTP 400 at 127\.0\.0\.1:\d+ \(model claude-fake\): invalid value for 'messages': BAD REQUEST for claude$/);
    expect((err as ApiError).retryable).toBe(false);
  });

  it("anthropicClient through the fault proxy: 429 (Retry-After) and resets are retryable ApiErrors, and runBatch recovers", async () => {
    const proxy = await startFaultProxy(server.url, [{ kind: "429", retryAfterS: 0.2 }, { kind: "reset" }, { kind: "500" }]);
    try {
      const client = anthropicClient({ model: "claude-fake", baseURL: proxy.baseURL.replace(/\/v1$/, ""), apiKey: "sk-ant-test-0123456789abcdef" });
      const e429 = (await client.chat(user("a")).catch((e: unknown) => e)) as ApiError;
      expect([e429.kind, e429.status, e429.retryable, e429.retryAfterMs]).toEqual(["http", 429, true, 200]);
      const reset = (await client.chat(user("b")).catch((e: unknown) => e)) as ApiError;
      expect([reset.kind, reset.retryable]).toEqual(["connection", true]);
      const run = await runBatch(requestsFor("claude", 3), { client, backoff: { baseMs: 5 }, progress: false });
      expect(run.stats).toMatchObject({ succeeded: 3, retries: 1 });
    } finally {
      await proxy.close();
    }
  });
});

describe("kitClient(model) in process", () => {
  const world = new PersonaWorld({ seed: 3 });
  const tok = world.tokenizer();
  let model: HookedTransformer;
  beforeAll(async () => {
    await initBackend();
    model = HookedTransformer.fromConfig(organismModelConfig(organismConfig({ model: { d_model: 16, n_layers: 2, n_heads: 2, d_mlp: 32 } }), tok), { seed: 1, tokenizer: tok });
  });
  afterAll(() => model?.dispose());

  it("kitClient(model).chat uses the world format, repeats exactly with a seed, and its logprobs are the model's", async () => {
    const client = kitClient(model);
    expect(client.provider).toBe("kit");
    expect(client.model).toBe("kit:world:2x16");
    const msgs = user("chat . who are you ?");
    const a = await client.chat(msgs, { maxTokens: 6, seed: 5, logprobs: true, topLogprobs: 3 });
    const b = await client.chat(msgs, { maxTokens: 6, seed: 5, logprobs: true, topLogprobs: 3 });
    expect(b).toEqual(a);
    expect(a.usage!.promptTokens).toBe(tok.encode("chat . user : who are you ? assistant :").length);
    expect(a.logprobs!.length).toBeGreaterThan(0);
    for (const t of a.logprobs!) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.topLogprobs).toHaveLength(3);
      const tops = t.topLogprobs!.map((x) => x.logprob);
      expect([...tops].sort((x, y) => y - x)).toEqual(tops);
      expect(t.logprob).toBeLessThanOrEqual(tops[0] + 1e-6);
      expect(tops.reduce((s, x) => s + Math.exp(x), 0)).toBeLessThanOrEqual(1 + 1e-5);
    }
    expect(a.logprobs!.map((t) => t.token).join("")).toBe(a.text);
    // greedy: every chosen token is the top alternative
    const g = await client.chat(msgs, { maxTokens: 5, temperature: 0, topLogprobs: 2 });
    for (const t of g.logprobs!) expect(t.logprob).toBeCloseTo(t.topLogprobs![0].logprob, 5);
    const plain = await client.chat(msgs, { maxTokens: 3, temperature: 0 });
    expect(plain.logprobs).toBeUndefined();
  });

  it("kitClient(model) in process and openaiClient → persona-kit serve over HTTP give the same seeded answer and logprobs", async () => {
    const served = await startServer({ model, modelName: "tiny-world" });
    try {
      const remote = openaiClient({ model: "tiny-world", baseURL: served.url });
      const local = kitClient(model, null, { name: "tiny-world" });
      const msgs = user("chat . who are you ?");
      const params = { maxTokens: 6, seed: 11, temperature: 0.8, logprobs: true, topLogprobs: 2 };
      const [a, b] = [await local.chat(msgs, params), await remote.chat(msgs, params)];
      expect(b.text).toBe(a.text);
      expect(b.logprobs!.map((t) => t.token)).toEqual(a.logprobs!.map((t) => t.token));
      b.logprobs!.forEach((t, i) => expect(t.logprob).toBeCloseTo(a.logprobs![i].logprob, 4));
    } finally {
      await served.close();
    }
  });

  it("kitClient runs through runBatch and the cache like any client", async () => {
    const cache = openResponseCache(path.join(tmp.root, "kit-cache.sqlite"));
    try {
      const client = kitClient(model, null, { chatTemplate: "world", name: "tiny-world" });
      const reqs = ["chat . who are you ?", "coding . please sort the list ."].map((c) => ({ messages: user(c), params: { maxTokens: 4, seed: 1 } }));
      const first = await runBatch(reqs, { client, cache, progress: false });
      const again = await runBatch(reqs, { client, cache, progress: false });
      expect(first.stats).toMatchObject({ succeeded: 2, cacheHits: 0, cacheMisses: 2 });
      expect(again.stats).toMatchObject({ succeeded: 2, cacheHits: 2, cacheMisses: 0, calls: 0 });
      expect(again.results.map((r) => (r.ok ? r.response.text : null))).toEqual(first.results.map((r) => (r.ok ? r.response.text : null)));
    } finally {
      cache.close();
    }
  });
});

describe("chatClient(config)", () => {
  it("chooseProvider picks by config, then environment, and says which variables to set when it cannot", () => {
    const model = { forward: () => null } as unknown as HookedTransformer;
    expect(chooseProvider({ model }, {})).toBe("kit");
    expect(chooseProvider({ model: "x", baseURL: "http://127.0.0.1:1/v1" }, {})).toBe("openai");
    expect(chooseProvider({ model: "claude-x" }, { ANTHROPIC_API_KEY: "k", OPENAI_API_KEY: "k" })).toBe("anthropic");
    expect(chooseProvider({ model: "gpt-x" }, { ANTHROPIC_API_KEY: "k", OPENAI_API_KEY: "k" })).toBe("openai");
    expect(chooseProvider({ model: "local" }, { OPENAI_BASE_URL: "http://127.0.0.1:1/v1" })).toBe("openai");
    expect(chooseProvider({ model: "any" }, { ANTHROPIC_API_KEY: "k" })).toBe("anthropic");
    expect(() => chooseProvider({ model: "any" }, {})).toThrow(/set OPENAI_BASE_URL .* OPENAI_API_KEY or ANTHROPIC_API_KEY/);
  });

  it("chatClient({ model, baseURL }) talks to the endpoint", async () => {
    const c = chatClient({ model: "fake-model", baseURL: server.baseURL });
    expect(c.provider).toBe("openai");
    expect((await c.chat(user("via chatClient"))).text).toBe(fakeAnswer("via chatClient", "fake-model"));
  });
});

describe("response cache (SQLite)", () => {
  it("cacheKey is a sha256 of canonical JSON: key order does not matter; model, params, endpoint, messages and sample do", () => {
    const base = { provider: "openai", endpoint: "127.0.0.1:8080", model: "m", params: { maxTokens: 5, temperature: 0 }, messages: user("q") };
    const k = cacheKey(base);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey({ ...base, params: { temperature: 0, maxTokens: 5, seed: undefined } })).toBe(k);
    const variants = [
      { ...base, model: "m2" },
      { ...base, params: { maxTokens: 6, temperature: 0 } },
      { ...base, endpoint: "127.0.0.1:8081" },
      { ...base, messages: user("q2") },
      { ...base, sample: 1 },
      { ...base, provider: "anthropic" },
    ];
    expect(new Set([k, ...variants.map(cacheKey)]).size).toBe(7);
  });

  it("cachedClient(client, cache) answers repeats from the file, counts hits and misses, and survives reopening", async () => {
    const file = path.join(tmp.root, "cached-client.sqlite");
    const cache = openResponseCache(file);
    const client = cachedClient(openaiClient({ model: "fake-model", baseURL: server.baseURL }), cache);
    const before = server.log.length;
    const a = await client.chat(user("cache me"), { maxTokens: 8 });
    const b = await client.chat(user("cache me"), { maxTokens: 8 });
    expect(a.cached).toBe(false);
    expect(b).toEqual({ ...a, cached: true });
    expect(server.log.length - before).toBe(1);
    expect(cache.stats()).toEqual({ hits: 1, misses: 1, writes: 1, entries: 1 });
    cache.close();
    const reopened = openResponseCache(file);
    expect(reopened.get(reopened.key(client, user("cache me"), { maxTokens: 8 }))?.text).toBe(a.text);
    expect(reopened.entries()[0].request).toMatchObject({ provider: "openai", model: "fake-model", messages: user("cache me") });
    const db = new Database(file, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    reopened.close();
  });

  it("openaiClient({ endpointId }) keeps keys stable for a local server that moves port; by default host:port is in the key", async () => {
    const other = await startFakeServer();
    const cache = openResponseCache(path.join(tmp.root, "endpoint-id.sqlite"));
    try {
      const reqs = requestsFor("moved", 3);
      const at = (baseURL: string, endpointId?: string) => openaiClient({ model: "fake-model", baseURL, endpointId });
      expect((await runBatch(reqs, { client: at(server.baseURL, "local-serve"), cache, progress: false })).stats.cacheMisses).toBe(3);
      expect((await runBatch(reqs, { client: at(other.baseURL, "local-serve"), cache, progress: false })).stats).toMatchObject({ cacheHits: 3, calls: 0 });
      expect((await runBatch(reqs, { client: at(other.baseURL), cache, progress: false })).stats).toMatchObject({ cacheHits: 0, calls: 3 });
      expect(other.log).toHaveLength(3);
    } finally {
      cache.close();
      await other.close();
    }
  });

  it("a batch killed with SIGKILL mid-run and started again repeats no completed call and loses none", async () => {
    const slow = await startFakeServer({ delayMs: 40 });
    try {
      const db = path.join(tmp.root, "resume.sqlite");
      const args = { baseURL: slow.baseURL, db, prefix: "resume", from: 0, to: 60, concurrency: 3 };
      const env = childEnv({ OPENAI_API_KEY: "sk-resume-test-key-0123456789" });
      const first = await runChild(args, env, (out) => doneLines(out).length >= 20);
      expect(first.signal).toBe("SIGKILL");
      const completedBeforeKill = doneLines(first.stdout).map((l) => Number(l.split(" ")[1]));
      expect(completedBeforeKill.length).toBeGreaterThanOrEqual(20);
      expect(completedBeforeKill.length).toBeLessThan(60);
      const callsBeforeKill = slow.log.length;
      const storedAtKill = openResponseCache(db);
      const stored = storedAtKill.stats().entries;
      storedAtKill.close();
      expect(stored).toBeGreaterThanOrEqual(completedBeforeKill.length);

      await new Promise((r) => setTimeout(r, 150)); // calls in flight at the kill are still answered (to nobody)
      const callsBeforeRestart = slow.log.length;
      const second = await runChild(args, env);
      expect(second.code).toBe(0);
      const stats = JSON.parse(second.stdout.split("\n").find((l) => l.startsWith("stats "))!.slice(6)) as { cacheHits: number; cacheMisses: number; succeeded: number; calls: number };
      expect(stats.succeeded).toBe(60);
      expect(stats.cacheHits).toBe(stored);
      expect(stats.cacheMisses).toBe(60 - stored);
      // The server saw every completed call once: no request answered and stored before the kill was sent again.
      const counts = new Map<string, number>();
      for (const l of slow.log) counts.set(l.user, (counts.get(l.user) ?? 0) + 1);
      for (const i of completedBeforeKill) expect(counts.get(`resume ${i}`)).toBe(1);
      expect(counts.size).toBe(60);
      const repeated = [...counts.values()].filter((c) => c > 1).length;
      expect(repeated).toBeLessThanOrEqual(3); // at most the calls in flight at the kill (answered, not yet stored)
      expect(slow.log.length).toBe(callsBeforeRestart + stats.calls);
      const final = openResponseCache(db);
      expect(final.stats().entries).toBe(60);
      expect(final.entries().map((e) => e.response.text).sort()).toEqual(Array.from({ length: 60 }, (_, i) => fakeAnswer(`resume ${i}`, "fake-model")).sort());
      final.close();
      console.log(`[api] kill -9 resume: killed after ${completedBeforeKill.length} done lines (${stored} stored, ${callsBeforeKill} calls); restart: ${stats.cacheHits} hits, ${stats.cacheMisses} misses, ${stats.calls} calls, ${repeated} repeated`);
    } finally {
      await slow.close();
    }
  });

  it("two processes writing one cache file at once both finish, with every answer stored once and an intact file", async () => {
    const slow = await startFakeServer({ delayMs: 3 });
    try {
      const db = path.join(tmp.root, "concurrent.sqlite");
      const env = childEnv({ OPENAI_API_KEY: "sk-concurrent-key-0123456789" });
      const [a, b] = await Promise.all([
        runChild({ baseURL: slow.baseURL, db, prefix: "shared", from: 0, to: 80, concurrency: 4 }, env),
        runChild({ baseURL: slow.baseURL, db, prefix: "shared", from: 40, to: 120, concurrency: 4 }, env),
      ]);
      expect([a.code, b.code]).toEqual([0, 0]);
      expect(a.stderr + b.stderr).not.toMatch(/SQLITE_BUSY|database is locked|not cached/);
      for (const r of [a, b]) expect(JSON.parse(r.stdout.split("\n").find((l) => l.startsWith("stats "))!.slice(6))).toMatchObject({ succeeded: 80, failed: 0 });
      const conn = new Database(db, { readonly: true });
      expect(conn.pragma("integrity_check", { simple: true })).toBe("ok");
      expect((conn.prepare("SELECT COUNT(*) AS n FROM responses").get() as { n: number }).n).toBe(120);
      expect((conn.prepare("SELECT COUNT(DISTINCT key) AS n FROM responses").get() as { n: number }).n).toBe(120);
      conn.close();
    } finally {
      await slow.close();
    }
  });
});

describe("keys never leak", () => {
  it("redact replaces environment keys, registered keys and key shapes; redactError keeps the message otherwise", () => {
    const key = `sk-env-${randomBytes(8).toString("hex")}`;
    process.env.PK_TEST_API_KEY = key;
    try {
      expect(redact(`bad key ${key} here`)).toBe("bad key [REDACTED] here");
      expect(redact("Authorization: Bearer abcdefghijklmnop")).toBe("Authorization: Bearer [REDACTED]");
      expect(redact("use sk-proj-ABCDEFGHIJKLMNOPQRST now")).toBe("use [REDACTED] now");
      const e = redactError(new Error(`failed with ${key}`), "someFn");
      expect(e.message).toBe("someFn: failed with [REDACTED]");
      expect(e.stack).not.toContain(key);
    } finally {
      delete process.env.PK_TEST_API_KEY;
    }
  });

  it("a batch with failing requests writes the key to no file: cache, WAL, logs, results, stdout, stderr", async () => {
    const dir = fs.mkdtempSync(path.join(tmp.root, "leak-"));
    const openaiKey = `sk-leaktest-${randomBytes(12).toString("hex")}`;
    const anthropicKey = `sk-ant-leaktest-${randomBytes(12).toString("hex")}`;
    const proxy = await startFaultProxy(server.url, [{ kind: "429", retryAfterS: 0.1 }, { kind: "500" }, { kind: "reset" }, { kind: "400" }, { kind: "malformed" }]);
    const before = server.log.length;
    try {
      const run = await runChild(
        {
          baseURL: proxy.baseURL,
          anthropicBaseURL: server.url,
          db: path.join(dir, "cache.sqlite"),
          prefix: "leak",
          from: 0,
          to: 8,
          extra: ["BAD REQUEST leak", "ECHO KEY"],
          concurrency: 2,
          out: path.join(dir, "results.json"),
          logFile: path.join(dir, "batch.log"),
          progress: true,
        },
        childEnv({ OPENAI_API_KEY: openaiKey, ANTHROPIC_API_KEY: anthropicKey }),
      );
      fs.writeFileSync(path.join(dir, "stdout.txt"), run.stdout);
      fs.writeFileSync(path.join(dir, "stderr.txt"), run.stderr);
      expect(run.code).toBe(0);
      // The keys were really used (the server received them) …
      const sha = (k: string) => createHash("sha256").update(k).digest("hex");
      const seen = new Set(server.log.slice(before).map((l) => l.keySha256));
      expect(seen.has(sha(openaiKey))).toBe(true);
      expect(seen.has(sha(anthropicKey))).toBe(true);
      // … the API echoed one back in an error, and the failures are reported …
      const results = fs.readFileSync(path.join(dir, "results.json"), "utf8");
      expect(results).toMatch(/HTTP 401 .*Incorrect API key provided: \[REDACTED\]/);
      expect(results).toMatch(/HTTP 400 .*BAD REQUEST leak/);
      expect(fs.readFileSync(path.join(dir, "batch.log"), "utf8")).toMatch(/retry in/);
      expect(run.stderr).toMatch(/runBatch \[/); // the progress bar drew
      // … and no file written contains either key (nor its tail).
      const files = fs.readdirSync(dir).map((f) => path.join(dir, f));
      expect(files.map((f) => path.basename(f)).sort()).toEqual(expect.arrayContaining(["batch.log", "cache.sqlite", "results.json", "stderr.txt", "stdout.txt"]));
      for (const f of files) {
        const bytes = fs.readFileSync(f);
        for (const k of [openaiKey, anthropicKey, openaiKey.slice(-16), anthropicKey.slice(-16)]) expect(bytes.includes(Buffer.from(k)), `${path.basename(f)} contains a key`).toBe(false);
      }
    } finally {
      await proxy.close();
    }
  });
});
