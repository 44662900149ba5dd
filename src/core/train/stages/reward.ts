/**
 * The reward model: the SFT model with its LM head replaced by a scalar head (`score.weight`,
 * GPT2ForSequenceClassification), trained on ranked groups with −log σ(r_w − r_l − margin).
 * All pairs of one ranking share one forward of its K completions (InstructGPT), and each
 * group weighs the same whatever its number of pairs. Ties give no pair (see data/batches.ts).
 */
import { UserError } from '../../errors';
import { engineLoop, stageEngine } from '../engine';
import * as tf from '@tensorflow/tfjs-core';
import { forward } from '../../model/gpt2';
import { rewardHead } from '../../model/heads';
import { logSigmoid, matMul } from '../../model/ops';
import type { AdamW } from '../optim';
import { DEFAULT_OPTIM } from '../optim';
import { batchRandom, rewardBatch, sampleBatch } from '../data/batches';
import type { RankedGroup, RewardBatch } from '../data/batches';
import { chunk } from './sft';
import { due, metrics, optimStep } from '../stage';
import type { LoopConfig, StageEvent, TrainModel } from '../stage';

export interface RewardConfig extends LoopConfig {
  /** Longest prompt+completion in tokens (≤ n_positions). */
  readonly maxLen: number;
  /** Required gap r_w − r_l (Llama-2-style margin); 0 is the plain Bradley–Terry loss. */
  readonly margin: number;
}

export const DEFAULT_REWARD: RewardConfig = {
  steps: 150,
  batchSize: 4,
  maxLen: 96,
  margin: 0,
  evalEvery: 25,
  checkpointEvery: 50,
  seed: 3,
  optim: { ...DEFAULT_OPTIM, lr: 1e-4, warmupSteps: 10, totalSteps: 150, weightDecay: 0 },
};

export interface RewardData {
  readonly train: readonly RankedGroup[];
  readonly eval: readonly RankedGroup[];
  readonly pad: number;
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
  const { hidden } = forward(model.params, model.config, { ids, logits: false });
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

export async function* reward(model: TrainModel, optimizer: AdamW, data: RewardData, config: RewardConfig, signal?: AbortSignal): AsyncGenerator<StageEvent> {
  if (model.params['score.weight'] === undefined) throw new Error("reward: the model has no 'score.weight' head (add one with initHead(config, 'reward'))");
  if (config.maxLen > model.config.n_positions) throw new UserError(`reward: maxLen ${config.maxLen} exceeds the model's n_positions ${model.config.n_positions}; lower maxLen in the config.`);
  const train = data.train.filter((g) => g.pairs.length > 0);
  if (train.length === 0) throw new Error('reward: no ranked pairs to train on (rank some completions first; ties and skips give no pairs)');
  const engine = await stageEngine('reward', model, optimizer, 'reward');
  const trainer = engine.trainer;
  const evalBatches = trainer
    ? chunk(
        data.eval.filter((g) => g.pairs.length > 0),
        config.batchSize,
      ).map((part) => rewardBatch(part, config.maxLen, data.pad))
    : [];
  yield* engineLoop(engine, config, signal, async function* (step) {
    const batch = rewardBatch(sampleBatch(train, config.batchSize, batchRandom(config.seed, step)), config.maxLen, data.pad);
    const started = performance.now();
    const r = trainer
      ? await engine.ortStep((t) => t.pairLossAndGrads(batch, config.margin))
      : optimStep('reward', model, optimizer, () => {
          const s = pairLoss(model, batch, config.margin);
          return { loss: s.loss, extras: { accuracy: s.accuracy, margin_mean: s.margin, chosen: s.chosen, rejected: s.rejected } };
        });
    const seconds = (performance.now() - started) / 1000;
    yield metrics('reward', step, {
      'reward/loss': r.loss,
      'reward/accuracy': r.extras.accuracy as number,
      'reward/margin': r.extras.margin_mean as number,
      'reward/chosen': r.extras.chosen as number,
      'reward/rejected': r.extras.rejected as number,
      lr: r.lr,
      grad_norm: r.gradNorm,
      tokens_per_second: batch.mask.reduce((s, v) => s + v, 0) / seconds,
    });
    if (data.eval.length && (due(step, config.evalEvery) || step === config.steps)) {
      const e = trainer ? await trainer.evalPairs(evalBatches, config.margin) : evaluateReward(model, data.eval, config, data.pad);
      if (e.pairs) yield metrics('reward', step, { 'reward/eval_loss': e.loss, 'reward/eval_accuracy': e.accuracy });
    }
  });
}
