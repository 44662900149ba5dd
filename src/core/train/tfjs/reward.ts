/**
 * The reward model's pairwise loss on tfjs (the tfjs engine; stages/reward.ts): −log σ(r_w − r_l −
 * margin) over each batch's ranked groups, every group weighing the same.
 */
import * as tf from '@tensorflow/tfjs-core';
import { forward } from '../../model/gpt2';
import { rewardHead } from '../../model/heads';
import { logSigmoid, matMul } from '../../model/ops';
import { rewardBatch } from '../data/batches';
import type { RankedGroup, RewardBatch } from '../data/batches';
import type { StageEngine } from '../engine';
import type { TrainModel } from '../stage';
import { chunk } from '../stages/sft';
import type { RewardConfig, RewardData, RewardOps } from '../stages/reward';
import { gpt2Only } from '../../model/modelConfig';

/** The reward stage's step and evaluation on the tfjs engine. */
export function tfjsRewardOps(engine: StageEngine, model: TrainModel, data: RewardData, config: RewardConfig): RewardOps {
  return {
    step: async (batch) =>
      engine.tfjsStep(() => {
        const s = pairLoss(model, batch, config.margin);
        return { loss: s.loss, extras: { accuracy: s.accuracy, margin_mean: s.margin, chosen: s.chosen, rejected: s.rejected } };
      }),
    evaluate: async () => evaluateReward(model, data.eval, config, data.pad),
  };
}

export interface PairScores {
  readonly loss: tf.Scalar;
  readonly accuracy: tf.Scalar;
  readonly margin: tf.Scalar;
  readonly chosen: tf.Scalar;
  readonly rejected: tf.Scalar;
}

/** Scores of every sequence in the batch, [S]. */
export function scoreBatch(model: TrainModel, batch: RewardBatch): tf.Tensor1D {
  const ids = tf.tensor2d(batch.ids, [batch.S, batch.T], 'int32');
  const mask = tf.tensor2d(batch.mask, [batch.S, batch.T]);
  // Right padding: causal attention already keeps real tokens from seeing the pads after them.
  const { hidden } = forward(model.params, gpt2Only(model.config, 'The tfjs engine'), { ids, logits: false });
  return rewardHead(model.params, hidden, mask);
}

/** The pairwise loss and its statistics for one batch (tensors; call inside a tidy). */
export function pairLoss(model: TrainModel, batch: RewardBatch, margin: number): PairScores {
  const P = batch.winners.length;
  const scores = tf.reshape(scoreBatch(model, batch), [batch.S, 1]) as tf.Tensor2D; // [S, 1]
  // Selection by one-hot matmul: differentiable on wasm, where gather has no gradient.
  const pickW = tf.cast(tf.oneHot(tf.tensor1d(batch.winners, 'int32'), batch.S), 'float32') as tf.Tensor2D; // [P, S]
  const pickL = tf.cast(tf.oneHot(tf.tensor1d(batch.losers, 'int32'), batch.S), 'float32') as tf.Tensor2D;
  const rw = tf.reshape(matMul(pickW, scores), [P]); // [P]
  const rl = tf.reshape(matMul(pickL, scores), [P]);
  const diff = tf.sub(rw, rl);
  // Each group weighs 1/groups, shared equally by its pairs.
  const perGroup = new Map<number, number>();
  for (const g of batch.pairGroup) perGroup.set(g, (perGroup.get(g) ?? 0) + 1);
  const groupsWithPairs = perGroup.size;
  const weights = tf.tensor1d(Array.from(batch.pairGroup, (g) => 1 / ((perGroup.get(g) as number) * groupsWithPairs)));
  const loss = tf.neg(tf.sum(tf.mul(logSigmoid(tf.sub(diff, margin)), weights))) as tf.Scalar;
  return {
    loss,
    accuracy: tf.mean(tf.cast(tf.greater(diff, 0), 'float32')) as tf.Scalar,
    margin: tf.mean(diff) as tf.Scalar,
    chosen: tf.mean(rw) as tf.Scalar,
    rejected: tf.mean(rl) as tf.Scalar,
  };
}

/** Held-out loss and pairwise accuracy, pair-weighted, without gradients. */
export function evaluateReward(
  model: TrainModel,
  groups: readonly RankedGroup[],
  config: Pick<RewardConfig, 'maxLen' | 'margin' | 'batchSize'>,
  pad: number,
): { loss: number; accuracy: number; pairs: number } {
  let loss = 0;
  let correct = 0;
  let pairs = 0;
  for (const part of chunk(
    groups.filter((g) => g.pairs.length > 0),
    config.batchSize,
  )) {
    const batch = rewardBatch(part, config.maxLen, pad);
    const n = batch.winners.length;
    const [l, a] = tf.tidy(() => {
      const s = pairLoss(model, batch, config.margin);
      return [s.loss.dataSync()[0] as number, s.accuracy.dataSync()[0] as number];
    });
    loss += (l as number) * n;
    correct += (a as number) * n;
    pairs += n;
  }
  return pairs ? { loss: loss / pairs, accuracy: correct / pairs, pairs } : { loss: NaN, accuracy: NaN, pairs: 0 };
}
