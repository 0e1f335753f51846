// @ts-check
/**
 * The explorer's compute, in the browser, on onnxruntime-web: the kit's decode loop (kit/generate/decode.ts) for one
 * prompt — greedy (the first maximum on ties), the same positions, attention mask and KV cache feeds as
 * kit/onnx/generate.ts, steering fed to the graph's `steer.{hook}` inputs as kit/model/steering.ts `steeringDelta`
 * builds them — and the numbers the page shows: per-token probe scores (w·x + b, the kit's `decisionFunction` /
 * `score`), projections of `hook_resid_post` on each persona vector's unit direction (the kit's `projection`),
 * attention patterns and next-token probabilities. No DOM here.
 */
import * as ort from "onnxruntime-web/wasm";

/**
 * @typedef {{ name: string, hook: string, layers: Record<string, number[]>, defaultLayer: number }} VectorSpec
 * @typedef {{ name: string, hook: string, layer: number, weights: number[], bias: number, center: number, kind: string }} ProbeSpec
 * @typedef {{ L: number, H: number, K: number, dh: number, d: number, V: number, nCtx: number, eos: number | null }} Shape
 * @typedef {{ shape: Shape, vectors: VectorSpec[], probes: ProbeSpec[], steerHooks: { name: string, d: number }[], outputs: string[], prompts: string[], maxNewTokens: number }} ExplorerSpec
 * @typedef {{ vector: number, coefficient: number, layer: number, positions: "all" | "prompt" | "response" }} SteerSetting
 */

/** Create the inference session from the graph bytes and the (decompressed) wasm binary. */
export async function createSession(graph, wasmBinary) {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = wasmBinary;
  return ort.InferenceSession.create(graph, { executionProviders: ["wasm"] });
}

const i64 = (rows) => new ort.Tensor("int64", BigInt64Array.from(rows.flat().map((x) => BigInt(x))), [rows.length, rows[0].length]);

/** Whether steering `s` applies at token position p (kit/model/steering.ts `steersAt`). */
function steersAt(range, p) {
  if (!range) return true;
  const { from = 0, to = Infinity } = range;
  return p >= from && p < to;
}

/** The steering values of the sliders: { hook, vector (coefficient · v, float32), positions } (kit's steeringHook). */
export function steeringValues(spec, settings, promptLength) {
  const out = [];
  for (const s of settings) {
    if (!s.coefficient) continue;
    const v = spec.vectors[s.vector];
    const values = v.layers[String(s.layer)];
    const vector = Float32Array.from(values, (x) => x * s.coefficient);
    const positions = s.positions === "prompt" ? { from: 0, to: promptLength } : s.positions === "response" ? { from: promptLength } : undefined;
    out.push({ hook: `blocks.${s.layer}.${v.hook}`, vector, positions });
  }
  return out;
}

/** The `steer.{hook}` feed of one step (kit's steeringDelta for one row): [1, 1, d] or [1, T, d]. */
function steerFeed(steers, d, positions) {
  if (steers.every((s) => s.positions === undefined)) {
    const data = new Float32Array(d);
    for (const s of steers) for (let i = 0; i < d; i++) data[i] += s.vector[i];
    return new ort.Tensor("float32", data, [1, 1, d]);
  }
  const T = positions.length;
  const data = new Float32Array(T * d);
  for (const s of steers) {
    for (let t = 0; t < T; t++) {
      if (!steersAt(s.positions, positions[t])) continue;
      for (let i = 0; i < d; i++) data[t * d + i] += s.vector[i];
    }
  }
  return new ort.Tensor("float32", data, [1, T, d]);
}

/** Index of the first maximum (the kit's greedy `argmax`). */
export function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * Greedy generation from prompt ids with steering values; records, per fed position, the logits and the
 * activations of every graph output hook, and the attention pattern rows.
 * @returns {Promise<{ ids: number[], promptLength: number, newTokens: number[], logits: Float32Array[], acts: Record<string, Float32Array[]>, pattern: Float32Array[][][] }>}
 */
export async function generate(session, spec, { ids, maxNewTokens, steering }) {
  const { L, H, K, dh, V, nCtx, eos } = spec.shape;
  const promptLength = ids.length;
  const byHook = new Map();
  for (const s of steering) byHook.set(s.hook, [...(byHook.get(s.hook) ?? []), s]);
  /** @type {Record<string, any>} */
  let past = {};
  for (let l = 0; l < L; l++) for (const kv of ["key", "value"]) past[`past_key_values.${l}.${kv}`] = new ort.Tensor("float32", new Float32Array(0), [1, K, 0, dh]);
  const rec = { logits: [], acts: Object.fromEntries(spec.outputs.filter((o) => !o.endsWith("hook_pattern")).map((o) => [o, []])), pattern: Array.from({ length: L }, () => Array.from({ length: H }, () => [])) };
  const newTokens = [];
  let input = ids.slice();
  let pastLen = 0;
  for (let step = 0; step < maxNewTokens; step++) {
    const T = input.length;
    const positions = Array.from({ length: T }, (_, i) => pastLen + i);
    const feeds = { ...past, input_ids: i64([input]), position_ids: i64([positions]), attention_mask: i64([Array(pastLen + T).fill(1)]) };
    for (const { name, d } of spec.steerHooks) feeds[`steer.${name}`] = steerFeed(byHook.get(name) ?? [], d, positions);
    const out = await session.run(feeds);
    record(rec, out, spec, T, pastLen + T);
    past = {};
    for (let l = 0; l < L; l++) for (const kv of ["key", "value"]) past[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`];
    pastLen += T;
    const id = argmax(rec.logits[rec.logits.length - 1]);
    newTokens.push(id);
    if (eos !== null && id === eos) break;
    if (pastLen + 1 > nCtx) break;
    input = [id];
  }
  return { ids: [...ids, ...newTokens], promptLength, newTokens, ...rec };
}

/** Append one step's outputs: logits and hook rows per new position, attention rows [query][key] per layer/head. */
function record(rec, out, spec, T, Tk) {
  const V = spec.shape.V;
  const logits = /** @type {Float32Array} */ (out.logits.data);
  for (let t = 0; t < T; t++) rec.logits.push(logits.slice(t * V, (t + 1) * V));
  for (const name of Object.keys(rec.acts)) {
    const data = /** @type {Float32Array} */ (out[name].data);
    const d = data.length / T;
    for (let t = 0; t < T; t++) rec.acts[name].push(data.slice(t * d, (t + 1) * d));
  }
  for (let l = 0; l < spec.shape.L; l++) {
    const name = `blocks.${l}.attn.hook_pattern`;
    if (!out[name]) continue;
    const data = /** @type {Float32Array} */ (out[name].data); // [1, H, T, Tk]
    for (let h = 0; h < spec.shape.H; h++) for (let t = 0; t < T; t++) rec.pattern[l][h].push(data.slice((h * T + t) * Tk, (h * T + t + 1) * Tk));
  }
}

/** w·x + b per row, in float64 (the kit's `project`). */
export function probeScores(probe, rows) {
  return rows.map((x) => {
    let s = probe.bias;
    for (let j = 0; j < x.length; j++) s += x[j] * probe.weights[j];
    return s;
  });
}

/** Projection of each layer's hook_resid_post rows on the vector's unit direction at that layer: [layer][position]. */
export function projections(vector, acts, L) {
  const out = [];
  for (let l = 0; l < L; l++) {
    const v = vector.layers[String(l)];
    const rows = acts[`blocks.${l}.hook_resid_post`];
    if (!v || !rows) {
      out.push(null);
      continue;
    }
    let n = 0;
    for (const x of v) n += x * x;
    n = Math.sqrt(n);
    out.push(rows.map((x) => {
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i] * (v[i] / n);
      return s;
    }));
  }
  return out;
}

/** Softmax of one logits row, and its k most likely ids. */
export function topNext(row, k = 8) {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let z = 0;
  for (const x of row) z += Math.exp(x - max);
  const idx = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
  return idx.map((id) => ({ id, p: Math.exp(row[id] - max) / z, logit: row[id] }));
}
