/**
 * What both samplers (tfjs with a KV cache, onnxruntime with a KV cache) take and return.
 * The tfjs sampler is the correctness oracle for the ORT one in tests.
 */
export interface SamplingOptions {
  /** 0 means greedy (argmax); otherwise logits are divided by it. */
  readonly temperature: number;
  /** Keep only the k most likely tokens; 0 disables. */
  readonly topK: number;
  /** Keep the smallest set whose probability reaches p; 1 disables. */
  readonly topP: number;
  readonly maxNewTokens: number;
  /** Stop a sequence when it emits this token (not included in `text`); null: never. */
  readonly eosTokenId: number | null;
  /** Further tokens that end a sequence as EOS does (the tokenizer's stopTokenIds: end-of-turn, the configs' eos lists). */
  readonly stopTokenIds?: readonly number[];
  /** Stop a sequence when its decoded completion contains one of these (text cut before it). */
  readonly stopStrings: readonly string[];
  /** Same seed, same prompts, same options → same completions. */
  readonly seed: number;
}

export const DEFAULT_SAMPLING: SamplingOptions = {
  temperature: 1,
  topK: 0,
  topP: 1,
  maxNewTokens: 32,
  eosTokenId: null,
  stopStrings: [],
  seed: 0,
};

export interface Completion {
  /** Index of the prompt in the batch this completion continues. */
  readonly promptIndex: number;
  /** Generated token ids (EOS included when it was emitted; nothing after a stop). */
  readonly tokens: readonly number[];
  /** Decoded completion text, cut before a stop string. */
  readonly text: string;
  /** log p(token) under the model itself (softmax of raw logits: temperature 1, no top-k/top-p), per token. */
  readonly logprobs: readonly number[];
  readonly finishReason: 'eos' | 'stop' | 'length';
}

/**
 * How many prompt tokens fit in a context of `nPositions` while leaving room for
 * `maxNewTokens` (at least one prompt token). Every stage and both samplers fit prompts to
 * this: a longer prompt keeps its end (what the completion continues) and loses its beginning.
 */
export function promptRoom(nPositions: number, maxNewTokens: number): number {
  return Math.max(1, nPositions - maxNewTokens);
}

/** The last `room` tokens of `ids` (all of them when they fit). */
export function fitPrompt(ids: readonly number[], room: number): readonly number[] {
  return ids.length > room ? ids.slice(ids.length - room) : ids;
}
