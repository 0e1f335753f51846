/**
 * The code version of organism runs, and the content hashes that name cached stages.
 *
 * `codeVersion()` = the kit's package version, the git HEAD when the kit sits in a git checkout, and `sources`: a hash
 * of the source files that determine a run's numbers (backend, model, training, generation, tokenizers, io, the persona
 * world, the organism pipeline, the ONNX path and the runtime router that generation and caching go through, and the
 * low-level utilities they use (seeded RNG, validators) — not metrics (nor the interval statistics),
 * parallelism (local workers, the Slurm executor, stage locks), display code or the transformers.js exporter). Stage hashes use `kit` + `sources`, not
 * HEAD: HEAD moves with every unrelated commit, which would throw away every cached stage, while `sources` changes
 * exactly when code that could change the numbers does. The TypeScript sources are hashed when present (a checkout),
 * else the compiled `dist/` files, so the TS sources (tests) and the compiled worker processes agree on every hash.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { isPlainObject } from "../util/object";

export interface CodeVersion {
  /** persona-kit's package version. */
  kit: string;
  /** The git commit checked out, when the kit is in a git checkout (informational; not in stage hashes). */
  git: string | null;
  /** Hash of the result-determining source files (first 16 hex digits of a SHA-256). */
  sources: string;
}

/** Folders (relative to the kit root) whose files determine a run's numbers. */
const RESULT_DIRS = ["model", "train", "generate", "runtime", "tokenizers", "io", "world", "organisms", "onnx", "util"];
const RESULT_FILES = ["backend"];
/** Files in those folders that do not change any number. */
const EXCLUDED = new Set(["organisms/metrics", "organisms/parallel", "organisms/worker", "organisms/version", "organisms/slurm", "organisms/task", "organisms/stage-lock", "organisms/index", "onnx/export", "onnx/index", "util/stats", "util/workers", "organisms/leakage-per-learning"]);

let cachedRoot: string | undefined;

/** The kit's folder (the one holding persona-kit's package.json), from this file's location, in sources or in dist. */
export function kitRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name === "persona-kit") return (cachedRoot = dir);
      } catch {
        // not JSON: keep looking
      }
    }
    dir = path.dirname(dir);
  }
  throw new Error(`kitRoot: no persona-kit package.json above ${__dirname}`);
}

/** The result-determining source files, relative to the kit root: TypeScript sources when present, else dist/*.js. */
export function resultSourceFiles(kind: "ts" | "js" = hasSources() ? "ts" : "js"): string[] {
  const root = kitRoot();
  const base = kind === "ts" ? root : path.join(root, "dist");
  const files: string[] = [];
  const ext = kind === "ts" ? ".ts" : ".js";
  for (const f of RESULT_FILES) if (fs.existsSync(path.join(base, f + ext))) files.push(f + ext);
  for (const d of RESULT_DIRS) {
    const dir = path.join(base, d);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      if (!name.endsWith(ext) || name.endsWith(".d.ts")) continue;
      const rel = `${d}/${name.slice(0, -ext.length)}`;
      if (!EXCLUDED.has(rel)) files.push(rel + ext);
    }
  }
  return files;
}

function hasSources(): boolean {
  return fs.existsSync(path.join(kitRoot(), "organisms", "pipeline.ts"));
}

let cachedVersion: CodeVersion | undefined;

/** The code version (computed once per process). */
export function codeVersion(): CodeVersion {
  if (cachedVersion) return cachedVersion;
  const root = kitRoot();
  const kit = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;
  const h = createHash("sha256");
  const kind = hasSources() ? "ts" : "js";
  const base = kind === "ts" ? root : path.join(root, "dist");
  for (const f of resultSourceFiles(kind)) {
    h.update(f.replace(/\.(ts|js)$/, ""));
    h.update("\0");
    h.update(fs.readFileSync(path.join(base, f)));
    h.update("\0");
  }
  cachedVersion = { kit, git: gitHead(path.dirname(root)), sources: h.digest("hex").slice(0, 16) };
  return cachedVersion;
}

/** The commit checked out in `repo` (read from .git, no git process), or null. */
export function gitHead(repo: string): string | null {
  try {
    const gitDir = path.join(repo, ".git");
    const head = fs.readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
    if (!head.startsWith("ref: ")) return /^[0-9a-f]{40}$/.test(head) ? head : null;
    const ref = head.slice(5);
    const loose = path.join(gitDir, ref);
    if (fs.existsSync(loose)) return fs.readFileSync(loose, "utf8").trim();
    const packed = path.join(gitDir, "packed-refs");
    if (fs.existsSync(packed)) {
      for (const line of fs.readFileSync(packed, "utf8").split("\n")) {
        const [sha, name] = line.split(" ");
        if (name === ref) return sha;
      }
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * Compiled files older than their TypeScript source (or missing), as "organisms/pipeline.ts" paths: empty when
 * `kit/dist` is up to date for everything a run computes with (or when there are no sources to compare with).
 */
export function staleDistFiles(): string[] {
  if (!hasSources()) return [];
  const root = kitRoot();
  const stale: string[] = [];
  const files = [...resultSourceFiles("ts"), "organisms/worker.ts", "organisms/parallel.ts", "organisms/slurm.ts", "organisms/task.ts", "organisms/stage-lock.ts", "cli.ts", "cli-run.ts", "cli-options.ts", "organisms/metrics.ts", "organisms/version.ts", "util/stats.ts"];
  for (const f of files) {
    const src = path.join(root, f);
    const out = path.join(root, "dist", f.replace(/\.ts$/, ".js"));
    if (!fs.existsSync(src)) continue;
    if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) stale.push(f);
  }
  return stale;
}

/** JSON with object keys sorted (so equal values serialise equally, whatever the key order). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v,
  );
}

/** First 16 hex digits of the SHA-256 of a value's canonical JSON. */
export function stableHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}
