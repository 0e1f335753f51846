/**
 * The repository stands alone: `git clone` of the committed HEAD into an empty temporary folder (no sibling folders,
 * nothing beside it), then the README's offline steps there: dependencies, build, the quickstart notebook through
 * the headless runner, and one CLI call on the llama2.c files shipped in data/.
 *
 * Dependencies: by default the clone's node_modules holds links to this checkout's installed packages (the
 * lockfile's versions, already installed), with `persona-kit` linked to the clone's own kit/, so nothing of this
 * checkout's code is used. With PERSONA_KIT_STANDALONE_NPM_CI=1 it runs `npm ci --offline` from the npm cache
 * instead (minutes). Skipped, saying why, without git or without installed dependencies.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const HAVE_GIT = spawnSync("git", ["--version"]).status === 0 && fs.existsSync(path.join(ROOT, ".git"));
const HAVE_DEPS = fs.existsSync(path.join(ROOT, "node_modules", "typescript")) && fs.existsSync(path.join(ROOT, "node_modules", "tslab"));
const NPM_CI = process.env.PERSONA_KIT_STANDALONE_NPM_CI === "1";
const reason = !HAVE_GIT ? "git or this checkout's .git is unavailable" : !HAVE_DEPS ? "node_modules is not installed here" : "";

const top = fs.mkdtempSync(path.join(os.tmpdir(), "persona-kit-clone-"));
const clone = path.join(top, "persona-kit");
afterAll(() => fs.rmSync(top, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd = clone, timeout = 300_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout, env: { ...process.env, INIT_CWD: cwd } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** node_modules for the clone: a link per installed package, persona-kit pointing at the clone's kit. */
function linkDependencies(): void {
  const nm = path.join(clone, "node_modules");
  fs.mkdirSync(nm);
  for (const name of fs.readdirSync(path.join(ROOT, "node_modules"))) {
    if (name === "persona-kit" || name === ".package-lock.json") continue;
    fs.symlinkSync(path.join(ROOT, "node_modules", name), path.join(nm, name));
  }
  fs.symlinkSync("../kit", path.join(nm, "persona-kit"));
}

describe.skipIf(reason !== "")(`a fresh clone with nothing beside it${reason ? ` (skipped: ${reason})` : ""}`, () => {
  it("git clone → dependencies → build → quickstart notebook → persona-kit generate, all inside the clone", () => {
    sh("git", ["clone", "--quiet", "--no-hardlinks", ROOT, clone], top);
    expect(fs.readdirSync(top)).toEqual(["persona-kit"]);
    if (NPM_CI) sh("npm", ["ci", "--offline", "--no-audit", "--no-fund"], clone, 900_000);
    else linkDependencies();
    sh(process.execPath, [path.join("node_modules", "typescript", "bin", "tsc"), "-p", path.join("kit", "tsconfig.json")]);
    expect(fs.realpathSync(path.join(clone, "node_modules", "persona-kit"))).toBe(fs.realpathSync(path.join(clone, "kit")));

    const out = path.join(top, "out");
    const nb = sh(process.execPath, ["scripts/notebooks.mjs", "00-quickstart", "--no-report", "--no-sign", "--out", out]);
    expect(nb.stdout).toMatch(/^ok +00-quickstart /m);
    expect(nb.stdout).toMatch(/1 notebook\(s\), 1 ok, 0 failed/);

    const llama2c = path.join("data", "models", "stories260K-llama2c");
    const gen = sh(process.execPath, [
      "kit/bin/persona-kit.cjs", "generate", "--model", path.join(llama2c, "stories260K.bin"), "--tokenizer", path.join(llama2c, "tok512.bin"),
      "--temperature", "0", "--max-new-tokens", "200",
    ]);
    expect(gen.stdout).toBe(`${fs.readFileSync(path.join(clone, llama2c, "expected-greedy-200.txt"), "utf8")}\n`);
  }, 900_000);
});
