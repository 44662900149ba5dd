/**
 * PPO's clipped losses on tfjs (the tfjs engine; stages/ppo.ts): the clipped surrogate, the
 * clipped value loss, and a minibatch's loss with the statistics the stage reports. RLOO's
 * sequence-level surrogate (tfjs/rloo.ts) is the same clipped surrogate.
 */
import * as tf from '@tensorflow/tfjs-core';
import { corpusBatch } from '../data/batches';
import { lmLoss } from '../lm';
import type { Rollout } from '../rollout/rollout';
import type { TrainModel } from '../stage';
import type { PpoArrays, PpoConfig } from '../stages/ppo';
import { responseStats } from './rollout';
import { gpt2Only } from '../../model/modelConfig';

/** Clipped surrogate per token: max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)). */
export function clippedSurrogate(logp: tf.Tensor, oldLogp: tf.Tensor, adv: tf.Tensor, clip: number): { loss: tf.Tensor; ratio: tf.Tensor } {
  const ratio = tf.exp(tf.sub(logp, oldLogp));
  const unclipped = tf.mul(tf.neg(adv), ratio);
  const clipped = tf.mul(tf.neg(adv), tf.clipByValue(ratio, 1 - clip, 1 + clip));
  return { loss: tf.maximum(unclipped, clipped), ratio };
}

/** Clipped value loss per token: ½·max((V − R)², (V_old + clip(V − V_old, ±c) − R)²). */
export function clippedValueLoss(vpred: tf.Tensor, oldValues: tf.Tensor, returns: tf.Tensor, clip: number): tf.Tensor {
  const vclipped = tf.add(oldValues, tf.clipByValue(tf.sub(vpred, oldValues), -clip, clip));
  return tf.mul(0.5, tf.maximum(tf.square(tf.sub(vpred, returns)), tf.square(tf.sub(vclipped, returns))));
}

/**
 * PPO's loss on the minibatch `mb` of a rollout (tfjs): clipped surrogate + vfCoef × clipped value
 * loss − entCoef × entropy (+ ptxCoef × the LM loss on corpus windows), each a masked mean over
 * the response tokens; with the statistics the stage reports.
 */
export function ppoMinibatchLoss(
  policy: TrainModel,
  rollout: Rollout,
  mb: readonly number[],
  arrays: PpoArrays,
  config: Pick<PpoConfig, 'temperature' | 'clipRange' | 'clipRangeValue' | 'vfCoef' | 'entCoef' | 'ptxCoef' | 'ptxBatch' | 'ptxBlockSize'>,
  ptxCorpus: Int32Array | undefined,
  random: () => number,
): { loss: tf.Scalar; extras: Record<string, tf.Scalar> } {
  const R = rollout.R;
  const pick = (src: Float32Array): tf.Tensor2D => tf.tensor2d(Float32Array.from(mb.flatMap((row) => Array.from(src.subarray(row * R, (row + 1) * R)))), [mb.length, R]);
  const mask = pick(rollout.responseMask);
  const s = responseStats(policy.params, gpt2Only(policy.config, 'The tfjs engine'), rollout, mb, config.temperature, true);
  const { loss: pg, ratio } = clippedSurrogate(s.logprobs, pick(arrays.oldLogp), pick(arrays.advantages), config.clipRange);
  const vf = clippedValueLoss(s.values as tf.Tensor, pick(arrays.oldValues), pick(arrays.returns), config.clipRangeValue);
  const n = tf.maximum(tf.sum(mask), 1);
  const avg = (x: tf.Tensor): tf.Scalar => tf.div(tf.sum(tf.mul(x, mask)), n) as tf.Scalar;
  const pgLoss = avg(pg);
  const vfLoss = avg(vf);
  let loss = tf.add(pgLoss, tf.mul(vfLoss, config.vfCoef)) as tf.Scalar;
  if (config.entCoef > 0) loss = tf.sub(loss, tf.mul(avg(s.entropy), config.entCoef)) as tf.Scalar;
  if (config.ptxCoef > 0 && ptxCorpus) {
    const c = corpusBatch(ptxCorpus, config.ptxBlockSize, config.ptxBatch, random);
    loss = tf.add(loss, tf.mul(lmLoss(policy, { B: config.ptxBatch, T: config.ptxBlockSize, ...c }), config.ptxCoef)) as tf.Scalar;
  }
  const logRatio = tf.sub(s.logprobs, pick(arrays.oldLogp));
  return {
    loss,
    extras: {
      pg: pgLoss,
      vf: vfLoss,
      approxkl: tf.mul(0.5, avg(tf.square(logRatio))) as tf.Scalar,
      clipfrac: avg(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), config.clipRange), 'float32')),
      ratio: avg(ratio),
      vpred: avg(s.values as tf.Tensor),
    },
  };
}
