/**
 * `show(fig)`: display a figure in a notebook (tslab kernel or the kit's notebook runner), or print a one-line
 * summary in plain Node.
 *
 * In a notebook, `await show(fig)` emits ONE `display_data`:
 *
 *   data: {
 *     "application/vnd.plotly.v1+json": { data, layout },    // JupyterLab's plotly renderer, when installed
 *     "text/html": <div class="pk-plot" id="pk-plot-…"><img src="data:image/png;base64,…"></div><script>…</script>
 *     "image/png": "<base64>",                                // when Chromium rendered one
 *     "text/plain": "Figure: <title> (2 traces: heatmap, bar)",
 *   }
 *   metadata: { "persona-kit": { kind: "figure", title }, "image/png": { width, height } }
 *
 * The HTML's script draws the interactive plot over the PNG: with `window.Plotly` when the page has it, else after
 * loading plotly.min.js once per page (one promise shared on `window.__personaKitPlotly`) from the first of these
 * URLs that defines `window.Plotly`:
 *   1. `vendor/plotly.min.js`              an exported HTML file next to a `vendor/` folder
 *   2. `../vendor/plotly.min.js`           an exported HTML file one folder below it
 *   3. `/files/notebooks/vendor/plotly.min.js`  Jupyter serving the repository root (notebooks/vendor/)
 *   4. `/files/vendor/plotly.min.js`       Jupyter serving the notebooks folder itself
 * When none loads (offline viewers, viewers without JavaScript, GitHub), the PNG stays. The 4.8 MB bundle is
 * never inlined in a figure. The PNG is there twice on purpose (Jupyter saves every MIME type of an output and renders
 * one): the `<img>` in `text/html` is what JupyterLab, the Notebook and nbconvert's HTML show when plotly.js cannot
 * load (a saved notebook reopened), `image/png` is what viewers and exports that skip HTML show (LaTeX/PDF, GitHub).
 *
 * In a notebook, the first `show()` of the process first emits one extra `display_data` holding the whole bundle
 * inline (`<script>…plotly.min.js…</script>`, metadata `{ "persona-kit": { kind: "plotly-bundle" } }`, a
 * `transient.display_id`), so a live Jupyter session renders figures without serving any file. Once the figure
 * after it is displayed, `show` replaces that output with an empty stub by `update_display_data` (same display id):
 * the browser has run the script by then (`window.Plotly` stays), and what Jupyter saves — JupyterLab, the classic
 * Notebook and `nbconvert --execute` all keep the updated data — is the 0.1 kB stub, not the 4.96 MB bundle. The
 * `transient` field alone would not do: Jupyter drops only `transient` itself when saving, never the data. The kit's
 * notebook runner also strips the stub when it saves. The bundle's UMD wrapper never calls AMD `define` (it assigns
 * `window.Plotly`), so it does not clash with the require.js of the classic Notebook. README, "Figures, tables,
 * progress", says why this and not the other options.
 *
 * The PNG is rendered before anything is displayed (`render.ts`), so `show` returns a Promise: write
 * `await show(fig)` (tslab cells allow top-level await). `show` never throws for display reasons: a failed render
 * displays the figure without PNG and warns once on stderr.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { figureTitle, type Figure } from "./figures";
import { displayWriter, type DisplayData, type WriteDisplayData } from "./jupyter";
import { findChromium, imageSize, plotlyBundlePath, renderPng, toJsonFigure } from "./render";

export { plotlyBundlePath } from "./render";

export interface ShowOptions {
  /** Embed a PNG: "auto" (when Chromium is found), true (warn when it cannot), false. Default "auto". */
  png?: "auto" | boolean;
  /** CSS pixels; default the figure's layout.width, else 720. */
  width?: number;
  /** CSS pixels; default the figure's layout.height, else 480. */
  height?: number;
  /** PNG device pixels per CSS pixel; default 1. */
  scale?: number;
}

/** MIME type of Plotly figure JSON in Jupyter. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Where the HTML loader looks for plotly.min.js, in order (relative URLs resolve against the page). */
export const PLOTLY_URLS = ["vendor/plotly.min.js", "../vendor/plotly.min.js", "/files/notebooks/vendor/plotly.min.js", "/files/vendor/plotly.min.js"];

const BUNDLE_FLAG = Symbol.for("persona-kit.viz.plotlyBundleShown");
const WARNED = new Set<string>();
let counter = 0;

/** Display a figure (see the file comment); resolves once it is displayed. */
export async function show(fig: Figure, options: ShowOptions = {}): Promise<void> {
  const { png = "auto", scale = 1 } = options;
  const json = toJsonFigure("show", fig);
  const { width, height } = imageSize("show", json, { width: options.width, height: options.height, scale });
  const title = figureTitle(json);
  const writer = displayWriter(); // this cell's writer, captured now: the render below is asynchronous
  if (!writer) {
    process.stdout.write(`${summary(json)}\n`);
    return;
  }
  const bundleId = emitPlotlyBundle(writer);
  let pngBase64: string | null = null;
  if (png !== false) {
    if (findChromium() === null) {
      if (png === true) warnOnce("no-chromium", "show: no Chromium found, so figures have no PNG fallback (apt-get install chromium, or set PERSONA_KIT_CHROMIUM)");
    } else {
      try {
        const bytes = await renderPng(json, { width, height, scale });
        if (bytes) pngBase64 = Buffer.from(bytes).toString("base64");
      } catch (e) {
        warnOnce("render", `show: PNG rendering failed, figures are shown without a static image: ${(e as Error).message.split("\n")[0]}`);
      }
    }
  }
  const display: DisplayData = {
    data: {
      [PLOTLY_MIME]: json,
      "text/html": figureHtml(json, { width, height, pngBase64 }),
      ...(pngBase64 !== null ? { "image/png": pngBase64 } : {}),
      "text/plain": summary(json),
    },
    metadata: {
      "persona-kit": { kind: "figure", title },
      ...(pngBase64 !== null ? { "image/png": { width, height } } : {}),
    },
    transient: {},
  };
  try {
    writer(display, false);
  } catch (e) {
    warnOnce("write", `show: the notebook display failed: ${(e as Error).message}`);
  }
  if (bundleId !== null) unloadPlotlyBundle(writer, bundleId);
}

/** The HTML of one figure: a sized div holding the PNG (when given) and the loader script. */
export function figureHtml(fig: Figure, { width = 720, height = 480, pngBase64 = null }: { width?: number; height?: number; pngBase64?: string | null } = {}): string {
  const id = `pk-plot-${randomBytes(6).toString("hex")}${(counter++).toString(36)}`;
  const title = figureTitle(fig);
  const img = pngBase64 ? `<img src="data:image/png;base64,${pngBase64}" alt="${escapeAttr(title || "figure")}" width="${width}" height="${height}" style="max-width:100%;height:auto">` : "";
  return (
    `<div class="pk-plot" id="${id}" style="width:${width}px;max-width:100%;height:${height}px">${img}</div>\n` +
    `<script type="text/javascript">\n${loaderScript(id, fig)}\n</script>`
  );
}

/** The loader: plot with window.Plotly, or load plotly.min.js once per page from PLOTLY_URLS, else keep the PNG. */
function loaderScript(id: string, fig: Figure): string {
  return `(function () {
  var id = ${scriptJson(id)};
  var fig = ${scriptJson({ data: fig.data, layout: fig.layout })};
  var urls = ${scriptJson(PLOTLY_URLS)};
  function plot(Plotly) {
    var div = document.getElementById(id);
    if (!div || !Plotly) return;
    var saved = Array.prototype.slice.call(div.childNodes);
    saved.forEach(function (n) { div.removeChild(n); });
    var layout = Object.assign({}, fig.layout, { autosize: true });
    delete layout.width;
    Promise.resolve()
      .then(function () { return Plotly.newPlot(div, fig.data, layout, { responsive: true, displaylogo: false }); })
      .catch(function () { try { Plotly.purge(div); } catch (e) {} div.innerHTML = ""; saved.forEach(function (n) { div.appendChild(n); }); });
  }
  if (window.Plotly) { plot(window.Plotly); return; }
  if (!window.__personaKitPlotly) {
    window.__personaKitPlotly = new Promise(function (resolve, reject) {
      var i = 0;
      (function next() {
        if (window.Plotly) return resolve(window.Plotly);
        if (i >= urls.length) return reject(new Error("persona-kit: plotly.min.js not found at " + urls.join(", ")));
        var s = document.createElement("script");
        s.src = urls[i++];
        s.async = true;
        s.onload = function () { if (window.Plotly) resolve(window.Plotly); else next(); };
        s.onerror = function () { s.parentNode && s.parentNode.removeChild(s); next(); };
        document.head.appendChild(s);
      })();
    });
  }
  window.__personaKitPlotly.then(plot, function () { /* keep the PNG */ });
})();`;
}

/** JSON safe inside a <script> element: no "</script", "<!--" or line separators can appear. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function escapeAttr(s: string): string {
  return s.replace(/<br>/g, " ").replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** One line describing a figure: title and traces. */
export function summary(fig: Figure): string {
  const types = fig.data.map((t) => String(t.type ?? "scatter"));
  const counts = new Map<string, number>();
  for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
  const kinds = [...counts].map(([t, n]) => (n > 1 ? `${n} ${t}` : t)).join(", ");
  const title = figureTitle(fig).replace(/<br>/g, " ");
  return `Figure${title ? ` "${title}"` : ""}: ${types.length} trace${types.length === 1 ? "" : "s"}${kinds ? ` (${kinds})` : ""}`;
}

/**
 * Emit the inline plotly bundle once per process (see the file comment); returns its display id, or null when
 * nothing was emitted. The runner calls `resetPlotlyBundle()` when it starts a new notebook in the same process.
 */
function emitPlotlyBundle(writer: WriteDisplayData): string | null {
  const g = globalThis as Record<symbol, unknown>;
  if (g[BUNDLE_FLAG] || process.env.PERSONA_KIT_INLINE_PLOTLY === "0") return null;
  let source: string;
  try {
    source = fs.readFileSync(plotlyBundlePath(), "utf8");
  } catch (e) {
    warnOnce("bundle", `show: cannot read plotly.min.js (${(e as Error).message}); figures show their PNG until plotly is served`);
    g[BUNDLE_FLAG] = true;
    return null;
  }
  const displayId = `persona-kit-plotly-${randomBytes(6).toString("hex")}`;
  try {
    writer(plotlyBundleDisplay(source, displayId), false);
    g[BUNDLE_FLAG] = true;
    return displayId;
  } catch (e) {
    warnOnce("write", `show: the notebook display failed: ${(e as Error).message}`);
    return null;
  }
}

/** Replace the bundle output by its stub (`update_display_data`), so that a saved notebook does not carry it. */
function unloadPlotlyBundle(writer: WriteDisplayData, displayId: string): void {
  try {
    writer(plotlyBundleStub(displayId), true);
  } catch (e) {
    warnOnce("write", `show: the notebook display failed: ${(e as Error).message}`);
  }
}

/** The display_data that loads plotly.js inline, under `displayId` (exported for the runner's tests). */
export function plotlyBundleDisplay(source: string = fs.readFileSync(plotlyBundlePath(), "utf8"), displayId?: string): DisplayData {
  const safe = source.replace(/<\/script/gi, "<\\/script");
  return {
    data: {
      "text/html": `<script type="text/javascript">${safe}</script>`,
      "text/plain": "(plotly.js loaded for this session's figures)",
    },
    metadata: { "persona-kit": { kind: "plotly-bundle" } },
    transient: displayId ? { display_id: displayId } : {},
  };
}

/** What replaces the bundle output once its script has run: nothing visible, 0.1 kB in a saved notebook. */
export function plotlyBundleStub(displayId: string): DisplayData {
  return {
    data: { "text/html": "", "text/plain": "(plotly.js was loaded inline for this session; not saved)" },
    metadata: { "persona-kit": { kind: "plotly-bundle" } },
    transient: { display_id: displayId },
  };
}

/** The next notebook `show()` emits the inline plotly bundle again (for a runner that runs several notebooks). */
export function resetPlotlyBundle(): void {
  delete (globalThis as Record<symbol, unknown>)[BUNDLE_FLAG];
}

function warnOnce(key: string, message: string): void {
  if (WARNED.has(key)) return;
  WARNED.add(key);
  try {
    process.stderr.write(`${message}\n`);
  } catch {
    // nowhere to warn
  }
}
