/** Showing a MIME bundle in the notebook (tslab's display channel), or its plain text outside one. */
import { currentDisplayWriter } from "../notebook/verdict";

export function display(bundle: Record<string, unknown>): void {
  const write = currentDisplayWriter();
  if (write) write({ data: bundle, metadata: {}, transient: {} }, false);
  else process.stdout.write(`${String(bundle["text/plain"])}\n`);
}
