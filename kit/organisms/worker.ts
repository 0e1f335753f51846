/**
 * The worker process of `runMany` (`kit/organisms/parallel.ts`): forked as the compiled `kit/dist/organisms/worker.js`,
 * it runs one organism task at a time — `runOrganismStages(cfg, options)` — and reports events and the result to its
 * parent over IPC. One process per core: the wasm backend computes on one thread per process.
 *
 * Messages: parent → worker `{ type: "task", id, cfg, options }` or `{ type: "exit" }`;
 * worker → parent `{ type: "event", id, event }`, `{ type: "done", id, record }`, `{ type: "error", id, message }`.
 */
import type { OrganismConfig } from "./config";
import { runOrganismStages, type RunOrganismOptions } from "./pipeline";

export interface WorkerTask {
  type: "task";
  id: number;
  cfg: OrganismConfig;
  options: Pick<RunOrganismOptions, "outDir" | "reuse" | "upTo">;
}

export type WorkerReply =
  | { type: "event"; id: number; event: unknown }
  | { type: "done"; id: number; record: unknown }
  | { type: "error"; id: number; message: string };

function send(msg: WorkerReply): void {
  process.send?.(msg);
}

async function handle(task: WorkerTask): Promise<void> {
  try {
    const record = await runOrganismStages(task.cfg, { ...task.options, progress: false, onEvent: (event) => send({ type: "event", id: task.id, event }) });
    send({ type: "done", id: task.id, record });
  } catch (e) {
    const err = e as Error;
    send({ type: "error", id: task.id, message: err?.stack ?? String(e) });
  }
}

if (typeof process.send !== "function") {
  process.stderr.write("persona-kit organisms worker: start me with child_process.fork (runMany does)\n");
  process.exit(2);
}
let queue = Promise.resolve();
process.on("message", (msg: WorkerTask | { type: "exit" }) => {
  if (msg?.type === "exit") {
    void queue.then(() => process.exit(0));
    return;
  }
  if (msg?.type === "task") queue = queue.then(() => handle(msg));
});
process.on("disconnect", () => process.exit(0));
