/**
 * The `persona-kit` command line's options: one table per command (type, value name, default, help), the help text
 * printed by `persona-kit <command> --help`, and the parser that turns argv into checked values or a `UsageError`
 * (exit status 2) that says what was expected and, for a mistyped flag or command, what was probably meant.
 */
import { parseArgs } from "node:util";
import { didYouMean } from "./util/editDistance";

/** A mistake in the command line (exit status 2), as opposed to a failure while running it (exit status 1). */
export class UsageError extends Error {}

export interface OptionSpec {
  type: "string" | "boolean";
  /** The value's name in the help text, e.g. "PATH". */
  value?: string;
  default?: string;
  help: string;
}

export type CommandName = "generate" | "inspect" | "serve" | "export-explorer" | "run";

const MODEL: Record<string, OptionSpec> = {
  model: { type: "string", value: "PATH", help: "a Hugging Face model folder, a hub id (org/name) or a llama2.c checkpoint (.bin); required" },
  tokenizer: { type: "string", value: "PATH", help: "tokenizer file or folder (for llama2.c, the tokenizer .bin); default: the model's own" },
  "local-files-only": { type: "boolean", help: "never download: read hub ids from the local cache only" },
};

export const COMMANDS: Record<CommandName, { summary: string; options: Record<string, OptionSpec> }> = {
  generate: {
    summary: "print the prompt and its continuation, decoded by the model's tokenizer",
    options: {
      ...MODEL,
      prompt: { type: "string", value: "TEXT", default: "", help: "the text to continue (empty: start from BOS)" },
      "max-new-tokens": { type: "string", value: "N", default: "256", help: "new tokens at most, an integer ≥ 0; generation also stops at the context length (n_ctx − prompt + 1)" },
      temperature: { type: "string", value: "T", default: "1", help: "sampling temperature ≥ 0 (0: greedy)" },
      "top-k": { type: "string", value: "K", default: "0", help: "keep the K most likely tokens (0: all)" },
      "top-p": { type: "string", value: "P", default: "1", help: "nucleus sampling mass in (0, 1]" },
      seed: { type: "string", value: "S", default: "0", help: "random seed (an integer)" },
    },
  },
  inspect: {
    summary: "print the model's family, config, parameter count, tokenizer and hook names as JSON",
    options: MODEL,
  },
  serve: {
    summary: "serve the model as an OpenAI-compatible API and print its base URL",
    options: {
      ...MODEL,
      port: { type: "string", value: "P", default: "0", help: "port in [0, 65535] (0: any free port)" },
      host: { type: "string", value: "HOST", default: "127.0.0.1", help: "interface to listen on" },
      "model-name": { type: "string", value: "NAME", help: "the model id clients send; default: the model folder's name" },
      "chat-template": { type: "string", value: "T", default: "auto", help: "auto, world, model, plain, or a Jinja template (text containing {{ or {%)" },
    },
  },
  "export-explorer": {
    summary: "write the persona explorer (a static page on onnxruntime-web: hooks, steering, probes) for the model and print its index.html",
    options: {
      ...MODEL,
      out: { type: "string", value: "DIR", help: "folder to write (created if needed); required" },
      prompt: { type: "string", value: "TEXT", help: "the example prompt generated on load; default: none (BOS only)" },
      "max-new-tokens": { type: "string", value: "N", default: "24", help: "new tokens per generation in the page, an integer ≥ 1" },
      vectors: { type: "string", value: "PATH", help: "JSON { name: { layer, vector: number[], hook? } } of persona vectors to steer with and project on" },
      probes: { type: "string", value: "PATH", help: "JSON { name: { layer, weights: number[], bias, hook? } } of linear probes to colour tokens with" },
    },
  },
  run: {
    summary: "run (or find) one stage-cached organism or RL run from a JSON config, print its record's path (one task of a sweep: see docs/scale.md)",
    options: {
      config: { type: "string", value: "FILE", help: "a JSON organism config (as organismConfig returns) or RL config (rlConfig); required" },
      out: { type: "string", value: "DIR", default: "out/runs", help: "the stage cache and run records, shared by every task of a sweep" },
    },
  },
};

/** `persona-kit <command> --help`: usage, every option with its default. */
export function commandHelp(command: CommandName): string {
  const { summary, options } = COMMANDS[command];
  const lines = Object.entries(options).map(([name, o]) => {
    const flag = `--${name}${o.value ? ` ${o.value}` : ""}`;
    const dflt = o.default === undefined ? "" : ` (default: ${o.default === "" ? '""' : o.default})`;
    return `  ${flag.padEnd(26)}${o.help}${dflt}`;
  });
  return `usage: persona-kit ${command} [options]\n\n${summary}.\n\noptions:\n${lines.join("\n")}\n  ${"--help".padEnd(26)}print this help\n`;
}

const NUMBER_LIKE = /^-(\d|\.\d)/;

/** argv with `--flag -5` joined to `--flag=-5` (Node's parseArgs would call "-5" an ambiguous option). */
function joinNegativeValues(args: readonly string[], options: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const spec = a.startsWith("--") && !a.includes("=") ? options[a.slice(2)] : undefined;
    const next = args[i + 1];
    if (spec?.type === "string" && next !== undefined && NUMBER_LIKE.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Refuse flags the command does not have, naming the nearest one. */
function checkFlags(command: CommandName, args: readonly string[]): void {
  const known = Object.keys(COMMANDS[command].options);
  for (const a of args) {
    if (!a.startsWith("-") || NUMBER_LIKE.test(a) || a === "-" || a === "--") continue;
    const name = a.replace(/^--?/, "").split("=")[0]!;
    if (!a.startsWith("--") || !known.includes(name)) {
      throw new UsageError(`unknown option ${a.split("=")[0]} for "${command}"${didYouMean(name, known, "--")}; \`persona-kit ${command} --help\` lists them`);
    }
  }
}

/** Parse `args` for `command` into option values (defaults applied); throws a UsageError for any mistake. */
export function parseCommand(command: CommandName, args: readonly string[]): Record<string, string | boolean | undefined> {
  const options = COMMANDS[command].options;
  const joined = joinNegativeValues(args, options);
  checkFlags(command, joined);
  const config = Object.fromEntries(Object.entries(options).map(([k, o]) => [k, o.default === undefined ? { type: o.type } : { type: o.type, default: o.default }]));
  try {
    return parseArgs({ args: joined, options: config as never, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify .*$/s, ""));
  }
}

/** The number in option `name`, checked: an integer when `integer`, within [min, max]. */
export function numberOption(name: string, v: string | boolean | undefined, { integer = false, min = -Infinity, max = Infinity, minExclusive = false } = {}): number {
  const x = Number(v);
  const inRange = (minExclusive ? x > min : x >= min) && x <= max;
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(x) || (integer && !Number.isInteger(x)) || !inRange) {
    const kind = integer ? "an integer" : "a number";
    const lo = min === -Infinity ? "" : `${minExclusive ? ">" : "≥"} ${min}`;
    const range = lo && max !== Infinity ? ` in ${minExclusive ? "(" : "["}${min}, ${max}]` : lo ? ` ${lo}` : max !== Infinity ? ` ≤ ${max}` : "";
    throw new UsageError(`--${name} must be ${kind}${range}, received ${JSON.stringify(v)}`);
  }
  return x;
}
