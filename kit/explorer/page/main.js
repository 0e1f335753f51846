// @ts-check
/**
 * The explorer page: loads explorer.json, the tokenizer, the ONNX graph and the onnxruntime-web wasm (from files next
 * to the page, or from the page itself when the assets are inlined), builds the controls, generates on load and on
 * every change, and draws. `window.__explorer` exposes the state and `generate()` to tests and notebooks.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { createSession, generate, probeScores, projections, steeringValues, topNext } from "./engine.js";
import { el, heatmap, probBars, tokenStrip } from "./view.js";

const t0 = performance.now();

/** An asset's bytes: from the inline `#pk-assets` JSON (base64) when present, else fetched next to the page. */
async function asset(name) {
  const inline = document.getElementById("pk-assets");
  if (inline) {
    const b64 = JSON.parse(inline.textContent ?? "{}")[name];
    if (b64 === undefined) throw new Error(`explorer: asset ${name} is not inlined`);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  }
  const res = await fetch(new URL(name, document.baseURI));
  if (!res.ok) throw new Error(`explorer: ${name}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

const text = async (name) => new TextDecoder().decode(await asset(name));
const gunzip = (buf) => new Response(new Blob([buf]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();

async function load() {
  const spec = JSON.parse(await text("explorer.json"));
  const tokenizer = new Tokenizer(JSON.parse(await text("model/tokenizer.json")), JSON.parse(await text("model/tokenizer_config.json")));
  const [graph, wasm] = await Promise.all([asset("model/decoder.onnx"), asset("ort/ort-wasm-simd-threaded.wasm.gz").then(gunzip)]);
  const session = await createSession(new Uint8Array(graph), wasm);
  return { spec, tokenizer, session };
}

function main({ spec, tokenizer, session }) {
  const L = spec.shape.L;
  const ui = {
    settings: spec.vectors.map((v, i) => ({ vector: i, coefficient: 0, layer: v.defaultLayer, positions: "all" })),
    probe: 0, vector: 0, layer: 0, head: 0, selected: -1, maxNewTokens: spec.maxNewTokens,
  };
  const state = { ready: true, result: null, probeScores: {}, projections: {}, timings: { loadMs: performance.now() - t0, firstGenerateMs: null, lastGenerateMs: null }, running: null, generations: 0 };
  const decodeToken = (id) => tokenizer.decode([id], { skip_special_tokens: false });
  const encode = (s) => tokenizer.encode(s).ids;

  const prompt = el("textarea", { id: "prompt", rows: 3, "aria-label": "prompt" }, spec.prompts[0] ?? "");
  const presets = el("select", { id: "presets", "aria-label": "example prompts", on: { change: () => { prompt.value = presets.value; run(); } } }, spec.prompts.map((p) => el("option", { value: p }, p)));
  const maxTok = el("input", { id: "max-new-tokens", type: "number", min: 1, max: spec.shape.nCtx, value: ui.maxNewTokens, "aria-label": "new tokens at most", on: { change: () => { ui.maxNewTokens = Number(maxTok.value); run(); } } });
  const go = el("button", { id: "generate", on: { click: () => run() } }, "Generate");
  const steer = el("fieldset", { id: "steering" }, el("legend", {}, "Steering (adds coefficient × vector at the layer's hook)"), spec.vectors.map((v, i) => steerControls(v, i)));
  const out = el("main", { id: "out", "aria-live": "polite" });
  document.body.append(el("div", { class: "app" }, el("aside", {}, el("h1", {}, "persona explorer"), el("label", {}, "Prompt", prompt), el("label", {}, "Examples", presets), el("label", {}, "New tokens at most ", maxTok), go, steer, el("p", { id: "status" }, "")), out));

  function steerControls(v, i) {
    const s = ui.settings[i];
    const value = el("output", { id: `coef-${i}-value` }, "0");
    const coef = el("input", { type: "range", id: `coef-${i}`, min: -8, max: 8, step: 0.5, value: 0, "aria-label": `${v.name} coefficient`, on: { input: () => { s.coefficient = Number(coef.value); value.textContent = coef.value; schedule(); } } });
    const layer = el("select", { id: `layer-${i}`, "aria-label": `${v.name} layer`, on: { change: () => { s.layer = Number(layer.value); run(); } } }, Object.keys(v.layers).map((l) => el("option", { value: l, selected: Number(l) === s.layer }, `layer ${l}`)));
    const pos = el("select", { id: `positions-${i}`, "aria-label": `${v.name} positions`, on: { change: () => { s.positions = pos.value; run(); } } }, ["all", "prompt", "response"].map((p) => el("option", { value: p }, p)));
    return el("div", { class: "vec" }, el("label", {}, `${v.name}: coefficient `, value, coef), el("label", {}, "layer ", layer), el("label", {}, "positions ", pos));
  }

  let timer = 0;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => run(), 120);
  }

  async function run() {
    const started = performance.now();
    const ids = encode(prompt.value);
    const job = (state.running ?? Promise.resolve()).then(async () => {
      const settings = ui.settings.map((x) => ({ ...x }));
      const steering = steeringValues(spec, settings, ids.length);
      const result = { ...(await generate(session, spec, { ids, maxNewTokens: ui.maxNewTokens, steering })), settings };
      derive(result);
      const ms = performance.now() - started;
      state.timings.lastGenerateMs = ms;
      if (state.timings.firstGenerateMs === null) state.timings.firstGenerateMs = ms;
      state.generations++;
      ui.selected = result.logits.length - 1;
      draw();
    });
    state.running = job.catch((e) => { document.getElementById("status").textContent = `error: ${e.message}`; });
    return job;
  }

  function derive(result) {
    state.result = result;
    state.text = tokenizer.decode(result.ids, { skip_special_tokens: true });
    state.completion = result.newTokens.length ? tokenizer.decode(result.newTokens, { skip_special_tokens: true }) : "";
    for (const p of spec.probes) state.probeScores[p.name] = probeScores(p, result.acts[`blocks.${p.layer}.${p.hook}`]);
    for (const v of spec.vectors) state.projections[v.name] = projections(v, result.acts, L);
  }

  function draw() {
    const r = state.result;
    if (!r) return;
    const tokens = r.ids.map(decodeToken);
    const p = spec.probes[ui.probe];
    const fed = r.logits.length;
    const scores = tokens.map((_, i) => (p && i < fed ? state.probeScores[p.name][i] : null));
    const parts = [];
    const probeSel = el("select", { id: "probe", "aria-label": "probe shown on the tokens", on: { change: () => { ui.probe = Number(probeSel.value); draw(); } } }, spec.probes.map((q, i) => el("option", { value: i, selected: i === ui.probe }, `${q.name} (layer ${q.layer}, ${q.kind})`)));
    parts.push(el("section", {}, el("h2", {}, "Tokens", spec.probes.length ? " coloured by probe score" : ""), spec.probes.length ? el("label", {}, "probe ", probeSel) : "", el("p", { class: "note" }, p ? `colour: score − ${p.center.toPrecision(3)} (blue below, red above); generated tokens underlined` : "generated tokens underlined"), tokenStrip(tokens, scores, p ? p.center : 0, ui.selected, select, r.promptLength)));
    parts.push(el("section", { id: "next" }, el("h2", {}, `After “${tokens[ui.selected]}” (position ${ui.selected})`), probBars(topNext(r.logits[ui.selected]), decodeToken)));
    if (spec.vectors.length) {
      const v = spec.vectors[ui.vector];
      const vecSel = el("select", { id: "proj-vector", "aria-label": "persona vector projected", on: { change: () => { ui.vector = Number(vecSel.value); draw(); } } }, spec.vectors.map((q, i) => el("option", { value: i, selected: i === ui.vector }, q.name)));
      const proj = state.projections[v.name];
      parts.push(el("section", {}, el("h2", {}, "Residual stream on the persona vector"), el("label", {}, "vector ", vecSel), heatmap({ title: `projection of hook_resid_post on ${v.name} (unit direction) by layer and position`, values: proj.map((row) => row ?? []), rowLabels: proj.map((_, l) => `layer ${l}`), colLabels: tokens.slice(0, fed), xTitle: "token position", yTitle: "layer", width: 430 })));
    }
    const layerSel = el("select", { id: "attn-layer", "aria-label": "attention layer", on: { change: () => { ui.layer = Number(layerSel.value); draw(); } } }, Array.from({ length: L }, (_, l) => el("option", { value: l, selected: l === ui.layer }, `layer ${l}`)));
    const headSel = el("select", { id: "attn-head", "aria-label": "attention head", on: { change: () => { ui.head = Number(headSel.value); draw(); } } }, Array.from({ length: spec.shape.H }, (_, h) => el("option", { value: h, selected: h === ui.head }, `head ${h}`)));
    const rows = r.pattern[ui.layer][ui.head].map((row) => Array.from({ length: fed }, (_, j) => (j < row.length ? row[j] : null)));
    parts.push(el("section", {}, el("h2", {}, "Attention pattern"), el("label", {}, "layer ", layerSel), el("label", {}, " head ", headSel), heatmap({ title: `attention of layer ${ui.layer} head ${ui.head}: query position (rows) attends to key position (columns)`, values: rows, rowLabels: tokens.slice(0, fed), colLabels: tokens.slice(0, fed), xTitle: "key position", yTitle: "query position", scale: 1, width: 430 })));
    out.replaceChildren(el("p", { id: "text" }, state.text), parts[0], el("div", { class: "charts" }, ...parts.slice(1)));
    document.getElementById("status").textContent = `generated ${r.newTokens.length} tokens in ${state.timings.lastGenerateMs.toFixed(0)} ms`;
  }

  function select(i, focus = false) {
    ui.selected = i;
    draw();
    if (focus) /** @type {HTMLElement | null} */ (document.querySelector(`.tok[data-pos="${i}"]`))?.focus();
  }

  Object.assign(window.__explorer, { state, spec, ui, run, encode, setPrompt: (s) => { prompt.value = s; } });
  return run();
}

window.__explorer = { error: null, loaded: null };
window.__explorer.loaded = load().then(main).catch((e) => {
  window.__explorer.error = String(e && e.stack || e);
  document.body.append(el("pre", { class: "error" }, `The explorer could not start: ${e && e.message}`));
});
