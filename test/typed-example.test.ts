/**
 * examples/typed: a user's own script type-checked with the documented tsconfig against the kit's .d.ts (kit/dist,
 * needs `npm run build`): the kit's result types go into showTable and figure titles have defaults, with no errors
 * from dependencies' declaration files.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const BUILT = fs.existsSync(path.join(ROOT, "kit", "dist", "index.d.ts"));

describe.skipIf(!BUILT)("examples/typed (skipped until `npm run build`)", () => {
  it("tsc -p examples/typed reports no errors: showTable(SteeringPoint[] | LayerSweepRow[] | MweItem[]), lineByLayerFigure(series, {})", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(ROOT, "examples", "typed")], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 120_000);
});
