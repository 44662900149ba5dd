/** RLOO's sequence-level clipped surrogate on tfjs (the tfjs engine; stages/rloo.ts). */
import * as tf from '@tensorflow/tfjs-core';
import type { Rollout } from '../rollout/rollout';
import type { TrainModel } from '../stage';
import type { RlooConfig } from '../stages/rloo';
import { clippedSurrogate } from './ppo';
import { responseStats } from './rollout';
import { gpt2Only } from '../../model/modelConfig';

/**
 * RLOO's loss on the minibatch `mb` of a rollout (tfjs): the sequence-level clipped surrogate of
 * the response log-prob against its old value, mean over sequences; with its statistics.
 */
export function rlooMinibatchLoss(
  policy: TrainModel,
  rollout: Rollout,
  mb: readonly number[],
  oldSeqLogp: readonly number[],
  advantages: readonly number[],
  config: Pick<RlooConfig, 'temperature' | 'clipRange'>,
): { loss: tf.Scalar; extras: Record<string, tf.Scalar> } {
  const R = rollout.R;
  const s = responseStats(policy.params, gpt2Only(policy.config, 'The tfjs engine'), rollout, mb, config.temperature, false);
  const mask = tf.tensor2d(Float32Array.from(mb.flatMap((row) => Array.from(rollout.responseMask.subarray(row * R, (row + 1) * R)))), [mb.length, R]);
  const seqLogp = tf.sum(tf.mul(s.logprobs, mask), 1); // [mb]
  const old = tf.tensor1d(mb.map((row) => oldSeqLogp[row] as number));
  const { loss, ratio } = clippedSurrogate(seqLogp, old, tf.tensor1d(mb.map((row) => advantages[row] as number)), config.clipRange);
  const logRatio = tf.sub(seqLogp, old);
  return {
    loss: tf.mean(loss) as tf.Scalar,
    extras: {
      approxkl: tf.mul(0.5, tf.mean(tf.square(logRatio))) as tf.Scalar,
      clipfrac: tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), config.clipRange), 'float32')) as tf.Scalar,
      ratio: tf.mean(ratio) as tf.Scalar,
    },
  };
}
