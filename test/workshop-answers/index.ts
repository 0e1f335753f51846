/** Every workshop answer list, by exercise (see types.ts). */
export { diffmeans } from "./diffmeans";
export { interval } from "./interval";
export { prediction } from "./prediction";
export { probe31 } from "./probe";
export { resid } from "./resid";
export { spearman } from "./spearman";
export { steering } from "./steering";
export type { Answer, AnswerList, WrongAnswer } from "./types";
