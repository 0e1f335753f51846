/** Shared pieces of the kit's worker-process pools (`runMany`, `runManyRL`). */
import type { ChildProcess } from "node:child_process";

/** Ask each worker to exit, disconnect it, and kill any still running 5 s later (without keeping Node alive). */
export function stopWorkers(children: Iterable<ChildProcess>): void {
  for (const c of children) {
    if (c.connected) {
      try {
        c.send({ type: "exit" });
        c.disconnect();
      } catch {
        // already gone
      }
    }
    if (c.exitCode === null && c.signalCode === null) setTimeout(() => c.kill(), 5000).unref();
  }
}
