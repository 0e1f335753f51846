/** Shared pieces of the kit's worker-process pools (`runMany`, `runManyRL`). */

/** What `stopWorkers` needs of a child process (Node's `ChildProcess` has it). */
export interface WorkerProcess {
  readonly connected: boolean;
  readonly exitCode: number | null;
  readonly signalCode: string | null;
  send(message: unknown): boolean;
  disconnect(): void;
  kill(): boolean;
}

/** Ask each worker to exit, disconnect it, and kill any still running 5 s later (without keeping Node alive). */
export function stopWorkers(children: Iterable<WorkerProcess>): void {
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
