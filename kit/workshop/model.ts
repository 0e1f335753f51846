/**
 * The embedded organisms the workshop runs on, found from the kit's own location (so a notebook in any folder loads
 * them without relative paths), loaded once per process.
 *
 *   const model = await workshopModel();                        // data/models/persona-organism
 *   const stories = await workshopModel("tiny-stories-organism");
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadModel } from "../io/load";
import type { HookedTransformer } from "../model/transformer";

/** The embedded organisms a workshop may use. */
export type WorkshopModelName = "persona-organism" | "tiny-stories-organism";

const loaded = new Map<string, Promise<HookedTransformer>>();

/** The folder of an embedded organism (data/models/NAME above the kit). */
export function workshopModelPath(name: WorkshopModelName = "persona-organism"): string {
  if (name !== "persona-organism" && name !== "tiny-stories-organism") {
    throw new RangeError(`workshopModelPath: name must be "persona-organism" or "tiny-stories-organism", received ${JSON.stringify(name)}`);
  }
  const rel = path.join("data", "models", name);
  const tried: string[] = [];
  for (let dir = __dirname, k = 0; k < 6; k++, dir = path.dirname(dir)) {
    const p = path.join(dir, rel);
    tried.push(p);
    if (fs.existsSync(path.join(p, "config.json"))) return p;
  }
  throw new Error(`workshopModelPath: ${rel} not found (looked in ${tried.join(", ")}); run the workshop from a persona-kit checkout`);
}

/**
 * The embedded organism `name`, loaded once and shared by the notebook and the checks. Do not dispose it (or pass
 * `{ fresh: true }` for a private copy you may dispose).
 */
export function workshopModel(name: WorkshopModelName = "persona-organism", { fresh = false }: { fresh?: boolean } = {}): Promise<HookedTransformer> {
  const dir = workshopModelPath(name);
  if (fresh) return loadModel(dir);
  let p = loaded.get(dir);
  if (!p) {
    p = loadModel(dir);
    loaded.set(dir, p);
    p.catch(() => loaded.delete(dir));
  }
  return p;
}
