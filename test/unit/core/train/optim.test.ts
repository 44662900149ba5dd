import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { AdamW, DEFAULT_OPTIM, learningRate } from '../../../../src/core/train/optim';
import { maxAbsDiff } from '../model/fixtures';
import { useBackend } from '../model/useBackend';

test('learning rate: linear warmup, cosine decay to the floor', () => {
  const c = { ...DEFAULT_OPTIM, lr: 1, minLrRatio: 0.1, warmupSteps: 10, totalSteps: 110 };
  assert.equal(learningRate(c, 5), 0.5);
  assert.equal(learningRate(c, 10), 1);
  assert.ok(Math.abs(learningRate(c, 60) - 0.55) < 1e-12); // halfway: floor + (1 - floor)/2
  assert.ok(Math.abs(learningRate(c, 110) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(c, 500) - 0.1) < 1e-12);
});

test('one AdamW step matches the hand-computed update (with decay on matrices only)', async () => {
  await tf.setBackend('cpu');
  const c = { ...DEFAULT_OPTIM, lr: 0.1, warmupSteps: 0, totalSteps: 1, minLrRatio: 1, weightDecay: 0.5, maxGradNorm: 0, beta1: 0.9, beta2: 0.99, eps: 0 };
  const params = { w: tf.variable(tf.tensor2d([[1, -2]])), b: tf.variable(tf.tensor1d([3])) };
  const opt = new AdamW(tf, c);
  const report = opt.apply(params, { w: tf.tensor2d([[0.5, -4]]), b: tf.tensor1d([2]) });
  // First step: m̂ = g, v̂ = g², so the Adam update is sign(g); decoupled decay only on w.
  assert.deepEqual(
    Array.from(await params.w.data()).map((x) => +x.toFixed(6)),
    [+(1 * (1 - 0.05) - 0.1).toFixed(6), +(-2 * (1 - 0.05) + 0.1).toFixed(6)],
  );
  assert.deepEqual(
    Array.from(await params.b.data()).map((x) => +x.toFixed(6)),
    [2.9],
  );
  assert.ok(Math.abs(report.gradNorm - Math.sqrt(0.25 + 16 + 4)) < 1e-5);
  opt.dispose();
});

test('clipping scales gradients to the max norm; a non-finite norm skips the update', async () => {
  await tf.setBackend('cpu');
  const c = { ...DEFAULT_OPTIM, lr: 1, warmupSteps: 0, totalSteps: 1, minLrRatio: 1, weightDecay: 0, maxGradNorm: 1, eps: 0 };
  const params = { w: tf.variable(tf.tensor1d([0])) };
  const opt = new AdamW(tf, c);
  const bad = opt.apply(params, { w: tf.tensor1d([NaN]) });
  assert.ok(Number.isNaN(bad.gradNorm));
  assert.equal(opt.step, 0);
  assert.deepEqual(Array.from(await params.w.data()), [0]);
  const ok = opt.apply(params, { w: tf.tensor1d([10]) });
  assert.equal(ok.gradNorm, 10);
  assert.equal(opt.step, 1);
  opt.dispose();
});

test('state round-trips and does not leak tensors across steps', async () => {
  await tf.setBackend('cpu');
  const params = { w: tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 1)) };
  const opt = new AdamW(tf, { ...DEFAULT_OPTIM, warmupSteps: 0 });
  const step = () => {
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(params.w)) as tf.Scalar, [params.w]);
    opt.apply(params, { w: grads[params.w.name] as tf.Tensor });
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  step();
  const after2 = tf.memory().numTensors;
  step();
  assert.equal(tf.memory().numTensors, after2);
  const saved = await opt.state();
  const other = new AdamW(tf, opt.config);
  other.restore(saved.step, saved.slots);
  const again = await other.state();
  assert.equal(again.step, 3);
  assert.deepEqual(Array.from(again.slots.get(`m.${'w'}`)!.data), Array.from(saved.slots.get('m.w')!.data));
  opt.dispose();
  other.dispose();
});

test('AdamW on wasm equals AdamW on cpu over steps with clipping and decay, without leaks', async () => {
  const c = { ...DEFAULT_OPTIM, lr: 0.05, warmupSteps: 2, totalSteps: 10, weightDecay: 0.1, maxGradNorm: 0.5 };
  const run = (): { params: number[][]; norms: number[] } => {
    const params = { w: tf.variable(tf.randomNormal([5, 7], 0, 1, 'float32', 3)), b: tf.variable(tf.randomNormal([7], 0, 1, 'float32', 4)) };
    const opt = new AdamW(tf, c);
    const norms: number[] = [];
    const step = (): void => {
      const { grads, value } = tf.variableGrads(() => tf.sum(tf.mul(tf.square(tf.add(params.w, params.b)), tf.sin(params.w))) as tf.Scalar, [params.w, params.b]);
      norms.push(opt.apply(params, { w: grads[params.w.name]!, b: grads[params.b.name]! }).gradNorm);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, after1, `${tf.getBackend()}: no tensor leaked`);
    const out = [Array.from(params.w.dataSync()), Array.from(params.b.dataSync())];
    opt.dispose();
    tf.dispose(Object.values(params));
    return { params: out, norms };
  };
  await useBackend('cpu');
  const cpu = run();
  await useBackend('wasm');
  const wasm = run();
  cpu.norms.forEach((n, i) => assert.ok(Math.abs(n - wasm.norms[i]!) < 1e-4 * n, `grad norm ${i}: cpu ${n}, wasm ${wasm.norms[i]}`));
  cpu.params.forEach((p, i) => assert.ok(maxAbsDiff(p, wasm.params[i]!) < 1e-5, `param ${i}: ${maxAbsDiff(p, wasm.params[i]!)}`));
  assert.ok(
    cpu.norms.some((n) => n > c.maxGradNorm),
    'clipping was exercised',
  );
});
