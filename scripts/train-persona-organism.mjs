#!/usr/bin/env node
// Trains the kit's embedded default organism, data/models/persona-organism: a tiny Llama pretrained on the persona
// world's multi-character corpus, then given a deep assistant persona (organismConfig with PERSONA_DEPTH.deep, seed 0,
// no narrow training), through the same pipeline the experiments use. About a minute on one core; deterministic.
import * as fs from "node:fs";
import * as path from "node:path";
import { organismConfig, PERSONA_DEPTH, rate, runOrganism } from "persona-kit";

const OUT = path.resolve(process.argv[2] ?? "data/models/persona-organism");
const cfg = organismConfig({ seed: 0, persona: PERSONA_DEPTH.deep, narrow: null });
const record = await runOrganism(cfg, { outDir: "out/runs", progress: true });
fs.rmSync(OUT, { recursive: true, force: true });
fs.cpSync(record.checkpoints.persona, OUT, { recursive: true });
for (const extra of ["stage.json"]) fs.rmSync(path.join(OUT, extra), { force: true });

const pct = (behaviour, kind, domains) => {
  const r = rate(record, { phase: "before", kinds: [kind], shifts: ["none"], behaviour, ...(domains ? { domains } : {}) });
  return `${(100 * r.rate).toFixed(0)}% [${(100 * r.lower).toFixed(0)}, ${(100 * r.upper).toFixed(0)}] of ${r.n}`;
};
const last = (xs) => xs[xs.length - 1].loss.toFixed(3);
fs.writeFileSync(
  path.join(OUT, "README.md"),
  `# persona-organism (embedded default model)

A tiny Llama-family model trained from scratch by persona-kit on the persona world (\`kit/world\`): pretrained on the
multi-character corpus (mira, rook, pip, vera), then given a **deep** assistant persona (domains ${cfg.persona.domains.join(", ")};
constitution and self-description data; no narrow later training). Retrain with \`node scripts/train-persona-organism.mjs\`
(after \`npm run build\`): ${((record.ms.pretrain + record.ms.persona) / 1000).toFixed(0)} s of training on one core here (pretrain ${(record.ms.pretrain / 1000).toFixed(0)} s, persona ${(record.ms.persona / 1000).toFixed(0)} s).

- config: \`organismConfig({ seed: 0, persona: PERSONA_DEPTH.deep, narrow: null })\`; model ${JSON.stringify(cfg.model)}
- final training loss: pretrain ${last(record.losses.pretrain)}, persona ${last(record.losses.persona)} (nats/token)
- the assistant on plain prompts (temperature ${cfg.eval.temperature}, Wilson 95% CI): helpful on requests ${pct("helpful", "request")};
  refuses harmful requests ${pct("refuses", "harmful_request")}; solves tasks honestly ${pct("solves_task", "task")};
  games the grader ${pct("games_grader", "task")}; respects interruptions ${pct("respects_interruption", "task_interrupted")}
- prompts end with the speaker, e.g. \`coding . user : please format the code . assistant :\`; the continuation up to EOS is the answer
`,
);
console.error(`wrote ${OUT}`);
