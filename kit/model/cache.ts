/**
 * ActivationCache: the activations a forward pass recorded, by hook name.
 *
 * `cache.get("resid_post", -1)` reads like TransformerLens's `cache["resid_post", -1]`; `stack` gathers one hook
 * across layers; `dispose()` frees every tensor (tfjs tensors are not garbage-collected).
 */
import { tf } from "../backend";
import { actName, type BlockHookName, type HookName } from "./hooks";
import { nearMatches } from "../util/editDistance";
import { accumulatedResid, decomposeResid, type ResidModel, type StackedResid } from "./resid";

export class ActivationCache {
  private readonly store: Map<HookName, tf.Tensor>;
  readonly nLayers: number;
  private disposed = false;

  /** The model that made the cache (for `applyLn`); null when unknown. */
  readonly model: ResidModel | null;

  constructor(entries: Map<HookName, tf.Tensor>, nLayers: number, model: ResidModel | null = null) {
    this.store = entries;
    this.nLayers = nLayers;
    this.model = model;
  }

  /**
   * The residual stream before blocks 0..layer and (default layer: all) after the last: `{ resid: [n, ...], labels }`
   * (kit/model/resid.ts). `applyLn` puts each entry through the final norm, recomputed on itself (the logit lens).
   */
  accumulatedResid(layer?: number, options: { applyLn?: boolean; inclMid?: boolean; model?: ResidModel } = {}): StackedResid {
    this.checkAlive("accumulatedResid");
    return accumulatedResid(this, options.model ?? this.model, layer, options);
  }

  /**
   * The stream's summands (embeddings, attention and MLP outputs of each block before `layer`): `{ resid, labels }`,
   * summing to the stream there. `applyLn` scales them by the final norm's scale of the full stream (linear, no bias).
   */
  decomposeResid(layer?: number, options: { applyLn?: boolean; mode?: "all" | "attn" | "mlp"; inclEmbeds?: boolean; model?: ResidModel } = {}): StackedResid {
    this.checkAlive("decomposeResid");
    return decomposeResid(this, options.model ?? this.model, layer, options);
  }

  /** Hook names held, in the order the forward pass reached them. */
  keys(): HookName[] {
    return [...this.store.keys()];
  }

  get size(): number {
    return this.store.size;
  }

  has(name: string, layer?: number): boolean {
    return this.store.has(this.resolve(name, layer) as HookName);
  }

  /**
   * An activation by full name (`"blocks.2.hook_resid_post"`) or by short name and layer (`"resid_post", 2`);
   * negative layers count from the end (`-1` is the last block).
   */
  get(name: HookName | BlockHookName | string, layer?: number): tf.Tensor {
    this.checkAlive("get");
    const full = this.resolve(name, layer);
    const t = this.store.get(full as HookName);
    if (t === undefined) {
      throw new RangeError(
        `ActivationCache.get: no activation ${JSON.stringify(full)} in this cache; it holds ${this.store.size} names, nearest: ${nearMatches(full, this.keys())
          .map((n) => JSON.stringify(n))
          .join(", ")}`,
      );
    }
    return t;
  }

  /** One hook across layers, stacked on a new leading axis: [n_layers, ...activation shape]. */
  stack(name: BlockHookName | string, layers?: readonly number[]): tf.Tensor {
    this.checkAlive("stack");
    const ls = layers ?? Array.from({ length: this.nLayers }, (_, i) => i);
    return tf.stack(ls.map((l) => this.get(name, l)));
  }

  /** Free every tensor. The cache cannot be read afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const t of this.store.values()) t.dispose();
    this.store.clear();
    this.disposed = true;
  }

  private resolve(name: string, layer?: number): string {
    if (layer !== undefined) {
      if (!Number.isInteger(layer) || layer >= this.nLayers || layer < -this.nLayers) {
        throw new RangeError(`ActivationCache.get: layer must be an integer in [-${this.nLayers}, ${this.nLayers - 1}], received ${layer}`);
      }
      layer = layer < 0 ? this.nLayers + layer : layer;
    }
    return actName(name, layer);
  }

  private checkAlive(where: string): void {
    if (this.disposed) throw new Error(`ActivationCache.${where}: this cache has been disposed`);
  }
}
