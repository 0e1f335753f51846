/**
 * Tests for kit/io/hub.ts against a fake Hugging Face hub: a real HTTP server on 127.0.0.1 (random port) that the
 * tests start and stop, serving `<root>/<id>/<revision>/<file>` at `/<id>/resolve/<revision>/<file>` and logging
 * every request. Nothing here touches any other address.
 */
import { describe, it, expect, beforeEach, afterEach } from "vitest";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import { isHubId, resolveModelFolder, type HubOptions } from "../kit/io/hub";

// --- fake hub ----------------------------------------------------------------------------------------------------

interface Logged {
  method: string;
  /** Decoded file path inside the repo, or the raw URL path for anything else. */
  file: string;
  url: string;
  authorization: string | undefined;
}

/** Return true when the request was answered. */
type Intercept = (req: http.IncomingMessage, res: http.ServerResponse, file: string, count: number) => boolean;

class FakeHub {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "persona-hub-remote-"));
  readonly log: Logged[] = [];
  intercept: Intercept | undefined;
  endpoint = "";
  private readonly counts = new Map<string, number>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  addRepo(id: string, files: Record<string, string | Buffer>, revision = "main"): void {
    for (const [name, body] of Object.entries(files)) {
      const p = path.join(this.root, id, encodeURIComponent(revision), name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, body);
    }
  }

  requests(file?: string): Logged[] {
    return file === undefined ? this.log : this.log.filter((r) => r.file === file);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? "/";
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const file = m ? decodeURIComponent(m[3]) : url;
    this.log.push({ method: req.method ?? "", file, url, authorization: req.headers.authorization });
    const count = (this.counts.get(file) ?? 0) + 1;
    this.counts.set(file, count);
    if (this.intercept?.(req, res, file, count)) return;
    let local: string | undefined;
    if (m) local = path.join(this.root, m[1], m[2], ...file.split("/"));
    else if (url.startsWith("/cdn/")) local = path.join(this.root, ...url.slice(5).split("/").map(decodeURIComponent));
    if (local && fs.existsSync(local) && fs.statSync(local).isFile()) {
      const body = fs.readFileSync(local);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
      res.end(body);
      return;
    }
    res.writeHead(404, { "x-error-code": "EntryNotFound" });
    res.end("Entry not found");
  }
}

// --- fixtures ----------------------------------------------------------------------------------------------------

const CONFIG = JSON.stringify({ model_type: "gpt2", n_embd: 8, n_layer: 1 });
const TOKENIZER = JSON.stringify({ version: "1.0", model: { type: "BPE", vocab: { a: 0 } } });
const TOKENIZER_CONFIG = JSON.stringify({ bos_token: "<s>" });
const WEIGHTS = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256));

function singleFileRepo(): Record<string, string | Buffer> {
  return {
    "config.json": CONFIG,
    "tokenizer.json": TOKENIZER,
    "tokenizer_config.json": TOKENIZER_CONFIG,
    "model.safetensors": WEIGHTS,
  };
}

function shardedRepo(): Record<string, string | Buffer> {
  return {
    "config.json": CONFIG,
    "tokenizer.json": TOKENIZER,
    "model.safetensors.index.json": JSON.stringify({
      metadata: { total_size: 30 },
      weight_map: {
        "a.weight": "model-00001-of-00002.safetensors",
        "b.weight": "model-00001-of-00002.safetensors",
        "c.weight": "model-00002-of-00002.safetensors",
      },
    }),
    "model-00001-of-00002.safetensors": Buffer.from("shard one bytes"),
    "model-00002-of-00002.safetensors": Buffer.from("shard two bytes"),
  };
}

const tmpDirs: string[] = [];
function tmp(prefix = "persona-hub-cache-"): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.sort();
}

const noNetwork: typeof fetch = async () => {
  throw new Error("test: the network must not be touched");
};

let hub: FakeHub;
let cacheDir: string;

function opts(extra: HubOptions = {}): HubOptions {
  return { cacheDir, endpoint: hub.endpoint, localFilesOnly: false, token: "", retryDelayMs: 1, ...extra };
}

beforeEach(async () => {
  hub = await new FakeHub().start();
  cacheDir = tmp();
});

afterEach(async () => {
  await hub.stop();
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

// --- tests -------------------------------------------------------------------------------------------------------

describe("isHubId(s)", () => {
  it("isHubId(s) accepts name and org/name shapes", () => {
    for (const s of ["gpt2", "org/name", "HuggingFaceTB/SmolLM2-135M", "karpathy/tinyllamas", "a_b.c/d-e_f.1"]) {
      expect(isHubId(s), s).toBe(true);
    }
  });

  it("isHubId(s) rejects paths and malformed ids", () => {
    const bad = ["", "a/b/c", "./model", "../model", "/abs/model", "-x", "x-", ".x", "x.", "a--b", "a..b", "x.git",
      "has space", "org/", "/name", "a\\b", "x".repeat(97), "org/na:me"];
    for (const s of bad) expect(isHubId(s), JSON.stringify(s)).toBe(false);
  });

  it("isHubId(s) is false for an existing local path of the same shape", () => {
    const dir = tmp("persona-hub-cwd-");
    fs.mkdirSync(path.join(dir, "org", "name"), { recursive: true });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(isHubId("org/name")).toBe(false);
      expect(isHubId("org/other")).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("resolveModelFolder(idOrPath, options)", () => {
  it("resolveModelFolder(existingFolder) returns it unchanged without any request", async () => {
    const local = tmp("persona-hub-local-");
    expect(await resolveModelFolder(local, { fetch: noNetwork })).toBe(local);
    const cwd = process.cwd();
    process.chdir(local);
    try {
      fs.mkdirSync("org/model", { recursive: true });
      expect(await resolveModelFolder("org/model", { fetch: noNetwork })).toBe("org/model");
      expect(await resolveModelFolder(".", { fetch: noNetwork })).toBe(".");
    } finally {
      process.chdir(cwd);
    }
  });

  it("resolveModelFolder(path) rejects a missing path that is not a hub id, and a file", async () => {
    await expect(resolveModelFolder("./no/such/folder", { fetch: noNetwork }))
      .rejects.toThrow(/neither an existing local folder nor a valid Hugging Face model id/);
    const file = path.join(tmp(), "weights.bin");
    fs.writeFileSync(file, "x");
    await expect(resolveModelFolder(file, { fetch: noNetwork })).rejects.toThrow(/is a file/);
  });

  it("resolveModelFolder(id) downloads a single-file model into the cache", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    const progress: { file: string; loaded: number; total: number | null }[] = [];
    const dir = await resolveModelFolder("org/tiny", opts({ onProgress: (p) => progress.push({ ...p }) }));

    expect(dir).toBe(path.join(cacheDir, "models--org--tiny", "snapshots", "main"));
    expect(fs.readFileSync(path.join(dir, "config.json"), "utf8")).toBe(CONFIG);
    expect(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")).toBe(TOKENIZER);
    expect(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")).toBe(TOKENIZER_CONFIG);
    expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(WEIGHTS)).toBe(true);
    expect(fs.readFileSync(path.join(cacheDir, "models--org--tiny", "refs", "main"), "utf8")).toBe("main");
    expect(listFiles(dir)).toEqual(["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    expect(listFiles(cacheDir).some((f) => f.endsWith(".incomplete"))).toBe(false);

    expect(hub.requests().map((r) => r.file)).toEqual([
      "config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json",
      "model.safetensors",
    ]);
    expect(hub.requests().every((r) => r.method === "GET" && r.url.startsWith("/org/tiny/resolve/main/"))).toBe(true);

    const weights = progress.filter((p) => p.file === "model.safetensors");
    expect(weights.length).toBeGreaterThan(1);
    expect(weights.every((p) => p.total === WEIGHTS.length)).toBe(true);
    expect(weights[weights.length - 1].loaded).toBe(WEIGHTS.length);
    for (let i = 1; i < weights.length; i++) expect(weights[i].loaded).toBeGreaterThanOrEqual(weights[i - 1].loaded);
  });

  it("resolveModelFolder(id) with a sharded index downloads every shard", async () => {
    const files = shardedRepo();
    hub.addRepo("org/sharded", files);
    const dir = await resolveModelFolder("org/sharded", opts());
    for (const name of Object.keys(files)) {
      expect(fs.readFileSync(path.join(dir, name)).equals(Buffer.from(files[name])), name).toBe(true);
    }
    expect(fs.existsSync(path.join(dir, "model.safetensors"))).toBe(false);
    const weightRequests = hub.requests().map((r) => r.file).filter((f) => f.startsWith("model"));
    expect(weightRequests).toEqual([
      "model.safetensors", "model.safetensors.index.json",
      "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
    ]);
  });

  it("resolveModelFolder(id) a second time makes zero requests", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    hub.addRepo("org/sharded", shardedRepo());
    const a = await resolveModelFolder("org/tiny", opts());
    const b = await resolveModelFolder("org/sharded", opts());
    const n = hub.requests().length;
    expect(await resolveModelFolder("org/tiny", opts())).toBe(a);
    expect(await resolveModelFolder("org/sharded", opts())).toBe(b);
    expect(hub.requests().length).toBe(n);
  });

  it("resolveModelFolder(id) downloads only the files missing from a partial cache", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    const dir = await resolveModelFolder("org/tiny", opts());
    fs.rmSync(path.join(dir, "model.safetensors"));
    hub.log.length = 0;
    await resolveModelFolder("org/tiny", opts());
    expect(hub.requests().map((r) => r.file)).toEqual(["model.safetensors"]);
    expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(WEIGHTS)).toBe(true);
  });

  it("resolveModelFolder(id, { localFilesOnly: true }) works from a warm cache without a server", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    hub.addRepo("org/sharded", shardedRepo());
    const a = await resolveModelFolder("org/tiny", opts());
    const b = await resolveModelFolder("org/sharded", opts());
    const endpoint = hub.endpoint;
    await hub.stop();
    hub = await new FakeHub().start(); // for afterEach; never contacted
    expect(await resolveModelFolder("org/tiny", { cacheDir, endpoint, localFilesOnly: true, fetch: noNetwork }))
      .toBe(a);
    expect(await resolveModelFolder("org/sharded", { cacheDir, endpoint, localFilesOnly: true, fetch: noNetwork }))
      .toBe(b);
    expect(hub.requests()).toEqual([]);
  });

  it("resolveModelFolder(id, { localFilesOnly: true }) with a cold cache gives the clear error, blaming the option (not HF_HUB_OFFLINE)", async () => {
    const err = await resolveModelFolder("org/tiny", { cacheDir, localFilesOnly: true, fetch: noNetwork })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(
      `resolveModelFolder: "org/tiny" is not in the cache at ${path.join(cacheDir, "models--org--tiny")} and ` +
        `localFilesOnly is set; download it once with network access or pass a local folder`,
    );
    expect(listFiles(cacheDir)).toEqual([]);
  });

  it("resolveModelFolder(id, { localFilesOnly: true }) rejects a cache missing a shard", async () => {
    hub.addRepo("org/sharded", shardedRepo());
    const dir = await resolveModelFolder("org/sharded", opts());
    fs.rmSync(path.join(dir, "model-00002-of-00002.safetensors"));
    await expect(resolveModelFolder("org/sharded", { cacheDir, localFilesOnly: true, fetch: noNetwork }))
      .rejects.toThrow(/not in the cache.*missing: model-00002-of-00002\.safetensors/);
  });

  it("resolveModelFolder(id, { localFilesOnly: true }) reads a huggingface_hub snapshot named by refs/<rev>", async () => {
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const repo = path.join(cacheDir, "models--org--hf");
    fs.mkdirSync(path.join(repo, "refs"), { recursive: true });
    fs.writeFileSync(path.join(repo, "refs", "main"), commit);
    const snap = path.join(repo, "snapshots", commit);
    fs.mkdirSync(snap, { recursive: true });
    for (const [name, body] of Object.entries(singleFileRepo())) fs.writeFileSync(path.join(snap, name), body);
    expect(await resolveModelFolder("org/hf", { cacheDir, localFilesOnly: true, fetch: noNetwork })).toBe(snap);
  });

  it("resolveModelFolder(id) reads HF_HUB_OFFLINE, PERSONA_KIT_CACHE, HF_ENDPOINT and HF_TOKEN from env", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    const saved = { ...process.env };
    try {
      process.env.PERSONA_KIT_CACHE = cacheDir;
      process.env.HF_ENDPOINT = hub.endpoint;
      process.env.HF_TOKEN = "hf_envtoken123";
      process.env.HF_HUB_OFFLINE = "1";
      await expect(resolveModelFolder("org/tiny", { fetch: noNetwork })).rejects.toThrow(/and HF_HUB_OFFLINE=1 is set; download it/);
      delete process.env.HF_HUB_OFFLINE;
      const dir = await resolveModelFolder("org/tiny", { retryDelayMs: 1 });
      expect(dir).toBe(path.join(cacheDir, "models--org--tiny", "snapshots", "main"));
      expect(hub.requests()[0].authorization).toBe("Bearer hf_envtoken123");
      process.env.HF_HUB_OFFLINE = "1";
      expect(await resolveModelFolder("org/tiny", { fetch: noNetwork })).toBe(dir);
    } finally {
      for (const k of ["PERSONA_KIT_CACHE", "HF_ENDPOINT", "HF_TOKEN", "HF_HUB_OFFLINE"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it("resolveModelFolder(id, { revision }) encodes the revision in the URL and the cache", async () => {
    hub.addRepo("org/tiny", singleFileRepo(), "refs/pr/1");
    const dir = await resolveModelFolder("org/tiny", opts({ revision: "refs/pr/1" }));
    expect(dir).toBe(path.join(cacheDir, "models--org--tiny", "snapshots", "refs%2Fpr%2F1"));
    expect(hub.requests()[0].url).toBe("/org/tiny/resolve/refs%2Fpr%2F1/config.json");
    expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(WEIGHTS)).toBe(true);
  });

  it("resolveModelFolder(id) follows a redirect to a CDN path", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    hub.intercept = (_req, res, file) => {
      if (file !== "model.safetensors") return false;
      res.writeHead(302, { location: "/cdn/org/tiny/main/model.safetensors" });
      res.end();
      return true;
    };
    const dir = await resolveModelFolder("org/tiny", opts());
    expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(WEIGHTS)).toBe(true);
    expect(hub.requests().map((r) => r.file)).toContain("/cdn/org/tiny/main/model.safetensors");
  });

  it("resolveModelFolder(unknownId) says the model was not found at the revision", async () => {
    const err = (await resolveModelFolder("org/nope", opts({ revision: "v2" })).catch((e: Error) => e)) as Error;
    expect(err.message).toContain(`model "org/nope" not found at revision "v2"`);
    expect(hub.requests().map((r) => r.file)).toEqual(["config.json"]);
  });

  it("resolveModelFolder(id) fails clearly when the repo has no tokenizer.json or no weights", async () => {
    hub.addRepo("org/notok", { "config.json": CONFIG, "model.safetensors": WEIGHTS });
    await expect(resolveModelFolder("org/notok", opts())).rejects.toThrow(/"org\/notok".*has no tokenizer\.json/);
    hub.addRepo("org/noweights", { "config.json": CONFIG, "tokenizer.json": TOKENIZER });
    await expect(resolveModelFolder("org/noweights", opts()))
      .rejects.toThrow(/has neither model\.safetensors nor model\.safetensors\.index\.json/);
    const files = shardedRepo();
    delete files["model-00002-of-00002.safetensors"];
    hub.addRepo("org/badindex", files);
    await expect(resolveModelFolder("org/badindex", opts()))
      .rejects.toThrow(/names shard "model-00002-of-00002\.safetensors"/);
  });

  it("resolveModelFolder(id, { token }) on 401 never reveals the token, in the message or in any cached file", async () => {
    const token = "hf_SECRET_token_value_42";
    hub.addRepo("org/gated", singleFileRepo());
    hub.intercept = (req, res) => {
      // A hostile server echoing the credential back everywhere it can.
      const auth = String(req.headers.authorization);
      res.writeHead(401, { "x-error-code": "GatedRepo", "x-error-message": `bad credential ${auth}` });
      res.end(`Unauthorized: ${auth}`);
      return true;
    };
    const err = (await resolveModelFolder("org/gated", opts({ token })).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/gated/);
    expect(err.message).toContain("HF_TOKEN");
    expect(err.message).toContain("org/gated");
    expect(err.message).not.toContain(token);
    expect(String(err.stack)).not.toContain(token);
    expect(hub.requests()[0].authorization).toBe(`Bearer ${token}`);
    for (const f of listFiles(cacheDir)) {
      expect(f).not.toContain(token);
      expect(fs.readFileSync(path.join(cacheDir, f), "utf8")).not.toContain(token);
    }
  });

  it("resolveModelFolder(id) on 403 without a token points at HF_TOKEN", async () => {
    hub.intercept = (_req, res) => {
      res.writeHead(403);
      res.end("Forbidden");
      return true;
    };
    const err = (await resolveModelFolder("org/private", opts()).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/HTTP 403/);
    expect(err.message).toMatch(/gated or private/);
    expect(err.message).toMatch(/Set the HF_TOKEN env var/);
  });

  it("resolveModelFolder(id, { token }) sends Authorization: Bearer, and none without a token", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    await resolveModelFolder("org/tiny", opts({ token: "hf_abc" }));
    expect(hub.requests().length).toBeGreaterThan(0);
    expect(hub.requests().every((r) => r.authorization === "Bearer hf_abc")).toBe(true);
    hub.log.length = 0;
    await resolveModelFolder("org/tiny", opts({ cacheDir: tmp() }));
    expect(hub.requests().every((r) => r.authorization === undefined)).toBe(true);
  });

  it("resolveModelFolder(id) retries 500 twice then succeeds", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    hub.intercept = (_req, res, file, count) => {
      if (file !== "config.json" || count > 2) return false;
      res.writeHead(500);
      res.end("oops");
      return true;
    };
    const dir = await resolveModelFolder("org/tiny", opts());
    expect(fs.readFileSync(path.join(dir, "config.json"), "utf8")).toBe(CONFIG);
    expect(hub.requests("config.json").length).toBe(3);
  });

  it("resolveModelFolder(id) gives up after 3 retries of 429/5xx", async () => {
    hub.intercept = (_req, res, file) => {
      res.writeHead(file === "config.json" ? 503 : 429);
      res.end();
      return true;
    };
    const t0 = Date.now();
    const err = (await resolveModelFolder("org/busy", opts({ retryDelayMs: 5 })).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/"config\.json" of "org\/busy".*failed after 4 attempts \(HTTP 503\)/);
    expect(hub.requests("config.json").length).toBe(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5 + 10 + 20 - 5);
  });

  it("resolveModelFolder(id) when the server dies mid-transfer leaves no file under the final name", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    hub.intercept = (_req, res, file) => {
      if (file !== "model.safetensors") return false;
      res.writeHead(200, { "content-length": WEIGHTS.length });
      res.write(WEIGHTS.subarray(0, 20_000), () => setTimeout(() => res.socket?.destroy(), 20));
      return true;
    };
    const err = (await resolveModelFolder("org/tiny", opts()).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/downloading "model\.safetensors" of "org\/tiny" from 127\.0\.0\.1:\d+ failed/);
    expect(err.message).toMatch(/interrupted/);
    expect(err.message).toMatch(/Nothing was saved under the final name/);
    expect(hub.requests("model.safetensors").length).toBe(4);
    const snap = path.join(cacheDir, "models--org--tiny", "snapshots", "main");
    expect(fs.existsSync(path.join(snap, "model.safetensors"))).toBe(false);
    expect(listFiles(cacheDir).some((f) => f.includes("model.safetensors"))).toBe(false);
    expect(fs.existsSync(path.join(snap, "config.json"))).toBe(true);
    await expect(resolveModelFolder("org/tiny", { cacheDir, localFilesOnly: true, fetch: noNetwork }))
      .rejects.toThrow(/missing: model\.safetensors/);
  });

  it("resolveModelFolder(id) retries a transfer cut once and then completes", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    hub.intercept = (_req, res, file, count) => {
      if (file !== "model.safetensors" || count > 1) return false;
      res.writeHead(200, { "content-length": WEIGHTS.length });
      res.write(WEIGHTS.subarray(0, 1000), () => setTimeout(() => res.socket?.destroy(), 20));
      return true;
    };
    const dir = await resolveModelFolder("org/tiny", opts());
    expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(WEIGHTS)).toBe(true);
    expect(hub.requests("model.safetensors").length).toBe(2);
  });

  it("resolveModelFolder(id, { timeoutMs }) gives up on a stalled transfer", async () => {
    hub.addRepo("org/tiny", singleFileRepo());
    hub.intercept = (_req, res, file) => {
      if (file !== "model.safetensors") return false;
      res.writeHead(200, { "content-length": WEIGHTS.length });
      res.write(WEIGHTS.subarray(0, 100)); // then nothing, forever
      return true;
    };
    const err = (await resolveModelFolder("org/tiny", opts({ timeoutMs: 150 })).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/no data for 150 ms/);
    expect(fs.existsSync(path.join(cacheDir, "models--org--tiny", "snapshots", "main", "model.safetensors")))
      .toBe(false);
  });

  it("resolveModelFolder(id) when the hub cannot be reached names the id, the host and the offline options", async () => {
    const dead = await new FakeHub().start();
    const endpoint = dead.endpoint;
    await dead.stop(); // the port is now closed: connection refused
    const err = (await resolveModelFolder("org/tiny", opts({ endpoint })).catch((e: Error) => e)) as Error;
    const host = new URL(endpoint).host;
    expect(err.message).toContain(`cannot reach ${host}`);
    expect(err.message).toContain(`"org/tiny"`);
    expect(err.message).toContain("localFilesOnly");
    expect(err.message).toContain("local model folder");
  });

  it("resolveModelFolder(id) with a fetch that throws reports a network failure without retrying", async () => {
    let calls = 0;
    const failing: typeof fetch = async () => {
      calls++;
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }) });
    };
    const err = (await resolveModelFolder("org/tiny", opts({ endpoint: "https://hub.invalid", fetch: failing }))
      .catch((e: Error) => e)) as Error;
    expect(calls).toBe(1);
    expect(err.message).toMatch(/cannot reach hub\.invalid to download "org\/tiny" \(fetch failed: getaddrinfo ENOTFOUND\)/);
    expect(err.message).toMatch(/HF_HUB_OFFLINE=1/);
  });
});
