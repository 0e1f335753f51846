/**
 * The `persona-kit` command line as a user meets it, run as a child process through kit/bin/persona-kit.cjs (needs
 * `npm run build`): help with defaults, --version, "did you mean" for mistyped flags and commands, exit status 2 for
 * mistakes in the command line and 1 for failures while running, negative numbers answered by us, chat templates
 * that are neither a name nor Jinja refused, and `generate` running to n_ctx − prompt + 1 new tokens like generate().
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../kit/io/load";
import { readLlama2cCheckpoint, writeLlama2cCheckpoint } from "../kit/io/llama2c";
import { generate } from "../kit/runtime/generate";
import { tempFiles } from "./helpers/temp-files";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "kit", "bin", "persona-kit.cjs");
const BUILT = fs.existsSync(path.join(ROOT, "kit", "dist", "cli-options.js"));
const STORIES_HF = path.join(ROOT, "data", "models", "stories260K");
const LLAMA2C = path.join(ROOT, "data", "models", "stories260K-llama2c");
const run = promisify(execFile);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

describe.skipIf(!BUILT)("persona-kit CLI messages (skipped until `npm run build`)", () => {
  it("persona-kit generate --help prints every option with its default and exits 0", async () => {
    const r = await cli("generate", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: persona-kit generate \[options\]/);
    expect(r.stdout).toMatch(/--max-new-tokens N .*\(default: 256\)/);
    expect(r.stdout).toMatch(/--temperature T .*\(default: 1\)/);
    expect(r.stdout).toMatch(/--top-p P .*\(default: 1\)/);
    expect(r.stderr).toBe("");
  });

  it("persona-kit serve --help lists --chat-template with its default and what it accepts", async () => {
    const r = await cli("serve", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--chat-template T .*auto, world, model, plain, or a Jinja template.*\(default: auto\)/);
    expect(r.stdout).toMatch(/--port P .*\(default: 0\)/);
  });

  it("persona-kit --version prints the kit's package.json version", async () => {
    const r = await cli("--version");
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, "kit", "package.json"), "utf8")) as { version: string };
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("persona-kit generate --modle X says did you mean --model and exits 2", async () => {
    const r = await cli("generate", "--modle", STORIES_HF);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('persona-kit: unknown option --modle for "generate" (did you mean --model?); `persona-kit generate --help` lists them\n');
  });

  it("persona-kit genrate says did you mean generate and exits 2", async () => {
    const r = await cli("genrate", "--model", STORIES_HF);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "genrate" \(did you mean generate\?\)/);
  });

  it("persona-kit generate --max-new-tokens -5 is answered by the kit (not Node's 'ambiguous') and exits 2", async () => {
    const r = await cli("generate", "--model", STORIES_HF, "--max-new-tokens", "-5");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('persona-kit: --max-new-tokens must be an integer ≥ 0, received "-5"\n');
    expect(r.stderr).not.toMatch(/ambiguous/);
  });

  it("persona-kit generate --top-p 1.5 names the range and exits 2", async () => {
    const r = await cli("generate", "--model", STORIES_HF, "--top-p", "1.5");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--top-p must be a number in (0, 1], received "1.5"');
  });

  it("persona-kit serve --chat-template fancy is refused (not a name, not Jinja) and exits 2; wrld suggests world", async () => {
    const fancy = await cli("serve", "--model", STORIES_HF, "--chat-template", "fancy");
    expect(fancy.code).toBe(2);
    expect(fancy.stderr).toContain('--chat-template must be auto, world, model, plain or a Jinja template (text containing {{ or {%), received "fancy"');
    expect(fancy.stdout).toBe("");
    const typo = await cli("serve", "--model", STORIES_HF, "--chat-template", "wrld");
    expect(typo.stderr).toContain('received "wrld" (did you mean world?)');
  });

  it("persona-kit inspect --model missing/model --local-files-only fails at run time (exit 1) blaming the flag, not HF_HUB_OFFLINE", async () => {
    const r = await cli("inspect", "--model", "missing-org/missing-model", "--local-files-only");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("localFilesOnly is set");
    expect(r.stderr).not.toContain("HF_HUB_OFFLINE");
  });
});

describe.skipIf(!BUILT)("persona-kit generate at the context limit (skipped until `npm run build`)", () => {
  const { root } = tempFiles("persona-kit-cli-");
  const bin = path.join(root, "ctx16.bin");
  beforeAll(() => {
    // stories260K's real weights with its context cut to 16 positions: greedy text that runs into n_ctx.
    const { config, params } = readLlama2cCheckpoint(path.join(LLAMA2C, "stories260K.bin"));
    writeLlama2cCheckpoint(bin, { ...config, n_ctx: 16 }, params);
  });

  it("persona-kit generate --max-new-tokens 1000 produces n_ctx − prompt + 1 new tokens, the same text as generate()", async () => {
    const tokenizer = path.join(LLAMA2C, "tok512.bin");
    const model = await loadModel(bin, { tokenizer });
    const prompt = model.tokenizer!.encode("Once upon");
    const ref = generate(model, [prompt], { maxNewTokens: 1000, temperature: 0 });
    expect(ref.finishReasons[0]).toBe("length");
    expect(ref.newTokens[0]).toHaveLength(16 - prompt.length + 1);
    const oneShort = generate(model, [prompt], { maxNewTokens: 16 - prompt.length, temperature: 0 });
    expect(oneShort.texts[0]).not.toBe(ref.texts[0]);
    const r = await cli("generate", "--model", bin, "--tokenizer", tokenizer, "--prompt", "Once upon", "--temperature", "0", "--max-new-tokens", "1000");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${ref.texts[0]}\n`);
  });
});
