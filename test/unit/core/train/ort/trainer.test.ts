/**
 * The ONNX Runtime trainer holds no memory per step: 100 steps (loss, gradients into the arena,
 * AdamW in place) after a warm-up leave RSS and the JS heap flat. A copy of the gradients per
 * step kept alive would raise RSS's floor by ~1.8 MB a step (~90 MB over the last 50 steps here);
 * allocator noise moves it by up to ~20 MB (measured on a busy 2-core machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../../../src/core/compute/backend';
import { TINY_CONFIG } from '../../../../../src/core/model/config';
import { initParams } from '../../../../../src/core/model/gpt2';
import { DEFAULT_OPTIM } from '../../../../../src/core/train/optim';
import { OrtTrainer } from '../../../../../src/core/train/ort/trainer';

test('100 training steps on the ONNX Runtime engine leave RSS and the heap flat', async () => {
  await initCompute('cpu');
  const config = { ...TINY_CONFIG, vocab_size: 512, n_positions: 64, n_embd: 128, n_head: 4, n_layer: 2 };
  const init = initParams(config, 0);
  const weights = new Map(Object.entries(init).map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.dataSync()) }]));
  tf.dispose(Object.values(init));
  const trainer = await OrtTrainer.lm(config, weights, { threads: 1 });
  const adam = trainer.optimizer(DEFAULT_OPTIM);
  const B = 8;
  const T = 64;
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 512);
  const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 13) % 512);
  const step = async (): Promise<void> => {
    const out = await trainer.lossAndGrads({ B, T, ids, targets });
    adam.apply(trainer.params, out.grads, out.gradNorm);
  };
  try {
    for (let i = 0; i < 30; i++) await step();
    const heap = process.memoryUsage().heapUsed;
    // Each step mallocs and frees its activations (no ONNX Runtime arena), so RSS swings by tens of
    // MB from step to step; a leak raises its floor. Compare the floors of the first and last 50 steps.
    const rss: number[] = [];
    for (let i = 0; i < 100; i++) {
      await step();
      rss.push(process.memoryUsage().rss);
    }
    const grownMb = (Math.min(...rss.slice(50)) - Math.min(...rss.slice(0, 50))) / 2 ** 20;
    const heapMb = (process.memoryUsage().heapUsed - heap) / 2 ** 20;
    assert.ok(grownMb < 45, `RSS's floor rose ${grownMb.toFixed(1)} MB over 100 steps`);
    assert.ok(heapMb < 20, `the JS heap grew ${heapMb.toFixed(1)} MB over 100 steps`);
  } finally {
    await trainer.release();
  }
});
