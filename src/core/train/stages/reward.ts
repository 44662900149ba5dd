/**
 * The reward model: the SFT model with its LM head replaced by a scalar head (`score.weight`,
 * GPT2ForSequenceClassification), trained on ranked groups with −log σ(r_w − r_l − margin).
 * All pairs of one ranking share one forward of its K completions (InstructGPT), and each
 * group weighs the same whatever its number of pairs. Ties give no pair (see data/batches.ts).
 * The loss is onnx/gptGraph.ts's on ONNX Runtime, tfjs/reward.ts's on the tfjs engine.
 */
import { UserError } from '../../errors';
import { engineLoop, stageEngine } from '../engine';
import type { StageEngine } from '../engine';
import type { OrtTrainer } from '../ort/trainer';
import type { Optimizer } from '../optim';
import { DEFAULT_OPTIM } from '../optim';
import { batchRandom, rewardBatch, sampleBatch } from '../data/batches';
import type { RankedGroup, RewardBatch } from '../data/batches';
import { chunk } from './sft';
import { due, hasParam, metrics } from '../stage';
import type { LoopConfig, StageEvent, StepResult, TrainModel } from '../stage';
import { contextLength } from '../../model/modelConfig';

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

/** A reward-model step and its held-out evaluation, on the stage's engine. */
export interface RewardOps {
  /** One optimisation step on a batch; extras: accuracy, margin_mean, chosen, rejected. */
  step(batch: RewardBatch): Promise<StepResult>;
  /** Held-out loss and pairwise accuracy, pair-weighted. */
  evaluate(): Promise<{ loss: number; accuracy: number; pairs: number }>;
}

/** The ONNX Runtime trainer's pairwise-loss graphs (onnx/gptGraph.ts). */
function ortRewardOps(engine: StageEngine, trainer: OrtTrainer, data: RewardData, config: RewardConfig): RewardOps {
  const evalBatches = chunk(
    data.eval.filter((g) => g.pairs.length > 0),
    config.batchSize,
  ).map((part) => rewardBatch(part, config.maxLen, data.pad));
  return {
    step: (batch) => engine.ortStep((t) => t.pairLossAndGrads(batch, config.margin)),
    evaluate: () => trainer.evalPairs(evalBatches, config.margin),
  };
}

export async function* reward(model: TrainModel, optimizer: Optimizer, data: RewardData, config: RewardConfig, signal?: AbortSignal): AsyncGenerator<StageEvent> {
  if (!hasParam(model, 'score.weight')) throw new Error("reward: the model has no 'score.weight' head (add one with initHead(config, 'reward'))");
  if (config.maxLen > contextLength(model.config)) throw new UserError(`reward: maxLen ${config.maxLen} exceeds the model's context ${contextLength(model.config)}; lower maxLen in the config.`);
  const train = data.train.filter((g) => g.pairs.length > 0);
  if (train.length === 0) throw new Error('reward: no ranked pairs to train on (rank some completions first; ties and skips give no pairs)');
  const engine = await stageEngine('reward', model, optimizer, 'reward');
  const ops = engine.trainer ? ortRewardOps(engine, engine.trainer, data, config) : (await import('../tfjs/reward')).tfjsRewardOps(engine, model, data, config);
  yield* engineLoop(engine, config, signal, async function* (step) {
    const batch = rewardBatch(sampleBatch(train, config.batchSize, batchRandom(config.seed, step)), config.maxLen, data.pad);
    const started = performance.now();
    const r = await ops.step(batch);
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
      const e = await ops.evaluate();
      if (e.pairs) yield metrics('reward', step, { 'reward/eval_loss': e.loss, 'reward/eval_accuracy': e.accuracy });
    }
  });
}
