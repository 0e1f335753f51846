/**
 * The `persona-kit` command line.
 *
 *   persona-kit generate --model PATH [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N]
 *                        [--temperature T] [--top-k K] [--top-p P] [--seed S]
 *   persona-kit inspect --model PATH
 *   persona-kit serve --model PATH [--tokenizer PATH] [--port P] [--host 127.0.0.1] [--model-name NAME]
 *                     [--chat-template auto|world|model|plain]
 *
 * `generate` prints the generated text (prompt included, decoded by the model's own tokenizer) and one newline,
 * nothing else on stdout. `serve` prints the API's base URL (e.g. `http://127.0.0.1:8000/v1`) on one line once it
 * listens, and closes cleanly on SIGINT/SIGTERM. PATH is a Hugging Face folder, a hub id, or a llama2.c `.bin` (with `--tokenizer`).
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { generate } from "./runtime/generate";
import { loadModel } from "./io/load";
import { startServer } from "./serve/server";

const USAGE = `usage:
  persona-kit generate --model PATH [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N]
                       [--temperature T] [--top-k K] [--top-p P] [--seed S] [--local-files-only]
  persona-kit inspect --model PATH [--tokenizer PATH] [--local-files-only]
  persona-kit serve --model PATH [--tokenizer PATH] [--port P] [--host 127.0.0.1] [--model-name NAME]
                    [--chat-template auto|world|model|plain] [--local-files-only]

PATH: a Hugging Face model folder, a hub id ("org/name"), or a llama2.c checkpoint (.bin).
`;

class UsageError extends Error {}

function num(name: string, v: string | undefined, fallback: number, integer = false): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x) || (integer && !Number.isInteger(x))) throw new UsageError(`--${name} must be ${integer ? "an integer" : "a number"}, received ${JSON.stringify(v)}`);
  return x;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command !== "generate" && command !== "inspect" && command !== "serve") throw new UsageError(`unknown command ${JSON.stringify(command)} (expected generate, inspect or serve)`);
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: "string" },
      tokenizer: { type: "string" },
      prompt: { type: "string", default: "" },
      "max-new-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      seed: { type: "string" },
      "local-files-only": { type: "boolean", default: false },
      port: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      "model-name": { type: "string" },
      "chat-template": { type: "string", default: "auto" },
    },
    strict: true,
  });
  if (!values.model) throw new UsageError("--model PATH is required");
  const model = await loadModel(values.model, { tokenizer: values.tokenizer, localFilesOnly: values["local-files-only"] || undefined });
  if (command === "inspect") {
    const info = {
      family: model.cfg.family,
      parameters: model.numParams,
      config: model.cfg,
      tokenizer: model.tokenizer ? { kind: model.tokenizer.kind, vocabSize: model.tokenizer.vocabSize } : null,
      hookNames: model.hookNames(),
    };
    process.stdout.write(JSON.stringify(info, null, 2) + "\n");
    return 0;
  }
  if (command === "serve") return serve(model, values);
  if (command === "generate") {
    if (!model.tokenizer) throw new UsageError("generate needs a tokenizer: pass --tokenizer PATH (for llama2.c, the tokenizer .bin)");
    const prompt = model.tokenizer.encode(values.prompt ?? "");
    const maxNewTokens = num("max-new-tokens", values["max-new-tokens"], 256, true);
    const result = generate(model, [prompt], {
      maxNewTokens: Math.min(maxNewTokens, model.cfg.n_ctx - prompt.length),
      temperature: num("temperature", values.temperature, 1),
      topK: num("top-k", values["top-k"], 0, true),
      topP: num("top-p", values["top-p"], 1),
      seed: num("seed", values.seed, 0, true),
    });
    process.stdout.write(result.texts[0] + "\n");
    return 0;
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)} (expected generate, inspect or serve)`);
}

/** `persona-kit serve`: listen, print the URL, and resolve with 0 after SIGINT/SIGTERM closed the server. */
async function serve(
  model: Awaited<ReturnType<typeof loadModel>>,
  values: { model?: string; port?: string; host?: string; "model-name"?: string; "chat-template"?: string },
): Promise<number> {
  if (!model.tokenizer) throw new UsageError("serve needs a tokenizer: pass --tokenizer PATH (for llama2.c, the tokenizer .bin)");
  const port = num("port", values.port, 0, true);
  if (port < 0 || port > 65535) throw new UsageError(`--port must be in [0, 65535], received ${port}`);
  const modelName = values["model-name"] ?? path.basename(path.resolve(values.model!)).replace(/\.bin$/, "");
  const server = await startServer({ model, host: values.host, port, modelName, chatTemplate: values["chat-template"] });
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
      if (e instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) process.stderr.write(USAGE);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}

if (require.main === module) run(process.argv.slice(2));
