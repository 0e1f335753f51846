/**
 * Static images of figures (PNG, SVG) through a headless Chromium driven by `playwright-core`.
 *
 * The browser is the system's Chromium (never one downloaded by Playwright): `PERSONA_KIT_CHROMIUM` when set, else
 * `/usr/bin/chromium`, else `chromium` / `chromium-browser` on PATH (Debian: `apt-get install chromium`). It is
 * launched headless with `--no-sandbox --disable-gpu --disable-background-networking --disable-component-update
 * --disable-sync --no-first-run` and a fresh temporary profile (Playwright's `launch()` creates one under the
 * temp folder and deletes it on close). One page loads the local `plotly.js-dist-min/plotly.min.js` once; each
 * image is then `Plotly.toImage(figure, { format, width, height, scale })` (~50–150 ms; the first image of a
 * process also pays the launch and the 4.8 MB bundle's parse, ~2 s).
 *
 * One browser serves the whole process: it starts on the first render, renders one figure at a time, and closes
 * after `idleCloseMs` without renders (so a plain script exits by itself shortly after its last image), on
 * `closeRenderer()`, or when the process exits.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { Figure } from "./figures";
import { inNotebook } from "./jupyter";

export interface RenderOptions {
  /** CSS pixels; default the figure's layout.width, else 720. */
  width?: number;
  /** CSS pixels; default the figure's layout.height, else 480. */
  height?: number;
  /** Device pixels per CSS pixel (PNG only); default 1. */
  scale?: number;
}

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const RENDER_TIMEOUT_MS = 60_000;

/** Resolved path of `plotly.js-dist-min/plotly.min.js` (the bundle every figure is drawn with). */
export function plotlyBundlePath(): string {
  return require.resolve("plotly.js-dist-min/plotly.min.js");
}

/** The Chromium executable to use, or null when none is found (see the file comment for the search order). */
export function findChromium(): string | null {
  const fromEnv = process.env.PERSONA_KIT_CHROMIUM;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : null;
  if (isExecutable("/usr/bin/chromium")) return "/usr/bin/chromium";
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    for (const name of ["chromium", "chromium-browser"]) {
      const candidate = path.join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function noChromiumMessage(fn: string): string {
  const env = process.env.PERSONA_KIT_CHROMIUM;
  return (
    `${fn}: no Chromium found to render the figure` +
    (env ? ` (PERSONA_KIT_CHROMIUM is ${JSON.stringify(env)}, which is not an executable file)` : " (looked at $PERSONA_KIT_CHROMIUM, /usr/bin/chromium and chromium on PATH)") +
    `; install Debian's "chromium" package (apt-get install chromium) or set PERSONA_KIT_CHROMIUM to a Chromium executable`
  );
}

// ----------------------------------------------------------------------------------------------------------------
// The shared browser

interface Renderer {
  browser: Browser;
  page: Page;
}

let renderer: Promise<Renderer> | null = null;
let queue: Promise<unknown> = Promise.resolve();
let idleTimer: NodeJS.Timeout | null = null;
let idleCloseMs: number | null = null;

/**
 * How long the browser stays open without renders: default 5 minutes inside a notebook, 2 s elsewhere (a script
 * waits at most this long for the browser to close after its last image). `null` restores the default.
 */
export function setRendererIdleClose(ms: number | null): void {
  if (ms !== null && !(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`setRendererIdleClose: ms must be a non-negative number or null, received ${ms}`);
  idleCloseMs = ms;
}

/**
 * Launch Debian's (or the system's) Chromium headless through playwright-core, with the flags that work here (no
 * sandbox, no GPU, no background networking). Throws when no Chromium is found (`findChromium`).
 */
export async function launchChromium(executablePath: string | null = findChromium()): Promise<import("playwright-core").Browser> {
  if (!executablePath) throw new Error("launchChromium: no Chromium found; install it (apt-get install chromium) or set PERSONA_KIT_CHROMIUM");
  const { chromium } = require("playwright-core") as typeof import("playwright-core");
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

async function launch(executablePath: string): Promise<Renderer> {
  const browser = await launchChromium(executablePath);
  try {
    const page = await browser.newPage();
    await page.setContent("<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>");
    await page.addScriptTag({ path: plotlyBundlePath() });
    const ok = await page.evaluate(() => typeof (window as unknown as { Plotly?: unknown }).Plotly === "object");
    if (!ok) throw new Error(`plotly.js did not define window.Plotly after loading ${plotlyBundlePath()}`);
    browser.on("disconnected", () => {
      renderer = null;
    });
    return { browser, page };
  } catch (e) {
    await browser.close().catch(() => {});
    throw e;
  }
}

function scheduleIdleClose(): void {
  if (idleTimer) clearTimeout(idleTimer);
  const ms = idleCloseMs ?? (inNotebook() ? 300_000 : 2_000);
  idleTimer = setTimeout(() => {
    idleTimer = null;
    void closeRenderer();
  }, ms);
  idleTimer.unref();
}

/**
 * The shared headless browser (started if needed), for other uses of the same Chromium such as screenshots of
 * reports; null when no Chromium is found. Do not close it: call `closeRenderer()`.
 */
export async function rendererBrowser(): Promise<Browser | null> {
  const exe = findChromium();
  if (!exe) return null;
  if (!renderer) renderer = launch(exe);
  try {
    const { browser } = await renderer;
    scheduleIdleClose();
    return browser;
  } catch (e) {
    renderer = null;
    throw new Error(`rendererBrowser: could not start Chromium (${exe}): ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Close the shared browser now (a later render starts a new one). */
export async function closeRenderer(): Promise<void> {
  if (idleTimer) {
    clearTimeout(idleTimer);
    idleTimer = null;
  }
  const r = renderer;
  renderer = null;
  if (!r) return;
  try {
    const { browser } = await r;
    await browser.close();
  } catch {
    // a browser that failed to start or already died: nothing to close
  }
}

/** Render one figure in the shared page; renders run one at a time. */
async function renderDataUrl(fn: string, fig: Figure, format: "png" | "svg", options: RenderOptions): Promise<string | null> {
  const exe = findChromium();
  if (!exe) return null;
  const { width, height, scale } = imageSize(fn, fig, options);
  const json = toJsonFigure(fn, fig);
  const run = async (): Promise<string> => {
    if (idleTimer) clearTimeout(idleTimer);
    if (!renderer) renderer = launch(exe);
    let r: Renderer;
    try {
      r = await renderer;
    } catch (e) {
      renderer = null;
      throw new Error(`${fn}: could not start Chromium (${exe}): ${(e as Error).message.split("\n")[0]}`);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const image = r.page.evaluate(
        ({ figure, opts }) => (window as unknown as { Plotly: { toImage(f: unknown, o: unknown): Promise<string> } }).Plotly.toImage(figure, opts),
        { figure: json, opts: { format, width, height, scale: format === "png" ? scale : 1 } },
      );
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${fn}: rendering took longer than ${RENDER_TIMEOUT_MS / 1000} s`)), RENDER_TIMEOUT_MS);
      });
      return await Promise.race([image, timeout]);
    } catch (e) {
      await closeRenderer(); // a hung or crashed page: start fresh next time
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
      scheduleIdleClose();
    }
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

/** PNG bytes of the figure, or null when no Chromium is found. Throws when rendering itself fails. */
export async function renderPng(fig: Figure, options: RenderOptions = {}): Promise<Uint8Array | null> {
  const url = await renderDataUrl("renderPng", fig, "png", options);
  return url === null ? null : decodeDataUrl(url);
}

/** SVG text of the figure, or null when no Chromium is found. Throws when rendering itself fails. */
export async function renderSvg(fig: Figure, options: RenderOptions = {}): Promise<string | null> {
  const url = await renderDataUrl("renderSvg", fig, "svg", options);
  return url === null ? null : Buffer.from(decodeDataUrl(url)).toString("utf8");
}

/** Write the figure as a PNG file (creating folders). Throws when no Chromium is found. */
export async function savePng(fig: Figure, file: string, options: RenderOptions = {}): Promise<void> {
  if (typeof file !== "string" || file === "") throw new TypeError(`savePng: path must be a non-empty string, received ${JSON.stringify(file)}`);
  const url = await renderDataUrl("savePng", fig, "png", options);
  if (url === null) throw new Error(noChromiumMessage("savePng"));
  writeFileAtomic(file, decodeDataUrl(url));
}

/** Write the figure as an SVG file (creating folders). Throws when no Chromium is found. */
export async function saveSvg(fig: Figure, file: string, options: RenderOptions = {}): Promise<void> {
  if (typeof file !== "string" || file === "") throw new TypeError(`saveSvg: path must be a non-empty string, received ${JSON.stringify(file)}`);
  const url = await renderDataUrl("saveSvg", fig, "svg", options);
  if (url === null) throw new Error(noChromiumMessage("saveSvg"));
  writeFileAtomic(file, decodeDataUrl(url));
}

function writeFileAtomic(file: string, bytes: Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

/** `data:…;base64,…` or `data:…,<percent-encoded>` → bytes. */
function decodeDataUrl(url: string): Uint8Array {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0) throw new Error(`render: Plotly.toImage returned something other than a data URL: ${url.slice(0, 40)}`);
  const head = url.slice(0, comma);
  const body = url.slice(comma + 1);
  return head.endsWith(";base64") ? new Uint8Array(Buffer.from(body, "base64")) : new Uint8Array(Buffer.from(decodeURIComponent(body), "utf8"));
}

// ----------------------------------------------------------------------------------------------------------------
// Figure checks shared with show()

/** Width, height and scale of an image: options, else the figure's layout size, else 720 × 480. */
export function imageSize(fn: string, fig: Figure, { width, height, scale = 1 }: RenderOptions): { width: number; height: number; scale: number } {
  const layout = (fig?.layout ?? {}) as { width?: unknown; height?: unknown };
  const w = width ?? (typeof layout.width === "number" ? layout.width : 720);
  const h = height ?? (typeof layout.height === "number" ? layout.height : 480);
  for (const [name, v] of [["width", w], ["height", h]] as const) {
    if (!(Number.isFinite(v) && v >= 10 && v <= 10_000)) throw new RangeError(`${fn}: ${name} must be a number of pixels in [10, 10000], received ${v}`);
  }
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 8)) throw new RangeError(`${fn}: scale must be a number in (0, 8], received ${scale}`);
  return { width: w, height: h, scale };
}

/**
 * The figure as plain JSON: typed arrays become arrays, NaN/±Infinity become null (Plotly's gap), undefined
 * fields are dropped. Throws a TypeError for a value that is not a figure or that holds functions.
 */
export function toJsonFigure(fn: string, fig: Figure): Figure {
  if (fig === null || typeof fig !== "object" || !Array.isArray(fig.data)) {
    throw new TypeError(`${fn}: fig must be a Plotly figure { data: Trace[], layout }, received ${fig === null ? "null" : Array.isArray(fig) ? "an array" : typeof fig}`);
  }
  const text = JSON.stringify({ data: fig.data, layout: fig.layout ?? {} }, function (key, value: unknown) {
    if (typeof value === "function") throw new TypeError(`${fn}: fig must be plain JSON data, received a function at ${JSON.stringify(key)}`);
    if (typeof value === "bigint") return Number(value);
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
    if (typeof value === "number" && !Number.isFinite(value)) return null;
    return value;
  });
  return JSON.parse(text) as Figure;
}
