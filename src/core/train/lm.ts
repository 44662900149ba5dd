/**
 * The language-model loss pretraining and SFT share: next-token cross-entropy over [B, T]
 * rows, averaged over the positions whose mask is 1. The rows are both engines'; the loss here is
 * the tfjs engine's (engine.ts imports it only there; ONNX Runtime's is onnx/gptGraph.ts's).
 */
import * as tf from '@tensorflow/tfjs-core';
import { forward } from '../model/gpt2';
import { crossEntropy } from '../model/ops';
import type { TrainModel } from './stage';
import { gpt2Only } from '../model/modelConfig';

export interface LmRows {
  readonly B: number;
  readonly T: number;
  readonly ids: Int32Array;
  readonly targets: Int32Array;
  /** [B·T]; absent: every position counts. */
  readonly mask?: Float32Array;
}

/** Mean next-token loss (a scalar tensor: call inside tf.tidy or a tfjs step). */
export function lmLoss(model: TrainModel, rows: LmRows): tf.Scalar {
  const { B, T, config } = { ...rows, config: model.config };
  const ids = tf.tensor2d(rows.ids, [B, T], 'int32');
  const { logits } = forward(model.params, gpt2Only(config, 'The tfjs engine'), { ids });
  const flat = tf.reshape(logits as tf.Tensor3D, [B * T, config.vocab_size]) as tf.Tensor2D; // [B·T, V]
  const targets = tf.tensor1d(rows.targets, 'int32');
  return crossEntropy(flat, targets, rows.mask ? tf.tensor1d(rows.mask) : undefined);
}

/** Mean loss over several row sets without gradients (evaluation). */
export function evalLmLoss(model: TrainModel, batches: readonly LmRows[]): number {
  if (batches.length === 0) return NaN;
  let total = 0;
  let weight = 0;
  for (const rows of batches) {
    const n = rows.mask ? rows.mask.reduce((s, v) => s + v, 0) : rows.B * rows.T;
    if (n === 0) continue;
    total += tf.tidy(() => lmLoss(model, rows).dataSync()[0] as number) * n;
    weight += n;
  }
  return weight ? total / weight : NaN;
}
