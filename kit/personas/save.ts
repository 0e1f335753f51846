/**
 * Persona vectors on disk: `<path>.safetensors` (one F32 tensor per layer, `layer.{L}`, shape [d]) and `<path>.json`
 * (metadata naming the model, the chosen layer, the hook, the trait and the judge filter's counts). The safetensors
 * file also carries the metadata's strings in `__metadata__`, so either file alone says what the vectors are.
 *
 *   savePersonaVector("out/ruthless", result, { model: "Qwen/Qwen2.5-0.5B-Instruct", trait: "ruthless" });
 *   const { vectors, layer, metadata } = loadPersonaVector("out/ruthless");
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeValue as describe } from "../describe";
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from "../io/safetensors";
import type { LayerVector, PersonaVector } from "../vectors/persona";
import type { PersonaVectorResult } from "./extract";

export interface PersonaVectorMetadata {
  /** The model the vectors were read from (a hub id or a folder). */
  model: string;
  trait: string;
  /** The chosen layer. */
  layer: number;
  /** Full hook name at the chosen layer, e.g. "blocks.12.hook_resid_post". */
  hookName: string;
  /** Judge filter counts, when the vectors came from `extractPersonaVector`. */
  counts?: PersonaVectorResult["counts"];
  thresholds?: PersonaVectorResult["thresholds"];
  /** Anything else worth keeping (judge model, sample counts, …). */
  [key: string]: unknown;
}

export interface LoadedPersonaVector {
  vectors: PersonaVector;
  layer: number;
  vector: LayerVector;
  metadata: PersonaVectorMetadata;
}

const stem = (p: string) => p.replace(/\.(safetensors|json)$/, "");

/** Write `<path>.safetensors` and `<path>.json` (directories created). Returns both paths. */
export function savePersonaVector(
  file: string,
  pv: PersonaVectorResult | { vectors: PersonaVector; layer: number },
  meta: { model: string; trait: string } & Record<string, unknown>,
): { safetensors: string; json: string } {
  const fn = "savePersonaVector";
  if (typeof file !== "string" || file.length === 0) throw new TypeError(`${fn}: path must be a non-empty string, received ${describe(file)}`);
  if (!pv || typeof pv !== "object" || !pv.vectors || !(pv.layer in pv.vectors)) throw new TypeError(`${fn}: vectors must be extractPersonaVector's result or { vectors, layer } with the layer among them, received ${describe(pv)}`);
  if (!meta || typeof meta.model !== "string" || typeof meta.trait !== "string") throw new TypeError(`${fn}: metadata must name { model, trait } (strings), received ${describe(meta)}`);
  const base = stem(file);
  fs.mkdirSync(path.dirname(path.resolve(base)), { recursive: true });
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const v of Object.values(pv.vectors)) tensors[`layer.${v.layer}`] = { shape: [v.vector.length], data: v.vector };
  const chosen = pv.vectors[pv.layer];
  const full = pv as Partial<PersonaVectorResult>;
  const metadata: PersonaVectorMetadata = {
    ...meta,
    layer: pv.layer,
    hookName: chosen.hookName,
    ...(full.counts ? { counts: full.counts } : {}),
    ...(full.thresholds ? { thresholds: full.thresholds } : {}),
    layers: Object.values(pv.vectors).map((v) => ({ layer: v.layer, hookName: v.hookName, norm: v.norm, nPositive: v.nPositive, nNegative: v.nNegative })),
  };
  const strings = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  writeSafetensors(`${base}.safetensors`, tensors, strings);
  fs.writeFileSync(`${base}.json`, JSON.stringify(metadata, null, 2) + "\n");
  return { safetensors: `${base}.safetensors`, json: `${base}.json` };
}

/** Read vectors saved by `savePersonaVector` (the JSON beside them when present, else the safetensors metadata). */
export function loadPersonaVector(file: string): LoadedPersonaVector {
  const fn = "loadPersonaVector";
  const base = stem(file);
  const st = `${base}.safetensors`;
  if (!fs.existsSync(st)) throw new Error(`${fn}: no such file ${path.resolve(st)}`);
  let metadata: PersonaVectorMetadata;
  if (fs.existsSync(`${base}.json`)) metadata = JSON.parse(fs.readFileSync(`${base}.json`, "utf8")) as PersonaVectorMetadata;
  else {
    const raw = readSafetensorsHeader(st).metadata;
    metadata = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, k === "model" || k === "trait" || k === "hookName" ? v : JSON.parse(v)])) as PersonaVectorMetadata;
  }
  const layerInfo = new Map(((metadata.layers as { layer: number; hookName: string; norm: number; nPositive: number; nNegative: number }[] | undefined) ?? []).map((l) => [l.layer, l]));
  const vectors: PersonaVector = {};
  for (const [name, t] of readSafetensors(st)) {
    const m = /^layer\.(\d+)$/.exec(name);
    if (!m) throw new RangeError(`${fn}: ${st} holds tensor ${JSON.stringify(name)}; expected only layer.{L} tensors`);
    const layer = Number(m[1]);
    const info = layerInfo.get(layer);
    let sq = 0;
    for (const x of t.data) sq += x * x;
    vectors[layer] = { layer, hookName: info?.hookName ?? metadata.hookName.replace(/^blocks\.\d+\./, `blocks.${layer}.`), vector: t.data, norm: Math.sqrt(sq), nPositive: info?.nPositive ?? 0, nNegative: info?.nNegative ?? 0 };
  }
  if (!(metadata.layer in vectors)) throw new RangeError(`${fn}: ${st} has no tensor for the chosen layer ${metadata.layer} (found ${Object.keys(vectors).join(", ")})`);
  return { vectors, layer: metadata.layer, vector: vectors[metadata.layer], metadata };
}
