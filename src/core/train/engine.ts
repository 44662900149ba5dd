/**
 * Which engine trains every stage (pretraining, SFT, reward model, DPO, PPO, RLOO): ONNX Runtime (the default: every
 * core, the training graphs of onnx/gptGraph.ts, AdamW in the arena) or tfjs (the
 * correctness reference, and the backends a user can still pick). The stage loop sees one
 * interface either way. The ONNX Runtime engine starts from the tfjs model and optimizer the
 * runner loaded (then frees the model's copy of the parameters: the trainer's arena holds them),
 * and hands each checkpoint a `snapshot` of its own buffers, so checkpoints, resume and cancel
 * work as before, a run started on one engine resumes on the other, and nothing is copied into
 * tfjs to save it.
 */
import type { StageName } from '../../protocol/stages';
import { evalLmLoss, lmLoss } from './lm';
import type { LmRows } from './lm';
import type { AdamW } from './optim';
import { OrtTrainer } from './ort/trainer';
import type { LossAndGrads, TrainerGraphs } from './ort/trainer';
import { configureOrtDevice, resolveOrtDevice } from './ort/device';
import type { OrtDeviceSettings } from './ort/device';
import { disposeParams, due, NonFiniteError, optimStep, takeParam } from './stage';
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
  /** What a checkpoint saves from this engine (absent on tfjs: the model and optimizer themselves). */
  snapshot(): TrainingSnapshot | undefined;
  release(): Promise<void>;
}

/**
 * A stage's engine over `model` and `optimizer` (their current state is where it starts): for
 * ONNX Runtime, a trainer for `objective` whose parameters and AdamW state checkpoints read
 * through `snapshot`; the tfjs model's parameters are freed once copied (do not read them after).
 * For tfjs, nothing of its own.
 */
export interface StageEngine {
  readonly name: TrainingEngineName;
  /** Optimizer steps taken (the stage's step counter). */
  readonly step: number;
  /** The ONNX Runtime trainer (absent on tfjs). */
  readonly trainer?: OrtTrainer;
  /** One ONNX Runtime optimisation step: `run` gives the loss and gradients; then the NaN guard and AdamW. */
  ortStep(run: (t: OrtTrainer) => Promise<LossAndGrads>): Promise<StepResult>;
  snapshot(): TrainingSnapshot | undefined;
  release(): Promise<void>;
}

/**
 * `objective`: the LM loss or the reward model's pairwise loss (onnx/gptGraph.ts), or any
 * TrainerGraphs over the model's parameters (the policy stages' graphs, with their heads).
 */
export async function stageEngine(stage: StageName, model: TrainModel, optimizer: AdamW, objective: 'lm' | 'reward' | TrainerGraphs): Promise<StageEngine> {
  if (engineName === 'tfjs') {
    return {
      name: 'tfjs',
      get step() {
        return optimizer.step;
      },
      ortStep: () => Promise.reject(new Error('ortStep on the tfjs engine')),
      snapshot: () => undefined,
      release: async () => undefined,
    };
  }
  const { device, threads } = await resolveOrtDevice();
  // Each parameter moves into the trainer's arena and its tfjs copy is freed at once (at gpt2
  // size the model is never held twice); then the AdamW moments move the same way.
  const weights = (name: string, into: Float32Array): void => into.set(takeParam(model, name).data);
  const options = { provider: device, threads };
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
    snapshot: () => ({ weights: trainer.params, optimizer: adam.state(shapes) }),
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
    snapshot: () => engine.snapshot(),
    release: () => engine.release(),
  };
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
