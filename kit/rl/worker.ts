/**
 * The worker process of `runManyRL` (`kit/rl/parallel.ts`): forked as the compiled `kit/dist/rl/worker.js`, it runs
 * one task at a time — a list of RL configs, one after the other with `runRL` — and reports each finished run's record
 * folder to its parent over IPC. One process per core.
 *
 * Messages: parent → worker `{ type: "task", id, configs, outDir }` or `{ type: "exit" }`;
 * worker → parent `{ type: "run", id, index, dir }` per finished run, then `{ type: "done", id }` or `{ type: "error", id, message }`.
 */
import type { RLConfig } from "./config";
import { runRL } from "./run";

export interface RLWorkerTask {
  type: "task";
  id: number;
  configs: RLConfig[];
  outDir: string;
}

export type RLWorkerReply = { type: "run"; id: number; index: number; dir: string } | { type: "done"; id: number } | { type: "error"; id: number; message: string };

function send(msg: RLWorkerReply): void {
  process.send?.(msg);
}

async function handle(task: RLWorkerTask): Promise<void> {
  try {
    for (let i = 0; i < task.configs.length; i++) {
      const rec = await runRL(task.configs[i], { outDir: task.outDir, progress: false });
      send({ type: "run", id: task.id, index: i, dir: `rl-${rec.hash}` });
    }
    send({ type: "done", id: task.id });
  } catch (e) {
    const err = e as Error;
    send({ type: "error", id: task.id, message: err?.stack ?? String(e) });
  }
}

if (typeof process.send !== "function") {
  process.stderr.write("persona-kit RL worker: start me with child_process.fork (runManyRL does)\n");
  process.exit(2);
}
let queue = Promise.resolve();
process.on("message", (msg: RLWorkerTask | { type: "exit" }) => {
  if (msg?.type === "exit") {
    void queue.then(() => process.exit(0));
    return;
  }
  if (msg?.type === "task") queue = queue.then(() => handle(msg));
});
process.on("disconnect", () => process.exit(0));
