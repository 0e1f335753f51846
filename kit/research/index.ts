/** Preregistered analysis: plans fixed before the runs, tests computed from run records, decisions with correction. */
export { preregister, MIN_SEEDS, planProblems, resolvePlan, planHash, planBundle, PLAN_TESTS, type AnalysisPlan, type HypothesisPlan, type PlanTest, type PreregisterOptions, type RegisteredPlan, type ResolvedHypothesis, type ResolvedPlan } from "./plan";
export { testHypothesis, resultLine, type HypothesisResult, type Observation } from "./hypothesis";
export { decide, type DecideOptions, type Decision, type ResultsRecord } from "./decide";
export { resultsMarkdown, writeResultsPage, type PreviousVerdict, type PreviousVerdicts } from "./results-page";
