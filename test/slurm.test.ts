/**
 * Sweeps on a real Slurm (kit/organisms/slurm.ts, task.ts, stage-lock.ts; scripts/slurm-up.sh starts a single-node
 * cluster as root where Debian's slurm-wlm and munge are installed, as .ci/run does): a two-run sweep whose runs share
 * a pretraining, through `runMany(configs, { executor: "slurm" })`, against the local executor — equal records (wall
 * times aside) and equal model bytes, the shared pretraining computed once, a task killed mid-run (SIGKILL, as the OOM
 * killer would) reported with its array index, config and log, and a resubmission that reruns only that task. The
 * stage lock is tested without Slurm. Skips with the reason where Slurm cannot start or kit/dist is not built.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { organismConfig, PERSONA_DEPTH, type OrganismConfig } from "../kit/organisms/config";
import { runMany } from "../kit/organisms/parallel";
import { organismHashes } from "../kit/organisms/pipeline";
import type { RunRecord } from "../kit/organisms/record";
import { lockOwner, withStageLock } from "../kit/organisms/stage-lock";
import { staleDistFiles } from "../kit/organisms/version";
import { tempFiles } from "./helpers/temp-files";

const ROOT = path.resolve(__dirname, "..");
const tmp = tempFiles("pk-slurm-").root;

/** Why the Slurm sweep cannot run here, or null (after starting Slurm when it is installed and we are root). */
function slurmSkipReason(): string | null {
  if (!fs.existsSync(path.join(ROOT, "kit", "dist", "cli-run.js"))) return "kit/dist/cli-run.js is missing: run `npm run build` (Slurm tasks run the compiled CLI)";
  const stale = staleDistFiles();
  if (stale.length) return `kit/dist is older than ${stale.slice(0, 3).join(", ")}: run \`npm run build\``;
  const up = spawnSync(path.join(ROOT, "scripts", "slurm-up.sh"), { encoding: "utf8", timeout: 60_000 });
  if (up.status !== 0) return `scripts/slurm-up.sh could not start Slurm: ${(up.stderr || up.error?.message || `exit ${up.status}`).trim()}`;
  return null;
}
const skipSlurm = slurmSkipReason();
if (skipSlurm) console.warn(`test/slurm.test.ts: skipping the Slurm sweep: ${skipSlurm}`);

/** A tiny organism (as in test/organisms.test.ts); the two arms share seed, pretraining, persona and evalBefore. */
function tiny(narrowSteps: number): OrganismConfig {
  return organismConfig({
    seed: 31,
    model: { d_model: 16, n_layers: 1, n_heads: 2, d_mlp: 32 },
    pretrain: { episodes: 64, steps: 4, batchSize: 8 },
    persona: { ...PERSONA_DEPTH.shallow, domains: [...PERSONA_DEPTH.shallow.domains], steps: 3, episodes: 24, batchSize: 8 },
    narrow: { steps: narrowSteps, episodes: 16, batchSize: 8 },
    eval: { episodesPerContext: 1, maxNewTokens: 4, shifts: ["none", "long_context"], batchSize: 48 },
  });
}

/** A record without its wall-clock fields (when it was assembled, how long stages took), its outDir written "<out>". */
function timeless(r: RunRecord, outDir: string): string {
  const { startedAt: _s, ms: _m, ...rest } = r;
  return JSON.stringify(rest).split(outDir).join("<out>");
}

/** Every file under a stage folder (model weights, counts), as relative path → bytes. */
function stageBytes(outDir: string, hash: string): Map<string, Buffer> {
  const dir = path.join(outDir, hash);
  return new Map((fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile() && f !== "stage.json").map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

async function waitFor<T>(what: string, probe: () => T | null, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (Date.now() - t0 > ms) throw new Error(`waitFor: ${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `persona-kit run ...` through the committed launcher: exit status, stdout, stderr. */
function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, "kit", "bin", "persona-kit.cjs"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const BUILT = fs.existsSync(path.join(ROOT, "kit", "dist", "cli-run.js"));

describe.skipIf(!BUILT)("persona-kit run --config FILE --out DIR", () => {
  it("persona-kit run --help lists --config and --out with its default; a missing or invalid config exits 2 naming it", () => {
    const help = cli("run", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: persona-kit run \[options\]/);
    expect(help.stdout).toMatch(/--config FILE .*organism config.*RL config/);
    expect(help.stdout).toMatch(/--out DIR .*\(default: out\/runs\)/);
    const missing = cli("run", "--config", path.join(tmp, "nope.json"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--config ${path.join(tmp, "nope.json")}: no such file`);
    const badFile = path.join(tmp, "bad.json");
    fs.writeFileSync(badFile, JSON.stringify({ ...tiny(3), seed: -1 }));
    const bad = cli("run", "--config", badFile);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a valid organism config: seed must be/);
    expect(cli("run").stderr).toMatch(/--config FILE is required/);
  });

  it("persona-kit run --config FILE --out DIR computes every stage once, prints the record's path, and a rerun reuses it", () => {
    const file = path.join(tmp, "one.json");
    fs.writeFileSync(file, JSON.stringify(tiny(3)));
    const out = path.join(tmp, "cli-out");
    const first = cli("run", "--config", file, "--out", out);
    expect(first.code, first.stderr).toBe(0);
    const recordFile = path.join(out, organismHashes(tiny(3)).run, "record.json");
    expect(first.stdout).toBe(`${recordFile}\n`);
    expect(first.stderr.match(/computed in/g)).toHaveLength(5);
    const again = cli("run", "--config", file, "--out", out);
    expect(again.stdout).toBe(first.stdout);
    expect(again.stderr).not.toMatch(/computed/);
    expect(again.stderr.match(/reused/g)).toHaveLength(5);
  });
});

describe("withStageLock(lockDir, fn)", () => {
  it("withStageLock(dir, fn) runs one holder at a time and takes over the lock of a dead process at once", async () => {
    const lock = path.join(tmp, "locks", "stage");
    let inside = 0;
    let most = 0;
    const hold = () =>
      withStageLock(lock, async () => {
        most = Math.max(most, ++inside);
        await new Promise((r) => setTimeout(r, 50));
        inside--;
      }, { pollMs: 5 });
    await Promise.all([hold(), hold(), hold()]);
    expect(most).toBe(1);
    expect(fs.existsSync(lock)).toBe(false);

    // a lock left by a process that was killed: its owner's pid no longer exists on this host
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    fs.mkdirSync(lock);
    fs.writeFileSync(path.join(lock, "owner.json"), JSON.stringify({ host: os.hostname(), pid: Number(dead), slurmJob: null, since: "" }));
    expect(lockOwner(lock)?.pid).toBe(Number(dead));
    const t0 = performance.now();
    expect(await withStageLock(lock, () => 7, { staleMs: 600_000, pollMs: 5 })).toBe(7);
    expect(performance.now() - t0).toBeLessThan(1000); // not the 10 minutes a live owner's lock would hold it
  });
});

describe("runMany(configs, { executor: \"slurm\" })", () => {
  it.skipIf(skipSlurm !== null)(
    "runMany([a, b], { executor: \"slurm\" }) equals the local executor byte for byte, computes the shared pretraining once, and a resubmission reruns only a killed task",
    async () => {
      const configs = [tiny(12), tiny(3)];
      const hashes = configs.map((c) => organismHashes(c));
      const localDir = path.join(tmp, "local");
      const local = await runMany(configs, { workers: 2, outDir: localDir, progress: false });

      // 1. the sweep, with array task 0 killed once it holds its run's lock (after the shared stages)
      const outDir = path.join(tmp, "shared");
      const first = runMany(configs, { executor: "slurm", outDir, pollMs: 200 });
      const firstOutcome = first.then(() => null, (e: Error) => e);
      const runLock = path.join(outDir, "locks", `run-${hashes[0].run}`);
      const owner = await waitFor("task 0 taking its run's lock", () => lockOwner(runLock));
      expect(owner.slurmJob).toMatch(/^\d+_0$/);
      process.kill(owner.pid, "SIGKILL");
      const err = await firstOutcome;
      const job = owner.slurmJob!.split("_")[0];
      const sweepDir = path.join(outDir, "sweeps", fs.readdirSync(path.join(outDir, "sweeps"))[0]!);
      expect(err?.message).toContain(`array index 0 (task ${job}_0): configs[0] = ${path.join(sweepDir, "configs", "0.json")}, log ${path.join(sweepDir, "logs", `${job}_0.log`)}`);
      expect(err?.message).not.toContain("array index 1");
      expect(fs.existsSync(path.join(outDir, hashes[1].run, "record.json"))).toBe(true);

      // 2. resubmission: only index 0 runs again, and the sweep completes
      const records = await runMany(configs, { executor: "slurm", outDir, pollMs: 200 });
      const logs = fs.readdirSync(path.join(sweepDir, "logs")).sort();
      expect(logs.filter((l) => !l.startsWith(`${job}_`)).map((l) => l.replace(/^\d+_/, ""))).toEqual(["0.log"]);
      expect(records.map((r) => timeless(r, outDir))).toEqual(local.map((r) => timeless(r, localDir)));
      for (const stage of ["pretrain", "persona", "evalBefore", "narrow", "evalAfter"] as const) {
        for (const h of hashes) expect(stageBytes(outDir, h[stage]!)).toEqual(stageBytes(localDir, h[stage]!));
      }
      const text = logs.map((l) => fs.readFileSync(path.join(sweepDir, "logs", l), "utf8")).join("\n");
      expect(text.match(/pretrain computed/g)).toHaveLength(1);
      expect(text.match(/persona computed/g)).toHaveLength(1);

      // 3. a third call finds every record and submits nothing
      const t0 = performance.now();
      expect((await runMany(configs, { executor: "slurm", outDir })).map((r) => timeless(r, outDir))).toEqual(local.map((r) => timeless(r, localDir)));
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(fs.readdirSync(path.join(sweepDir, "logs"))).toHaveLength(logs.length);
    },
    240_000,
  );
});
