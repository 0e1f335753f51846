/**
 * `chatClient(config)`: the ChatClient a config and the environment ask for.
 *
 *   chatClient({ model: loadedModel })                                  // kit model in process
 *   chatClient({ provider: "openai", model: "gpt-4o-mini" })           // OPENAI_API_KEY, OPENAI_BASE_URL
 *   chatClient({ model: "persona-kit", baseURL: "http://127.0.0.1:8080/v1" })
 *   chatClient({ provider: "anthropic", model: "claude-sonnet-4-5" })  // ANTHROPIC_API_KEY
 *   chatClient({ model: "claude-haiku-4-5" })                          // a claude-* name with ANTHROPIC_API_KEY set
 *
 * Without `provider`: a HookedTransformer → "kit"; a `baseURL` → "openai"; a `claude…` model name with
 * `ANTHROPIC_API_KEY` set → "anthropic"; else `OPENAI_BASE_URL` or `OPENAI_API_KEY` set → "openai"; else
 * `ANTHROPIC_API_KEY` set → "anthropic"; else an error that says which variables to set.
 */
import type { HookedTransformer } from "../model/transformer";
import type { Tokenizer } from "../tokenizers/types";
import { anthropicClient } from "./anthropic";
import { kitClient } from "./kit-client";
import { openaiClient } from "./openai";
import type { ChatClient, RemoteClientOptions } from "./types";

export interface ChatClientConfig extends RemoteClientOptions {
  /** "kit" | "openai" | "anthropic"; default: chosen as the file comment says. */
  provider?: ChatClient["provider"];
  /** A model name for an API, or a loaded kit model. */
  model: string | HookedTransformer;
  /** Kit models: the tokenizer (default the model's) and chat template ("auto", "world", "model", "plain", Jinja). */
  tokenizer?: Tokenizer;
  chatTemplate?: string;
  /** Kit models: the name reported in responses and cache keys. */
  name?: string;
}

function isModel(m: unknown): m is HookedTransformer {
  return !!m && typeof m === "object" && typeof (m as HookedTransformer).forward === "function";
}

/** Which provider `config` and the environment choose (see the file comment); throws when none can be chosen. */
export function chooseProvider(config: ChatClientConfig, env: NodeJS.ProcessEnv = process.env): ChatClient["provider"] {
  if (config.provider !== undefined) {
    if (config.provider !== "kit" && config.provider !== "openai" && config.provider !== "anthropic") {
      throw new RangeError(`chatClient: config.provider must be "kit", "openai" or "anthropic", received ${JSON.stringify(config.provider)}`);
    }
    return config.provider;
  }
  if (isModel(config.model)) return "kit";
  if (config.baseURL) return "openai";
  const has = (k: string) => typeof env[k] === "string" && env[k]!.length > 0;
  if (typeof config.model === "string" && /^claude/i.test(config.model) && has("ANTHROPIC_API_KEY")) return "anthropic";
  if (has("OPENAI_BASE_URL") || has("OPENAI_API_KEY")) return "openai";
  if (has("ANTHROPIC_API_KEY")) return "anthropic";
  throw new RangeError(
    `chatClient: no provider for model ${JSON.stringify(typeof config.model === "string" ? config.model : "?")}: pass config.provider or config.baseURL, ` +
      "or set OPENAI_BASE_URL (any OpenAI-compatible server, e.g. persona-kit serve), OPENAI_API_KEY or ANTHROPIC_API_KEY",
  );
}

/** The ChatClient for `config` (see the file comment). */
export function chatClient(config: ChatClientConfig): ChatClient {
  if (!config || typeof config !== "object") throw new TypeError(`chatClient: config must be { model, provider?, baseURL?, … }, received ${String(config)}`);
  const provider = chooseProvider(config);
  const { model, baseURL, apiKey, timeoutMs, maxRetries, defaultMaxTokens, endpointId } = config;
  if (provider === "kit") {
    if (!isModel(model)) throw new TypeError(`chatClient: provider "kit" needs config.model to be a loaded model (loadModel), received ${JSON.stringify(model)}`);
    return kitClient(model, config.tokenizer, { chatTemplate: config.chatTemplate, name: config.name, defaultMaxTokens });
  }
  if (typeof model !== "string") throw new TypeError(`chatClient: provider "${provider}" needs config.model to be a model name (string), received a ${isModel(model) ? "HookedTransformer" : typeof model}`);
  if (provider === "openai") return openaiClient({ model, baseURL, apiKey, timeoutMs, maxRetries, defaultMaxTokens, endpointId });
  return anthropicClient({ model, baseURL, apiKey, timeoutMs, maxRetries, defaultMaxTokens, endpointId });
}
