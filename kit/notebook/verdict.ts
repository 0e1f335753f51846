/**
 * Verdicts: a notebook's stated conclusion about one hypothesis.
 *
 * `verdict(hypothesis, text, { supported })` displays one block in the notebook: a `display_data` output carrying
 * `text/markdown`, `text/html`, `text/plain` and `application/vnd.persona-kit.verdict+json` (`{ hypothesis, text,
 * supported }`). The headless runner (`runNotebook`) collects the JSON parts of a run into `NotebookRun.verdicts`,
 * and the report lists them per notebook.
 *
 * Display goes through tslab's display channel (`require("tslab/dist/jupyter").lastWriteDisplayData`, set by the
 * tslab kernel and by `runNotebook`). Outside a notebook (a plain Node script), the verdict is printed as text.
 */
import { describeValue } from "../describe";
import { escapeHtml } from "../util/html";

/** Whether the evidence supports the hypothesis: `true`, `false` or `"inconclusive"`. */
export type Support = boolean | "inconclusive";

/** One verdict, as carried by the `application/vnd.persona-kit.verdict+json` part of its display. */
export interface Verdict {
  hypothesis: string;
  text: string;
  supported: Support;
  /** Verdicts decided under a preregistered plan (`decide`): the plan's identity and the test's numbers. */
  plan?: VerdictPlan;
}

/** The preregistration part of a verdict (see kit/research). */
export interface VerdictPlan {
  id: string;
  hash: string;
  role: "primary" | "secondary";
  metric: string;
  test: string;
  n: number;
  estimate: number;
  lower: number;
  upper: number;
  /** Before correction. */
  p: number;
  /** After the plan's correction. */
  pAdjusted: number;
}

export interface VerdictOptions {
  /** Default `"inconclusive"`. */
  supported?: Support;
}

/** The MIME type of a verdict's JSON part. */
export const VERDICT_MIME = "application/vnd.persona-kit.verdict+json";

/** A Jupyter display message as tslab passes it to `lastWriteDisplayData`. */
export interface DisplayMessage {
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  transient?: { display_id?: string };
}

/** The function tslab (or `runNotebook`) installed for display output, or null outside a notebook. */
export function currentDisplayWriter(): ((message: DisplayMessage, update: boolean) => void) | null {
  try {
    const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData?: unknown };
    const write = jupyter.lastWriteDisplayData;
    return typeof write === "function" ? (write as (message: DisplayMessage, update: boolean) => void) : null;
  } catch {
    return null; // tslab is not installed: not in a notebook
  }
}

/** The word a verdict shows for its support value. */
export function supportLabel(supported: Support): string {
  return supported === true ? "supported" : supported === false ? "not supported" : "inconclusive";
}

const COLORS: Record<string, { border: string; background: string }> = {
  supported: { border: "#2e7d32", background: "#edf7ed" },
  "not supported": { border: "#c62828", background: "#fdecea" },
  inconclusive: { border: "#9e9e9e", background: "#f5f5f5" },
};

/** The MIME bundle a verdict displays (also used by the report to render verdicts consistently). */
export function verdictBundle(v: Verdict): Record<string, unknown> {
  const label = supportLabel(v.supported);
  const { border, background } = COLORS[label];
  const html =
    `<div class="persona-kit-verdict" style="border-left:4px solid ${border};background:${background};` +
    `padding:8px 12px;margin:6px 0;font-family:sans-serif">` +
    `<div><strong>Verdict: ${escapeHtml(label)}</strong> &middot; <em>${escapeHtml(v.hypothesis)}</em></div>` +
    `<div style="margin-top:4px;white-space:pre-wrap">${escapeHtml(v.text)}</div>` +
    (v.plan ? `<div style="margin-top:4px;font-size:smaller;color:#555">plan ${escapeHtml(v.plan.id)} · sha256 ${escapeHtml(v.plan.hash.slice(0, 16))} · ${escapeHtml(v.plan.role)}</div>` : "") +
    `</div>`;
  return {
    "text/plain": `Verdict (${label}): ${v.hypothesis}\n${v.text}`,
    "text/markdown": `**Verdict: ${label}** · *${v.hypothesis}*\n\n${v.text}`,
    "text/html": html,
    [VERDICT_MIME]: { hypothesis: v.hypothesis, text: v.text, supported: v.supported, ...(v.plan ? { plan: v.plan } : {}) },
  };
}

/**
 * Display a verdict on `hypothesis`, explained by `text`, in the notebook.
 *
 * @example verdict("H1: the persona prompt changes refusals", "Refusal rate 0.12 → 0.31 (n = 200).", { supported: true })
 */
export function verdict(hypothesis: string, text: string, { supported = "inconclusive" }: VerdictOptions = {}): void {
  if (typeof hypothesis !== "string" || hypothesis.trim() === "") {
    throw new TypeError(`verdict: hypothesis must be a non-empty string, received ${describeValue(hypothesis)}`);
  }
  if (typeof text !== "string") {
    throw new TypeError(`verdict: text must be a string, received ${describeValue(text)}`);
  }
  if (supported !== true && supported !== false && supported !== "inconclusive") {
    throw new TypeError(`verdict: options.supported must be true, false or "inconclusive", received ${describeValue(supported)}`);
  }
  const bundle = verdictBundle({ hypothesis, text, supported });
  const write = currentDisplayWriter();
  if (write) {
    write({ data: bundle, metadata: {}, transient: {} }, false);
  } else {
    process.stdout.write(`${bundle["text/plain"] as string}\n`);
  }
}
