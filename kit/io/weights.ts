/**
 * What a Hugging Face folder's weight files hold (names, dtypes, shapes, which file), read from the safetensors
 * headers only, so that the config can be checked against the weights before any tensor byte is read; and the checks
 * that use it (unused tensors, dtypes, non-finite values).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { checkFinite, FLOAT_DTYPES } from "./bounds";
import { readSafetensorsHeader, readSafetensorsIndex, type LoadedTensor, type SafetensorsDtype } from "./safetensors";

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** The file holding it. */
  file: string;
}

export interface WeightsInventory {
  tensors: Map<string, TensorInfo>;
  /** `model.safetensors`, or the index path for a sharded checkpoint. */
  source: string;
  /** Bytes of every weight file. */
  bytes: number;
  /** Scalars stored in every tensor. */
  elements: number;
}

/** Reads the headers of `dir/model.safetensors` or of every shard of `dir/model.safetensors.index.json`. */
export function weightsInventory(fn: string, dir: string): WeightsInventory {
  const single = path.join(dir, "model.safetensors");
  const index = path.join(dir, "model.safetensors.index.json");
  const tensors = new Map<string, TensorInfo>();
  let bytes = 0;
  const addFile = (file: string, only?: ReadonlySet<string>) => {
    const header = readSafetensorsHeader(file);
    bytes += header.fileSize;
    for (const [name, e] of header.tensors) if (!only || only.has(name)) tensors.set(name, { dtype: e.dtype, shape: e.shape, file });
  };
  let source: string;
  if (fs.existsSync(single)) {
    source = single;
    addFile(single);
  } else if (fs.existsSync(index)) {
    source = index;
    const map = readSafetensorsIndex(index);
    const byFile = new Map<string, Set<string>>();
    for (const [name, file] of map) byFile.set(file, (byFile.get(file) ?? new Set()).add(name));
    for (const [file, names] of byFile) {
      if (!fs.existsSync(file)) throw new Error(`${fn}: ${index} lists shard ${file} (for ${names.size} tensor(s)), which does not exist`);
      addFile(file, names);
      const absent = [...names].filter((n) => !tensors.has(n));
      if (absent.length > 0) throw new Error(`${fn}: ${index} lists ${absent.length} tensor(s) in ${file} that it does not hold, e.g. ${JSON.stringify(absent[0])}`);
    }
  } else {
    throw new Error(`${fn}: ${dir} has neither model.safetensors nor model.safetensors.index.json`);
  }
  let elements = 0;
  for (const t of tensors.values()) elements += t.shape.reduce((a, d) => a * d, 1);
  return { tensors, source, bytes, elements };
}

/** Buffers some checkpoints store that are not parameters (GPT-2's causal masks, Llama's rotary inverse frequencies). */
const IGNORED_BUFFERS = [/(^|\.)attn\.(masked_)?bias$/, /(^|\.)rotary_emb\.inv_freq$/];

/**
 * Refuses a checkpoint whose tensors the config leaves unused (e.g. a 5-layer file under `num_hidden_layers: 4`) and
 * parameters stored in a non-float dtype (F32 data labelled I32). A stored `lm_head.weight` with tied embeddings is
 * allowed (Hugging Face ignores it too). Names the tensors and the file.
 */
export function checkWeightsMatchConfig(fn: string, inv: WeightsInventory, wanted: readonly string[], configFile: string, { tied }: { tied: boolean }): void {
  const want = new Set(wanted);
  const unused = [...inv.tensors.keys()].filter((n) => !want.has(n) && !IGNORED_BUFFERS.some((re) => re.test(n)) && !(tied && n === "lm_head.weight"));
  if (unused.length > 0) {
    const list = unused.slice(0, 6).map((n) => JSON.stringify(n)).join(", ") + (unused.length > 6 ? `, and ${unused.length - 6} more` : "");
    throw new RangeError(`${fn}: ${inv.source} holds ${unused.length} tensor(s) that ${configFile} leaves unused: ${list}; does the config (layers, biases, tied embeddings) describe these weights?`);
  }
  for (const name of wanted) {
    const t = inv.tensors.get(name);
    if (t && !FLOAT_DTYPES.has(t.dtype)) {
      throw new TypeError(`${fn}: tensor ${JSON.stringify(name)} in ${t.file} has dtype ${t.dtype}; a float parameter must be stored as ${[...FLOAT_DTYPES].join(", ")}`);
    }
  }
}

/** Refuses any non-finite value, naming the tensor and its file. */
export function checkTensorsFinite(fn: string, inv: WeightsInventory, tensors: ReadonlyMap<string, LoadedTensor>): void {
  for (const [name, t] of tensors) checkFinite(fn, inv.tensors.get(name)?.file ?? inv.source, name, t.data);
}
