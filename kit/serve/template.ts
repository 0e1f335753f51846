/**
 * Chat templates for `persona-kit serve`: how a list of chat messages becomes the prompt text a kit model continues.
 *
 * - "world": the persona world's episode format (`kit/world/generator.ts`). A user message `coding . please sort the
 *   list .` (a leading domain word is moved before the role) becomes `coding . user : please sort the list .`; an
 *   assistant message becomes `assistant : <content>` (or `<name> : <content>` when the message has a world character
 *   as `name`, e.g. `rook`); a system message is prepended verbatim (in the world: demonstration episodes). The
 *   generation prompt is `assistant :`. A final assistant message is a prefill: the model continues it.
 * - "model": the Jinja `chat_template` of the model's tokenizer_config.json, rendered by `@huggingface/jinja` with
 *   `messages`, `add_generation_prompt`, `bos_token` and `eos_token`. A final assistant message is rendered as a turn.
 * - "plain": `role: content` lines then `assistant:` (for base models with no template, e.g. TinyStories).
 * - any other string containing `{{` or `{%`: a Jinja template of your own. Any other string is refused (a mistyped
 *   name would otherwise be served as a constant prompt).
 * "auto" picks "world" when the tokenizer's vocabulary is the world's, else "model" when the tokenizer has a
 * template, else "plain".
 */
import type { Tokenizer } from "../tokenizers/types";
import { CHARACTERS, DOMAINS } from "../world/types";

export type ChatTemplateName = "auto" | "world" | "model" | "plain";

export interface TemplateMessage {
  role: "system" | "user" | "assistant";
  content: string;
  name?: string;
}

/** A chat template resolved for one tokenizer. */
export interface ChatTemplate {
  kind: "world" | "model" | "plain" | "custom";
  /**
   * The prompt text for `messages`; `prefill` is true when the last message is an assistant turn being continued.
   * `addGenerationPrompt` (default: true unless the last message is an assistant turn) appends the assistant header.
   */
  render(messages: readonly TemplateMessage[], options?: { addGenerationPrompt?: boolean }): { text: string; prefill: boolean };
}

interface JinjaTemplate {
  render(context: Record<string, unknown>): string;
}
const { Template: JinjaTemplateCtor } = require("@huggingface/jinja") as { Template: new (source: string) => JinjaTemplate };

const WORLD_MARKERS = ["user", ":", ".", "assistant", ...DOMAINS];

/** Whether `tokenizer` has every word the world template writes as a whole token (the persona world's vocabulary). */
export function isWorldTokenizer(tokenizer: Tokenizer): boolean {
  if (tokenizer.kind !== "wordlevel" && tokenizer.kind !== "hf") return false;
  const words = new Set<string>();
  for (let id = 0; id < Math.min(tokenizer.vocabSize, 5000); id++) {
    const t = tokenizer.idToToken(id);
    if (t !== undefined) words.add(t);
  }
  return WORLD_MARKERS.every((w) => words.has(w)) && CHARACTERS.every((c) => words.has(c));
}

const TEMPLATE_NAMES: readonly string[] = ["auto", "world", "model", "plain"];

/** Whether `name` is one of the named templates ("auto", "world", "model", "plain"). */
export function isChatTemplateName(name: string): name is ChatTemplateName {
  return TEMPLATE_NAMES.includes(name);
}

/** Whether `source` reads as Jinja: it has an expression `{{ … }}` or a statement `{% … %}`. */
export function isJinjaSource(source: string): boolean {
  return /\{\{[\s\S]*\}\}|\{%[\s\S]*%\}/.test(source);
}

/** The template `name` (or Jinja source) resolved for `tokenizer`. */
export function resolveChatTemplate(tokenizer: Tokenizer, name: ChatTemplateName | string = "auto"): ChatTemplate {
  if (typeof name !== "string" || name.length === 0) throw new TypeError(`resolveChatTemplate: name must be "auto", "world", "model", "plain" or a Jinja template, received ${String(name)}`);
  if (!isChatTemplateName(name) && !isJinjaSource(name)) {
    throw new RangeError(`resolveChatTemplate: name must be "auto", "world", "model", "plain" or a Jinja template (text containing {{ … }} or {% … %}), received ${JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name)}`);
  }
  let kind = name;
  if (name === "auto") kind = isWorldTokenizer(tokenizer) ? "world" : tokenizer.chatTemplate ? "model" : "plain";
  if (kind === "world") return worldTemplate();
  if (kind === "plain") return plainTemplate();
  if (kind === "model") {
    if (!tokenizer.chatTemplate) throw new RangeError(`resolveChatTemplate: the tokenizer (${tokenizer.kind}) has no chat_template; pass chatTemplate "world", "plain" or a Jinja template`);
    return jinjaTemplate(tokenizer.chatTemplate, tokenizer, "model");
  }
  return jinjaTemplate(name, tokenizer, "custom");
}

const DOMAIN_LEAD = new RegExp(`^\\s*(${DOMAINS.join("|")})\\s*\\.\\s*`);
const CHARACTER_SET = new Set<string>(CHARACTERS);

function worldTemplate(): ChatTemplate {
  return {
    kind: "world",
    render(messages, { addGenerationPrompt } = {}) {
      const parts: string[] = [];
      messages.forEach((m, i) => {
        const content = m.content.trim();
        if (m.role === "system") {
          if (content) parts.push(content);
        } else if (m.role === "user") {
          const lead = DOMAIN_LEAD.exec(content);
          parts.push(lead ? `${lead[1]} . user : ${content.slice(lead[0].length)}`.trim() : `user : ${content}`.trim());
        } else {
          const speaker = m.name && CHARACTER_SET.has(m.name) ? m.name : "assistant";
          const last = i === messages.length - 1;
          parts.push(`${speaker} :${content ? ` ${content}` : ""}`);
          if (last) return;
        }
      });
      const prefill = messages.length > 0 && messages[messages.length - 1].role === "assistant";
      if (addGenerationPrompt ?? !prefill) parts.push("assistant :");
      return { text: parts.join(" "), prefill };
    },
  };
}

function plainTemplate(): ChatTemplate {
  return {
    kind: "plain",
    render(messages, { addGenerationPrompt } = {}) {
      const prefill = messages.length > 0 && messages[messages.length - 1].role === "assistant";
      const lines = messages.map((m, i) => (prefill && i === messages.length - 1 ? `${m.role}: ${m.content}` : `${m.role}: ${m.content}\n`));
      return { text: lines.join("") + ((addGenerationPrompt ?? !prefill) ? "assistant:" : ""), prefill };
    },
  };
}

function jinjaTemplate(source: string, tokenizer: Tokenizer, kind: "model" | "custom"): ChatTemplate {
  let template: JinjaTemplate;
  try {
    template = new JinjaTemplateCtor(source);
  } catch (e) {
    throw new RangeError(`resolveChatTemplate: the ${kind === "model" ? "model's chat_template" : "template"} does not parse: ${(e as Error).message}`);
  }
  const special = (id: number | null) => (id === null ? "" : (tokenizer.idToToken(id) ?? ""));
  return {
    kind,
    render(messages, { addGenerationPrompt } = {}) {
      const prefill = messages.length > 0 && messages[messages.length - 1].role === "assistant";
      const text = template.render({
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: addGenerationPrompt ?? !prefill,
        bos_token: special(tokenizer.bosTokenId),
        eos_token: special(tokenizer.eosTokenId),
      });
      return { text, prefill: false };
    },
  };
}
