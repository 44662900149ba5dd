/**
 * Supervised fine-tuning: next-token loss on prompt+response, masked to the response tokens,
 * so the model learns to answer, not to reproduce prompts.
 */
import { UserError } from '../../errors';
import type { Optimizer } from '../optim';
import { DEFAULT_OPTIM } from '../optim';
import { batchRandom, sampleBatch, sftBatch } from '../data/batches';
import type { SftExample } from '../data/batches';
import { engineLoop, lmEngine } from '../engine';
import { due, metrics } from '../stage';
import type { LoopConfig, StageEvent, TrainModel } from '../stage';
import { contextLength } from '../../model/modelConfig';

export interface SftConfig extends LoopConfig {
  /** Longest row in tokens (prompt end + response), ≤ n_positions. */
  readonly maxLen: number;
}

export const DEFAULT_SFT: SftConfig = {
  steps: 200,
  batchSize: 8,
  maxLen: 96,
  evalEvery: 50,
  checkpointEvery: 100,
  seed: 2,
  optim: { ...DEFAULT_OPTIM, lr: 3e-4, warmupSteps: 10, totalSteps: 200 },
};

export interface SftData {
  readonly train: readonly SftExample[];
  readonly eval: readonly SftExample[];
  /** Token used to pad rows (the EOS token). */
  readonly pad: number;
}

export async function* sft(model: TrainModel, optimizer: Optimizer, data: SftData, config: SftConfig, signal?: AbortSignal): AsyncGenerator<StageEvent> {
  if (config.maxLen > contextLength(model.config)) throw new UserError(`sft: maxLen ${config.maxLen} exceeds the model's context ${contextLength(model.config)}; lower maxLen in the config.`);
  if (data.train.length === 0) throw new Error('sft: no training examples');
  const evalRows = chunk(data.eval, config.batchSize).map((examples) => sftBatch(examples, config.maxLen, data.pad));
  const engine = await lmEngine('sft', model, optimizer);
  yield* engineLoop(engine, config, signal, async function* (step) {
    const rows = sftBatch(sampleBatch(data.train, config.batchSize, batchRandom(config.seed, step)), config.maxLen, data.pad);
    const started = performance.now();
    const r = await engine.train(rows);
    const seconds = (performance.now() - started) / 1000;
    yield metrics('sft', step, { 'sft/loss': r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_second: (rows.B * rows.T) / seconds });
    if (evalRows.length && (due(step, config.evalEvery) || step === config.steps)) {
      yield metrics('sft', step, { 'sft/eval_loss': await engine.evalLoss(evalRows) });
    }
  });
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
