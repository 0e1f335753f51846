/**
 * `loadModel(source)`: one entry point for every checkpoint the kit reads.
 *
 * - a llama2.c checkpoint (`*.bin`), with its `.bin` tokenizer (`tokenizer` option, else `tokenizer.bin` beside it);
 * - a Hugging Face model folder (config.json + safetensors + tokenizer.json);
 * - a Hugging Face hub id (`"org/name"`), downloaded into the cache when the network allows (`localFilesOnly`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { initBackend } from "../backend";
import { HookedTransformer } from "../model/transformer";
import { loadTokenizer } from "../tokenizers/load";
import type { Tokenizer } from "../tokenizers/types";
import { checkVocabulary } from "./bounds";
import { loadHfFolder, saveHfFolder, type SaveHfOptions } from "./hf";
import { isHubId, resolveModelFolder, type HubOptions } from "./hub";
import { readLlama2cCheckpoint } from "./llama2c";
import { didYouMean } from "../util/editDistance";
import { loadAdapter } from "../lora/peft";

export interface LoadModelOptions extends HubOptions {
  /**
   * A tokenizer, or a path to one (`.bin` for llama2.c, `tokenizer.json` or a folder for HF), or null for none.
   * Default: the folder's own tokenizer.json; for a llama2.c `.bin`, `tokenizer.bin` beside it when present.
   */
  tokenizer?: Tokenizer | string | null;
  /** A PEFT LoRA adapter (folder or hub id) to load onto the model and activate (kit/lora/peft.ts `loadAdapter`). */
  adapter?: string;
}

/** Load a model with its tokenizer from a llama2.c `.bin`, a Hugging Face folder or a hub id. */
export async function loadModel(source: string, options: LoadModelOptions = {}): Promise<HookedTransformer> {
  checkLoadOptions(options);
  const { adapter, ...rest } = options;
  const model = await loadBase(source, rest);
  if (adapter === undefined) return model;
  const { tokenizer: _t, revision: _r, ...hub } = rest; // the revision names the base model's
  try {
    await loadAdapter(model, adapter, hub);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

async function loadBase(source: string, options: Omit<LoadModelOptions, "adapter">): Promise<HookedTransformer> {
  await initBackend();
  if (typeof source !== "string" || source.length === 0) {
    throw new TypeError(`loadModel: source must be a path or a hub id, received ${JSON.stringify(source)}`);
  }
  const tok = resolveTokenizerOption(options.tokenizer);
  if (fs.existsSync(source) && fs.statSync(source).isFile()) {
    if (!source.endsWith(".bin")) {
      throw new RangeError(`loadModel: ${source} is a file but not a llama2.c checkpoint (*.bin); for Hugging Face models pass the folder`);
    }
    const ckpt = readLlama2cCheckpoint(source);
    let tokenizer: Tokenizer | null = tok === undefined ? null : tok;
    let tokWhere = typeof options.tokenizer === "string" ? options.tokenizer : "the tokenizer passed in";
    if (tok === undefined) {
      const beside = path.join(path.dirname(source), "tokenizer.bin");
      if (fs.existsSync(beside)) tokenizer = loadTokenizer(beside);
      tokWhere = beside;
    }
    if (tokenizer) checkVocabulary("loadModel", tokenizer, ckpt.config, tokWhere, { exact: tokenizer.kind === "llama2c" });
    return new HookedTransformer(ckpt.config, ckpt.params, { tokenizer });
  }
  if (fs.existsSync(source) && fs.statSync(source).isDirectory()) {
    return loadHfFolder(source, { tokenizer: tok === undefined ? "auto" : tok });
  }
  if (!isHubId(source)) {
    throw new Error(`loadModel: ${JSON.stringify(source)} is neither an existing file or folder nor a Hugging Face hub id ("org/name")`);
  }
  const dir = await resolveModelFolder(source, options);
  return loadHfFolder(dir, { tokenizer: tok === undefined ? "auto" : tok });
}

const LOAD_OPTIONS: Record<keyof LoadModelOptions, true> = {
  tokenizer: true, adapter: true, revision: true, cacheDir: true, localFilesOnly: true, endpoint: true, token: true,
  onProgress: true, fetch: true, timeoutMs: true, retryDelayMs: true,
};

/** Refuse option names loadModel does not know (a typo would otherwise be ignored), with "did you mean". */
function checkLoadOptions(options: LoadModelOptions): void {
  if (options === null || typeof options !== "object") throw new TypeError(`loadModel: options must be an object, received ${options === null ? "null" : typeof options}`);
  const known = Object.keys(LOAD_OPTIONS);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const each = unknown.map((k) => `${JSON.stringify(k)}${didYouMean(k, known)}`).join(", ");
  throw new RangeError(`loadModel: unknown option${unknown.length > 1 ? "s" : ""} ${each}; known: ${known.join(", ")}`);
}

/** Save a model as a Hugging Face folder (safetensors + config.json + tokenizer.json) that `loadModel` reloads. */
export function saveModel(model: HookedTransformer, dir: string, options: SaveHfOptions = {}): void {
  saveHfFolder(model, dir, options);
}

function resolveTokenizerOption(t: LoadModelOptions["tokenizer"]): Tokenizer | null | undefined {
  if (t === undefined || t === null) return t;
  if (typeof t === "string") return loadTokenizer(t);
  return t;
}
