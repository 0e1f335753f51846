/**
 * Resolve a Hugging Face hub model id (`"org/name"` or `"name"`) to a local folder, downloading into a cache when
 * the network allows.
 *
 * - An existing local folder is returned unchanged; anything else must look like a hub id (`isHubId`).
 * - Cache layout follows huggingface_hub, simplified: files live directly (no blobs/symlinks) under
 *   `<cacheDir>/models--<org>--<name>/snapshots/<revision>/<file>`, `refs/<revision>` holds the revision, and
 *   `.no_exist/<revision>/<file>` records optional files the hub answered 404 for, so a warm cache needs no request
 *   at all. A real huggingface_hub cache is read too: when `refs/<revision>` names a commit whose snapshot exists,
 *   that snapshot is used.
 * - Files: `config.json` and `tokenizer.json` (required), `tokenizer_config.json`, `generation_config.json`,
 *   `special_tokens_map.json` (optional), and the weights: `model.safetensors`, else
 *   `model.safetensors.index.json` and every shard its `weight_map` names.
 * - Downloads stream to `<file>.incomplete` and are renamed into place only once complete (and, when the server
 *   sent a Content-Length, only when every byte arrived), so a killed download never leaves a half file under the
 *   final name. 429/5xx answers and transfers cut off mid-body are retried with exponential backoff; a request
 *   that cannot connect at all fails at once with a message suggesting `localFilesOnly` or a local folder.
 * - The token is sent only as `Authorization: Bearer …`; it is never put in an error message, log line or file
 *   (messages are additionally scrubbed of it, in case a server echoes it back).
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";

export interface HubProgress {
  /** File name inside the repo, e.g. `"model.safetensors"`. */
  file: string;
  /** Bytes received so far for this file. */
  loaded: number;
  /** Total bytes when the server sent a usable Content-Length, else null. */
  total: number | null;
}

export interface HubOptions {
  /** Branch, tag or commit; default `"main"`. */
  revision?: string;
  /** Default: env `PERSONA_KIT_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Never touch the network; default: env `HF_HUB_OFFLINE` is `1` (or `true`/`yes`/`on`). */
  localFilesOnly?: boolean;
  /** Default: env `HF_ENDPOINT`, else `"https://huggingface.co"`. */
  endpoint?: string;
  /** Default: env `HF_TOKEN`. Sent as `Authorization: Bearer`; never appears in any error message, log or file. */
  token?: string;
  /** Called as bytes arrive. Without it, a progress line goes to stderr when stderr is a TTY. */
  onProgress?: (p: HubProgress) => void;
  /** Injectable for tests; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Idle timeout per request: abort when no response / no body bytes arrive for this long. Default 30 000. */
  timeoutMs?: number;
  /** Base delay of the exponential retry backoff (base, 2·base, 4·base). Default 500. */
  retryDelayMs?: number;
}

/** Every error this module throws; `status` is the HTTP status when one was received. */
export class HubError extends Error {
  readonly status: number | undefined;
  constructor(message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HubError";
    this.status = options?.status;
  }
}

const REQUIRED_FILES = ["config.json", "tokenizer.json"] as const;
const OPTIONAL_FILES = ["tokenizer_config.json", "generation_config.json", "special_tokens_map.json"] as const;
const SINGLE_WEIGHTS = "model.safetensors";
/** A PEFT adapter repo (kit/lora/peft.ts): its config and weights, nothing else. */
const ADAPTER_FILES = ["adapter_config.json", "adapter_model.safetensors"] as const;
const WEIGHTS_INDEX = "model.safetensors.index.json";
const MAX_RETRIES = 3;
const DEFAULT_ENDPOINT = "https://huggingface.co";
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRY_DELAY_MS = 500;
const ID_PART = /^(?![-.])[A-Za-z0-9_.-]{1,96}(?<![-.])$/;
const COMMIT_HASH = /^[0-9a-f]{40}$/;

/**
 * True when `s` has the shape of a hub repo id (`"name"` or `"org/name"`, each part 1–96 of `[A-Za-z0-9_.-]`,
 * not starting or ending with `-`/`.`, no `--` or `..`, not ending in `.git`) and is not an existing local path.
 */
export function isHubId(s: string): boolean {
  if (typeof s !== "string" || s.length === 0) return false;
  const parts = s.split("/");
  if (parts.length > 2) return false;
  if (!parts.every((p) => ID_PART.test(p))) return false;
  if (s.includes("--") || s.includes("..") || s.endsWith(".git")) return false;
  return !fs.existsSync(s);
}

/**
 * Return a local folder holding the model `idOrPath`: the folder itself when it exists locally, else the cache
 * snapshot of the hub id, downloading missing files unless `localFilesOnly`.
 */
export async function resolveModelFolder(idOrPath: string, options: HubOptions = {}): Promise<string> {
  if (typeof idOrPath !== "string" || idOrPath.length === 0) {
    throw new TypeError(`resolveModelFolder: idOrPath must be a non-empty string, received ${JSON.stringify(idOrPath)}`);
  }
  const stat = statOrNull(idOrPath);
  if (stat?.isDirectory()) return idOrPath;
  if (stat) {
    throw new HubError(`resolveModelFolder: "${idOrPath}" is a file, not a model folder or a Hugging Face model id`);
  }
  if (!isHubId(idOrPath)) {
    throw new HubError(
      `resolveModelFolder: "${idOrPath}" is neither an existing local folder nor a valid Hugging Face model id ` +
        `("name" or "org/name")`,
    );
  }
  const ctx = makeContext(idOrPath, options);
  try {
    return await resolveHub(ctx);
  } finally {
    ctx.progress.done();
  }
}

// ---------------------------------------------------------------------------------------------------------------

interface Ctx {
  id: string;
  revision: string;
  repoDir: string;
  snapshotDir: string;
  noExistDir: string;
  snapName: string;
  localFilesOnly: boolean;
  /** What made it offline, for messages: the option or the environment variable. */
  offlineBy: string;
  endpoint: string;
  host: string;
  token: string | undefined;
  fetch: typeof fetch;
  timeoutMs: number;
  retryDelayMs: number;
  progress: ProgressSink;
  /** A PEFT adapter repo rather than a model. */
  adapter: boolean;
}

const requiredFiles = (ctx: Ctx): readonly string[] => (ctx.adapter ? ADAPTER_FILES : REQUIRED_FILES);
const optionalFiles = (ctx: Ctx): readonly string[] => (ctx.adapter ? [] : OPTIONAL_FILES);

/**
 * A local folder holding the PEFT adapter `idOrPath` (`adapter_config.json` + `adapter_model.safetensors`): the folder
 * itself when it exists, else the hub id's cache snapshot, downloading what is missing unless `localFilesOnly`.
 */
export async function resolveAdapterFolder(idOrPath: string, options: HubOptions = {}): Promise<string> {
  if (typeof idOrPath !== "string" || idOrPath.length === 0) {
    throw new TypeError(`resolveAdapterFolder: idOrPath must be a non-empty string, received ${JSON.stringify(idOrPath)}`);
  }
  const stat = statOrNull(idOrPath);
  if (stat?.isDirectory()) return idOrPath;
  if (stat || !isHubId(idOrPath)) {
    throw new HubError(`resolveAdapterFolder: "${idOrPath}" is neither an existing adapter folder nor a Hugging Face id ("org/name")`);
  }
  const ctx = { ...makeContext(idOrPath, options), adapter: true };
  try {
    return await resolveHub(ctx);
  } finally {
    ctx.progress.done();
  }
}

function makeContext(id: string, options: HubOptions): Ctx {
  const env = process.env;
  const revision = options.revision ?? "main";
  if (typeof revision !== "string" || revision.length === 0 || revision === "." || revision === ".." ||
    /[\u0000-\u001f\\]/.test(revision)) {
    throw new TypeError(`resolveModelFolder: invalid revision ${JSON.stringify(revision)}`);
  }
  const cacheDir = path.resolve(expandHome(options.cacheDir ?? defaultCacheDir()));
  const repoDir = path.join(cacheDir, `models--${id.replace("/", "--")}`);
  const revDir = encodeURIComponent(revision);

  // Prefer a huggingface_hub-style snapshot named by the commit that refs/<revision> points at, when it exists.
  let snapName = revDir;
  const refPath = path.join(repoDir, "refs", revDir);
  try {
    const ref = fs.readFileSync(refPath, "utf8").trim();
    if (COMMIT_HASH.test(ref) && statOrNull(path.join(repoDir, "snapshots", ref))?.isDirectory()) snapName = ref;
  } catch {
    // no ref yet
  }

  const rawEndpoint = (options.endpoint ?? nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
  let host: string;
  try {
    const u = new URL(rawEndpoint);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
    host = u.host;
  } catch {
    throw new TypeError(`resolveModelFolder: endpoint must be an http(s) URL, received ${JSON.stringify(rawEndpoint)}`);
  }

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new TypeError(`resolveModelFolder: timeoutMs must be > 0, received ${timeoutMs}`);
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  if (!(retryDelayMs >= 0)) {
    throw new TypeError(`resolveModelFolder: retryDelayMs must be >= 0, received ${retryDelayMs}`);
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function" && !(options.localFilesOnly ?? false)) {
    throw new TypeError("resolveModelFolder: no fetch implementation available (pass options.fetch)");
  }

  return {
    id,
    revision,
    repoDir,
    snapName,
    snapshotDir: path.join(repoDir, "snapshots", snapName),
    noExistDir: path.join(repoDir, ".no_exist", snapName),
    localFilesOnly: options.localFilesOnly ?? envFlag(env.HF_HUB_OFFLINE),
    offlineBy: options.localFilesOnly !== undefined ? "localFilesOnly is set" : `HF_HUB_OFFLINE=${env.HF_HUB_OFFLINE} is set`,
    endpoint: rawEndpoint,
    host,
    token: options.token !== undefined ? nonEmpty(options.token) : nonEmpty(env.HF_TOKEN),
    fetch: fetchImpl,
    timeoutMs,
    retryDelayMs,
    progress: makeProgressSink(id, options.onProgress),
    adapter: false,
  };
}

function defaultCacheDir(): string {
  const env = process.env;
  const own = nonEmpty(env.PERSONA_KIT_CACHE);
  if (own) return own;
  const hfHome = nonEmpty(env.HF_HOME);
  if (hfHome) return path.join(hfHome, "hub");
  return path.join(os.homedir(), ".cache", "huggingface", "hub");
}

async function resolveHub(ctx: Ctx): Promise<string> {
  const local = inspectCache(ctx);
  if (local.usable && (ctx.localFilesOnly || local.complete)) return ctx.snapshotDir;
  if (ctx.localFilesOnly) {
    throw new HubError(
      `resolveModelFolder: "${ctx.id}" is not in the cache at ${ctx.repoDir} and ${ctx.offlineBy}; ` +
        `download it once with network access or pass a local folder` +
        (local.missing.length ? ` (missing: ${local.missing.join(", ")})` : ""),
    );
  }

  await fsp.mkdir(ctx.snapshotDir, { recursive: true });
  await writeRef(ctx);

  // config.json first: a 404 there means the model (or revision) does not exist.
  for (const file of requiredFiles(ctx)) {
    if (hasFile(ctx, file)) continue;
    const r = await download(ctx, file);
    if (r === "missing") {
      throw new HubError(
        file === requiredFiles(ctx)[0]
          ? `resolveModelFolder: model "${ctx.id}" not found at revision "${ctx.revision}" (${ctx.host}); ` +
              `check the id and revision`
          : `resolveModelFolder: model "${ctx.id}" at revision "${ctx.revision}" has no ${file}; ` +
              `persona-kit needs it to load the model`,
        { status: 404 },
      );
    }
  }
  for (const file of optionalFiles(ctx)) {
    if (hasFile(ctx, file) || isMarkedMissing(ctx, file)) continue;
    if ((await download(ctx, file)) === "missing") await markMissing(ctx, file);
  }
  if (!ctx.adapter) await downloadWeights(ctx);
  return ctx.snapshotDir;
}

async function downloadWeights(ctx: Ctx): Promise<void> {
  if (hasFile(ctx, SINGLE_WEIGHTS)) return;
  if (!hasFile(ctx, WEIGHTS_INDEX)) {
    if (!isMarkedMissing(ctx, SINGLE_WEIGHTS)) {
      if ((await download(ctx, SINGLE_WEIGHTS)) === "ok") return;
      await markMissing(ctx, SINGLE_WEIGHTS);
    }
    if ((await download(ctx, WEIGHTS_INDEX)) === "missing") {
      throw new HubError(
        `resolveModelFolder: model "${ctx.id}" at revision "${ctx.revision}" has neither ${SINGLE_WEIGHTS} nor ` +
          `${WEIGHTS_INDEX}; persona-kit loads safetensors weights only`,
        { status: 404 },
      );
    }
  }
  for (const shard of readShardNames(ctx)) {
    if (hasFile(ctx, shard)) continue;
    if ((await download(ctx, shard)) === "missing") {
      throw new HubError(
        `resolveModelFolder: ${WEIGHTS_INDEX} of "${ctx.id}" (revision "${ctx.revision}") names shard "${shard}", ` +
          `but the hub answered 404 for it`,
        { status: 404 },
      );
    }
  }
}

interface CacheState {
  /** Every required file and the weights are present: the folder can be loaded. */
  usable: boolean;
  /** Usable, and every optional file is present or known to be absent: nothing left to ask the hub. */
  complete: boolean;
  missing: string[];
}

function inspectCache(ctx: Ctx): CacheState {
  const missing: string[] = requiredFiles(ctx).filter((f) => !hasFile(ctx, f));
  if (!ctx.adapter && !hasFile(ctx, SINGLE_WEIGHTS)) {
    if (!hasFile(ctx, WEIGHTS_INDEX)) {
      missing.push(SINGLE_WEIGHTS);
    } else {
      let shards: string[];
      try {
        shards = readShardNames(ctx);
      } catch {
        shards = [];
        missing.push(WEIGHTS_INDEX);
      }
      missing.push(...shards.filter((s) => !hasFile(ctx, s)));
    }
  }
  const usable = missing.length === 0;
  const complete = usable && optionalFiles(ctx).every((f) => hasFile(ctx, f) || isMarkedMissing(ctx, f));
  return { usable, complete, missing };
}

function readShardNames(ctx: Ctx): string[] {
  const file = path.join(ctx.snapshotDir, WEIGHTS_INDEX);
  let index: unknown;
  try {
    index = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new HubError(`resolveModelFolder: cannot parse ${file}: ${(e as Error).message}`, { cause: e });
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (!map || typeof map !== "object" || Array.isArray(map)) {
    throw new HubError(`resolveModelFolder: ${file} has no "weight_map" object`);
  }
  const shards: string[] = [];
  for (const v of Object.values(map as Record<string, unknown>)) {
    if (typeof v !== "string" || !isSafeRepoPath(v)) {
      throw new HubError(`resolveModelFolder: ${file} names an invalid shard file ${JSON.stringify(v)}`);
    }
    if (!shards.includes(v)) shards.push(v);
  }
  if (shards.length === 0) throw new HubError(`resolveModelFolder: ${file} has an empty "weight_map"`);
  return shards;
}

/** A relative, forward-slash path with no empty, `.` or `..` segment: cannot escape the snapshot folder. */
function isSafeRepoPath(p: string): boolean {
  if (p.length === 0 || p.length > 512 || p.includes("\\") || /[\u0000-\u001f]/.test(p)) return false;
  return p.split("/").every((seg) => seg.length > 0 && seg !== "." && seg !== "..");
}

function hasFile(ctx: Ctx, file: string): boolean {
  return statOrNull(path.join(ctx.snapshotDir, file))?.isFile() ?? false;
}

function isMarkedMissing(ctx: Ctx, file: string): boolean {
  return fs.existsSync(path.join(ctx.noExistDir, file));
}

async function markMissing(ctx: Ctx, file: string): Promise<void> {
  const p = path.join(ctx.noExistDir, file);
  await fsp.mkdir(path.dirname(p), { recursive: true });
  await fsp.writeFile(p, "");
}

async function writeRef(ctx: Ctx): Promise<void> {
  const ref = path.join(ctx.repoDir, "refs", encodeURIComponent(ctx.revision));
  if (fs.existsSync(ref)) return;
  await fsp.mkdir(path.dirname(ref), { recursive: true });
  await fsp.writeFile(ref, ctx.snapName === encodeURIComponent(ctx.revision) ? ctx.revision : ctx.snapName);
}

// --- HTTP --------------------------------------------------------------------------------------------------------

function fileUrl(ctx: Ctx, file: string): string {
  const encodedFile = file.split("/").map(encodeURIComponent).join("/");
  return `${ctx.endpoint}/${ctx.id}/resolve/${encodeURIComponent(ctx.revision)}/${encodedFile}`;
}

/** Retryable failure inside one attempt. */
class Transient extends Error {
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Download `file` into the snapshot folder; "missing" when the hub answered 404. */
async function download(ctx: Ctx, file: string): Promise<"ok" | "missing"> {
  const url = fileUrl(ctx, file);
  const headers: Record<string, string> = { "user-agent": "persona-kit" };
  if (ctx.token) headers.authorization = `Bearer ${ctx.token}`;
  let last: Transient | undefined;
  for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
    if (attempt > 0) await sleep(ctx.retryDelayMs * 2 ** (attempt - 1));
    try {
      return await attemptDownload(ctx, file, url, headers);
    } catch (e) {
      if (!(e instanceof Transient)) throw e;
      last = e;
    }
  }
  const detail = last ? last.message : "unknown failure";
  throw new HubError(
    scrub(ctx,
      `resolveModelFolder: downloading "${file}" of "${ctx.id}" from ${ctx.host} failed after ${MAX_RETRIES + 1} ` +
        `attempts (${detail}). Nothing was saved under the final name; run again later, or set ` +
        `localFilesOnly / HF_HUB_OFFLINE=1 with a warm cache, or pass a local folder`),
    { status: last?.status, cause: last?.cause },
  );
}

async function attemptDownload(
  ctx: Ctx, file: string, url: string, headers: Record<string, string>,
): Promise<"ok" | "missing"> {
  const ac = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, ctx.timeoutMs);
  };
  arm();
  try {
    let res: Response;
    try {
      res = await ctx.fetch(url, { headers, signal: ac.signal, redirect: "follow" });
    } catch (e) {
      if (timedOut) throw new Transient(`no response within ${ctx.timeoutMs} ms`, undefined, { cause: e });
      throw new HubError(
        scrub(ctx,
          `resolveModelFolder: cannot reach ${ctx.host} to download "${ctx.id}" (${describeError(e)}). ` +
            `If you are offline, set localFilesOnly: true (or HF_HUB_OFFLINE=1) to use a cached copy, ` +
            `or pass a local model folder`),
        { cause: e },
      );
    }

    const status = res.status;
    if (status === 404) {
      await discard(res);
      return "missing";
    }
    if (status === 401 || status === 403) {
      const code = res.headers.get("x-error-code");
      await discard(res);
      const why = code === "RepoNotFound"
        ? `the repo does not exist or is private`
        : code === "GatedRepo"
          ? `the repo is gated: accept its terms on the model page`
          : `the repo may be gated or private`;
      throw new HubError(
        scrub(ctx,
          `resolveModelFolder: access to "${ctx.id}" (${file}, revision "${ctx.revision}") was denied by ` +
            `${ctx.host} with HTTP ${status}: ${why}. ` +
            (ctx.token
              ? `The token given (options.token or the HF_TOKEN env var) was not accepted; check that it has read access ` +
                `to this repo (and, if it is gated, that its terms were accepted on the model page)`
              : `Set the HF_TOKEN env var (or options.token) to a token with access to this gated/private repo`)),
        { status },
      );
    }
    if (status === 429 || status >= 500) {
      await discard(res);
      throw new Transient(`HTTP ${status}`, status);
    }
    if (!res.ok) {
      const msg = res.headers.get("x-error-message");
      await discard(res);
      throw new HubError(
        scrub(ctx,
          `resolveModelFolder: ${ctx.host} answered HTTP ${status} for "${file}" of "${ctx.id}" ` +
            `(revision "${ctx.revision}")` + (msg ? `: ${msg.slice(0, 300)}` : "")),
        { status },
      );
    }
    await streamToFile(ctx, file, res, arm, () => timedOut);
    return "ok";
  } finally {
    clearTimeout(timer);
  }
}

async function streamToFile(
  ctx: Ctx, file: string, res: Response, onData: () => void, timedOut: () => boolean,
): Promise<void> {
  const final = path.join(ctx.snapshotDir, file);
  const tmp = `${final}.incomplete`;
  await fsp.mkdir(path.dirname(final), { recursive: true });
  const encoding = res.headers.get("content-encoding");
  const lengthHeader = res.headers.get("content-length");
  const total = (!encoding || encoding === "identity") && lengthHeader && /^\d+$/.test(lengthHeader)
    ? Number(lengthHeader)
    : null;
  let loaded = 0;
  const handle = await fsp.open(tmp, "w");
  let ok = false;
  try {
    ctx.progress.update({ file, loaded, total });
    if (res.body) {
      const reader = res.body.getReader();
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (e) {
            throw new Transient(
              timedOut()
                ? `no data for ${ctx.timeoutMs} ms after ${loaded} bytes`
                : `transfer interrupted after ${loaded}${total !== null ? ` of ${total}` : ""} bytes: ${describeError(e)}`,
              undefined,
              { cause: e },
            );
          }
          if (chunk.done) break;
          onData();
          const bytes = chunk.value;
          let off = 0;
          while (off < bytes.length) off += (await handle.write(bytes, off, bytes.length - off)).bytesWritten;
          loaded += bytes.length;
          ctx.progress.update({ file, loaded, total });
        }
      } finally {
        reader.releaseLock();
      }
    }
    if (total !== null && loaded !== total) {
      throw new Transient(`transfer interrupted: received ${loaded} of ${total} bytes`);
    }
    await handle.sync();
    ok = true;
  } finally {
    await handle.close();
    if (!ok) await fsp.rm(tmp, { force: true });
  }
  await fsp.rename(tmp, final);
  ctx.progress.finish({ file, loaded, total });
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // ignore
  }
}

function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause as { code?: unknown; message?: unknown } | undefined;
  const code = typeof cause?.code === "string" ? cause.code : (e as { code?: unknown }).code;
  const causeMsg = typeof cause?.message === "string" && cause.message !== e.message ? `: ${cause.message}` : "";
  return `${e.message}${causeMsg}${typeof code === "string" && !causeMsg.includes(code) ? ` [${code}]` : ""}`;
}

/** Remove the token from a message, in case a server or library echoed it. */
function scrub(ctx: Ctx, message: string): string {
  return ctx.token && ctx.token.length >= 4 ? message.split(ctx.token).join("***") : message;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

// --- progress ----------------------------------------------------------------------------------------------------

interface ProgressSink {
  update(p: HubProgress): void;
  finish(p: HubProgress): void;
  done(): void;
}

function makeProgressSink(id: string, cb: HubOptions["onProgress"]): ProgressSink {
  if (cb) return { update: cb, finish: () => {}, done: () => {} };
  const stderr = process.stderr;
  if (!stderr.isTTY) return { update: () => {}, finish: () => {}, done: () => {} };
  let lastDraw = 0;
  let open = false;
  const draw = (p: HubProgress) => {
    const pct = p.total ? ` (${Math.floor((100 * p.loaded) / p.total)}%)` : "";
    const size = p.total !== null ? `${formatBytes(p.loaded)} / ${formatBytes(p.total)}` : formatBytes(p.loaded);
    stderr.write(`\r\x1b[2Kdownloading ${id}/${p.file}  ${size}${pct}`);
    open = true;
  };
  return {
    update(p) {
      const now = Date.now();
      if (now - lastDraw < 100 && p.loaded !== 0) return;
      lastDraw = now;
      draw(p);
    },
    finish(p) {
      draw(p);
      stderr.write("\n");
      open = false;
    },
    done() {
      if (open) stderr.write("\n");
      open = false;
    },
  };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

// --- small helpers -----------------------------------------------------------------------------------------------

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s !== undefined && s.length > 0 ? s : undefined;
}

function envFlag(v: string | undefined): boolean {
  return v !== undefined && ["1", "true", "yes", "on"].includes(v.trim().toLowerCase());
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p;
}
