/**
 * The slot through which a runtime above kit/model serves `model.runWithCache`: kit/model imports nothing above it, so
 * the router (kit/runtime) installs itself here when it is loaded (`import "persona-kit"` loads it). With no router
 * installed, or when the router declines a call (returns null), the model runs on TensorFlow.js.
 */
import type { tf } from "../backend";
import type { ActivationCache } from "./cache";
import type { FwdHook, HookFilter } from "./hooks";
import type { HookedTransformer, TokensInput } from "./transformer";

export interface RunRouter {
  runWithCache(
    model: HookedTransformer,
    input: TokensInput,
    options: { namesFilter?: HookFilter; fwdHooks?: readonly FwdHook[] },
  ): { logits: tf.Tensor3D; cache: ActivationCache } | null;
}

let installed: RunRouter | null = null;

export function installRouter(router: RunRouter | null): void {
  installed = router;
}

export function currentRouter(): RunRouter | null {
  return installed;
}
