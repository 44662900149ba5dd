/**
 * The one place the default path may reach tfjs from: TensorFlow.js is the correctness reference
 * in tests and an engine a user can choose (`--engine tfjs`, an explicit rlhf.engine.backend),
 * and nothing on the ONNX Runtime path loads it. Modules that run only on the tfjs engine
 * (model/gpt2.ts, ops.ts, …, train/tfjs/) import it statically and are themselves imported with
 * `await import()` where the engine is chosen, so the bundle requires none of them at start;
 * everything else imports tfjs types only (`import type`, erased), and reaches tfjs-core through
 * `tfjs()` below when the tfjs engine needs it (a loaded model's variables).
 */
import type * as TfTypes from '@tensorflow/tfjs-core';

export type Tf = typeof TfTypes;

let loaded: Tf | undefined;

/** tfjs-core, loaded on first call (a plain require: the bundle keeps it external and lazy). */
export function tfjs(): Tf {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('@tensorflow/tfjs-core') as Tf);
}
