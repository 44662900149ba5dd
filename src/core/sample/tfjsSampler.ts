/**
 * Batched sampling from the tfjs GPT-2 with a KV cache: the fallback sampler and the
 * correctness oracle for the onnxruntime one. Prompts of different lengths are left-padded
 * with an attention mask and explicit position ids, so a prompt continues the same way alone
 * or in a batch. Token choice is pick.ts's, shared with the ORT sampler.
 *
 * n completions per prompt: repeat the prompt n times in `prompts`. Each batch row has its own
 * seeded stream (sequenceSeed(seed, row)), so repeats differ and the same call is reproducible.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors';
import type { GPT2Config } from '../model/config';
import { disposeCache, forward } from '../model/gpt2';
import { transpose2d } from '../model/ops';
import type { KVCache, Params } from '../model/gpt2';
import { checkSamplingOptions, pickToken, seededRandom, sequenceSeed } from './pick';
import { completionText, finishReason, stopAfter } from './stop';
import type { Stopped } from './stop';
import { fitPrompt, promptRoom } from './types';
import type { Completion, SamplingOptions } from './types';

export interface TfjsModel {
  readonly params: Params;
  readonly config: GPT2Config;
}

/** Per-row generation state. */
interface Row {
  readonly promptLength: number;
  readonly random: () => number;
  readonly tokens: number[];
  readonly logprobs: number[];
  /** Set once the row is finished (EOS or a stop string). */
  stopped: Stopped | undefined;
}

/**
 * Continue each prompt (token ids) until EOS, a stop string, maxNewTokens or the end of the
 * model's context. An empty prompt starts from the config's BOS token (not returned); a prompt
 * longer than n_positions − maxNewTokens is continued from its last tokens (promptRoom).
 */
export async function sampleTfjs(
  model: TfjsModel,
  prompts: readonly (readonly number[])[],
  options: SamplingOptions,
  decode: (ids: readonly number[]) => string,
  signal?: AbortSignal,
): Promise<Completion[]> {
  const { config } = model;
  const bad = checkSamplingOptions(options);
  if (bad) throw new UserError(`Sampling options: ${bad}. Fix the setting and sample again.`);
  if (prompts.length === 0) return [];
  // A prompt longer than the context leaves room for keeps its end (promptRoom).
  const room = promptRoom(config.n_positions, options.maxNewTokens);
  const inputs = prompts.map((p) => (p.length > 0 ? fitPrompt(p, room) : [config.bos_token_id]));
  inputs.forEach((p, i) => {
    if (p.some((id) => !Number.isInteger(id) || id < 0 || id >= config.vocab_size)) {
      throw new UserError(`Prompt ${i} has a token id outside the vocabulary [0, ${config.vocab_size}). Check the tokenizer matches the model.`);
    }
  });
  const B = inputs.length;
  const L = Math.max(...inputs.map((p) => p.length));
  const steps = Math.min(options.maxNewTokens, config.n_positions - L);
  const rows: Row[] = inputs.map((p, i) => ({
    promptLength: p.length,
    random: seededRandom(sequenceSeed(options.seed, i)),
    tokens: [],
    logprobs: [],
    stopped: undefined,
  }));

  // Prefill: left-padded prompts, mask 0 on padding; positions follow from the mask.
  const padded = inputs.flatMap((p) => [...new Array<number>(L - p.length).fill(0), ...p]);
  const maskRows = inputs.flatMap((p) => [...new Array<number>(L - p.length).fill(0), ...new Array<number>(p.length).fill(1)]);
  let mask = tf.tensor2d(maskRows, [B, L], 'int32');
  const wteT = tf.tidy(() => transpose2d(model.params['wte.weight'] as tf.Tensor2D)); // [C, V], once per call
  let cache: KVCache | undefined;
  try {
    let logits: Float32Array;
    ({ logits, cache } = step(model, wteT, tf.tensor2d(padded, [B, L], 'int32'), mask, undefined, undefined));
    for (let t = 0; t < steps; t++) {
      if (signal?.aborted) throw abortError();
      const next = rows.map((row, b) => {
        if (row.stopped) return 0; // finished rows keep decoding a dummy token; its output is ignored
        const picked = pickToken(logits.subarray(b * config.vocab_size, (b + 1) * config.vocab_size), options, row.random);
        advance(row, picked.token, picked.logprob, options, decode);
        return picked.token;
      });
      if (rows.every((r) => r.stopped) || t === steps - 1) break;
      // Yield so an abort (or other engine work) can get in between tokens.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const shorter = mask;
      mask = tf.tidy(() => tf.concat([shorter, tf.ones([B, 1], 'int32')], 1) as tf.Tensor2D); // [B, L + t + 1]
      shorter.dispose();
      const positions = tf.tensor2d(
        rows.map((r) => r.promptLength + t),
        [B, 1],
        'int32',
      ); // [B, 1]
      const previous = cache;
      ({ logits, cache } = step(model, wteT, tf.tensor2d(next, [B, 1], 'int32'), mask, positions, previous));
      disposeCache(previous);
    }
  } finally {
    disposeCache(cache);
    tf.dispose([mask, wteT]);
  }
  return rows.map((row, i) => ({
    promptIndex: i,
    tokens: row.tokens,
    text: completionText(row.tokens, row.stopped, decode),
    logprobs: row.logprobs,
    finishReason: finishReason(row.stopped),
  }));
}

/** One forward over new ids; returns the last position's logits [B·V] and the grown cache. Disposes ids and positions. */
function step(
  model: TfjsModel,
  wteT: tf.Tensor2D,
  ids: tf.Tensor2D,
  attentionMask: tf.Tensor2D,
  positionIds: tf.Tensor2D | undefined,
  past: KVCache | undefined,
): { logits: Float32Array; cache: KVCache } {
  const [B, T] = ids.shape;
  const V = model.config.vocab_size;
  const out = tf.tidy(() => {
    const input = { ids, attentionMask, cache: true, wteT, ...(positionIds ? { positionIds } : {}), ...(past ? { past } : {}) };
    const r = forward(model.params, model.config, input);
    const last = tf.slice(r.logits!, [0, T - 1, 0], [B, 1, V]); // [B, 1, V]
    return { last, present: r.present! };
  });
  tf.dispose([ids, ...(positionIds ? [positionIds] : [])]);
  const logits = out.last.dataSync() as Float32Array;
  out.last.dispose();
  return { logits, cache: out.present };
}

/**
 * Record a picked token and whether the row is finished. (A row never outlives maxNewTokens:
 * the loop's last step is at most the maxNewTokens-th, and it ends there as 'length'.)
 */
function advance(row: Row, token: number, logprob: number, options: SamplingOptions, decode: (ids: readonly number[]) => string): void {
  row.tokens.push(token);
  row.logprobs.push(logprob);
  row.stopped = stopAfter(row.tokens, options, decode);
}

function abortError(): Error {
  const err = new Error('Sampling was cancelled.');
  err.name = 'AbortError';
  return err;
}
