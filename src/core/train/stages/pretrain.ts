/**
 * Pretraining: next-token loss on random windows of a tokenized corpus. This is how the shipped
 * tiny default model is made (scripts/pretrain-default.ts).
 */
import { UserError } from '../../errors';
import type { Optimizer } from '../optim';
import { DEFAULT_OPTIM } from '../optim';
import { batchRandom, corpusBatch } from '../data/batches';
import { engineLoop, lmEngine } from '../engine';
import type { LmRows } from '../lm';
import { due, metrics } from '../stage';
import type { LoopConfig, StageEvent, TrainModel } from '../stage';
import { contextLength } from '../../model/modelConfig';

export interface PretrainConfig extends LoopConfig {
  /** Tokens per training window (≤ n_positions). */
  readonly blockSize: number;
  /** Windows drawn from the eval corpus at each evaluation. */
  readonly evalBatches: number;
}

export const DEFAULT_PRETRAIN: PretrainConfig = {
  steps: 1500,
  batchSize: 8,
  blockSize: 128,
  evalEvery: 200,
  evalBatches: 4,
  checkpointEvery: 500,
  seed: 1,
  optim: { ...DEFAULT_OPTIM, lr: 2e-3, warmupSteps: 100, totalSteps: 1500, weightDecay: 0.1 },
};

export interface PretrainData {
  readonly train: Int32Array;
  readonly eval?: Int32Array;
}

export async function* pretrain(model: TrainModel, optimizer: Optimizer, data: PretrainData, config: PretrainConfig, signal?: AbortSignal): AsyncGenerator<StageEvent> {
  const { blockSize, batchSize } = config;
  if (blockSize > contextLength(model.config)) throw new UserError(`pretrain: blockSize ${blockSize} exceeds the model's context ${contextLength(model.config)}; lower blockSize in the config.`);
  // Fixed eval windows (same every evaluation, so eval loss curves are comparable).
  const evalRows: LmRows[] = [];
  if (data.eval && data.eval.length > blockSize + 1) {
    for (let i = 0; i < config.evalBatches; i++) evalRows.push({ B: batchSize, T: blockSize, ...corpusBatch(data.eval, blockSize, batchSize, batchRandom(config.seed ^ 0x7e57, i)) });
  }
  const engine = await lmEngine('pretrain', model, optimizer);
  yield* engineLoop(engine, config, signal, async function* (step) {
    const rows: LmRows = { B: batchSize, T: blockSize, ...corpusBatch(data.train, blockSize, batchSize, batchRandom(config.seed, step)) };
    const started = performance.now();
    const r = await engine.train(rows);
    const seconds = (performance.now() - started) / 1000;
    yield metrics('pretrain', step, { 'pretrain/loss': r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_second: (batchSize * blockSize) / seconds });
    if (evalRows.length && (due(step, config.evalEvery) || step === config.steps)) {
      yield metrics('pretrain', step, { 'pretrain/eval_loss': await engine.evalLoss(evalRows) });
    }
  });
}
