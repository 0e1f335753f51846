/**
 * The slot through which chat messages become token ids inside kit/model: kit/model imports nothing above it, so the
 * chat template module (kit/chat/template.ts, which renders the model's Jinja template) installs its encoder here
 * when it is loaded (`import "persona-kit"` loads it). `run`, `runWithHooks`, `runWithCache` and `generate` accept
 * chat messages through it.
 */
import type { HookedTransformer } from "./transformer";

/** One chat turn, as `ChatMessage` (kit/api/types.ts) has it. */
export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Token ids of a conversation, with the generation prompt when the last turn is not the assistant's. */
export type ChatEncoder = (model: HookedTransformer, messages: readonly ChatTurn[], where: string) => number[];

let installed: ChatEncoder | null = null;

export function installChatEncoder(encoder: ChatEncoder | null): void {
  installed = encoder;
}

/** Whether `x` is one conversation: a non-empty array of `{ role, content }`. */
export function isChatTurns(x: unknown): x is readonly ChatTurn[] {
  return Array.isArray(x) && x.length > 0 && x.every((m) => m !== null && typeof m === "object" && !Array.isArray(m) && typeof m.role === "string" && typeof m.content === "string");
}

/** Whether `x` is a batch of conversations. */
export function isChatBatch(x: unknown): x is readonly (readonly ChatTurn[])[] {
  return Array.isArray(x) && x.length > 0 && x.every(isChatTurns);
}

/** Token ids of one conversation through the installed encoder. */
export function encodeChat(model: HookedTransformer, messages: readonly ChatTurn[], where: string): number[] {
  if (!installed) throw new Error(`${where}: chat messages need the chat template module; import "persona-kit" (or kit/chat/template) first`);
  return installed(model, messages, where);
}
