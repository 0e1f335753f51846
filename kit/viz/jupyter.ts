/**
 * The notebook display hook: tslab's `require("tslab/dist/jupyter").lastWriteDisplayData`.
 *
 * tslab's kernel sets that export to a function `(displayData, update) => void` before it runs each cell; the
 * function sends a `display_data` message (or `update_display_data` when `update` is true) to the cell that is
 * running. The kit's in-process notebook runner sets the same export. tslab is loaded lazily and optionally: the
 * hook is only looked up in modules already loaded (whoever sets it has loaded tslab), so plain Node never loads
 * tslab, and the kit works where tslab is not installed.
 */
import * as path from "node:path";

/** One Jupyter display message's content. */
export interface DisplayData {
  /** MIME type → payload (strings; JSON MIME types may carry objects). */
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** `{ display_id }` for displays that are updated later. */
  transient: Record<string, unknown>;
}

/** tslab's writer: `update` false sends `display_data`, true sends `update_display_data`. */
export type WriteDisplayData = (displayData: DisplayData, update: boolean) => void;

const MODULE_SUFFIX = ["tslab", "dist", "jupyter.js"].join(path.sep);
let cachedKey: string | null = null;

/** tslab's jupyter module when some code has loaded it (the kernel or the notebook runner), else null. */
function tslabJupyter(): { lastWriteDisplayData?: unknown } | null {
  try {
    const cache = require.cache;
    if (cachedKey && cache[cachedKey]) return cache[cachedKey]!.exports as { lastWriteDisplayData?: unknown };
    try {
      const resolved = require.resolve("tslab/dist/jupyter");
      if (cache[resolved]) {
        cachedKey = resolved;
        return cache[resolved]!.exports as { lastWriteDisplayData?: unknown };
      }
    } catch {
      // tslab is not installed next to the kit; it may still be loaded from elsewhere (a global tslab).
    }
    for (const key of Object.keys(cache)) {
      if (key.endsWith(MODULE_SUFFIX)) {
        cachedKey = key;
        return cache[key]!.exports as { lastWriteDisplayData?: unknown };
      }
    }
  } catch {
    // no require cache (an unusual loader): behave as outside a notebook
  }
  return null;
}

/** The current cell's display writer, or null outside a notebook kernel / runner. */
export function displayWriter(): WriteDisplayData | null {
  const mod = tslabJupyter();
  const fn = mod?.lastWriteDisplayData;
  return typeof fn === "function" ? (fn as WriteDisplayData) : null;
}

/** True inside a tslab kernel or the kit's notebook runner (a display writer is installed). */
export function inNotebook(): boolean {
  return displayWriter() !== null;
}
