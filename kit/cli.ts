/**
 * The `persona-kit` command line.
 *
 *   persona-kit generate --model PATH [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N]
 *                        [--temperature T] [--top-k K] [--top-p P] [--seed S]
 *   persona-kit inspect --model PATH
 *   persona-kit serve --model PATH [--tokenizer PATH] [--port P] [--host 127.0.0.1] [--model-name NAME]
 *                     [--chat-template auto|world|model|plain|JINJA]
 *   persona-kit run --config FILE [--out DIR]
 *   persona-kit <command> --help | persona-kit --version
 *
 * `generate` prints the generated text (prompt included, decoded by the model's own tokenizer) and one newline,
 * nothing else on stdout. `serve` prints the API's base URL (e.g. `http://127.0.0.1:8000/v1`) on one line once it
 * listens, and closes cleanly on SIGINT/SIGTERM. Exit status: 0 done, 1 a failure while running, 2 a mistake in the
 * command line (unknown command or flag, with "did you mean"; a bad value), reported on stderr in one line. PATH is a Hugging Face folder, a hub id, or a llama2.c `.bin` (with `--tokenizer`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { COMMANDS, UsageError, commandHelp, numberOption, parseCommand, type CommandName } from "./cli-options";
import { didYouMean } from "./util/editDistance";
import { runCommand } from "./cli-run";
import { generate } from "./runtime/generate";
import { loadModel } from "./io/load";
import { isChatTemplateName, isJinjaSource } from "./serve/template";
import { startServer } from "./serve/server";
import { explorerCommandOptions, exportExplorerCommand } from "./explorer/cli";

const USAGE = `usage:
  persona-kit generate --model PATH [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N]
                       [--temperature T] [--top-k K] [--top-p P] [--seed S] [--local-files-only]
  persona-kit inspect --model PATH [--tokenizer PATH] [--local-files-only]
  persona-kit serve --model PATH [--tokenizer PATH] [--port P] [--host 127.0.0.1] [--model-name NAME]
                    [--chat-template auto|world|model|plain|JINJA] [--local-files-only]
  persona-kit export-explorer --model PATH --out DIR [--prompt TEXT] [--max-new-tokens N]
                              [--vectors PATH] [--probes PATH] [--local-files-only]
  persona-kit run --config FILE [--out DIR]   one stage-cached organism or RL run (a sweep's task)
  persona-kit <command> --help     options of one command, with their defaults
  persona-kit --version

PATH: a Hugging Face model folder, a hub id ("org/name"), or a llama2.c checkpoint (.bin).
Exit status: 0 done, 1 the command failed while running, 2 a mistake in the command line.
`;

type Values = Record<string, string | boolean | undefined>;
type Model = Awaited<ReturnType<typeof loadModel>>;

/** The kit's version, from its package.json (kit/ when compiled to kit/dist, or beside kit/cli.ts). */
export function kitVersion(): string {
  for (const p of [path.join(__dirname, "..", "package.json"), path.join(__dirname, "package.json")]) {
    if (!fs.existsSync(p)) continue;
    const pkg = JSON.parse(fs.readFileSync(p, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "persona-kit" && pkg.version) return pkg.version;
  }
  return "unknown";
}

/** Run one command line; resolves with the exit status (0, or 1 for runtime failures), throws UsageError for 2. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") return print(rest[0] && rest[0] in COMMANDS ? commandHelp(rest[0] as CommandName) : USAGE);
  if (command === "--version" || command === "-v" || command === "-V") return print(`${kitVersion()}\n`);
  if (!command) throw new UsageError(`no command given (expected ${Object.keys(COMMANDS).join(", ")})`);
  if (!(command in COMMANDS)) throw new UsageError(`unknown command ${JSON.stringify(command)}${didYouMean(command, Object.keys(COMMANDS))} (expected ${Object.keys(COMMANDS).join(", ")})`);
  const name = command as CommandName;
  if (rest.includes("--help") || rest.includes("-h")) return print(commandHelp(name));
  const values = parseCommand(name, rest);
  if (name === "run") return runCommand(values);
  if (!values.model) throw new UsageError(`--model PATH is required; \`persona-kit ${name} --help\` lists the options`);
  const explorer = name === "export-explorer" ? explorerCommandOptions(values) : null;
  const checked = name === "generate" ? generateOptions(values) : name === "serve" ? serveOptions(values) : {};
  const model = await loadModel(values.model as string, { tokenizer: values.tokenizer as string | undefined, localFilesOnly: values["local-files-only"] === true || undefined });
  if (name === "inspect") return print(JSON.stringify(inspectInfo(model), null, 2) + "\n");
  if (explorer) return print(`${exportExplorerCommand(model, explorer)}\n`);
  if (!model.tokenizer) throw new UsageError(`${name} needs a tokenizer: pass --tokenizer PATH (for llama2.c, the tokenizer .bin)`);
  if (name === "serve") return serve(model, values, checked as ReturnType<typeof serveOptions>);
  const prompt = model.tokenizer.encode((values.prompt as string) ?? "");
  // generate() stops by itself at n_ctx, after n_ctx − prompt + 1 new tokens at most (as llama2.c's run.c does).
  const result = generate(model, [prompt], checked as ReturnType<typeof generateOptions>);
  return print(result.texts[0] + "\n");
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

function generateOptions(v: Values) {
  return {
    maxNewTokens: numberOption("max-new-tokens", v["max-new-tokens"], { integer: true, min: 0 }),
    temperature: numberOption("temperature", v.temperature, { min: 0 }),
    topK: numberOption("top-k", v["top-k"], { integer: true, min: 0 }),
    topP: numberOption("top-p", v["top-p"], { min: 0, minExclusive: true, max: 1 }),
    seed: numberOption("seed", v.seed, { integer: true }),
  };
}

function serveOptions(v: Values) {
  const chatTemplate = v["chat-template"] as string;
  if (!isChatTemplateName(chatTemplate) && !isJinjaSource(chatTemplate)) {
    throw new UsageError(
      `--chat-template must be auto, world, model, plain or a Jinja template (text containing {{ or {%), received ${JSON.stringify(chatTemplate)}${didYouMean(chatTemplate, ["auto", "world", "model", "plain"])}`,
    );
  }
  return { port: numberOption("port", v.port, { integer: true, min: 0, max: 65535 }), chatTemplate };
}

function inspectInfo(model: Model) {
  return {
    family: model.cfg.family,
    parameters: model.numParams,
    config: model.cfg,
    tokenizer: model.tokenizer ? { kind: model.tokenizer.kind, vocabSize: model.tokenizer.vocabSize } : null,
    hookNames: model.hookNames(),
  };
}

/** `persona-kit serve`: listen, print the URL, and resolve with 0 after SIGINT/SIGTERM closed the server. */
async function serve(model: Model, values: Values, { port, chatTemplate }: { port: number; chatTemplate: string }): Promise<number> {
  const modelName = (values["model-name"] as string | undefined) ?? path.basename(path.resolve(values.model as string)).replace(/\.bin$/, "");
  const server = await startServer({ model, host: values.host as string, port, modelName, chatTemplate });
  process.stdout.write(`${server.url}\n`);
  process.stderr.write(`persona-kit serve: model ${JSON.stringify(modelName)} (chat template: ${server.template}) at ${server.url}; SIGINT or SIGTERM stops it\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      process.stderr.write(`persona-kit serve: ${signal}, closing\n`);
      server.close().then(() => resolve(0), () => resolve(1));
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}

/** Run the CLI and exit with its status (used by the `persona-kit` bin). */
export function run(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const err = e as Error;
      process.stderr.write(`persona-kit: ${err.message}\n`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}

if (require.main === module) run(process.argv.slice(2));
