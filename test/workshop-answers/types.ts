/**
 * The shape of the workshop answer lists: for one exercise, right answers written the ways participants write them
 * (each must pass its check) and plausible wrong answers (each must fail, with a line containing `message`).
 */
export interface Answer<F> {
  name: string;
  fn: F;
}

export interface WrongAnswer<F> extends Answer<F> {
  /** A part of the failing check line that names this mistake. */
  message: string;
}

export interface AnswerList<F> {
  exercise: string;
  right: Answer<F>[];
  wrong: WrongAnswer<F>[];
}
