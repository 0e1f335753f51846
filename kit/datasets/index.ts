/**
 * Loaders for public persona / steering datasets, each checking every record and naming the loader, file, line or
 * array index, field, expectation and received value on malformed input: persona-vector trait files
 * (`loadTraitFile`), model-written evals (`loadModelWrittenEvals`), CAA A/B and open-ended files (`loadCaaAB`,
 * `loadCaaOpenEnded`), and Open Character Training constitutions (`loadConstitutionFile`, the persona world's
 * `loadConstitution`). The emergent-misalignment YAML question files (anchors and aliases resolved) are read by
 * `loadQuestionSet` in `kit/evals/questions.ts`.
 */
export { loadTraitFile, validateTraitData, TRAIT_EVAL_PLACEHOLDERS, type TraitData, type TraitInstruction } from "./traits";
export { loadModelWrittenEvals, validateMweItem, type MweItem } from "./mwe";
export { loadCaaAB, loadCaaOpenEnded, validateCaaItem, CAA_ANSWER, type CaaItem, type CaaOpenEndedItem } from "./caa";
export { loadConstitution as loadConstitutionFile } from "../world/constitution";
