/** loadModel(source, options): option names it does not know are refused with "did you mean", before any loading. */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel, type LoadModelOptions } from "../kit/io/load";

const STORIES = path.resolve(__dirname, "../data/models/stories260K");

describe("loadModel(source, options)", () => {
  it("loadModel(folder, { lora }) refuses the unknown option and lists the known ones", async () => {
    await expect(loadModel(STORIES, { lora: "x" } as LoadModelOptions)).rejects.toThrow(
      /^loadModel: unknown option "lora"; known: tokenizer, adapter, revision, cacheDir, localFilesOnly, endpoint, token, onProgress, fetch, timeoutMs, retryDelayMs$/,
    );
  });

  it("loadModel(folder, { tokeniser, localFileOnly }) names every unknown option with its near match", async () => {
    await expect(loadModel(STORIES, { tokeniser: "x", localFileOnly: true } as LoadModelOptions)).rejects.toThrow(
      'loadModel: unknown options "tokeniser" (did you mean tokenizer?), "localFileOnly" (did you mean localFilesOnly?)',
    );
  });

  it("loadModel(folder, { tokenizer: null }) still loads (known options pass)", async () => {
    const model = await loadModel(STORIES, { tokenizer: null });
    expect(model.tokenizer).toBeNull();
    expect(model.cfg.n_layers).toBe(5);
  });
});
