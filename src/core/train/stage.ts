/**
 * What every training stage shares: the events its loop yields (metrics, checkpoint requests),
 * the loop settings every stage has, the NaN/Inf guard, and one optimisation step.
 * A stage never does I/O: it yields, and the runner (or a test) decides what to do.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MetricName, MetricRecord } from '../../protocol/metrics';
import type { StageName } from '../../protocol/stages';
import type { GPT2Config } from '../model/config';
import type { AdamW, OptimConfig } from './optim';

export type StageEvent =
  | { readonly type: 'metrics'; readonly record: MetricRecord }
  /**
   * Save now: parameters and optimizer state are consistent at `step` (the stage's own counter:
   * optimizer steps for most stages, iterations for PPO/RLOO). `state` is the stage's own
   * resumable state (e.g. PPO's adaptive KL coefficient), stored as JSON beside the checkpoint.
   */
  | { readonly type: 'checkpoint'; readonly step: number; readonly reason: 'interval' | 'final' | 'cancel'; readonly state?: unknown; readonly snapshot?: TrainingSnapshot }
  | { readonly type: 'log'; readonly message: string }
  /** Sampled completions to keep in the run's samples.jsonl (PPO/RLOO). */
  | { readonly type: 'samples'; readonly samples: readonly SampleLine[] };

/**
 * What to save when the parameters and optimizer state live outside the tfjs model and optimizer
 * (the ONNX Runtime engine's buffers): views, valid until the loop goes on, so a checkpoint
 * copies nothing but what it writes.
 */
export interface TrainingSnapshot {
  readonly weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;
  readonly optimizer: { readonly step: number; readonly slots: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }> };
}

export interface SampleLine {
  readonly iteration: number;
  readonly prompt: string;
  readonly completion: string;
  /** Its reward (null: not scored, e.g. a GRPO completion a reward function could not score). */
  readonly score: number | null;
  /** Its KL to the reference (null: not measured, e.g. GRPO without a reference at β = 0). */
  readonly kl: number | null;
  /** Each reward function's value for this completion (GRPO; null: the function could not score it). */
  readonly rewards?: Readonly<Record<string, number | null>>;
}

/** Loop settings every stage has (each stage's config extends this). */
export interface LoopConfig {
  /** Optimisation steps in all (a resumed run continues to this same total). */
  readonly steps: number;
  readonly batchSize: number;
  /** Evaluate on held-out data every N steps (0: only at the end). */
  readonly evalEvery: number;
  /** Ask the runner for a checkpoint every N steps (0: only at the end). */
  readonly checkpointEvery: number;
  /** Seeds data order; batch s depends only on (seed, s), so a resumed run sees the same batches. */
  readonly seed: number;
  readonly optim: OptimConfig;
}

/** Where a resumed stage picks up: its last checkpoint's step and saved state. */
export interface ResumePoint {
  readonly step: number;
  readonly state?: unknown;
}

/** A model being trained: its config and trainable parameters keyed by HF names. */
export interface TrainModel {
  readonly config: GPT2Config;
  /** tfjs variables by HF name (a model loaded from a checkpoint makes them on first use). */
  readonly params: Record<string, tf.Variable>;
  /**
   * The parameters as plain arrays while no tfjs variables have been made from them (a loaded
   * checkpoint): the ONNX Runtime engine takes them from here, so the model is never copied into tfjs.
   */
  readonly plain?: () => Map<string, { readonly shape: readonly number[]; readonly data: Float32Array }> | undefined;
}

/**
 * Parameter `name` as plain values, handed over: from the model's plain arrays (then dropped
 * from it), or read from its tfjs variable (then freed). Either way the model no longer holds it.
 */
export function takeParam(model: TrainModel, name: string): { readonly shape: readonly number[]; readonly data: Float32Array } {
  const plain = model.plain?.();
  const w = plain?.get(name);
  if (plain && w) {
    plain.delete(name);
    return w;
  }
  const v = model.params[name];
  if (!v) throw new Error(`the model has no parameter '${name}'`);
  const out = { shape: [...v.shape], data: v.dataSync() as Float32Array };
  v.dispose();
  return out;
}

/** Free the model's tfjs variables, if it has made any (a plain model makes none). */
export function disposeParams(model: TrainModel): void {
  if (model.plain?.()) return;
  tf.dispose(Object.values(model.params));
}

/** A loss or gradient became NaN/Inf: the run stops and the last good checkpoint is kept. */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  constructor(stage: StageName, step: number, what: string) {
    super(
      `${stage}: ${what} became non-finite at step ${step}; training stopped and the last good checkpoint is kept. ` +
        'Lower the learning rate, raise warmup, or check the data for empty or extreme examples.',
    );
  }
}

export interface StepResult {
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  /** Extra scalars the loss function reported (read after the step). */
  readonly extras: Record<string, number>;
}

/**
 * One optimisation step: loss and gradients for the trainable params, the NaN guard, AdamW.
 * `lossFn` returns the scalar loss and may return extra scalars (accuracies, margins) that are
 * computed in the same pass; they are read back as numbers.
 */
export function optimStep(stage: StageName, model: TrainModel, optimizer: AdamW, lossFn: () => { loss: tf.Scalar; extras?: Record<string, tf.Scalar> }): StepResult {
  const vars = Object.values(model.params).filter((v) => v.trainable);
  const byVarName = new Map(Object.entries(model.params).map(([name, v]) => [v.name, name]));
  const extras: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const out = lossFn();
    for (const [k, t] of Object.entries(out.extras ?? {})) extras[k] = tf.keep(t);
    return out.loss;
  }, vars);
  try {
    const loss = value.dataSync()[0] as number;
    const step = optimizer.step + 1;
    if (!Number.isFinite(loss)) throw new NonFiniteError(stage, step, 'the loss');
    const named: Record<string, tf.Tensor> = {};
    for (const [varName, g] of Object.entries(grads)) {
      const name = byVarName.get(varName);
      if (name) named[name] = g;
    }
    const { lr, gradNorm } = optimizer.apply(model.params, named);
    if (!Number.isFinite(gradNorm)) throw new NonFiniteError(stage, step, 'the gradient norm');
    const extraValues: Record<string, number> = {};
    for (const [k, t] of Object.entries(extras)) extraValues[k] = t.dataSync()[0] as number;
    return { loss, lr, gradNorm, extras: extraValues };
  } finally {
    tf.dispose([value, ...Object.values(grads), ...Object.values(extras)]);
  }
}

/** A metrics event for `stage` at `step`. */
export function metrics(stage: StageName, step: number, values: Partial<Record<MetricName, number>>): StageEvent {
  return { type: 'metrics', record: { stage, step, time: Date.now(), values } };
}

/** True when `step` is a multiple of a positive `every`. */
export const due = (step: number, every: number): boolean => every > 0 && step % every === 0;
