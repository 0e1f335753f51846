/**
 * Activation caches to and from safetensors: one F32 tensor per hook name (the file opens in Python with
 * `safetensors.torch.load_file`, keys are TransformerLens hook names), and the layer count in the metadata.
 */
import { tf } from "../backend";
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from "../io/safetensors";
import { ActivationCache } from "../model/cache";
import type { HookName } from "../model/hooks";
import type { ResidModel } from "../model/resid";

/** Write every activation of `cache` to `path` (atomically); `metadata` is stored beside `n_layers`. */
export function saveCache(cache: ActivationCache, path: string, { metadata = {} }: { metadata?: Record<string, string> } = {}): void {
  const tensors = new Map<string, TensorToWrite>();
  for (const name of cache.keys()) {
    const t = cache.get(name);
    tensors.set(name, { shape: t.shape, data: new Float32Array(t.dataSync() as Float32Array) });
  }
  writeSafetensors(path, tensors, { ...metadata, format: "persona-kit activation cache", n_layers: String(cache.nLayers) });
}

/** Read a cache written by `saveCache` (or any safetensors file keyed by hook names, given `nLayers`). */
export function loadCache(path: string, { model = null, nLayers }: { model?: ResidModel | null; nLayers?: number } = {}): ActivationCache {
  const header = readSafetensorsHeader(path).metadata;
  const n = nLayers ?? (header.n_layers !== undefined ? Number(header.n_layers) : model?.cfg.n_layers);
  if (n === undefined || !Number.isInteger(n) || n <= 0) throw new RangeError(`loadCache: ${path} has no n_layers in its metadata; pass { nLayers } or { model }`);
  const store = new Map<HookName, tf.Tensor>();
  for (const [name, t] of readSafetensors(path)) store.set(name as HookName, tf.tensor(t.data, t.shape));
  return new ActivationCache(store, n, model);
}
