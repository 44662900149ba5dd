/**
 * PPO's and RLOO's scoring passes on tfjs (the tfjs engine): a rollout's per-response-token
 * log-probs, entropies and values through the tfjs GPT-2, the reference's log-probs, a reward
 * model read at the last token. ortPolicy.ts is the same on ONNX Runtime.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GPT2Config } from '../../model/config';
import { forward } from '../../model/gpt2';
import type { Params } from '../../model/gpt2';
import { rewardHead, valueHead } from '../../model/heads';
import { matMul } from '../../model/ops';
import { allRows } from '../rollout/rollout';
import type { Rollout, RolloutScoring, Scorer } from '../rollout/rollout';
import type { TrainModel } from '../stage';
import { contextLength, gpt2Only } from '../../model/modelConfig';

export interface TokenStats {
  /** [B, R] log π(token) at the rollout temperature. */
  readonly logprobs: tf.Tensor2D;
  /** [B, R] entropy of the (temperature-scaled) next-token distribution. */
  readonly entropy: tf.Tensor2D;
  /** [B, R] value estimates (only when the model has a value head and values are asked for). */
  readonly values?: tf.Tensor2D;
}

/**
 * Per-response-token log-probs (and entropy, values) under `params`, differentiable. Logits are
 * divided by `temperature` as at sampling time, so π_old and π_new are the same distribution.
 */
export function responseStats(params: Params, config: GPT2Config, r: Rollout, rows: readonly number[], temperature: number, withValues: boolean): TokenStats {
  const n = rows.length;
  const T = r.P + r.R;
  const take = <A extends Int32Array | Float32Array>(src: A, width: number): A => {
    const out = new (src.constructor as new (len: number) => A)(n * width);
    rows.forEach((row, i) => out.set(src.subarray(row * width, (row + 1) * width), i * width));
    return out;
  };
  const ids = tf.tensor2d(take(r.ids, T), [n, T], 'int32');
  const mask = tf.tensor2d(take(r.mask, T), [n, T]);
  const out = forward(params, config, { ids, attentionMask: mask, logits: false });
  // Columns P−1 … P+R−2 predict the R response tokens.
  const h = tf.slice(out.hidden, [0, r.P - 1, 0], [n, r.R, config.n_embd]) as tf.Tensor3D; // [n, R, C]
  const flat = tf.reshape(h, [n * r.R, config.n_embd]) as tf.Tensor2D; // [nR, C]
  const wteT = tf.transpose(params['wte.weight'] as tf.Tensor2D) as tf.Tensor2D; // [C, V]
  const logits = tf.div(matMul(flat, wteT), Math.max(temperature, 1e-7)) as tf.Tensor2D; // [nR, V]
  const logp = tf.logSoftmax(logits); // [nR, V]
  const targets = tf.tensor1d(take(r.responseIds, r.R), 'int32');
  const picked = tf.sum(tf.mul(logp, tf.oneHot(targets, config.vocab_size)), -1); // [nR]
  const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)); // [nR]
  const stats: { logprobs: tf.Tensor2D; entropy: tf.Tensor2D; values?: tf.Tensor2D } = {
    logprobs: tf.reshape(picked, [n, r.R]) as tf.Tensor2D,
    entropy: tf.reshape(entropy, [n, r.R]) as tf.Tensor2D,
  };
  if (withValues) stats.values = valueHead(params, h);
  return stats;
}

/** Σ over each row's response tokens of log π − log π_ref (the k1 estimate of KL(π‖π_ref)), [B]. */
export function sequenceKl(policy: TrainModel, reference: TrainModel, r: Rollout, temperature: number): number[] {
  return tf.tidy(() => {
    const all = allRows(r.B);
    const p = responseStats(policy.params, gpt2Only(policy.config, 'The tfjs engine'), r, all, temperature, false).logprobs;
    const q = responseStats(reference.params, gpt2Only(reference.config, 'The tfjs engine'), r, all, temperature, false).logprobs;
    return Array.from(tf.sum(tf.mul(tf.sub(p, q), tf.tensor2d(r.responseMask, [r.B, r.R])), 1).dataSync());
  });
}

/** The scoring passes through the tfjs models (the tfjs engine). */
export function tfjsRolloutScoring(policy: TrainModel, reference: TrainModel, temperature: number): RolloutScoring {
  return {
    policy: async (r, rows, withValues) =>
      tf.tidy(() => {
        const s = responseStats(policy.params, gpt2Only(policy.config, 'The tfjs engine'), r, rows, temperature, withValues);
        return { logp: s.logprobs.dataSync() as Float32Array, entropy: s.entropy.dataSync() as Float32Array, ...(s.values ? { values: s.values.dataSync() as Float32Array } : {}) };
      }),
    reference: async (r, rows) => tf.tidy(() => responseStats(reference.params, gpt2Only(reference.config, 'The tfjs engine'), r, rows, temperature, false).logprobs.dataSync() as Float32Array),
  };
}

/**
 * Scores each row of the rollout with a reward model (GPT2ForSequenceClassification) at its last
 * real token, after appending EOS to responses that lack it — as the reward model was trained
 * (data/datasets.ts, withEos).
 */
export function rewardModelScorer(rm: TrainModel, eos: number | null): Scorer {
  return async (_prompts, _responses, r: Rollout) =>
    tf.tidy(() => {
      const T = r.P + r.R + 1;
      const ids = new Int32Array(r.B * T).fill(eos ?? 0);
      const mask = new Float32Array(r.B * T);
      for (let b = 0; b < r.B; b++) {
        ids.set(r.ids.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
        mask.set(r.mask.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
        const len = r.responses[b]?.length ?? 0;
        if (eos !== null && r.responses[b]?.[len - 1] !== eos) {
          ids[b * T + r.P + len] = eos;
          mask[b * T + r.P + len] = 1;
        }
      }
      // Prompts are fitted to the context before sampling (run/jobs.ts); should a row still be too
      // long, the reward model reads its last n_positions tokens (the response and the EOS).
      const keep = Math.min(T, contextLength(rm.config));
      const idsT = tf.slice(tf.tensor2d(ids, [r.B, T], 'int32'), [0, T - keep], [r.B, keep]) as tf.Tensor2D;
      const maskT = tf.slice(tf.tensor2d(mask, [r.B, T]), [0, T - keep], [r.B, keep]) as tf.Tensor2D;
      const { hidden } = forward(rm.params, gpt2Only(rm.config, 'The tfjs engine'), { ids: idsT, attentionMask: maskT, logits: false });
      return Array.from(rewardHead(rm.params, hidden, maskT).dataSync());
    });
}
