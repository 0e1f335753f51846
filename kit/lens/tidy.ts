import { tf } from "../backend";

/** `tf.tidy` for a function returning plain data (numbers, strings, arrays of them): every tensor it made is freed. */
export function tidyValue<T>(fn: () => T): T {
  let out!: T;
  tf.tidy(() => {
    out = fn();
  });
  return out;
}
