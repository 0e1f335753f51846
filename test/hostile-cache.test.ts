/**
 * The response cache shared by several processes: leases on in-flight keys (another process waits for the answer
 * instead of paying for it), leases that lapse or are taken over after `kill -9`, and live results redacted as the
 * stored ones are. Calls are counted at a local fake OpenAI server (test/helpers/api-fake-server.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBatch } from "../kit/api/batch";
import { openResponseCache } from "../kit/api/cache";
import type { ChatClient } from "../kit/api/types";
import { startFakeServer, type FakeServer } from "./helpers/api-fake-server";

const repo = path.resolve(__dirname, "..");
const root = fs.mkdtempSync(path.join(os.tmpdir(), "pk-hostile-cache-"));
let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer({ delayMs: 5 });
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** test/helpers/api-batch-child.ts in its own process; `killAfter` done lines → SIGKILL. */
function child(args: Record<string, unknown>, killAfter?: number): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, OPENAI_API_KEY: "sk-test-hostile-0000000000" };
    delete env.NODE_OPTIONS;
    const p = spawn(process.execPath, ["--import", "tsx", path.join(repo, "test/helpers/api-batch-child.ts"), JSON.stringify(args)], { cwd: repo, env });
    let stdout = "";
    p.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (killAfter !== undefined && stdout.split("\n").filter((l) => l.startsWith("done ")).length >= killAfter) p.kill("SIGKILL");
    });
    p.stderr.resume();
    p.on("error", reject);
    p.on("exit", (code, signal) => resolve({ code, signal, stdout }));
  });
}

const calls = (prefix: string) => server.log.filter((r) => r.user.startsWith(`${prefix} `)).length;

describe("openResponseCache(path) shared by several processes", () => {
  it("runBatch(300 requests, { cache }) in four processes at once makes each call once", async () => {
    const db = path.join(root, "four.sqlite");
    const t0 = performance.now();
    const runs = await Promise.all([0, 1, 2, 3].map(() => child({ baseURL: server.baseURL, db, prefix: "four", from: 0, to: 300, concurrency: 4 })));
    for (const r of runs) expect(r.code).toBe(0);
    const n = calls("four");
    console.log(`[hostile-cache] 4 processes × 300 requests: ${n} calls in ${Math.round(performance.now() - t0)} ms`);
    expect(n).toBe(300);
    const cache = openResponseCache(db);
    expect(cache.stats().entries).toBe(300);
    cache.close();
  }, 120_000);

  it("after kill -9 of one process mid-batch, the others take over its leases: repeats ≤ the calls in flight", async () => {
    const db = path.join(root, "killed.sqlite");
    const killed = await child({ baseURL: server.baseURL, db, prefix: "kill", from: 0, to: 300, concurrency: 4 }, 40);
    expect(killed.signal).toBe("SIGKILL");
    const runs = await Promise.all([0, 1].map(() => child({ baseURL: server.baseURL, db, prefix: "kill", from: 0, to: 300, concurrency: 4 })));
    for (const r of runs) expect(r.code).toBe(0);
    const n = calls("kill");
    console.log(`[hostile-cache] kill -9 after 40 results, then 2 processes: ${n} calls for 300 requests`);
    expect(n).toBeGreaterThanOrEqual(300);
    expect(n).toBeLessThanOrEqual(300 + 4);
  }, 120_000);
});

describe("ResponseCache leases", () => {
  it("ResponseCache.lease(key) is busy for another live owner, lapses after leaseMs, ends with put, and is taken over from a dead process", async () => {
    const db = path.join(root, "lease.sqlite");
    const a = openResponseCache(db, { leaseMs: 150 });
    const b = openResponseCache(db, { leaseMs: 150 });
    expect(a.lease("k1")).toBe("leased");
    expect(a.lease("k1")).toBe("leased");
    expect(b.lease("k1")).toBe("busy");
    await new Promise((r) => setTimeout(r, 200));
    expect(b.lease("k1")).toBe("leased"); // a's lease lapsed
    b.put("k1", { provider: "p", model: "m", messages: [{ role: "user", content: "x" }] }, { text: "answer", finishReason: "stop", model: "m" });
    expect(a.lease("k1")).toBe("stored");
    expect((await a.acquire("k1"))?.text).toBe("answer");
    // A lease left by a process of this machine that has exited is taken over at once.
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid!;
    const raw = new Database(db);
    raw.prepare("INSERT INTO leases (key, owner, expires_ms) VALUES (?, ?, ?)").run("k2", `${os.hostname()}:${dead}:x`, Date.now() + 60_000);
    raw.close();
    expect(a.lease("k2")).toBe("leased");
    a.close();
    b.close();
  });

  it("runBatch(requests, { cache }) returns a live answer that echoes a secret redacted, the same as its cached copy", async () => {
    const secret = "hostile-secret-value-1234567";
    process.env.HOSTILE_TEST_API_KEY = secret;
    try {
      const client: ChatClient = { provider: "kit", model: "m", endpoint: "", chat: async () => ({ text: `the key is ${secret}`, finishReason: "stop", model: "m" }) };
      const cache = openResponseCache(path.join(root, "redact.sqlite"));
      const requests = [{ messages: [{ role: "user" as const, content: "tell me the key" }] }];
      const live = await runBatch(requests, { client, cache, progress: false });
      const again = await runBatch(requests, { client, cache, progress: false });
      const text = (r: (typeof live.results)[number]) => (r.ok ? r.response.text : r.error.message);
      expect(live.results[0].ok && !live.results[0].cached).toBe(true);
      expect(again.results[0].ok && again.results[0].cached).toBe(true);
      expect(text(live.results[0])).toBe("the key is [REDACTED]");
      expect(text(again.results[0])).toBe(text(live.results[0]));
      cache.close();
    } finally {
      delete process.env.HOSTILE_TEST_API_KEY;
    }
  });
});
