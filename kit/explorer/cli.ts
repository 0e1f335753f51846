/** `persona-kit export-explorer`: the option checks and the export (kit/cli.ts dispatches here). */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError, numberOption } from "../cli-options";
import type { HookedTransformer } from "../model/transformer";
import { exportExplorer } from "./export";
import type { ExplorerProbe, ExplorerVector } from "./spec";

type Values = Record<string, string | boolean | undefined>;

export interface ExplorerCommandOptions {
  out: string;
  prompt?: string;
  maxNewTokens: number;
  vectors?: Record<string, ExplorerVector>;
  probes?: Record<string, ExplorerProbe>;
}

function readJson(flag: string, file: string | boolean | undefined): Record<string, unknown> | undefined {
  if (file === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(String(file), "utf8"));
  } catch (e) {
    throw new UsageError(`--${flag} must be a readable JSON file, received ${JSON.stringify(file)}: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new UsageError(`--${flag} must hold a JSON object { name: … }, received ${JSON.stringify(file)}`);
  return v as Record<string, unknown>;
}

/** The checked options of `export-explorer` (a UsageError for any mistake). */
export function explorerCommandOptions(v: Values): ExplorerCommandOptions {
  if (typeof v.out !== "string" || v.out === "") throw new UsageError("--out DIR is required; `persona-kit export-explorer --help` lists the options");
  const probes = readJson("probes", v.probes) as Record<string, { layer: number; weights: number[]; bias: number; hook?: string }> | undefined;
  return {
    out: v.out,
    prompt: v.prompt as string | undefined,
    maxNewTokens: numberOption("max-new-tokens", v["max-new-tokens"], { integer: true, min: 1 }),
    vectors: readJson("vectors", v.vectors) as Record<string, ExplorerVector> | undefined,
    probes: probes && Object.fromEntries(Object.entries(probes).map(([k, p]) => [k, { probe: { weights: p.weights, bias: p.bias }, layer: p.layer, hook: p.hook }])),
  };
}

/** Write the folder; returns the path of its index.html. */
export function exportExplorerCommand(model: HookedTransformer, o: ExplorerCommandOptions): string {
  const r = exportExplorer(model, o.out, { prompts: o.prompt === undefined ? undefined : [o.prompt], maxNewTokens: o.maxNewTokens, vectors: o.vectors, probes: o.probes });
  return path.join(r.dir, "index.html");
}
