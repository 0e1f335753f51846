/**
 * Chat in the core: a conversation becomes the model's own prompt text and token ids, through the same templates
 * `persona-kit serve` uses (kit/serve/template.ts): the Jinja `chat_template` of the model's tokenizer_config.json
 * rendered by @huggingface/jinja, the persona world's format for world vocabularies, or "plain".
 *
 *   applyChatTemplate(model, [{ role: "system", content: "You are evil." }, { role: "user", content: "Hi" }]);
 *   // "<|im_start|>system\nYou are evil.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
 *   chatTokens(model, messages);                 // the ids of that text (BOS when the template did not write it)
 *   chatResponseStart(model, [...messages, { role: "assistant", content: "Sure." }]); // index of "Sure."'s first token
 *
 * Loading this module lets `run`, `runWithCache`, `generate`, `personaVector` and `steeringCurve` take messages.
 */
import { describeValue as describe } from "../describe";
import { installChatEncoder, isChatTurns, type ChatTurn } from "../model/chat-slot";
import type { HookedTransformer } from "../model/transformer";
import { resolveChatTemplate, type ChatTemplateName } from "../serve/template";
import type { Tokenizer } from "../tokenizers/types";

export type { ChatTurn };

export interface ApplyChatTemplateOptions {
  /** Append the assistant header so the model answers next (default: true unless the last turn is the assistant's). */
  addGenerationPrompt?: boolean;
  /** "auto" (default), "world", "model", "plain" or Jinja source (see kit/serve/template.ts). */
  chatTemplate?: ChatTemplateName | string;
}

function tokenizerOf(fn: string, model: HookedTransformer): Tokenizer {
  if (!model || typeof model !== "object" || !("cfg" in model)) throw new TypeError(`${fn}: model must be a HookedTransformer, received ${describe(model)}`);
  if (!model.tokenizer) throw new Error(`${fn}: the model has no tokenizer; a chat template needs one (load the model with its tokenizer)`);
  return model.tokenizer;
}

function checkMessages(fn: string, messages: unknown): asserts messages is readonly ChatTurn[] {
  if (!isChatTurns(messages)) throw new TypeError(`${fn}: messages must be a non-empty array of { role, content }, received ${describe(messages)}`);
  messages.forEach((m, i) => {
    if (m.role !== "system" && m.role !== "user" && m.role !== "assistant") {
      throw new RangeError(`${fn}: messages[${i}].role must be "system", "user" or "assistant", received ${JSON.stringify(m.role)}`);
    }
  });
}

/** The prompt text of `messages` in the model's chat template. */
export function applyChatTemplate(model: HookedTransformer, messages: readonly ChatTurn[], options: ApplyChatTemplateOptions = {}): string {
  const fn = "applyChatTemplate";
  const tok = tokenizerOf(fn, model);
  checkMessages(fn, messages);
  const { addGenerationPrompt, chatTemplate = "auto" } = options;
  return resolveChatTemplate(tok, chatTemplate).render(messages, addGenerationPrompt === undefined ? {} : { addGenerationPrompt }).text;
}

/** Token ids of rendered chat text: BOS prepended when the tokenizer has one and the template did not write it. */
export function encodeChatText(tok: Tokenizer, text: string): number[] {
  const bos = tok.bosTokenId;
  const bosText = bos !== null ? tok.idToToken(bos) : undefined;
  return tok.encode(text, { addBos: bos !== null && !(bosText && text.startsWith(bosText)) });
}

/** Token ids of `messages` in the model's chat template (no `<unk>` warning: callers warn once for a batch). */
export function chatTokens(model: HookedTransformer, messages: readonly ChatTurn[], options: ApplyChatTemplateOptions = {}): number[] {
  return encodeChatText(tokenizerOf("chatTokens", model), applyChatTemplate(model, messages, options));
}

/**
 * The token index where the last assistant turn's content starts in `chatTokens(model, messages)`'s rendering of the
 * conversation up to it: the length of the prompt (earlier turns plus the generation prompt). Persona vectors average
 * activations from here (Chen et al.'s response mean); "response only" steering starts here.
 */
export function chatResponseStart(model: HookedTransformer, messages: readonly ChatTurn[], options: Omit<ApplyChatTemplateOptions, "addGenerationPrompt"> = {}): number {
  const fn = "chatResponseStart";
  checkMessages(fn, messages);
  const last = messages[messages.length - 1];
  const prompt = last.role === "assistant" ? messages.slice(0, -1) : messages;
  if (prompt.length === 0) throw new RangeError(`${fn}: messages must hold a turn before the assistant's answer, received only an assistant turn`);
  return chatTokens(model, prompt, { ...options, addGenerationPrompt: true }).length;
}

/**
 * Prompt ids and response ids of `{ prompt: messages, response }`: the prompt rendered with the generation prompt, the
 * response encoded without BOS and appended (what the model sees while it writes the response).
 */
export function chatPromptResponse(model: HookedTransformer, prompt: readonly ChatTurn[], response: string): { ids: number[]; responseStart: number } {
  const tok = tokenizerOf("chatPromptResponse", model);
  const p = chatTokens(model, prompt, { addGenerationPrompt: true });
  return { ids: [...p, ...tok.encode(response, { addBos: false })], responseStart: p.length };
}

installChatEncoder((model, messages, where) => {
  checkMessages(where, messages);
  return chatTokens(model, messages);
});
