/**
 * `exportExplorer(model, dir, { vectors, probes })`: a static folder that runs the persona explorer entirely in the
 * browser on onnxruntime-web (wasm, one thread: no cross-origin isolation needed, so any static server or a blog
 * post's iframe works):
 *
 *   dir/index.html                        the page (controls, token heatmap, attention, projections, next tokens)
 *   dir/explorer.js                       the page's code (kit/explorer/page/*.js, @huggingface/tokenizers and
 *                                         onnxruntime-web's wasm build, bundled by esbuild)
 *   dir/explorer.json                     shapes, graph I/O names, persona vectors and probes, example prompts
 *   dir/model/decoder.onnx                the KV-cache decoding graph with hook outputs and `steer.{hook}` inputs
 *   dir/model/tokenizer.json, tokenizer_config.json
 *   dir/ort/ort-wasm-simd-threaded.wasm.gz  onnxruntime-web's wasm, gzipped (the page inflates it with
 *                                         DecompressionStream), so the folder stays small without server settings
 *
 * `explorerHtml(model, options, { inline: true })` is the same page as one self-contained HTML document (every asset
 * base64 in a `<script type="application/json" id="pk-assets">`), which `showExplorer` embeds in notebooks.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import type { HookedTransformer } from "../model/transformer";
import { buildGraph } from "../onnx/graph";
import { explorerSpec, type ExplorerOptions, type ExplorerSpec } from "./spec";

export interface ExportExplorerResult {
  dir: string;
  /** Paths relative to dir. */
  files: string[];
  /** Bytes of all files. */
  bytes: number;
  spec: ExplorerSpec;
}

const ORT_WASM = "ort-wasm-simd-threaded.wasm";
let wasmGz: Buffer | null = null;
let bundle: string | null = null;

/** The folder of the page's sources: kit/explorer/page, seen from kit/explorer (tsx) or kit/dist/explorer (built). */
function pageDir(): string {
  for (const dir of [path.join(__dirname, "page"), path.join(__dirname, "..", "..", "explorer", "page")]) {
    if (fs.existsSync(path.join(dir, "main.js"))) return dir;
  }
  throw new Error(`exportExplorer: the page sources (kit/explorer/page/main.js) were not found next to ${__dirname}`);
}

/** The page's code bundled into one ES module (cached per process). */
export function explorerBundle(): string {
  if (bundle) return bundle;
  let esbuild: typeof import("esbuild");
  try {
    esbuild = require("esbuild") as typeof import("esbuild");
  } catch (e) {
    throw new Error(`exportExplorer: esbuild is needed to bundle the page (npm install esbuild): ${(e as Error).message}`);
  }
  const out = esbuild.buildSync({ entryPoints: [path.join(pageDir(), "main.js")], bundle: true, format: "esm", platform: "browser", target: "es2022", minify: true, write: false, logLevel: "silent", legalComments: "none" });
  bundle = out.outputFiles[0].text;
  return bundle;
}

/** onnxruntime-web's single-threaded-capable wasm, gzipped (cached per process). */
function ortWasmGz(): Buffer {
  if (wasmGz) return wasmGz;
  wasmGz = zlib.gzipSync(fs.readFileSync(path.join(path.dirname(require.resolve("onnxruntime-web")), ORT_WASM)), { level: 9 });
  return wasmGz;
}

/** Every file of the explorer folder except index.html, as bytes by relative path. */
export function explorerAssets(model: HookedTransformer, options: ExplorerOptions = {}, fn = "exportExplorer"): { spec: ExplorerSpec; assets: Map<string, Uint8Array> } {
  const tok = model.tokenizer;
  if (!tok) throw new Error(`${fn}: the model has no tokenizer; the page needs tokenizer.json to encode prompts`);
  const spec = explorerSpec(model, options, fn);
  const graph = buildGraph(model, { kv: true, hooks: spec.outputs, steer: spec.steerHooks.map((s) => s.name) });
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const assets = new Map<string, Uint8Array>([
    ["explorer.json", json(spec)],
    ["model/decoder.onnx", graph.bytes],
    ["model/tokenizer.json", json(tok.toTokenizerJson())],
    ["model/tokenizer_config.json", json({ model_max_length: model.cfg.n_ctx, ...tok.toTokenizerConfig() })],
    [`ort/${ORT_WASM}.gz`, ortWasmGz()],
  ]);
  return { spec, assets };
}

/** Text safe inside a <script> element. */
function scriptSafe(s: string): string {
  return s.replace(/<\/script/gi, "<\\/script").replace(/<!--/g, "<\\!--");
}

/** The page's HTML: loading explorer.js beside it, or (inline) with the code and every asset inside. */
export function explorerHtml(model: HookedTransformer, options: ExplorerOptions = {}, { inline = false }: { inline?: boolean } = {}): string {
  const css = fs.readFileSync(path.join(pageDir(), "style.css"), "utf8");
  const head = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\n<title>persona explorer</title>\n<style>${css}</style></head><body>\n`;
  if (!inline) return `${head}<script type="module" src="explorer.js"></script>\n</body></html>\n`;
  const { assets } = explorerAssets(model, options, "showExplorer");
  const b64 = Object.fromEntries([...assets].map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  return `${head}<script type="application/json" id="pk-assets">${JSON.stringify(b64)}</script>\n<script type="module">${scriptSafe(explorerBundle())}</script>\n</body></html>\n`;
}

/** Write the explorer folder for `model` into `dir` (created if needed; files of the same names are replaced). */
export function exportExplorer(model: HookedTransformer, dir: string, options: ExplorerOptions = {}): ExportExplorerResult {
  const fn = "exportExplorer";
  if (typeof dir !== "string" || dir.length === 0) throw new TypeError(`${fn}: dir must be a folder path, received ${JSON.stringify(dir)}`);
  const { spec, assets } = explorerAssets(model, options, fn);
  assets.set("explorer.js", new TextEncoder().encode(explorerBundle()));
  assets.set("index.html", new TextEncoder().encode(explorerHtml(model, options)));
  let bytes = 0;
  for (const [rel, data] of assets) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
    bytes += data.byteLength;
  }
  return { dir, files: [...assets.keys()], bytes, spec };
}
