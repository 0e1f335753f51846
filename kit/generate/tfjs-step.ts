/** The TensorFlow.js decode step: `model.forward` with a KVCache of tf tensors, JS hooks and caching at every step. */
import { tf } from "../backend";
import { ActivationCache } from "../model/cache";
import type { FwdHook, HookFilter, HookName } from "../model/hooks";
import { KVCache, type HookedTransformer } from "../model/transformer";
import type { DecodeStepper } from "./decode";

export function tfjsStepper(model: HookedTransformer, { fwdHooks = [], namesFilter }: { fwdHooks?: readonly FwdHook[]; namesFilter?: HookFilter }): DecodeStepper {
  const kv = new KVCache(null);
  const V = model.cfg.d_vocab;
  return {
    step({ ids, positions, keyMask, ragged, step }) {
      kv.keyMask = ragged ? keyMask : null; // read only; the decode loop extends it between steps
      const store = namesFilter !== undefined ? new Map<HookName, tf.Tensor>() : undefined;
      const B = ids.length;
      const last = tf.tidy(() => {
        const t = tf.tensor2d(ids.flat(), [B, ids[0].length], "int32");
        const logits = model.forward(t, { kvCache: kv, positions, step, fwdHooks, cacheFilter: namesFilter, cacheOut: store });
        const Tn = logits.shape[1];
        return logits.slice([0, Tn - 1, 0], [B, 1, V]).reshape([B, V]);
      });
      const data = last.dataSync() as Float32Array;
      last.dispose();
      return { last: data, cache: store ? new ActivationCache(store, model.cfg.n_layers) : undefined };
    },
    dispose: () => kv.dispose(),
  };
}
