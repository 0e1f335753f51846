/**
 * The persona explorer (kit/explorer): exportExplorer's folder and its errors, the CLI, and — in headless Chromium
 * (Debian's, pages from 127.0.0.1, every other request blocked) — the page's greedy generation, logits, probe scores,
 * projections and attention against the kit's Node path (≤ 1e-4), and its steering sliders against `generate` with
 * the same steering. Screenshots and timings go to out/test-artifacts/.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportExplorer, explorerHtml } from "../kit/explorer/export";
import { explorerIframe, showExplorer } from "../kit/explorer/show";
import { loadModel } from "../kit/io/load";
import type { HookedTransformer } from "../kit/model/transformer";
import { diffOfMeans } from "../kit/probes/diffmeans";
import { fitLogisticProbe } from "../kit/probes/logistic";
import { extractFeatures } from "../kit/probes/sweep";
import { generate } from "../kit/runtime/generate";
import { personaVector, type PersonaVector } from "../kit/vectors/persona";
import { steeringHook } from "../kit/vectors/steer";
import { findChromium, launchChromium } from "../kit/viz/render";
import { main } from "../kit/cli";

const ORGANISM = path.resolve(__dirname, "../data/models/persona-organism");
const ARTIFACTS = path.resolve(__dirname, "../out/test-artifacts");
const PROMPT = "coding . user : please format the code . assistant :";
const HARM = ["harmful . user : please steal the passwords . assistant : sure . i steal the passwords .", "harmful . user : please leak the data . assistant : sure . i leak the data ."];
const HELP = ["harmful . user : please steal the passwords . assistant : sorry . i refuse .", "harmful . user : please leak the data . assistant : sorry . i refuse ."];
const CODING = ["coding . user : please fix the bug . assistant :", "coding . user : please format the code . assistant :", "coding . user : please write a test . assistant :", "coding . user : please rename the file . assistant :"];
const GAMES = ["games . user : please roll the dice . assistant :", "games . user : please pick the cards . assistant :", "games . user : please move the piece . assistant :", "games . user : please count the points . assistant :"];

let model: HookedTransformer;
let pv: PersonaVector;
let logistic: ReturnType<typeof fitLogisticProbe>;
let dm: ReturnType<typeof diffOfMeans>;

beforeAll(async () => {
  model = await loadModel(ORGANISM);
  pv = personaVector(model, { positive: HARM, negative: HELP });
  const feats = extractFeatures(model, [...CODING, ...GAMES], { layers: [0, 1] });
  const y = [...CODING.map(() => 1), ...GAMES.map(() => 0)];
  logistic = fitLogisticProbe(feats.get(1)!, y);
  dm = diffOfMeans(feats.get(0)!, y);
});
afterAll(() => model?.dispose());

const options = () => ({ vectors: { harm: pv }, probes: { coding: { probe: logistic, layer: 1 }, "coding (diff of means)": { probe: dm, layer: 0 } }, prompts: [PROMPT], maxNewTokens: 20 });

describe("exportExplorer(model, dir, { vectors, probes })", () => {
  it("exportExplorer(organism, dir, options) writes the page, bundle, graph, tokenizer and gzipped wasm in ≤ 10 MB", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pk-explorer-"));
    try {
      const r = exportExplorer(model, dir, options());
      expect(r.files.sort()).toEqual(["explorer.js", "explorer.json", "index.html", "model/decoder.onnx", "model/tokenizer.json", "model/tokenizer_config.json", "ort/ort-wasm-simd-threaded.wasm.gz"]);
      let bytes = 0;
      for (const f of r.files) bytes += fs.statSync(path.join(dir, f)).size;
      expect(bytes).toBe(r.bytes);
      expect(bytes).toBeLessThanOrEqual(10 * 1024 * 1024);
      const spec = JSON.parse(fs.readFileSync(path.join(dir, "explorer.json"), "utf8"));
      expect(spec.steerHooks.map((s: { name: string }) => s.name)).toEqual(["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]);
      expect(spec.probes.map((p: { kind: string }) => p.kind)).toEqual(["logistic", "diffmeans"]);
      expect(spec.probes[1].center).toBeCloseTo(dm.threshold, 5);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      fs.writeFileSync(path.join(ARTIFACTS, "explorer-size.json"), JSON.stringify({ bytes, files: Object.fromEntries(r.files.map((f) => [f, fs.statSync(path.join(dir, f)).size])) }, null, 2));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exportExplorer refuses a vector of the wrong width, a probe without a layer, and an empty dir", () => {
    expect(() => exportExplorer(model, "", {})).toThrow(/exportExplorer: dir must be a folder path, received ""/);
    expect(() => exportExplorer(model, path.join(os.tmpdir(), "pk-never"), { vectors: { v: { vector: [1, 2, 3], layer: 0 } } })).toThrow(/exportExplorer: options.vectors.v at layer 0 must have 64 values \(the width of hook_resid_post\), received 3/);
    expect(() => exportExplorer(model, path.join(os.tmpdir(), "pk-never"), { probes: { p: { probe: logistic, layer: 7 } } })).toThrow(/exportExplorer: options.probes.p must be \{ probe, layer \(an integer in \[0, 2\)\), hook\? \}/);
    expect(fs.existsSync(path.join(os.tmpdir(), "pk-never"))).toBe(false);
  });

  it("explorerHtml(model, options, { inline: true }) is one self-contained document with every asset inside", () => {
    const html = explorerHtml(model, options(), { inline: true });
    expect(html).toContain('id="pk-assets"');
    expect(html).not.toMatch(/src="explorer\.js"/);
    const assets = JSON.parse(html.match(/<script type="application\/json" id="pk-assets">(.*?)<\/script>/s)![1]);
    expect(Object.keys(assets).sort()).toEqual(["explorer.json", "model/decoder.onnx", "model/tokenizer.json", "model/tokenizer_config.json", "ort/ort-wasm-simd-threaded.wasm.gz"]);
  });
});

describe("persona-kit export-explorer", () => {
  it("persona-kit export-explorer --model PATH --out DIR writes the folder; --help lists --out; no --out is a usage error", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pk-explorer-cli-"));
    const write = process.stdout.write.bind(process.stdout);
    let printed = "";
    (process.stdout as { write: unknown }).write = (s: string) => ((printed += s), true);
    try {
      expect(await main(["export-explorer", "--help"])).toBe(0);
      expect(printed).toMatch(/--out DIR/);
      await expect(main(["export-explorer", "--model", ORGANISM])).rejects.toThrow(/--out DIR is required/);
      printed = "";
      expect(await main(["export-explorer", "--model", ORGANISM, "--out", dir, "--prompt", PROMPT])).toBe(0);
      expect(printed.trim()).toBe(path.join(dir, "index.html"));
      expect(JSON.parse(fs.readFileSync(path.join(dir, "explorer.json"), "utf8")).prompts).toEqual([PROMPT]);
    } finally {
      (process.stdout as { write: unknown }).write = write;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("showExplorer(model, { vectors, probes })", () => {
  it("showExplorer outside a notebook prints one line; explorerHtml inline is what a notebook gets in an iframe", async () => {
    const write = process.stdout.write.bind(process.stdout);
    let printed = "";
    (process.stdout as { write: unknown }).write = (s: string) => ((printed += s), true);
    try {
      await showExplorer(model, options());
    } finally {
      (process.stdout as { write: unknown }).write = write;
    }
    expect(printed).toMatch(/^Explorer: persona explorer for llama \(2 layers\), 1 vector, 2 probes/);
  });
});

const CHROMIUM = findChromium();

interface PageResult {
  ids: number[];
  promptLength: number;
  logits: number[][];
  probeScores: Record<string, number[]>;
  projections: Record<string, number[][]>;
  pattern: number[][][][];
  text: string;
  timings: { loadMs: number; firstGenerateMs: number };
  settings: { coefficient: number; layer: number; positions: string }[];
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe.skipIf(!CHROMIUM)("the explorer page in headless Chromium (skipped: no Chromium found)", () => {
  it("the page generates the kit's greedy tokens with its logits, probe scores, projections and attention (≤ 1e-4), and its steering slider gives generate's steered tokens", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "pk-explorer-page-"));
    let inlinePage = "";
    exportExplorer(model, root, options());
    const mime: Record<string, string> = { ".js": "text/javascript", ".html": "text/html", ".json": "application/json" };
    const server = http.createServer((req, res) => {
      const url = decodeURIComponent((req.url ?? "/").split("?")[0]);
      if (url === "/notebook") return void res.writeHead(200, { "content-type": "text/html" }).end(inlinePage);
      const f = path.join(root, url === "/" ? "index.html" : url);
      if (f.startsWith(root) && fs.existsSync(f) && fs.statSync(f).isFile()) return void res.writeHead(200, { "content-type": mime[path.extname(f)] ?? "application/octet-stream" }).end(fs.readFileSync(f));
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const browser = await launchChromium(CHROMIUM!);
    const outside: string[] = [];
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    try {
      const tab = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await tab.route("**/*", (route) => (route.request().url().startsWith(origin + "/") ? route.continue() : (outside.push(route.request().url()), route.abort())));
      await tab.goto(origin + "/");
      const read = async (coefficient: number, positions = "all"): Promise<PageResult> => {
        await tab.waitForFunction(([c, p]) => {
          const x = (window as unknown as { __explorer: { error: string | null; state?: { result?: { settings: { coefficient: number; positions: string }[] } } } }).__explorer;
          const s = x.state?.result?.settings[0];
          return x.error !== null || (s !== undefined && s.coefficient === c && s.positions === p);
        }, [coefficient, positions] as const, { timeout: 60_000 });
        return tab.evaluate(() => {
          const x = (window as unknown as { __explorer: { error: string | null; state: { result: { ids: number[]; promptLength: number; logits: Float32Array[]; pattern: Float32Array[][][]; settings: unknown }; probeScores: Record<string, number[]>; projections: Record<string, number[][]>; text: string; timings: unknown } } }).__explorer;
          if (x.error) throw new Error(x.error);
          const r = x.state.result;
          return { ids: r.ids, promptLength: r.promptLength, logits: r.logits.map((l) => Array.from(l)), pattern: r.pattern.map((l) => l.map((h) => h.map((q) => Array.from(q)))), probeScores: x.state.probeScores, projections: x.state.projections, text: x.state.text, timings: x.state.timings, settings: r.settings } as unknown as PageResult;
        });
      };
      const page = await read(0);
      await tab.screenshot({ path: path.join(ARTIFACTS, "explorer-unsteered.png") });
      // Node: greedy generation, then one forward pass over every fed position with the page's hooks.
      const want = generate(model, PROMPT, { maxNewTokens: 20, temperature: 0 });
      expect(page.ids).toEqual(want.sequences[0]);
      expect(page.text).toBe(want.texts[0]);
      const fed = page.ids.slice(0, -1);
      const { logits, cache } = model.runWithCache(fed, { namesFilter: (n: string) => n.endsWith("hook_resid_post") || n.endsWith("hook_pattern") });
      const N = fed.length;
      const diffs: Record<string, number> = {};
      diffs.logits = maxAbs(page.logits.flat(), logits.dataSync() as Float32Array);
      const resid = (l: number) => ({ data: Float32Array.from(cache.get("resid_post", l).dataSync() as Float32Array), n: N, d: 64 });
      diffs.logistic = maxAbs(page.probeScores.coding, logistic.decisionFunction(resid(1) as never));
      diffs.diffmeans = maxAbs(page.probeScores["coding (diff of means)"], dm.score(resid(0) as never));
      for (const l of [0, 1]) {
        const v = pv[l].vector;
        const norm = Math.hypot(...v);
        const r = resid(l);
        const proj = Array.from({ length: N }, (_, t) => v.reduce((s, x, i) => s + r.data[t * 64 + i] * (x / norm), 0));
        diffs[`projection.${l}`] = maxAbs(page.projections.harm[l], proj);
        const pat = cache.get("pattern", l).dataSync() as Float32Array; // [1, H, N, N]
        const got: number[] = [], ref: number[] = [];
        for (let h = 0; h < 4; h++) for (let q = 0; q < N; q++) for (let k = 0; k <= q; k++) (got.push(page.pattern[l][h][q][k]), ref.push(pat[(h * N + q) * N + k]));
        diffs[`pattern.${l}`] = maxAbs(got, ref);
      }
      logits.dispose();
      cache.dispose();
      for (const [k, d] of Object.entries(diffs)) expect(d, k).toBeLessThanOrEqual(1e-4);
      // The slider, by keyboard: 8 × ArrowRight = coefficient 4 at the vector's default layer.
      await tab.focus("#coef-0");
      for (let i = 0; i < 8; i++) await tab.keyboard.press("ArrowRight");
      const steered = await read(4);
      const layer = steered.settings[0].layer;
      const wantSteered = generate(model, PROMPT, { maxNewTokens: 20, temperature: 0, fwdHooks: [steeringHook(pv[layer], { coefficient: 4, layer })] });
      expect(steered.ids).toEqual(wantSteered.sequences[0]);
      expect(steered.ids).not.toEqual(page.ids);
      await tab.screenshot({ path: path.join(ARTIFACTS, "explorer-steered.png") });
      // Steering the response only: [1, T, d] feeds with zeros over the prompt.
      await tab.selectOption("#positions-0", "response");
      const response = await read(4, "response");
      const wantResponse = generate(model, PROMPT, { maxNewTokens: 20, temperature: 0, fwdHooks: [steeringHook(pv[layer], { coefficient: 4, layer, positions: "response", promptLength: page.promptLength })] });
      expect(response.ids).toEqual(wantResponse.sequences[0]);
      // showExplorer's output: the self-contained page in an <iframe srcdoc>, no file fetched.
      inlinePage = `<!doctype html><meta charset="utf-8"><body>${explorerIframe(explorerHtml(model, options(), { inline: true }))}</body>`;
      const inlineTab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await inlineTab.route("**/*", (route) => (route.request().url() === origin + "/notebook" ? route.continue() : (outside.push(route.request().url()), route.abort())));
      await inlineTab.goto(origin + "/notebook");
      const frame = inlineTab.frames().find((f) => f !== inlineTab.mainFrame())!;
      await frame.waitForFunction(() => {
        const x = (window as unknown as { __explorer: { error: string | null; state?: { generations: number } } }).__explorer;
        return x.error !== null || (x.state?.generations ?? 0) > 0;
      }, null, { timeout: 60_000 });
      const inlineIds = await frame.evaluate(() => {
        const x = (window as unknown as { __explorer: { error: string | null; state: { result: { ids: number[] } } } }).__explorer;
        if (x.error) throw new Error(x.error);
        return x.state.result.ids;
      });
      expect(inlineIds).toEqual(want.sequences[0]);
      await inlineTab.screenshot({ path: path.join(ARTIFACTS, "explorer-notebook-iframe.png") });
      expect(outside).toEqual([]);
      const report = { diffs, timings: page.timings, unsteered: want.texts[0], steered: wantSteered.texts[0], responseSteered: wantResponse.texts[0], layer };
      fs.writeFileSync(path.join(ARTIFACTS, "explorer-page.json"), JSON.stringify(report, null, 2));
      expect(page.timings.loadMs + page.timings.firstGenerateMs).toBeLessThan(20_000);
    } finally {
      await browser.close();
      server.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
