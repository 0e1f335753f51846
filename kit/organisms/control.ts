/**
 * `benignControl(cfg)`: the control run of a difference-in-differences leakage measurement (`didLeakage`): the same
 * organism (seed, model, pretraining, persona: so the same cached persona model) narrowly trained for the same steps,
 * episodes and learning rate on a benign behaviour (default: solves_task, in the treated run's domain).
 *
 *   const treated = organismConfig({ seed, persona: personaArm("shallow") });
 *   const control = benignControl(treated);     // narrow: { behaviour: "solves_task", domain: "coding", steps: 60, … }
 *   didLeakage(treatedRecord, controlRecord).did;
 */
import { HARMFUL_BEHAVIOURS, NARROW_BEHAVIOURS, organismConfig, type OrganismConfig } from "./config";
import type { Behaviour } from "../world/types";

export interface BenignControlOptions {
  /** The benign behaviour trained instead (default "solves_task"); not a harmful one. */
  behaviour?: Behaviour;
}

/** `cfg` with its narrow stage training `behaviour` (benign) instead, every other setting kept. */
export function benignControl(cfg: OrganismConfig, { behaviour = "solves_task" }: BenignControlOptions = {}): OrganismConfig {
  const narrow = cfg?.narrow;
  if (!narrow) throw new RangeError(`benignControl: cfg must have a narrow stage to control for, received narrow: ${cfg ? String(cfg.narrow) : String(cfg)}`);
  if (narrow.mixture) throw new RangeError("benignControl: cfg.narrow must be a single behaviour, received a mixture");
  if (!(NARROW_BEHAVIOURS as readonly unknown[]).includes(behaviour) || (HARMFUL_BEHAVIOURS as readonly unknown[]).includes(behaviour)) {
    const benign = NARROW_BEHAVIOURS.filter((b) => !(HARMFUL_BEHAVIOURS as readonly string[]).includes(b));
    throw new RangeError(`benignControl: options.behaviour must be a benign narrow behaviour (${benign.join(", ")}), received ${JSON.stringify(behaviour)}`);
  }
  const { kind: _kind, exclude: _exclude, ...rest } = narrow;
  return organismConfig({ ...cfg, narrow: { ...rest, behaviour } });
}
