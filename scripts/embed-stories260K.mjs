#!/usr/bin/env node
// Converts llama2.c's stories260K (data/models/stories260K-llama2c) into the Hugging Face folder embedded in
// data/models/stories260K, with persona-kit's own saver. Run once; the result is committed.
import * as path from "node:path";
import { loadModel, saveModel } from "persona-kit";

const src = path.resolve(process.argv[2] ?? "data/models/stories260K-llama2c");
const dst = path.resolve(process.argv[3] ?? "data/models/stories260K");
const model = await loadModel(path.join(src, "stories260K.bin"), { tokenizer: path.join(src, "tok512.bin") });
saveModel(model, dst);
console.log(`wrote ${dst}`);
