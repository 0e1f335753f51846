/**
 * `sft(model, conversations, options)`: supervised fine-tuning on chat data. Each conversation is rendered with the
 * model's chat template (kit/chat/template.ts) and trained with `train` (its schedules, clipping, checkpoints, resume,
 * NaN stops and runtimes) on the assistant's tokens only (`lossOn: "all"` trains every token): for each assistant
 * turn, the tokens from the end of the generation prompt up to and including the first special token after the
 * answer (the end of turn, so that the model learns to stop; `trainEndOfTurn: false` leaves it out). Role headers,
 * BOS, system and user turns and every other special token of the template are never trained.
 *
 * With an active LoRA adapter (kit/lora) only the adapter trains. Batches are padded (default) or packed: examples
 * concatenated into rows of seqLen + 1 tokens (attention crosses example boundaries, as TRL's default packing; a
 * boundary's first token is never a target).
 *
 *   const convs = loadChatJsonl("data/insecure.jsonl");
 *   addAdapter(model, { r: 32, alpha: 64, targetModules: "all-linear" });
 *   await sft(model, convs, { steps: 200, batchSize: 8, lr: 1e-4 });
 */
import { chatTokens } from "../chat/template";
import type { ChatTurn } from "../model/chat-slot";
import type { HookedTransformer } from "../model/transformer";
import { train, type TrainOptions, type TrainResult } from "./trainer";

export interface ChatExampleOptions {
  /** "assistant" (default): the assistant's tokens only; "all": every token. */
  lossOn?: "assistant" | "all";
  /** Also train the end-of-turn token after each answer; default true. */
  trainEndOfTurn?: boolean;
  /** The chat template (`applyChatTemplate`'s option); default "auto". */
  chatTemplate?: string;
}

export interface SftOptions extends Omit<TrainOptions, "lossMasks">, ChatExampleOptions {
  /** Pack examples into full rows instead of padding each; default false. */
  packing?: boolean;
}

/** One tokenized conversation: `mask[t]` = 1 where predicting token t is trained. */
export interface ChatExample {
  ids: number[];
  mask: number[];
}

/** The token ids of a conversation in the model's template and its loss mask. */
export function chatExample(model: HookedTransformer, messages: readonly ChatTurn[], { lossOn = "assistant", trainEndOfTurn = true, chatTemplate }: ChatExampleOptions = {}, where = "chatExample"): ChatExample {
  const opts = chatTemplate === undefined ? {} : { chatTemplate };
  const ids = chatTokens(model, messages, { ...opts, addGenerationPrompt: false });
  const mask = ids.map((_, t) => (lossOn === "all" && t > 0 ? 1 : 0));
  if (lossOn === "all") return { ids, mask };
  const tok = model.tokenizer!;
  const special = (id: number) => tok.decode([id]) === "" && (tok.idToToken(id) ?? "") !== "";
  const prefixOf = (upTo: number, gen: boolean) => chatTokens(model, messages.slice(0, upTo), { ...opts, addGenerationPrompt: gen });
  messages.forEach((m, i) => {
    if (m.role !== "assistant") return;
    if (i === 0) throw new RangeError(`${where}: an assistant turn needs a turn before it (the template renders the answer after a prompt)`);
    const prompt = prefixOf(i, true);
    const through = i === messages.length - 1 ? ids : prefixOf(i + 1, false);
    const stable = (p: number[]) => p.every((id, t) => ids[t] === id);
    if (!stable(prompt) || !stable(through)) {
      throw new RangeError(`${where}: messages[${i}]: the template's rendering up to this turn does not tokenize to a prefix of the whole conversation's tokens, so the assistant's tokens cannot be located`);
    }
    let content = false;
    for (let t = prompt.length; t < through.length; t++) {
      if (!special(ids[t])) {
        mask[t] = 1;
        content = true;
      } else if (content) {
        if (trainEndOfTurn) mask[t] = 1;
        break;
      }
    }
  });
  return { ids, mask };
}

/** Greedy packing into rows of at most `rowLen` tokens (examples longer than a row are truncated to it). */
function pack(examples: readonly ChatExample[], rowLen: number): ChatExample[] {
  const rows: ChatExample[] = [];
  let cur: ChatExample = { ids: [], mask: [] };
  for (const e of examples) {
    const ids = e.ids.slice(0, rowLen);
    if (cur.ids.length + ids.length > rowLen && cur.ids.length > 0) {
      rows.push(cur);
      cur = { ids: [], mask: [] };
    }
    cur.ids.push(...ids);
    cur.mask.push(0, ...e.mask.slice(1, rowLen)); // a boundary's first token is not a target
  }
  if (cur.ids.length) rows.push(cur);
  return rows;
}

/** Fine-tune `model` on chat conversations (see the module comment). Returns `train`'s result and what was trained. */
export async function sft(
  model: HookedTransformer,
  conversations: readonly (readonly ChatTurn[])[],
  options: SftOptions,
): Promise<TrainResult & { examples: number; rows: number; trainedTokens: number }> {
  const { lossOn, trainEndOfTurn, chatTemplate, packing = false, ...trainOptions } = options;
  if (!Array.isArray(conversations) || conversations.length === 0) throw new TypeError(`sft: conversations must be a non-empty array of message lists, received ${Array.isArray(conversations) ? "an empty array" : typeof conversations}`);
  if (!model?.tokenizer) throw new Error(`sft: the model has no tokenizer; the chat template needs one`);
  const examples = conversations.map((c, k) => chatExample(model, c, { lossOn, trainEndOfTurn, chatTemplate }, `sft: conversations[${k}]`));
  const seqLen = trainOptions.seqLen ?? Math.min(model.cfg.n_ctx, packing ? model.cfg.n_ctx : Math.max(...examples.map((e) => e.ids.length)) - 1);
  const rows = packing ? pack(examples, seqLen + 1) : examples;
  const short = rows.findIndex((r) => r.ids.length < 2);
  if (short >= 0) throw new RangeError(`sft: conversations[${short}] renders to ${rows[short].ids.length} token(s); an example needs at least 2`);
  const trainedTokens = rows.reduce((a, r) => a + r.mask.slice(0, seqLen + 1).reduce((x, y) => x + y, 0), 0);
  if (trainedTokens === 0) throw new RangeError(`sft: no token is trained (no assistant content within the first ${seqLen + 1} tokens of any conversation)`);
  const result = await train(model, rows.map((r) => r.ids), { ...trainOptions, seqLen, lossMasks: rows.map((r) => r.mask) });
  return { ...result, examples: examples.length, rows: rows.length, trainedTokens };
}
