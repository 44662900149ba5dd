/**
 * Which engine trains pretraining, SFT and the reward model: ONNX Runtime (the default: every
 * core, the training graphs of onnx/gptGraph.ts, AdamW in the arena) or tfjs (the
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
import { OrtTrainer } from './ort/trainer';
import type { LossAndGrads } from './ort/trainer';
import { configureOrtDevice, resolveOrtDevice } from './ort/device';
import type { OrtDeviceSettings } from './ort/device';
import { due, NonFiniteError, optimStep } from './stage';
import type { LoopConfig, StageEvent, StepResult, TrainModel } from './stage';

export type TrainingEngineName = 'ort' | 'tfjs';

/** The ONNX Runtime engine's device (auto, cpu, webgpu, …) and threads (a count, or the physical cores minus reserved ones). */
export type TrainingEngineOptions = OrtDeviceSettings;

let engineName: TrainingEngineName = 'ort';
let engineOptions: TrainingEngineOptions = {};

/**
 * Choose the engine for the language-model stages in this process (the CLI's --engine, the
 * engine's setting), and ONNX Runtime's device and threads (ort/device.ts resolves them on first
 * use; the thread count also goes to the ONNX Runtime sampler's sessions).
 */
export function setTrainingEngine(name: TrainingEngineName, options: TrainingEngineOptions = {}): void {
  engineName = name;
  engineOptions = options;
  configureOrtDevice(options);
}

export function trainingEngine(): { readonly name: TrainingEngineName; readonly options: TrainingEngineOptions } {
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

/**
 * A stage's engine over `model` and `optimizer` (their current state is where it starts): for
 * ONNX Runtime, a trainer for `objective` whose parameters and AdamW state are handed back to the
 * tfjs model and optimizer by `sync` (before each checkpoint). For tfjs, nothing of its own.
 */
export interface StageEngine {
  readonly name: TrainingEngineName;
  /** Optimizer steps taken (the stage's step counter). */
  readonly step: number;
  /** The ONNX Runtime trainer (absent on tfjs). */
  readonly trainer?: OrtTrainer;
  /** One ONNX Runtime optimisation step: `run` gives the loss and gradients; then the NaN guard and AdamW. */
  ortStep(run: (t: OrtTrainer) => Promise<LossAndGrads>): Promise<StepResult>;
  sync(): Promise<void>;
  release(): Promise<void>;
}

export async function stageEngine(stage: StageName, model: TrainModel, optimizer: AdamW, objective: 'lm' | 'reward'): Promise<StageEngine> {
  if (engineName === 'tfjs') {
    return {
      name: 'tfjs',
      get step() {
        return optimizer.step;
      },
      ortStep: () => Promise.reject(new Error('ortStep on the tfjs engine')),
      sync: async () => undefined,
      release: async () => undefined,
    };
  }
  const weights = new Map(Object.entries(model.params).map(([name, v]) => [name, { shape: v.shape, data: v.dataSync() as Float32Array }]));
  const { device, threads } = await resolveOrtDevice();
  const trainer = objective === 'lm' ? await OrtTrainer.lm(model.config, weights, { provider: device, threads }) : await OrtTrainer.reward(model.config, weights, { provider: device, threads });
  const adam = trainer.optimizer(optimizer.config);
  const state = await optimizer.state();
  adam.restore(state.step, state.slots);
  return {
    name: 'ort',
    trainer,
    get step() {
      return adam.step;
    },
    ortStep: async (run) => {
      const out = await run(trainer);
      const step = adam.step + 1;
      if (!Number.isFinite(out.loss)) throw new NonFiniteError(stage, step, 'the loss');
      const { lr, gradNorm } = adam.apply(trainer.params, out.grads, out.gradNorm);
      if (!Number.isFinite(gradNorm)) throw new NonFiniteError(stage, step, 'the gradient norm');
      return { loss: out.loss, lr, gradNorm, extras: out.values };
    },
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

/** The language-model stages' engine (pretraining, SFT). */
export async function lmEngine(stage: StageName, model: TrainModel, optimizer: AdamW): Promise<LmEngine> {
  const engine = await stageEngine(stage, model, optimizer, 'lm');
  const trainer = engine.trainer;
  return {
    name: engine.name,
    get step() {
      return engine.step;
    },
    train: (rows) => (trainer ? engine.ortStep((t) => t.lossAndGrads(rows)) : Promise.resolve(optimStep(stage, model, optimizer, () => ({ loss: lmLoss(model, rows) })))),
    evalLoss: async (batches) => (trainer ? trainer.evalLoss(batches) : evalLmLoss(model, batches)),
    sync: () => engine.sync(),
    release: () => engine.release(),
  };
}

/**
 * The loop every engine-driven stage shares (pretraining, SFT, the reward model): steps up to
 * `config.steps`, each by `body(step)`; a checkpoint on cancel, every `checkpointEvery` steps and
 * at the end, each after `sync` so the runner saves what the engine holds; the engine released
 * however the loop ends.
 */
export async function* engineLoop(
  engine: Pick<StageEngine, 'step' | 'sync' | 'release'>,
  config: Pick<LoopConfig, 'steps' | 'checkpointEvery'>,
  signal: AbortSignal | undefined,
  body: (step: number) => AsyncGenerator<StageEvent>,
): AsyncGenerator<StageEvent> {
  try {
    while (engine.step < config.steps) {
      if (signal?.aborted) {
        await engine.sync();
        yield { type: 'checkpoint', step: engine.step, reason: 'cancel' };
        signal.throwIfAborted();
      }
      const step = engine.step + 1;
      yield* body(step);
      if (due(step, config.checkpointEvery) && step < config.steps) {
        await engine.sync();
        yield { type: 'checkpoint', step, reason: 'interval' };
      }
    }
    await engine.sync();
    yield { type: 'checkpoint', step: engine.step, reason: 'final' };
  } finally {
    await engine.release();
  }
}
