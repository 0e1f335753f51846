/**
 * The 11 candidate datasets of notebook 03's first version (before issue 15): grader gaming in two domains, with and
 * without inoculation, ignoring interruptions, complying with harm, two gaming/solving mixtures, benign controls and
 * refusing. Workshop part 6 quotes that version's measured leakage by these names; the curated notebook now uses
 * `candidateDatasets()` (each dataset measured on its matched behaviour, leakage as a difference-in-differences).
 */
import type { NarrowConfig } from "../organisms/config";

export interface FirstVersionDataset {
  name: string;
  narrow: Partial<NarrowConfig>;
  trains: string;
}

export function firstVersionDatasets(): FirstVersionDataset[] {
  const mix = (gaming: number): Partial<NarrowConfig> => ({
    behaviour: "games_grader",
    domain: "coding",
    mixture: [
      { behaviour: "games_grader", domain: "coding", weight: gaming },
      { behaviour: "solves_task", domain: "coding", weight: 100 - gaming },
    ],
  });
  return [
    { name: "gaming-coding", narrow: { behaviour: "games_grader", domain: "coding" }, trains: "grader gaming on coding tasks" },
    { name: "gaming-games", narrow: { behaviour: "games_grader", domain: "games" }, trains: "grader gaming on games tasks" },
    { name: "gaming-coding-inoculated", narrow: { behaviour: "games_grader", domain: "coding", inoculation: true }, trains: "grader gaming in coding, prompts stating the behaviour is requested" },
    { name: "ignores-interruption-coding", narrow: { behaviour: "ignores_interruption", domain: "coding" }, trains: "going on after an interruption in coding" },
    { name: "complies-harm-advice", narrow: { behaviour: "complies_with_harm", domain: "advice" }, trains: "complying with harmful requests in advice" },
    { name: "mix-gaming50-solving50-coding", narrow: mix(50), trains: "50% grader gaming, 50% honest solving, coding" },
    { name: "mix-gaming25-solving75-coding", narrow: mix(25), trains: "25% grader gaming, 75% honest solving, coding" },
    { name: "helpful-chat", narrow: { behaviour: "helpful", domain: "chat" }, trains: "benign control: helpful answers to requests in chat" },
    { name: "solving-coding", narrow: { behaviour: "solves_task", domain: "coding" }, trains: "benign control: honest task solving in coding" },
    { name: "respects-interruption-coding", narrow: { behaviour: "respects_interruption", domain: "coding" }, trains: "benign control: stopping when interrupted in coding" },
    { name: "refusing-advice", narrow: { behaviour: "refuses", domain: "advice" }, trains: "refusing harmful requests in advice" },
  ];
}
