/**
 * `loadTokenizer(path)`: one entry point for every tokenizer the kit reads.
 *
 * - a `.bin` file → {@link Llama2cTokenizer} (llama2.c's `tokenizer.bin` / `tok512.bin`);
 * - a folder holding `tokenizer.json`, or a `tokenizer.json`-style `.json` file (its `tokenizer_config.json` and
 *   `chat_template.jinja` read from beside it) → {@link WordLevelTokenizer} when the model type is `WordLevel`,
 *   else {@link HfTokenizer}.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { HfTokenizer, readHfTokenizerFiles, readHfTokenizerFolder, type HfTokenizerFiles } from "./hf";
import { tokenizerJsonProblems } from "./check";
import { Llama2cTokenizer } from "./llama2c";
import type { Tokenizer } from "./types";
import { WordLevelTokenizer } from "./wordlevel";

/** Options of {@link loadTokenizer}. */
export interface LoadTokenizerOptions {
  /** For llama2.c `.bin` files: the number of tokens the file must hold (the model's vocab_size). */
  vocabSize?: number;
}

const EXPECTED = "expected a llama2.c tokenizer .bin file, a folder holding tokenizer.json, or a tokenizer.json file";

/** The tokenizer of `files` (read from `file`); a structural problem or a library failure names the file. */
function fromFiles(files: HfTokenizerFiles, file: string): Tokenizer {
  const problems = tokenizerJsonProblems(files.tokenizerJson);
  if (problems.length > 0) throw new TypeError(`loadTokenizer: ${file} is not a usable tokenizer.json:\n  - ${problems.join("\n  - ")}`);
  try {
    return build(files);
  } catch (e) {
    throw new TypeError(`loadTokenizer: ${file} is not a usable tokenizer.json: ${(e as Error).message}`, { cause: e });
  }
}

function build(files: HfTokenizerFiles): Tokenizer {
  const model = files.tokenizerJson.model as Record<string, unknown> | undefined;
  if (model && typeof model === "object" && model.type === "WordLevel") {
    return WordLevelTokenizer.fromTokenizerJson(files.tokenizerJson, files.tokenizerConfig);
  }
  return HfTokenizer.fromJson(files.tokenizerJson, files.tokenizerConfig, { chatTemplate: files.chatTemplate });
}

/** Loads the tokenizer at `p` (see the file comment for what each kind of path gives). */
export function loadTokenizer(p: string, options: LoadTokenizerOptions = {}): Tokenizer {
  const where = "loadTokenizer";
  if (typeof p !== "string" || p.length === 0) throw new TypeError(`${where}: path must be a non-empty string, received ${String(p)}`);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch {
    throw new Error(`${where}: ${p} does not exist; ${EXPECTED}`);
  }
  if (stat.isDirectory()) return fromFiles(readHfTokenizerFolder(p, where), path.join(p, "tokenizer.json"));
  const ext = path.extname(p).toLowerCase();
  if (ext === ".bin") return Llama2cTokenizer.fromFile(p, { vocabSize: options.vocabSize });
  if (ext === ".json") {
    if (path.basename(p) === "tokenizer_config.json") {
      throw new Error(`${where}: ${p} is a tokenizer_config.json; pass its folder or the tokenizer.json beside it`);
    }
    return fromFiles(readHfTokenizerFiles(p, where), p);
  }
  throw new Error(`${where}: ${p} is a file of an unknown kind (extension ${JSON.stringify(ext)}); ${EXPECTED}`);
}
