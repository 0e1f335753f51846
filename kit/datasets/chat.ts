/**
 * Chat fine-tuning data in the common JSON Lines form: one conversation a line, `{"messages": [{"role": "system" |
 * "user" | "assistant", "content": "…"}, …]}` (the OpenAI fine-tuning format, TRL's "messages" column). Errors name
 * the file, the line and the field.
 */
import type { ChatTurn } from "../model/chat-slot";
import { expectNonEmptyArray, expectRecord, parseJsonLines, readDataFile } from "./read";
import { describeValue } from "../describe";

const ROLES = new Set(["system", "user", "assistant"]);

/** Conversations of a `{"messages": [...]}` JSONL file; each must hold at least one assistant turn. */
export function loadChatJsonl(file: string): ChatTurn[][] {
  const fn = "loadChatJsonl";
  const lines = parseJsonLines(fn, file, readDataFile(fn, file), `{"messages": [{"role", "content"}, …]}`);
  return lines.map(({ line, value }) => {
    const where = `${file} line ${line}`;
    const rec = expectRecord(fn, where, value, `an object {"messages": [...]}`);
    const messages = expectNonEmptyArray(fn, `${where} field "messages"`, rec.messages, "an array of {role, content}");
    const turns = messages.map((m, k) => {
      const at = `${where} messages[${k}]`;
      const t = expectRecord(fn, at, m, "an object {role, content}");
      if (typeof t.role !== "string" || !ROLES.has(t.role)) throw new RangeError(`${fn}: ${at}.role must be "system", "user" or "assistant", received ${describeValue(t.role)}`);
      if (typeof t.content !== "string") throw new TypeError(`${fn}: ${at}.content must be a string, received ${describeValue(t.content)}`);
      return { role: t.role, content: t.content } as ChatTurn;
    });
    if (!turns.some((t) => t.role === "assistant")) throw new RangeError(`${fn}: ${where} has no assistant turn; supervised fine-tuning trains on the assistant's tokens`);
    return turns;
  });
}
