/**
 * Heads on GPT-2's final hidden states, named as the libraries that save them:
 *  - value head (PPO policy): TRL's `ValueHead`, an nn.Linear(n_embd, 1) saved as
 *    `v_head.summary.weight` [1, C] (torch Linear layout: [out, in]) and `v_head.summary.bias` [1];
 *  - reward head: GPT2ForSequenceClassification (num_labels 1), `score.weight` [1, C], no bias,
 *    read at the last non-padding token.
 * And the per-token log-probs of given ids, which SFT, PPO and DPO all use.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GPT2Config } from './config';
import { forward, variables } from './gpt2';
import type { Params } from './gpt2';
import { initHeadWeights } from './init';
import { tokenLogProbs } from './ops';
import { headShapes as checkpointHeadShapes } from './checkpoint';

export type HeadKind = 'value' | 'reward';

/** The extra parameters a head adds, HF/TRL names and shapes (one table, in checkpoint.ts). */
export function headShapes(config: GPT2Config, kind: HeadKind): Map<string, readonly number[]> {
  return checkpointHeadShapes(kind, config.n_embd);
}

/** Fresh head parameters as tf.Variables (init.ts: normal std 0.02, bias 0), to merge into a Params. */
export function initHead(config: GPT2Config, kind: HeadKind, seed: number): Record<string, tf.Variable> {
  return variables(initHeadWeights(config, kind, seed));
}

function param(params: Params, name: string): tf.Tensor {
  const t = params[name];
  if (!t) throw new Error(`head: parameter '${name}' is missing (initHead or load it first)`);
  return t;
}

/** Value per position: hidden [B, T, C] → [B, T]. */
export function valueHead(params: Params, hidden: tf.Tensor3D): tf.Tensor2D {
  const w = tf.reshape(param(params, 'v_head.summary.weight'), [1, 1, -1]); // [1, 1, C]
  return tf.add(tf.sum(tf.mul(hidden, w), -1), param(params, 'v_head.summary.bias')) as tf.Tensor2D; // [B, T]
}

/**
 * Scalar reward per sequence: score at the last position whose mask is 1 (works for left and
 * right padding), hidden [B, T, C], attentionMask [B, T] → [B]. Without a mask, the last position.
 */
export function rewardHead(params: Params, hidden: tf.Tensor3D, attentionMask?: tf.Tensor2D): tf.Tensor1D {
  const [B, T] = hidden.shape;
  const w = tf.reshape(param(params, 'score.weight'), [1, 1, -1]); // [1, 1, C]
  const scores = tf.sum(tf.mul(hidden, w), -1); // [B, T]
  const last = lastRealIndex(attentionMask, B, T); // [B] int32
  // One-hot pick instead of gather: gather has no gradient on wasm.
  return tf.sum(tf.mul(scores, tf.oneHot(last, T)), -1) as tf.Tensor1D; // [B]
}

/** Index of the last position with mask 1 in each row (0 for an all-padding row). */
export function lastRealIndex(mask: tf.Tensor2D | undefined, B: number, T: number): tf.Tensor1D {
  if (!mask) return tf.fill([B], T - 1, 'int32') as tf.Tensor1D;
  const idx = tf.mul(tf.cast(mask, 'float32'), tf.range(0, T, 1, 'float32')); // [B, T]
  return tf.cast(tf.max(idx, -1), 'int32') as tf.Tensor1D; // [B]
}

/**
 * log p(ids[t+1] | ids[..t]) for every position of ids [B, T] → [B, T − 1], through one forward.
 * Entry t scores token t+1; mask it with attentionMask[:, 1:] (and the response mask) in losses.
 */
export function sequenceLogProbs(params: Params, config: GPT2Config, ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor2D {
  const [B, T] = ids.shape;
  if (T < 2) throw new Error(`sequenceLogProbs: needs at least 2 tokens per row to score a next token, got ${T}`);
  const V = config.vocab_size;
  const { logits } = forward(params, config, attentionMask ? { ids, attentionMask } : { ids });
  const shifted = tf.reshape(tf.slice(logits as tf.Tensor3D, [0, 0, 0], [B, T - 1, V]), [B * (T - 1), V]) as tf.Tensor2D; // [B(T-1), V]
  const targets = tf.reshape(tf.slice(ids, [0, 1], [B, T - 1]), [B * (T - 1)]) as tf.Tensor1D; // [B(T-1)]
  return tf.reshape(tokenLogProbs(shifted, targets), [B, T - 1]) as tf.Tensor2D; // [B, T-1]
}
