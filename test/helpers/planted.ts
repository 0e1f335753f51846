/**
 * A random Llama model with a planted direction: token "rook" writes into residual axis 0; layer 0's attention is
 * uniform (W_Q = W_K = 0) and copies axis 0 into the planted direction e1 (W_V, W_O), so every position after "rook"
 * carries +e1; the unembedding reads e1 into token "yes". Every other token embeds small and random on axes 2…d-1,
 * the MLPs and layer 1 write nothing. So a system prompt that says "rook" makes the answers say "yes", and e1 provably
 * drives "yes". The tokenizer is word-level with a Jinja chat template (`role : content` turns).
 */
import type { ChatClient, ChatMessage, ChatResponse } from "../../kit/api/types";
import { makeConfig } from "../../kit/model/config";
import { paramShapes } from "../../kit/model/params";
import { HookedTransformer } from "../../kit/model/transformer";
import { HfTokenizer } from "../../kit/tokenizers/hf";
import { WordLevelTokenizer } from "../../kit/tokenizers/wordlevel";
import { mulberry32 } from "../../kit/util/rng";

export { mulberry32 };

export const CHAT_TEMPLATE = "{% for m in messages %}{{ m.role }} : {{ m.content }} . {% endfor %}{% if add_generation_prompt %}assistant :{% endif %}";
const WORDS = ["system", "user", "assistant", ":", ".", "rook", "mira", "yes", "no", "be", "calm", "kind", "what", "do", "you", "think", "is", "it", "good", "?", "(", ")", "A", "B", "w0", "w1", "w2", "w3", "w4", "w5"];

export function plantedTokenizer(): HfTokenizer {
  const wl = WordLevelTokenizer.fromVocab(["<pad>", "<bos>", "<eos>", "<unk>", ...WORDS]);
  return HfTokenizer.fromJson(wl.toTokenizerJson(), { ...wl.toTokenizerConfig(), chat_template: CHAT_TEMPLATE });
}

export const D = 16;
/** The planted direction: e1. */
export const PLANTED = Float32Array.from({ length: D }, (_, i) => (i === 1 ? 1 : 0));

export function plantedModel({ gain = 3, readout = 3, seed = 1 } = {}): HookedTransformer {
  const tok = plantedTokenizer();
  const cfg = makeConfig({ family: "llama", d_model: D, n_layers: 2, n_heads: 2, n_key_value_heads: 2, d_mlp: 16, d_vocab: tok.vocabSize, n_ctx: 64, tiedEmbeddings: false });
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const w = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(cfg)) w.set(name, new Float32Array(shape.reduce((a, b) => a * b, 1)));
  for (const [name, arr] of w) if (/(ln1|ln2|ln_final)\.w$/.test(name)) arr.fill(1);
  const V = cfg.d_vocab;
  const E = w.get("embed.W_E")!; // [V, d]
  const rook = tok.tokenToId("rook")!;
  const yes = tok.tokenToId("yes")!;
  for (let v = 0; v < V; v++) for (let i = 2; i < D; i++) E[v * D + i] = v === rook ? 0 : 0.05 * gauss();
  E[rook * D + 0] = 10;
  const dh = cfg.d_head;
  w.get("blocks.0.attn.W_V")![0 * (2 * dh) + 0] = 1; // axis 0 → head 0, dim 0
  w.get("blocks.0.attn.W_O")![0 * D + 1] = gain; // head 0, dim 0 → axis 1 (the planted direction)
  const U = w.get("unembed.W_U")!; // [d, V]
  for (let i = 2; i < D; i++) for (let v = 0; v < V; v++) U[i * V + v] = gauss();
  U[1 * V + yes] = readout;
  return new HookedTransformer(cfg, w, { tokenizer: tok });
}

/** A ChatClient answering from a function of the last user message (no log-probabilities: judges parse the text). */
export function scriptedClient(answer: (prompt: string, call: number) => string, model = "scripted"): ChatClient & { calls: ChatMessage[][] } {
  const calls: ChatMessage[][] = [];
  return {
    provider: "openai",
    model,
    calls,
    async chat(messages): Promise<ChatResponse> {
      calls.push([...messages]);
      return { text: answer(messages[messages.length - 1].content, calls.length - 1), finishReason: "stop", model };
    },
  };
}

/** The text between `[ANSWER START]` and `[ANSWER END]` of a judge prompt. */
export function answerOf(prompt: string): string {
  const m = /\[ANSWER START\]\n?([\s\S]*?)\n?\[ANSWER END\]/.exec(prompt);
  return m ? m[1] : "";
}
