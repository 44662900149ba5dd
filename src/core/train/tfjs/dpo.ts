/**
 * DPO on tfjs (the tfjs engine; stages/dpo.ts): the policy's and the reference's summed completion
 * log-probs through the tfjs GPT-2, TRL's sigmoid loss with label smoothing, and its statistics.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sequenceLogProbs } from '../../model/heads';
import { logSigmoid } from '../../model/ops';
import type { StageEngine } from '../engine';
import type { TrainModel } from '../stage';
import { dpoBatch, referenceOf } from '../stages/dpo';
import type { DpoBatch, DpoConfig, DpoOps, DpoPair, ScoredPair } from '../stages/dpo';
import { chunk } from '../stages/sft';
import { gpt2Only } from '../../model/modelConfig';

/** The DPO stage's step and evaluation on the tfjs engine. */
export function tfjsDpoOps(engine: StageEngine, policy: TrainModel, config: DpoConfig, pad: number): DpoOps {
  return {
    step: async (batch, reference) =>
      engine.tfjsStep(() => {
        const t = dpoTerms(completionLogProbs(policy, batch), reference, batch.B, config);
        return { loss: t.loss, extras: { chosen: t.chosen, rejected: t.rejected, accuracy: t.accuracy, margin: t.margin } };
      }),
    evaluate: async (pairs) => evaluateDpo(policy, pairs, config, pad),
  };
}

/** Summed completion log-probs of each sequence under `model`, [2B] (a tensor: call inside a tidy). */
export function completionLogProbs(model: TrainModel, batch: DpoBatch): tf.Tensor1D {
  const S = 2 * batch.B;
  const ids = tf.tensor2d(batch.ids, [S, batch.T], 'int32');
  // Right padding: causal attention already keeps real tokens from seeing the pads after them.
  const lp = sequenceLogProbs(model.params, gpt2Only(model.config, 'The tfjs engine'), ids); // [2B, T-1]
  return tf.sum(tf.mul(lp, tf.tensor2d(batch.mask, [S, batch.T - 1])), -1) as tf.Tensor1D; // [2B]
}

export interface DpoTerms {
  readonly loss: tf.Scalar;
  /** Means over pairs of β(π_c − ref_c), β(π_r − ref_r), [chosen > rejected], and their gap. */
  readonly chosen: tf.Scalar;
  readonly rejected: tf.Scalar;
  readonly accuracy: tf.Scalar;
  readonly margin: tf.Scalar;
}

/** The loss and TRL's statistics from policy log-probs [2B] and the reference's (chosen first, then rejected). */
export function dpoTerms(policy: tf.Tensor1D, reference: Float32Array, B: number, config: Pick<DpoConfig, 'beta' | 'labelSmoothing'>): DpoTerms {
  const ratio = tf.mul(tf.sub(policy, tf.tensor1d(reference)), config.beta); // [2B]
  const chosen = tf.slice(ratio, [0], [B]); // [B]
  const rejected = tf.slice(ratio, [B], [B]); // [B]
  const z = tf.sub(chosen, rejected); // βΔ
  const eps = config.labelSmoothing;
  const perPair = tf.sub(tf.mul(logSigmoid(z), -(1 - eps)), tf.mul(logSigmoid(tf.neg(z)), eps));
  return {
    loss: tf.mean(perPair) as tf.Scalar,
    chosen: tf.mean(chosen) as tf.Scalar,
    rejected: tf.mean(rejected) as tf.Scalar,
    accuracy: tf.mean(tf.cast(tf.greater(chosen, rejected), 'float32')) as tf.Scalar,
    margin: tf.mean(z) as tf.Scalar,
  };
}

/** The frozen reference's completion log-probs of every pair, in batches, without gradients. */
export function scoreReference(reference: TrainModel, pairs: readonly DpoPair[], config: Pick<DpoConfig, 'maxLen' | 'batchSize'>, pad: number): ScoredPair[] {
  return chunk(pairs, config.batchSize).flatMap((part) => {
    const lp = tf.tidy(() => completionLogProbs(reference, dpoBatch(part, config.maxLen, pad)).dataSync());
    return part.map((pair, i) => ({ pair, refChosen: lp[i] as number, refRejected: lp[part.length + i] as number }));
  });
}

/** Held-out loss and preference accuracy, pair-weighted, without gradients. */
export function evaluateDpo(policy: TrainModel, pairs: readonly ScoredPair[], config: DpoConfig, pad: number): { loss: number; accuracy: number; pairs: number } {
  let loss = 0;
  let correct = 0;
  for (const part of chunk(pairs, config.batchSize)) {
    const [l, a] = tf.tidy(() => {
      const t = dpoTerms(
        completionLogProbs(
          policy,
          dpoBatch(
            part.map((s) => s.pair),
            config.maxLen,
            pad,
          ),
        ),
        referenceOf(part),
        part.length,
        config,
      );
      return [t.loss.dataSync()[0] as number, t.accuracy.dataSync()[0] as number];
    });
    loss += (l as number) * part.length;
    correct += (a as number) * part.length;
  }
  return pairs.length ? { loss: loss / pairs.length, accuracy: correct / pairs.length, pairs: pairs.length } : { loss: NaN, accuracy: NaN, pairs: 0 };
}
