/**
 * Where patching happens: hook kinds ("resid_pre", "attn_out", "z", …) over layers, positions and, for per-head
 * activations [B, T, heads, x], heads. Shared by activation patching and attribution patching, so both return
 * effects on the same grid.
 */
import { actName, type HookName } from "../model/hooks";
import type { HookedTransformer } from "../model/transformer";

export interface PatchSites {
  /** Full hook names of one kind, one per layer. */
  names: HookName[];
  layers: number[];
  /** Positions patched one at a time; `"all"`: every position at once (one column). */
  positions: number[] | "all";
  /** Heads of a per-head hook (q, z, result: n_heads; k, v: n_key_value_heads); null for [B, T, d]-shaped hooks. */
  heads: number | null;
}

const PER_HEAD = new Set(["attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_rot_q", "attn.hook_rot_k", "attn.hook_z", "attn.hook_result"]);

/** The sites of one hook kind: every layer (or the given ones) of the model. */
export function patchSites(model: HookedTransformer, kind: string, T: number, { layers, positions }: { layers?: readonly number[]; positions?: readonly number[] | "all" }, where: string): PatchSites {
  const n = model.cfg.n_layers;
  const ls = [...(layers ?? Array.from({ length: n }, (_, l) => l))];
  for (const l of ls) if (!Number.isInteger(l) || l < 0 || l >= n) throw new RangeError(`${where}: layers must be integers in [0, ${n}), received ${l}`);
  const known = new Set<string>(model.hookNames());
  const names = ls.map((l) => actName(kind, l) as HookName);
  for (const name of names) {
    if (!known.has(name)) throw new RangeError(`${where}: ${JSON.stringify(kind)} is not a block hook of this model (resolved to ${JSON.stringify(name)}); use "resid_pre", "attn_out", "mlp_out", "z", … (model.hookNames() lists them)`);
  }
  const inner = names[0].slice(names[0].indexOf(".", 7) + 1);
  if (inner === "attn.hook_pattern" || inner === "attn.hook_attn_scores") throw new RangeError(`${where}: patching ${inner} is not supported (its axes are [B, H, T, Tk]); patch "z" per head instead`);
  const heads = !PER_HEAD.has(inner) ? null : inner === "attn.hook_k" || inner === "attn.hook_v" ? model.cfg.n_key_value_heads : model.cfg.n_heads;
  let pos: number[] | "all" = "all";
  if (positions !== "all") {
    pos = [...(positions ?? Array.from({ length: T }, (_, t) => t))].map((p) => (p < 0 ? T + p : p));
    for (const p of pos) if (!Number.isInteger(p) || p < 0 || p >= T) throw new RangeError(`${where}: positions must be integers in [-${T}, ${T}), received ${p}`);
  }
  return { names, layers: ls, positions: pos, heads };
}

/** The cells of one layer: each (position, head) a patch touches, as masks over [T] and [heads]. */
export function siteCells(s: PatchSites, T: number): { pos: number[]; head: number | null }[] {
  const posGroups = s.positions === "all" ? [Array.from({ length: T }, (_, t) => t)] : s.positions.map((p) => [p]);
  const out: { pos: number[]; head: number | null }[] = [];
  for (const pos of posGroups) {
    if (s.heads === null) out.push({ pos, head: null });
    else for (let h = 0; h < s.heads; h++) out.push({ pos, head: h });
  }
  return out;
}

/** The effect grid of one hook kind: `values[layer][position][head]` (one head column for [B, T, d] hooks). */
export interface PatchingGrid {
  /** The hook kind as asked ("resid_pre", "z"). */
  hook: string;
  layers: number[];
  /** Patched positions; `"all"`: all at once (one column). */
  positions: number[] | "all";
  /** Heads, or null for hooks without a head axis. */
  heads: number | null;
  /** metric(patched) − metric(corrupt), or its estimate: [layers][positions][heads or 1]. */
  values: number[][][];
}

/** Arrange per-cell values (in siteCells order per layer) into a grid. */
export function toGrid(hook: string, s: PatchSites, perLayer: number[][]): PatchingGrid {
  const H = s.heads ?? 1;
  const values = perLayer.map((cells) => {
    const rows: number[][] = [];
    for (let i = 0; i < cells.length; i += H) rows.push(cells.slice(i, i + H));
    return rows;
  });
  return { hook, layers: s.layers, positions: s.positions, heads: s.heads, values };
}
