/**
 * The ONNX training graph against the tfjs model (an independent implementation): the LM loss
 * and every parameter's gradient on a small random GPT-2, with a masked batch, to 1e-4 relative;
 * and 20 SFT steps on both engines from the same init follow the same loss curve.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { initCompute } from '../../../../src/core/compute/backend';
import { TINY_CONFIG, parameterShapes } from '../../../../src/core/model/config';
import type { GPT2Config } from '../../../../src/core/model/config';
import { initParams } from '../../../../src/core/model/gpt2';
import { buildLmTrainGraph, gradName } from '../../../../src/core/onnx/gptTrainGraph';
import { lmLoss } from '../../../../src/core/train/lm';
import { batchRandom, sampleBatch, sftBatch } from '../../../../src/core/train/data/batches';
import { AdamW, DEFAULT_OPTIM } from '../../../../src/core/train/optim';
import type { OptimConfig } from '../../../../src/core/train/optim';
import { OrtLmTrainer } from '../../../../src/core/train/ort/lmTrainer';
import { optimStep } from '../../../../src/core/train/stage';

const config: GPT2Config = { ...TINY_CONFIG, vocab_size: 61, n_positions: 16, n_embd: 24, n_head: 3, n_layer: 2 };

/** max |a − b| / max |b| (0 when both are 0). */
function relError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return scale === 0 ? diff : diff / scale;
}

test('LM loss and every gradient of the ONNX training graph match tfjs', async () => {
  await initCompute('cpu');
  const B = 3;
  const T = 7;
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 17 + 5) % config.vocab_size);
  const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 29 + 3) % config.vocab_size);
  const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T < 2 || i % 5 === 0 ? 0 : 1));
  const params = initParams(config, 42);
  // Non-trivial LayerNorm scales and biases, so their gradients are exercised too.
  for (const [name, v] of Object.entries(params)) if (/ln_|bias/.test(name)) params[name] = tf.add(v, tf.randomUniform(v.shape, -0.3, 0.3, 'float32', 7));
  const vars = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tf.variable(v, true, `p_${k}`)]));
  const { value, grads } = tf.variableGrads(() => lmLoss({ config, params: vars }, { B, T, ids, targets, mask }));
  const expectedLoss = value.dataSync()[0] as number;

  const session = await ort.InferenceSession.create(buildLmTrainGraph(config), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (v) => BigInt(v)),
        [B, T],
      ),
      targets: new ort.Tensor(
        'int64',
        BigInt64Array.from(targets, (v) => BigInt(v)),
        [B, T],
      ),
      loss_mask: new ort.Tensor('float32', mask, [B, T]),
    };
    for (const [name, dims] of parameterShapes(config)) feeds[name] = new ort.Tensor('float32', (vars[name] as tf.Variable).dataSync() as Float32Array, [...dims]);
    const out = await session.run(feeds);
    assert.ok(Math.abs((out.loss?.data[0] as number) - expectedLoss) < 1e-5 * Math.max(1, Math.abs(expectedLoss)), `loss ${out.loss?.data[0]} vs ${expectedLoss}`);
    let sumSquares = 0;
    for (const name of parameterShapes(config).keys()) {
      const expected = grads[`p_${name}`]?.dataSync() as Float32Array;
      const got = out[gradName(name)]?.data as Float32Array;
      assert.ok(expected && got, `gradient of ${name} missing`);
      const err = relError(got, expected);
      assert.ok(err < 1e-4, `gradient of ${name}: relative error ${err}`);
      for (const v of expected) sumSquares += v * v;
    }
    assert.ok(Math.abs((out.grad_norm?.data[0] as number) - Math.sqrt(sumSquares)) < 1e-4 * Math.sqrt(sumSquares));
  } finally {
    await session.release();
    tf.dispose([value, ...Object.values(grads), ...Object.values(vars), ...Object.values(params)]);
  }
});

test('20 SFT steps from the same init: the ONNX Runtime engine and tfjs give the same loss curve', async () => {
  await initCompute('cpu');
  const examples = Array.from({ length: 12 }, (_, i) => ({
    prompt: Array.from({ length: 2 + (i % 4) }, (_, j) => (i * 7 + j * 3) % config.vocab_size),
    response: Array.from({ length: 3 + (i % 5) }, (_, j) => (i * 11 + j * 5 + 1) % config.vocab_size),
  }));
  const optim: OptimConfig = { ...DEFAULT_OPTIM, lr: 3e-3, warmupSteps: 3, totalSteps: 20 };
  const init = initParams(config, 9);
  const weights = new Map(Object.entries(init).map(([name, t]) => [name, { shape: t.shape, data: Float32Array.from(t.dataSync()) }]));
  const model = { config, params: Object.fromEntries(Object.entries(init).map(([k, v]) => [k, tf.variable(v, true, `s_${k}`)])) };
  const reference = new AdamW(tf, optim);
  const trainer = await OrtLmTrainer.create(config, weights, { threads: 1 });
  const adam = trainer.optimizer(optim);
  try {
    for (let step = 1; step <= 20; step++) {
      const batch = sftBatch(sampleBatch(examples, 4, batchRandom(3, step)), 12, 0);
      const rows = { B: batch.B, T: batch.T, ids: batch.ids, targets: batch.targets, mask: batch.mask };
      const expected = optimStep('sft', model, reference, () => ({ loss: lmLoss(model, rows) }));
      const got = await trainer.lossAndGrads(rows);
      const report = adam.apply(trainer.params, got.grads, got.gradNorm);
      assert.ok(Math.abs(got.loss - expected.loss) < 1e-3 * expected.loss, `step ${step}: loss ${got.loss} vs ${expected.loss}`);
      assert.ok(Math.abs(got.gradNorm - expected.gradNorm) < 1e-3 * expected.gradNorm, `step ${step}: grad norm ${got.gradNorm} vs ${expected.gradNorm}`);
      assert.equal(report.lr, expected.lr);
    }
    // The parameters themselves stay together too.
    for (const [name, p] of trainer.params) assert.ok(relError(p.data, (model.params[name] as tf.Variable).dataSync() as Float32Array) < 1e-3, name);
  } finally {
    await trainer.release();
    reference.dispose();
    tf.dispose([...Object.values(model.params), ...Object.values(init)]);
  }
});
