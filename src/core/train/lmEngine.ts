/**
 * Which engine trains the language-model stages (pretraining, SFT): ONNX Runtime (the default:
 * every core, the training graph of onnx/gptTrainGraph.ts, AdamW on plain arrays) or tfjs (the
 * correctness reference, and the backends a user can still pick). The stage loop sees one
 * interface either way. The runner keeps saving checkpoints from the tfjs model and optimizer:
 * the ONNX Runtime engine copies its parameters and optimizer state into them before each
 * checkpoint (`sync`), and starts from them, so checkpoints, resume and cancel work as before
 * and a run started on one engine resumes on the other.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { StageName } from '../../protocol/stages';
import { evalLmLoss, lmLoss } from './lm';
import type { LmRows } from './lm';
import type { AdamW } from './optim';
import { OrtLmTrainer } from './ort/lmTrainer';
import type { OrtEngineOptions } from './ort/lmTrainer';
import { NonFiniteError, optimStep } from './stage';
import type { StepResult, TrainModel } from './stage';

export type TrainingEngineName = 'ort' | 'tfjs';

let engineName: TrainingEngineName = 'ort';
let engineOptions: OrtEngineOptions = {};

/** Choose the engine for the language-model stages in this process (the CLI's --engine, the engine's setting). */
export function setTrainingEngine(name: TrainingEngineName, options: OrtEngineOptions = {}): void {
  engineName = name;
  engineOptions = options;
}

export function trainingEngine(): { readonly name: TrainingEngineName; readonly options: OrtEngineOptions } {
  return { name: engineName, options: engineOptions };
}

export interface LmEngine {
  readonly name: TrainingEngineName;
  /** Optimizer steps taken (the stage's step counter). */
  readonly step: number;
  /** One optimisation step on `rows`; a non-finite loss or gradient norm throws NonFiniteError. */
  train(rows: LmRows): Promise<StepResult>;
  /** Mean loss over `batches` without gradients. */
  evalLoss(batches: readonly LmRows[]): Promise<number>;
  /** Make the tfjs model and optimizer hold this engine's parameters and state (before a checkpoint). */
  sync(): Promise<void>;
  release(): Promise<void>;
}

/** The engine for `stage` over `model` and `optimizer` (their current state is where it starts). */
export async function lmEngine(stage: StageName, model: TrainModel, optimizer: AdamW): Promise<LmEngine> {
  if (engineName === 'tfjs') {
    return {
      name: 'tfjs',
      get step() {
        return optimizer.step;
      },
      train: async (rows) => optimStep(stage, model, optimizer, () => ({ loss: lmLoss(model, rows) })),
      evalLoss: async (batches) => evalLmLoss(model, batches),
      sync: async () => undefined,
      release: async () => undefined,
    };
  }
  const weights = new Map(Object.entries(model.params).map(([name, v]) => [name, { shape: v.shape, data: v.dataSync() as Float32Array }]));
  const trainer = await OrtLmTrainer.create(model.config, weights, engineOptions);
  const adam = trainer.optimizer(optimizer.config);
  const state = await optimizer.state();
  adam.restore(state.step, state.slots);
  return {
    name: 'ort',
    get step() {
      return adam.step;
    },
    train: async (rows) => {
      const out = await trainer.lossAndGrads(rows);
      const step = adam.step + 1;
      if (!Number.isFinite(out.loss)) throw new NonFiniteError(stage, step, 'the loss');
      const { lr, gradNorm } = adam.apply(trainer.params, out.grads, out.gradNorm);
      if (!Number.isFinite(gradNorm)) throw new NonFiniteError(stage, step, 'the gradient norm');
      return { loss: out.loss, lr, gradNorm, extras: {} };
    },
    evalLoss: (batches) => trainer.evalLoss(batches),
    sync: async () => {
      for (const [name, p] of trainer.params) {
        const v = model.params[name];
        if (v) tf.tidy(() => v.assign(tf.tensor(p.data, [...p.shape])));
      }
      const s = adam.state(new Map([...trainer.params].map(([name, p]) => [name, p.shape])));
      optimizer.restore(s.step, s.slots);
    },
    release: () => trainer.release(),
  };
}
