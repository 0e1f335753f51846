/**
 * The TensorFlow.js instance the kit computes with, and the backend choice.
 *
 * The default backend is `wasm` (XNNPACK, ~20 GFLOP/s on a plain matMul on one core here); `cpu` is the pure-JS
 * fallback (~0.6 GFLOP/s). `initBackend()` is idempotent and is called by every kit entry point that computes.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

export { tf };

export type BackendName = "wasm" | "cpu";

let ready: Promise<BackendName> | undefined;

/** Select and initialise the backend (default: `PERSONA_KIT_BACKEND` env var, else `wasm`). */
export function initBackend(name?: BackendName): Promise<BackendName> {
  const wanted = (name ?? (process.env.PERSONA_KIT_BACKEND as BackendName | undefined) ?? "wasm") as BackendName;
  if (wanted !== "wasm" && wanted !== "cpu") {
    throw new TypeError(`initBackend: name must be "wasm" or "cpu", received ${JSON.stringify(wanted)}`);
  }
  if (ready && tf.getBackend() === wanted) return ready;
  ready = (async () => {
    // Silence tfjs's "install tfjs-node" banner (printed when the cpu backend is created): tfjs-node cannot be
    // installed offline, and the banner would pollute the CLI's output.
    tf.env().set("PROD", true);
    const ok = await tf.setBackend(wanted);
    if (!ok) throw new Error(`initBackend: backend "${wanted}" failed to initialise`);
    await tf.ready();
    return wanted;
  })();
  return ready;
}
