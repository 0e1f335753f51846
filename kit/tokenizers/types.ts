/** The interface every kit tokenizer implements (llama2.c `.bin`, Hugging Face `tokenizer.json`, word-level). */
export interface EncodeOptions {
  /** Prepend the BOS token (default: true when the tokenizer has one). */
  addBos?: boolean;
  /** Append the EOS token (default: false). */
  addEos?: boolean;
}

export interface DecodeOptions {
  /** Leave out BOS/EOS/PAD and other special tokens (default: true). */
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** "llama2c" | "hf" | "wordlevel" */
  readonly kind: string;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** The model's chat template (Jinja, from tokenizer_config.json), when it has one. */
  readonly chatTemplate?: string;
  encode(text: string, options?: EncodeOptions): number[];
  /**
   * Text of a token sequence as the tokenizer's own implementation renders it. When the sequence starts with BOS,
   * the leading space of the first piece after it is dropped, as sentencepiece does.
   */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The vocabulary entry of one id (raw piece, e.g. "▁Once" or " Once"). */
  idToToken(id: number): string | undefined;
  /** A Hugging Face `tokenizer.json` object equivalent to this tokenizer (for saving an HF folder). */
  toTokenizerJson(): Record<string, unknown>;
  /** Extra `tokenizer_config.json` fields to save beside it (bos/eos tokens, chat template…). */
  toTokenizerConfig(): Record<string, unknown>;
}
