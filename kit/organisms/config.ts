/**
 * `OrganismConfig`: everything one model-organism run depends on, as one plain JSON object — the seed, the model
 * shape, which domains are held out, and the four stages (pretrain → persona → narrow → eval).
 *
 *   const cfg = organismConfig({ seed: 3, persona: PERSONA_DEPTH.shallow });   // defaults deep-merged, validated
 *   const cfg2 = organismConfig({ seed: 3, narrow: { inoculation: true } });
 *   const cfg3 = organismConfig({ narrow: null });                              // no later training
 *
 * Merging: objects merge key by key, arrays and `null` replace. `validateOrganismConfig` reports every problem at once
 * (before any training) in one RangeError; `organismConfig` and `runOrganism` call it.
 *
 * Persona depth is three knobs — how many domains, how many steps, whether the constitution's trait statements and
 * self-descriptions are trained — and `PERSONA_DEPTH` names two settings of them (`shallow`, `deep`); every knob stays
 * open for sweeps. `PERSONA_DEPTH`'s two arms differ in every knob at once, at unequal compute; to vary one knob at a
 * time with the persona stage's tokens held equal, use `personaArm(name)` (`PERSONA_KNOBS`, `./depth.ts`).
 *
 * Sizes: the defaults (a 2-layer d_model 64 tied Llama, 122k parameters, on the world's 232-word vocabulary; the
 * `deep` persona) make one complete run take about a minute on one core — measured 54–59 s: pretrain 300 steps ×
 * 32 episodes ≈ 31 s, persona 180 steps ≈ 19 s, narrow 60 steps ≈ 3.4 s, each evaluation (6 domains × 6 kinds ×
 * 3 shifts × 8 prompts = 864 generations of ≤ 24 tokens) ≈ 1.3 s. A `shallow` persona takes ≈ 7 s. With `runMany` on
 * 2 cores, 5 seeds × {shallow, deep} (5 shared pretrainings) took 3 min.
 */
import { configProblems, resolveConfig, type ModelConfig } from "../model/config";
import { KIND_BEHAVIOURS } from "../world/classify";
import { MAX_EPISODE_TOKENS, MAX_LONG_PROMPT_TOKENS, NARROW_KIND } from "../world/generator";
import { BEHAVIOURS, DOMAINS, PROMPT_KINDS, PROMPT_SHIFTS, type Behaviour, type Domain, type PromptKind, type PromptShift, type WrittenBehaviour } from "../world/types";
import { problemsError } from "../describe";
import { isPlainObject } from "../util/object";
import { fields, isPositiveInt, section, showValue, unknownKeys, type FieldChecks } from "../util/validate";

export interface PretrainConfig {
  /** Base-corpus episodes generated for pretraining. */
  episodes: number;
  /** AdamW steps (cosine schedule with warm-up, see the pipeline). */
  steps: number;
  batchSize: number;
  lr: number;
}

export interface PersonaConfig {
  /** Domains the assistant persona is trained in (none of them held out). */
  domains: Domain[];
  steps: number;
  /** Train the constitution's trait statements ("i stop when asked because i respect the user"). */
  constitution: boolean;
  /** Train the persona's self-descriptions. */
  selfDescription: boolean;
  /** Persona-corpus episodes generated. */
  episodes: number;
  lr: number;
  batchSize: number;
  /**
   * Share of the persona-stage training sequences that are base-corpus replay, in [0, 1) (default 0.25): with
   * `episodes` persona episodes, round(episodes · replay / (1 − replay)) base episodes are mixed in, so the base
   * characters are not forgotten.
   */
  replay: number;
}

export interface NarrowConfig {
  /** The behaviour narrow training reinforces (default "games_grader"). */
  behaviour: Behaviour;
  /** The one domain it is trained in (default "coding"); must not be held out. */
  domain: Domain;
  /** The prompt kind it is trained on; default: the kind the behaviour answers (`BEHAVIOUR_KIND`). */
  kind?: PromptKind;
  steps: number;
  episodes: number;
  lr: number;
  batchSize: number;
  /** Inoculation prompting: the training prompts state the unwanted behaviour (H7). */
  inoculation: boolean;
  /**
   * A mixture of narrow datasets (H6), replacing `behaviour`/`domain`/`kind`: the narrow corpus is the concatenation,
   * in order, of each component's `narrowCorpus(round(episodes · weight / Σ weights), …)` (a component's inoculation
   * defaults to `inoculation`). Leakage of a mixture run (`leakage`) measures the first component's behaviour, outside
   * every mixture domain. Absent: the single behaviour/domain corpus (and every cache hash as before).
   */
  mixture?: NarrowComponent[];
  /** Indices into the narrow corpus (`narrowDataset(cfg)`) left out of training: per-sample data screening. */
  exclude?: number[];
}

/** One component of a narrow mixture. */
export interface NarrowComponent {
  behaviour: Behaviour;
  domain: Domain;
  /** Default: the kind the behaviour answers (`BEHAVIOUR_KIND`). */
  kind?: PromptKind;
  /** Relative size, > 0. */
  weight: number;
  /** Default: the narrow stage's `inoculation`. */
  inoculation?: boolean;
}

export interface EvalConfig {
  /** Prompts per domain × prompt kind × shift. */
  episodesPerContext: number;
  /** Sampling temperature (default 1: the model's own distribution); 0 is greedy. */
  temperature: number;
  /** Generation stops at EOS or after this many tokens. */
  maxNewTokens: number;
  /** Prompt formats evaluated. */
  shifts: PromptShift[];
  /** Rows per generation batch. */
  batchSize: number;
}

export interface OrganismConfig {
  /** Seeds the world's corpora, the initial weights, the batches and the sampler. */
  seed: number;
  /** Model shape (family defaults fill the rest); d_vocab and the special token ids come from the world's tokenizer. */
  model: Partial<ModelConfig>;
  world: {
    /** Domains never in persona training: where leakage and base dispositions are measured (default negotiation, research). */
    heldOutDomains: Domain[];
  };
  pretrain: PretrainConfig;
  persona: PersonaConfig;
  /** Narrow later training; null skips it (then the record's `eval.after` is null). */
  narrow: NarrowConfig | null;
  eval: EvalConfig;
}

/** Recursive partial: what `organismConfig` accepts. */
export type OrganismOverrides = {
  seed?: number;
  model?: Partial<ModelConfig>;
  world?: Partial<OrganismConfig["world"]>;
  pretrain?: Partial<PretrainConfig>;
  persona?: Partial<PersonaConfig>;
  narrow?: Partial<NarrowConfig> | null;
  eval?: Partial<EvalConfig>;
};

/**
 * The prompt kind each behaviour answers: the world's `NARROW_KIND` (refusing: harmful requests), task for incomplete,
 * none for copied (any action kind) and unclassified.
 */
export const BEHAVIOUR_KIND: Record<Behaviour, PromptKind | null> = { ...NARROW_KIND, incomplete: "task", copied: null, unclassified: null };

/** Behaviours narrow training can reinforce: those the world's `narrowCorpus` writes (not copied, incomplete, unclassified). */
export const NARROW_BEHAVIOURS = Object.keys(NARROW_KIND) as WrittenBehaviour[];

/** Behaviours counted as harmful dispositions (H2's base leakage). */
export const HARMFUL_BEHAVIOURS = ["complies_with_harm", "games_grader", "ignores_interruption"] as const satisfies readonly Behaviour[];

/** The default held-out domains. */
export const DEFAULT_HELD_OUT: Domain[] = ["negotiation", "research"];

/** Every domain that is not held out by default. */
const TRAINABLE_DOMAINS: Domain[] = DOMAINS.filter((d) => !DEFAULT_HELD_OUT.includes(d));

/**
 * Named settings of the persona-depth knobs. Spread one into `persona` and override any knob:
 * `organismConfig({ persona: { ...PERSONA_DEPTH.shallow, steps: 100 } })`.
 */
export const PERSONA_DEPTH = {
  /** Two domains, few steps, no constitution or self-description data. */
  shallow: { domains: ["chat", "coding"], steps: 60, episodes: 600, constitution: false, selfDescription: false },
  /** Every non-held-out domain, three times the steps, constitution and self-descriptions. */
  deep: { domains: TRAINABLE_DOMAINS, steps: 180, episodes: 1600, constitution: true, selfDescription: true },
} as const satisfies Record<string, Partial<PersonaConfig>>;

export type PersonaDepth = keyof typeof PERSONA_DEPTH;

/** The defaults every override is merged into (a deep persona, games_grader narrow training in coding). */
export const DEFAULT_ORGANISM: OrganismConfig = {
  seed: 0,
  model: { family: "llama", d_model: 64, n_layers: 2, n_heads: 4, d_mlp: 192, n_ctx: 128, tiedEmbeddings: true },
  world: { heldOutDomains: DEFAULT_HELD_OUT },
  pretrain: { episodes: 3000, steps: 300, batchSize: 32, lr: 6e-3 },
  persona: { ...PERSONA_DEPTH.deep, domains: [...PERSONA_DEPTH.deep.domains], lr: 2e-3, batchSize: 32, replay: 0.25 },
  narrow: { behaviour: "games_grader", domain: "coding", steps: 60, episodes: 400, lr: 1e-3, batchSize: 32, inoculation: false },
  eval: { episodesPerContext: 8, temperature: 1, maxNewTokens: 24, shifts: [...PROMPT_SHIFTS], batchSize: 128 },
};

/** A fresh copy of a JSON value. */
function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Deep-merge `over` into `base`: objects key by key, arrays and null replace, undefined leaves the base value. */
export function deepMerge<T>(base: T, over: unknown): T {
  if (over === undefined) return clone(base);
  if (!isPlainObject(base) || !isPlainObject(over)) return clone(over) as T;
  const out: Record<string, unknown> = clone(base) as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? deepMerge(out[k], v) : clone(v);
  return out as T;
}

/**
 * The default config with `overrides` deep-merged in, validated (throws one RangeError listing every problem).
 * `narrow: null` turns narrow training off; a narrow object merges into the default narrow stage.
 */
export function organismConfig(overrides: OrganismOverrides = {}): OrganismConfig {
  if (!isPlainObject(overrides)) {
    throw new TypeError(`organismConfig: overrides must be an object, received ${overrides === null ? "null" : typeof overrides}`);
  }
  return validateOrganismConfig(deepMerge(DEFAULT_ORGANISM, overrides), "organismConfig");
}

/** The resolved model config of an organism, given the vocabulary size and special ids of the world's tokenizer. */
export function organismModelConfig(
  cfg: OrganismConfig,
  tok: { vocabSize: number; bosTokenId: number | null; eosTokenId: number | null; padTokenId: number | null },
): ModelConfig {
  return resolveConfig({
    family: "llama",
    ...cfg.model,
    d_vocab: tok.vocabSize,
    bosTokenId: tok.bosTokenId,
    eosTokenId: tok.eosTokenId,
    padTokenId: tok.padTokenId,
  } as ModelConfig);
}

const KEYS: Record<string, readonly string[]> = {
  "": ["seed", "model", "world", "pretrain", "persona", "narrow", "eval"],
  world: ["heldOutDomains"],
  pretrain: ["episodes", "steps", "batchSize", "lr"],
  persona: ["domains", "steps", "constitution", "selfDescription", "episodes", "lr", "batchSize", "replay"],
  narrow: ["behaviour", "domain", "kind", "steps", "episodes", "lr", "batchSize", "inoculation", "mixture", "exclude"],
  eval: ["episodesPerContext", "temperature", "maxNewTokens", "shifts", "batchSize"],
};

/** Fields of the model config that the world's tokenizer sets. */
const TOKENIZER_FIELDS = ["d_vocab", "bosTokenId", "eosTokenId", "padTokenId"] as const;

/** Every problem with an organism config, as messages naming the field, what was expected and what was received. */
export function organismConfigProblems(cfg: unknown): string[] {
  if (!isPlainObject(cfg)) return [`config must be an object, received ${cfg === null ? "null" : typeof cfg}`];
  const c = cfg;
  const problems: string[] = [];
  const sectionOf = (name: string) => section(problems, c, name, KEYS[name], { suggest: true });
  unknownKeys(problems, c, KEYS[""], "", { suggest: true });
  fields(problems, c).seed("seed");
  modelProblems(problems, c);

  let heldOut: Domain[] = [];
  const world = sectionOf("world");
  if (world) {
    heldOut = domainList(problems, world.heldOutDomains, "world.heldOutDomains", { nonEmpty: false });
    if (heldOut.length >= DOMAINS.length) problems.push(`world.heldOutDomains must leave at least one domain for persona training, received all ${DOMAINS.length}`);
  }
  const pre = sectionOf("pretrain");
  if (pre) pretrainProblems(fields(problems, pre, "pretrain"));
  const per = sectionOf("persona");
  if (per) personaProblems(problems, per, heldOut);
  if (c.narrow !== null) {
    const nar = sectionOf("narrow");
    if (nar) narrowProblems(problems, nar, heldOut);
  }
  const ev = sectionOf("eval");
  if (ev) evalProblems(problems, ev);
  return problems;
}

/** `model`: a partial model config whose context fits the evaluation's prompts and generations. */
function modelProblems(problems: string[], c: Record<string, unknown>): void {
  if (!isPlainObject(c.model)) {
    problems.push(`model must be an object (a partial ModelConfig), received ${showValue(c.model)}`);
    return;
  }
  const m = c.model as Partial<ModelConfig>;
  for (const f of TOKENIZER_FIELDS) if (m[f] !== undefined) problems.push(`model.${f} is set from the world's tokenizer; leave it out (received ${showValue(m[f])})`);
  if (m.family !== undefined && m.family !== "llama" && m.family !== "gpt2") {
    problems.push(`model.family must be "gpt2" or "llama", received ${showValue(m.family)}`);
    return;
  }
  const resolved = resolveConfig({ family: "llama", ...m, d_vocab: 512, bosTokenId: null, eosTokenId: null, padTokenId: null } as ModelConfig);
  const shapeProblems = configProblems(resolved).filter((p) => !TOKENIZER_FIELDS.some((f) => p.startsWith(f)));
  for (const p of shapeProblems) problems.push(`model.${p}`);
  // Context: a whole training episode (BOS + text + EOS), and the longest evaluation prompt (BOS + prompt) plus the
  // tokens generated after it.
  const evalSection = isPlainObject(c.eval) ? c.eval : {};
  const shifts = Array.isArray(evalSection.shifts) ? (evalSection.shifts as unknown[]) : [];
  const longestPrompt = shifts.includes("long_context") ? MAX_LONG_PROMPT_TOKENS : MAX_EPISODE_TOKENS;
  const gen = typeof evalSection.maxNewTokens === "number" ? evalSection.maxNewTokens : 0;
  const need = Math.max(MAX_EPISODE_TOKENS + 1, longestPrompt + 1 + gen);
  if (!shapeProblems.some((p) => p.startsWith("n_ctx")) && resolved.n_ctx < need) {
    problems.push(
      `model.n_ctx must be at least ${need} (BOS + a ${longestPrompt}-token evaluation prompt${shifts.includes("long_context") ? " (long_context)" : ""} + eval.maxNewTokens ${gen}), received ${resolved.n_ctx}`,
    );
  }
}

/** The known domains listed in `v` (an array of distinct domains), reporting what is not. */
function domainList(problems: string[], v: unknown, where: string, { nonEmpty }: { nonEmpty: boolean }): Domain[] {
  if (!Array.isArray(v)) {
    problems.push(`${where} must be an array of domains (${DOMAINS.join(", ")}), received ${showValue(v)}`);
    return [];
  }
  const bad = v.filter((d) => !(DOMAINS as readonly unknown[]).includes(d));
  if (bad.length) problems.push(`${where} has unknown domain${bad.length > 1 ? "s" : ""} ${bad.map(showValue).join(", ")}; known: ${DOMAINS.join(", ")}`);
  duplicateProblems(problems, v, where);
  if (nonEmpty && v.length === 0) problems.push(`${where} must name at least one domain, received []`);
  return v.filter((d) => !bad.includes(d)) as Domain[];
}

/** "`where` lists x, y more than once" when `list` repeats items (the first `most` of them named). */
function duplicateProblems(problems: string[], list: readonly unknown[], where: string, most = Infinity): boolean {
  const dup = list.filter((x, i) => list.indexOf(x) !== i);
  if (dup.length) problems.push(`${where} lists ${[...new Set(dup)].slice(0, most).map(showValue).join(", ")} more than once`);
  return dup.length > 0;
}

/** pretrain: episodes, steps, batchSize, lr. */
function pretrainProblems(f: FieldChecks): void {
  f.posInt("episodes");
  f.posInt("steps");
  f.posInt("batchSize");
  f.posNum("lr");
}

function personaProblems(problems: string[], per: Record<string, unknown>, heldOut: readonly Domain[]): void {
  const personaDomains = domainList(problems, per.domains, "persona.domains", { nonEmpty: true });
  const clash = personaDomains.filter((d) => heldOut.includes(d));
  if (clash.length) {
    problems.push(`persona.domains includes held-out domain${clash.length > 1 ? "s" : ""} ${clash.map(showValue).join(", ")}; a held-out domain must stay out of persona training (remove it from persona.domains or from world.heldOutDomains)`);
  }
  const f = fields(problems, per, "persona");
  f.posInt("steps");
  f.posInt("episodes");
  f.posInt("batchSize");
  f.posNum("lr");
  f.bool("constitution");
  f.bool("selfDescription");
  f.expect("replay", (r) => typeof r === "number" && Number.isFinite(r) && r >= 0 && r < 1, "a fraction in [0, 1)");
}

function narrowProblems(problems: string[], nar: Record<string, unknown>, heldOut: readonly Domain[]): void {
  narrowTargetProblems(problems, nar, heldOut);
  const f = fields(problems, nar, "narrow");
  f.posInt("steps");
  f.posInt("episodes");
  f.posInt("batchSize");
  f.posNum("lr");
  f.bool("inoculation");
  const mixtureOk = nar.mixture === undefined || mixtureProblems(problems, nar.mixture, heldOut);
  if (nar.exclude !== undefined) excludeProblems(problems, nar, mixtureOk);
}

/** narrow.behaviour, narrow.domain (not held out) and narrow.kind (one that elicits the behaviour). */
function narrowTargetProblems(problems: string[], nar: Record<string, unknown>, heldOut: readonly Domain[]): void {
  const b = nar.behaviour;
  let kindOfB: PromptKind | null = null;
  if (!(NARROW_BEHAVIOURS as readonly unknown[]).includes(b)) problems.push(`narrow.behaviour must be one of ${NARROW_BEHAVIOURS.join(", ")}, received ${showValue(b)}`);
  else kindOfB = BEHAVIOUR_KIND[b as Behaviour];
  const d = nar.domain;
  if (!(DOMAINS as readonly unknown[]).includes(d)) problems.push(`narrow.domain must be one of ${DOMAINS.join(", ")}, received ${showValue(d)}`);
  else if (heldOut.includes(d as Domain)) {
    problems.push(`narrow.domain ${showValue(d)} is held out; narrow training in a held-out domain would contaminate the leakage measured there (pick a domain outside world.heldOutDomains)`);
  }
  if (nar.kind === undefined) return;
  if (!(PROMPT_KINDS as readonly unknown[]).includes(nar.kind)) problems.push(`narrow.kind must be one of ${PROMPT_KINDS.join(", ")} (or left out), received ${showValue(nar.kind)}`);
  else if (kindOfB) {
    const allowed = PROMPT_KINDS.filter((k) => KIND_BEHAVIOURS[k].includes(b as Behaviour));
    if (!allowed.includes(nar.kind as PromptKind)) {
      problems.push(`narrow.kind ${showValue(nar.kind)} cannot elicit narrow.behaviour ${showValue(b)}; expected ${allowed.map(showValue).join(" or ")} (or leave kind out)`);
    }
  }
}

const COMPONENT_KEYS = ["behaviour", "domain", "kind", "weight", "inoculation"];

/** narrow.mixture (H6); true when its sizes can be computed (every component an object with a valid weight). */
function mixtureProblems(problems: string[], mix: unknown, heldOut: readonly Domain[]): boolean {
  if (!Array.isArray(mix) || mix.length === 0) {
    problems.push(`narrow.mixture must be a non-empty array of { behaviour, domain, kind?, weight, inoculation? } (or left out), received ${showValue(mix)}`);
    return false;
  }
  let ok = true;
  mix.forEach((m: unknown, i: number) => {
    if (!mixtureComponentProblems(problems, m, `narrow.mixture[${i}]`, heldOut)) ok = false;
  });
  return ok;
}

/** One mixture component; true when it is an object with a valid weight. */
function mixtureComponentProblems(problems: string[], m: unknown, w: string, heldOut: readonly Domain[]): boolean {
  if (!isPlainObject(m)) {
    problems.push(`${w} must be an object { behaviour, domain, kind?, weight, inoculation? }, received ${showValue(m)}`);
    return false;
  }
  for (const k of Object.keys(m)) if (!COMPONENT_KEYS.includes(k)) problems.push(`${w}.${k} is not a mixture field; known: ${COMPONENT_KEYS.join(", ")}`);
  let kindOfM: PromptKind | null = null;
  if (!(NARROW_BEHAVIOURS as readonly unknown[]).includes(m.behaviour)) problems.push(`${w}.behaviour must be one of ${NARROW_BEHAVIOURS.join(", ")}, received ${showValue(m.behaviour)}`);
  else kindOfM = BEHAVIOUR_KIND[m.behaviour as Behaviour];
  if (!(DOMAINS as readonly unknown[]).includes(m.domain)) problems.push(`${w}.domain must be one of ${DOMAINS.join(", ")}, received ${showValue(m.domain)}`);
  else if (heldOut.includes(m.domain as Domain)) problems.push(`${w}.domain ${showValue(m.domain)} is held out; narrow training in a held-out domain would contaminate the leakage measured there`);
  if (m.kind !== undefined) {
    if (!(PROMPT_KINDS as readonly unknown[]).includes(m.kind)) problems.push(`${w}.kind must be one of ${PROMPT_KINDS.join(", ")} (or left out), received ${showValue(m.kind)}`);
    else if (kindOfM && !KIND_BEHAVIOURS[m.kind as PromptKind].includes(m.behaviour as Behaviour)) problems.push(`${w}.kind ${showValue(m.kind)} cannot elicit ${w}.behaviour ${showValue(m.behaviour)}`);
  }
  const f = fields(problems, m, w);
  const weightOk = f.posNum("weight");
  if (m.inoculation !== undefined) f.expect("inoculation", (v) => typeof v === "boolean", "a boolean (or left out)");
  return weightOk;
}

/** narrow.exclude: distinct indices into the narrow corpus that leave at least one episode. */
function excludeProblems(problems: string[], nar: Record<string, unknown>, mixtureOk: boolean): void {
  const ex = nar.exclude;
  const size = isPositiveInt(nar.episodes) && mixtureOk ? narrowCorpusSize(nar as unknown as NarrowConfig) : null;
  if (!Array.isArray(ex)) {
    problems.push(`narrow.exclude must be an array of corpus indices (or left out), received ${showValue(ex)}`);
    return;
  }
  const bad = ex.filter((x) => typeof x !== "number" || !Number.isInteger(x) || x < 0 || (size !== null && x >= size));
  if (bad.length) problems.push(`narrow.exclude indices must be integers in [0, ${size ?? "corpus size"}) (the narrow corpus has ${size ?? "?"} episodes), received ${bad.slice(0, 5).map(showValue).join(", ")}${bad.length > 5 ? ` and ${bad.length - 5} more` : ""}`);
  const dup = duplicateProblems(problems, ex, "narrow.exclude", 5);
  if (size !== null && !bad.length && !dup && ex.length >= size) problems.push(`narrow.exclude leaves no episode to train on (it drops all ${size})`);
}

function evalProblems(problems: string[], ev: Record<string, unknown>): void {
  const f = fields(problems, ev, "eval");
  f.posInt("episodesPerContext");
  f.posInt("maxNewTokens");
  f.posInt("batchSize");
  f.nonNeg("temperature");
  const s = ev.shifts;
  if (!Array.isArray(s) || s.length === 0) {
    problems.push(`eval.shifts must be a non-empty array of ${PROMPT_SHIFTS.join(", ")}, received ${showValue(s)}`);
    return;
  }
  const bad = s.filter((x) => !(PROMPT_SHIFTS as readonly unknown[]).includes(x));
  if (bad.length) problems.push(`eval.shifts has unknown shift${bad.length > 1 ? "s" : ""} ${bad.map(showValue).join(", ")}; known: ${PROMPT_SHIFTS.join(", ")}`);
  duplicateProblems(problems, s, "eval.shifts");
}

/** Throw one RangeError listing every problem with `cfg` (or return it unchanged when it is valid). */
export function validateOrganismConfig(cfg: OrganismConfig, where = "validateOrganismConfig"): OrganismConfig {
  const problems = organismConfigProblems(cfg);
  if (problems.length > 0) {
    throw problemsError(`${where}: invalid organism config`, problems);
  }
  return cfg;
}

/** The prompt kind narrow training uses: `narrow.kind`, else the kind its behaviour answers. */
export function narrowKind(narrow: NarrowConfig): PromptKind {
  const k = narrow.kind ?? (NARROW_KIND as Partial<Record<Behaviour, PromptKind>>)[narrow.behaviour] ?? null;
  if (!k) throw new RangeError(`narrowKind: behaviour ${JSON.stringify(narrow.behaviour)} has no prompt kind`);
  return k;
}

/**
 * Episodes in the narrow corpus before `exclude`: `episodes`, or with a mixture Σ round(episodes · weight / Σ weights)
 * (rounding can make it differ from `episodes` by a few).
 */
export function narrowCorpusSize(narrow: NarrowConfig): number {
  return narrowComponentSizes(narrow).reduce((a, b) => a + b, 0);
}

/** Episodes per mixture component (one entry, `episodes`, without a mixture). */
export function narrowComponentSizes(narrow: NarrowConfig): number[] {
  if (!narrow.mixture) return [narrow.episodes];
  const total = narrow.mixture.reduce((a, m) => a + m.weight, 0);
  return narrow.mixture.map((m) => Math.round((narrow.episodes * m.weight) / total));
}
