/**
 * The `persona-kit` command line.
 *
 *   persona-kit generate --model PATH [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N]
 *                        [--temperature T] [--top-k K] [--top-p P] [--seed S]
 *   persona-kit inspect --model PATH
 *
 * `generate` prints the generated text (prompt included, decoded by the model's own tokenizer) and one newline,
 * nothing else on stdout. PATH is a Hugging Face folder, a hub id, or a llama2.c `.bin` (with `--tokenizer`).
 */
import { parseArgs } from "node:util";
import { generate } from "./generate/generate";
import { loadModel } from "./io/load";

const USAGE = `usage:
  persona-kit generate --model PATH [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N]
                       [--temperature T] [--top-k K] [--top-p P] [--seed S] [--local-files-only]
  persona-kit inspect --model PATH [--tokenizer PATH] [--local-files-only]

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
  if (command !== "generate" && command !== "inspect") throw new UsageError(`unknown command ${JSON.stringify(command)} (expected generate or inspect)`);
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
  throw new UsageError(`unknown command ${JSON.stringify(command)} (expected generate or inspect)`);
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
