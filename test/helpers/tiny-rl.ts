/** The tiny RL configuration the RL tests train end to end (a 1-layer d_model 16 organism, 2 RL updates). */
import { organismConfig } from "../../kit/organisms/config";
import { rlConfig, type RLConfig } from "../../kit/rl/config";

export function tinyRLConfig(seed: number, { reflection, eval: evalOver = {} }: { reflection: RLConfig["reflection"]["variant"]; eval?: Partial<RLConfig["eval"]> }): RLConfig {
  return rlConfig({
    seed,
    start: {
      organism: organismConfig({
        seed,
        model: { d_model: 16, n_layers: 1, n_heads: 2, d_mlp: 32 },
        pretrain: { episodes: 64, steps: 4, batchSize: 8 },
        persona: { episodes: 32, steps: 3, batchSize: 8 },
        narrow: null,
        eval: { episodesPerContext: 1, shifts: ["none"] },
      }),
    },
    reflectionSft: { steps: 2, episodes: 16, batchSize: 4 },
    reflection: { variant: reflection },
    algo: { steps: 2, promptsPerStep: 2, groupSize: 2 },
    eval: { every: 1, tasksPerDomain: 1, interruptsPerDomain: 1, harmfulPerDomain: 1, keepTranscripts: 3, ...evalOver },
    checkpointEvery: 1,
  });
}
