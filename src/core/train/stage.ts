/**
 * What every training stage shares: the events its loop yields (metrics, checkpoint requests),
 * the loop settings every stage has, the model being trained, and the NaN/Inf guard (the tfjs
 * engine's optimisation step is in tfjs/engine.ts). A stage never does I/O: it yields, and the
 * runner (or a test) decides what to do.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { MetricName, MetricRecord } from '../../protocol/metrics';
import type { StageName } from '../../protocol/stages';
import type { ModelConfig } from '../model/modelConfig';
import type { OptimConfig } from './optim';
import type { LoraRun } from './loraRun';
import type { TrainerLora } from './ort/trainer';

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
 * What a checkpoint saves: the engine's parameters and optimizer state (the ONNX Runtime
 * engine's buffers: views, valid until the loop goes on, so a checkpoint copies nothing but what
 * it writes; the tfjs engine's read back from its variables).
 */
export interface TrainingSnapshot {
  readonly weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;
  readonly optimizer: { readonly step: number; readonly slots: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }> };
  /** A LoRA run's plan and frozen base (then `weights` are the adapter's and the heads'). */
  readonly lora?: TrainerLora;
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
  readonly config: ModelConfig;
  /** tfjs variables by HF name (a model loaded from a checkpoint makes them on first use). */
  readonly params: Record<string, tf.Variable>;
  /**
   * The parameters as plain arrays while no tfjs variables have been made from them (a loaded
   * checkpoint): the ONNX Runtime engine takes them from here, so the model is never copied into tfjs.
   */
  readonly plain?: () => Map<string, { readonly shape: readonly number[]; readonly data: Float32Array }> | undefined;
  /** Set for a LoRA run (loraRun.ts): the engine trains an adapter over these weights, frozen. */
  readonly lora?: LoraRun;
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

/** Whether the model has parameter `name`, without making tfjs variables of a plain model. */
export function hasParam(model: TrainModel, name: string): boolean {
  const plain = model.plain?.();
  return plain ? plain.has(name) : model.params[name] !== undefined;
}

/** Free the model's tfjs variables, if it has made any (a plain model makes none). */
export function disposeParams(model: TrainModel): void {
  if (model.plain?.()) return;
  for (const v of Object.values(model.params)) v.dispose();
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

/** A metrics event for `stage` at `step`. */
export function metrics(stage: StageName, step: number, values: Partial<Record<MetricName, number>>): StageEvent {
  return { type: 'metrics', record: { stage, step, time: Date.now(), values } };
}

/** True when `step` is a multiple of a positive `every`. */
export const due = (step: number, every: number): boolean => every > 0 && step % every === 0;
