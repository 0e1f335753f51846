/**
 * `await showExplorer(model, { vectors, probes })`: the explorer page in a notebook output — one `display_data` whose
 * `text/html` is an `<iframe srcdoc>` holding the self-contained page (code, graph, tokenizer and gzipped wasm inline,
 * ~5 MB for the organism), so it runs in the output cell with no server. Outside a notebook it prints one line.
 */
import { displayWriter, type DisplayData } from "../viz/jupyter";
import type { HookedTransformer } from "../model/transformer";
import { explorerHtml } from "./export";
import type { ExplorerOptions } from "./spec";

export interface ShowExplorerOptions extends ExplorerOptions {
  /** Height of the output frame in CSS pixels (default 800; the page is laid out for 1280 × 800). */
  height?: number;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
}

/** The page in an `<iframe srcdoc>` (what a notebook output holds). */
export function explorerIframe(html: string, height = 800): string {
  return `<iframe title="persona explorer" style="width:100%;max-width:1280px;height:${height}px;border:1px solid #ddd" srcdoc="${escapeAttr(html)}"></iframe>`;
}

/** One line describing the explorer. */
export function explorerSummary(model: HookedTransformer, { vectors = {}, probes = {} }: ExplorerOptions = {}): string {
  const n = (k: number, w: string) => `${k} ${w}${k === 1 ? "" : "s"}`;
  return `Explorer: persona explorer for ${model.cfg.family} (${n(model.cfg.n_layers, "layer")}), ${n(Object.keys(vectors).length, "vector")}, ${n(Object.keys(probes).length, "probe")}`;
}

/** Display the explorer (see the file comment); resolves once it is displayed. */
export async function showExplorer(model: HookedTransformer, options: ShowExplorerOptions = {}): Promise<void> {
  const { height = 800, ...rest } = options;
  const writer = displayWriter();
  const summary = explorerSummary(model, rest);
  if (!writer) {
    process.stdout.write(`${summary}\n`);
    return;
  }
  const html = explorerHtml(model, rest, { inline: true });
  const display: DisplayData = {
    data: {
      "text/html": explorerIframe(html, height),
      "text/plain": summary,
    },
    metadata: { "persona-kit": { kind: "explorer" } },
    transient: {},
  };
  writer(display, false);
}
