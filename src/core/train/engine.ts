/**
 * Which engine trains every stage (pretraining, SFT, reward model, DPO, PPO, RLOO): ONNX Runtime
 * (the default: every core, the training graphs of onnx/gptGraph.ts, AdamW in the arena) or tfjs
 * (the correctness reference, and the backends a user can still pick). The stage loop sees one
 * interface either way. The ONNX Runtime engine starts from the model and optimizer state the
 * runner loaded as plain arrays (taking the model's parameters over: the trainer's arena holds
 * them) and never loads tfjs; the tfjs engine (tfjs/engine.ts, imported only when chosen) makes
 * tfjs variables of them. Either hands each checkpoint a `snapshot` of its parameters and AdamW
 * state, so checkpoints, resume and cancel work the same, and a run started on one engine resumes
 * on the other.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { StageName } from '../../protocol/stages';
import type { LmRows } from './lm';
import type { Optimizer } from './optim';
import { OrtTrainer } from './ort/trainer';
import type { LossAndGrads, TrainerGraphs } from './ort/trainer';
import { configureOrtDevice, resolveOrtDevice } from './ort/device';
import type { OrtDeviceSettings } from './ort/device';
import { disposeParams, due, NonFiniteError, takeParam } from './stage';
import { loraEngineStart } from './loraRun';
import { UserError } from '../errors';
import type { LoopConfig, StageEvent, StepResult, TrainingSnapshot, TrainModel } from './stage';

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
  /** What a checkpoint saves from this engine: its parameters and AdamW state. */
  snapshot(): TrainingSnapshot | undefined;
  release(): Promise<void>;
}

/** A loss of the tfjs model, with extra scalars computed in the same pass (read back after the step). */
export type TfjsLoss = () => { loss: tf.Scalar; extras?: Record<string, tf.Scalar> };

/**
 * A stage's engine over `model` and `optimizer` (their current state is where it starts): for
 * ONNX Runtime, a trainer for `objective`, which takes the model's parameters over (do not read
 * them from the model after); for tfjs, AdamW over the model's tfjs variables. Checkpoints read
 * both through `snapshot`.
 */
export interface StageEngine {
  readonly name: TrainingEngineName;
  /** Optimizer steps taken (the stage's step counter). */
  readonly step: number;
  /** The ONNX Runtime trainer (absent on tfjs). */
  readonly trainer?: OrtTrainer;
  /** One ONNX Runtime optimisation step: `run` gives the loss and gradients; then the NaN guard and AdamW. */
  ortStep(run: (t: OrtTrainer) => Promise<LossAndGrads>): Promise<StepResult>;
  /** One tfjs optimisation step: the gradients of `loss` (tf.variableGrads), the NaN guard, AdamW. */
  tfjsStep(loss: TfjsLoss): StepResult;
  snapshot(): TrainingSnapshot | undefined;
  release(): Promise<void>;
}

/**
 * `objective`: the LM loss or the reward model's pairwise loss (onnx/gptGraph.ts), or any
 * TrainerGraphs over the model's parameters (the policy stages' graphs, with their heads).
 */
export async function stageEngine(stage: StageName, model: TrainModel, optimizer: Optimizer, objective: 'lm' | 'reward' | TrainerGraphs): Promise<StageEngine> {
  if (engineName === 'tfjs') {
    if (model.lora) throw new UserError(`${stage}: LoRA trains on the ONNX Runtime engine only; choose it (--engine ort) or remove "lora" from the config.`);
    return (await import('./tfjs/engine')).tfjsStageEngine(stage, model, optimizer);
  }
  const { device, threads } = await resolveOrtDevice();
  // Each parameter moves into the trainer's arena, taken from the model (its plain arrays, or a
  // tfjs variable freed at once): at gpt2 size the model is never held twice. Then the AdamW
  // moments move the same way.
  // With LoRA the base weights stay the model's arrays (fed by reference), and the adapter starts
  // from the model's (resume) or fresh.
  const start = model.lora ? loraEngineStart(model, model.lora, stage) : undefined;
  const weights = (name: string, into: Float32Array): void => into.set(start ? start.initial(name) : takeParam(model, name).data);
  const options = { provider: device, threads, ...(start ? { lora: start.lora } : {}) };
  const trainer =
    objective === 'lm'
      ? await OrtTrainer.lm(model.config, weights, options)
      : objective === 'reward'
        ? await OrtTrainer.reward(model.config, weights, options)
        : await OrtTrainer.create(objective, model.config, weights, options);
  disposeParams(model);
  const adam = trainer.optimizer(optimizer.config);
  const state = await optimizer.state();
  optimizer.dispose();
  adam.restore(state.step, state.slots);
  const shapes = new Map([...trainer.params].map(([name, p]) => [name, p.shape]));
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
    tfjsStep: () => {
      throw new Error('tfjsStep on the ONNX Runtime engine');
    },
    snapshot: () => ({ weights: trainer.params, optimizer: adam.state(shapes), ...(trainer.lora ? { lora: trainer.lora } : {}) }),
    release: () => trainer.release(),
  };
}

/** The language-model stages' engine (pretraining, SFT). */
export async function lmEngine(stage: StageName, model: TrainModel, optimizer: Optimizer): Promise<LmEngine> {
  const engine = await stageEngine(stage, model, optimizer, 'lm');
  const trainer = engine.trainer;
  const lm = (train: LmEngine['train'], evalLoss: LmEngine['evalLoss']): LmEngine => ({
    name: engine.name,
    get step() {
      return engine.step;
    },
    train,
    evalLoss,
    snapshot: () => engine.snapshot(),
    release: () => engine.release(),
  });
  if (trainer)
    return lm(
      (rows) => engine.ortStep((t) => t.lossAndGrads(rows)),
      (batches) => trainer.evalLoss(batches),
    );
  const { evalLmLoss, lmLoss } = await import('./lm');
  return lm(
    async (rows) => engine.tfjsStep(() => ({ loss: lmLoss(model, rows) })),
    async (batches) => evalLmLoss(model, batches),
  );
}

/**
 * The loop every engine-driven stage shares (pretraining, SFT, the reward model): steps up to
 * `config.steps`, each by `body(step)`; a checkpoint on cancel, every `checkpointEvery` steps and
 * at the end, each with the engine's snapshot; the engine released however the loop ends.
 */
export async function* engineLoop(
  engine: Pick<StageEngine, 'step' | 'snapshot' | 'release'>,
  config: Pick<LoopConfig, 'steps' | 'checkpointEvery'>,
  signal: AbortSignal | undefined,
  body: (step: number) => AsyncGenerator<StageEvent>,
): AsyncGenerator<StageEvent> {
  const checkpoint = (step: number, reason: 'interval' | 'final' | 'cancel'): StageEvent => {
    const snapshot = engine.snapshot();
    return { type: 'checkpoint', step, reason, ...(snapshot ? { snapshot } : {}) };
  };
  try {
    while (engine.step < config.steps) {
      if (signal?.aborted) {
        yield checkpoint(engine.step, 'cancel');
        signal.throwIfAborted();
      }
      const step = engine.step + 1;
      yield* body(step);
      if (due(step, config.checkpointEvery) && step < config.steps) yield checkpoint(step, 'interval');
    }
    yield checkpoint(engine.step, 'final');
  } finally {
    await engine.release();
  }
}
