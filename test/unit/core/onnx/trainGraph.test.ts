/**
 * The ONNX training graph against the tfjs model (an independent implementation): the LM loss
 * and every parameter's gradient on a small random GPT-2, with a masked batch, to 1e-4 relative;
 * the reward model's pairwise loss and gradients likewise; and SFT and reward-model training on
 * both engines from the same init follow the same loss curve.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { initCompute } from '../../../../src/core/compute/backend';
import { TINY_CONFIG, parameterShapes } from '../../../../src/core/model/config';
import type { GPT2Config } from '../../../../src/core/model/config';
import { initParams } from '../../../../src/core/model/gpt2';
import { buildLmTrainGraph, buildRewardTrainGraph, gradName } from '../../../../src/core/onnx/gptGraph';
import { rewardBatch } from '../../../../src/core/train/data/batches';
import type { RankedGroup } from '../../../../src/core/train/data/batches';
import { DEFAULT_REWARD, reward } from '../../../../src/core/train/stages/reward';
import { pairLoss } from '../../../../src/core/train/tfjs/reward';
import { setTrainingEngine } from '../../../../src/core/train/engine';
import { lmLoss } from '../../../../src/core/train/lm';
import { batchRandom, sampleBatch, sftBatch } from '../../../../src/core/train/data/batches';
import { AdamW, DEFAULT_OPTIM } from '../../../../src/core/train/optim';
import type { OptimConfig } from '../../../../src/core/train/optim';
import { OrtTrainer } from '../../../../src/core/train/ort/trainer';
import { optimStep } from '../../../../src/core/train/tfjs/engine';
import { relError } from './relError';

const config: GPT2Config = { ...TINY_CONFIG, vocab_size: 61, n_positions: 16, n_embd: 24, n_head: 3, n_layer: 2 };

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
  const trainer = await OrtTrainer.lm(config, weights, { threads: 1 });
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

test('the reward model graph: pairwise loss, its statistics and every gradient match tfjs', async () => {
  await initCompute('cpu');
  const groups: RankedGroup[] = [
    {
      prompt: [1, 2, 3],
      completions: [[4, 5], [6, 7, 8, 9], [10]],
      pairs: [
        [0, 1],
        [0, 2],
        [1, 2],
      ],
    },
    {
      prompt: [11, 12],
      completions: [
        [13, 14, 15],
        [16, 17],
      ],
      pairs: [[1, 0]],
    },
    { prompt: [20], completions: [[21, 22], [23], [24, 25, 26]], pairs: [[2, 0]] },
  ];
  const batch = rewardBatch(groups, 8, 0);
  const init = { ...initParams(config, 5), 'score.weight': tf.randomNormal([1, config.n_embd], 0, 0.2, 'float32', 3) };
  const vars = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, tf.variable(v, true, `r_${k}`)]));
  const model = { config, params: vars };
  const margin = 0.1;
  const expectedStats: Record<string, number> = {};
  const { value, grads } = tf.variableGrads(() => {
    const s = pairLoss(model, batch, margin);
    for (const k of ['accuracy', 'margin', 'chosen', 'rejected'] as const) expectedStats[k] = s[k].dataSync()[0] as number;
    return s.loss;
  });
  const session = await ort.InferenceSession.create(buildRewardTrainGraph(config), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const int64 = (xs: ArrayLike<number>, dims: number[]): ort.Tensor =>
      new ort.Tensor(
        'int64',
        BigInt64Array.from(Array.from(xs), (v) => BigInt(v)),
        dims,
      );
    const last = Array.from({ length: batch.S }, (_, s) => {
      let l = 0;
      for (let t = 0; t < batch.T; t++) if ((batch.mask[s * batch.T + t] as number) > 0) l = t;
      return l;
    });
    const perGroup = new Map<number, number>();
    for (const gi of batch.pairGroup) perGroup.set(gi, (perGroup.get(gi) ?? 0) + 1);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(batch.ids, [batch.S, batch.T]),
      last_index: int64(last, [batch.S]),
      winners: int64(batch.winners, [batch.winners.length]),
      losers: int64(batch.losers, [batch.losers.length]),
      pair_weight: new ort.Tensor(
        'float32',
        Float32Array.from(batch.pairGroup, (gi) => 1 / ((perGroup.get(gi) as number) * perGroup.size)),
        [batch.winners.length],
      ),
      margin: new ort.Tensor('float32', Float32Array.from([margin]), []),
    };
    for (const [name, v] of Object.entries(vars)) feeds[name] = new ort.Tensor('float32', v.dataSync() as Float32Array, [...v.shape]);
    const out = await session.run(feeds);
    const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-5 * Math.max(1, Math.abs(b));
    assert.ok(near(out.loss?.data[0] as number, value.dataSync()[0] as number), `loss ${out.loss?.data[0]} vs ${value.dataSync()[0]}`);
    for (const [name, expected] of [
      ['accuracy', expectedStats.accuracy],
      ['margin_mean', expectedStats.margin],
      ['chosen', expectedStats.chosen],
      ['rejected', expectedStats.rejected],
    ] as const) {
      assert.ok(near(out[name]?.data[0] as number, expected as number), `${name}: ${out[name]?.data[0]} vs ${expected}`);
    }
    for (const name of Object.keys(vars)) {
      const err = relError(out[gradName(name)]?.data as Float32Array, grads[`r_${name}`]?.dataSync() as Float32Array);
      assert.ok(err < 1e-4, `gradient of ${name}: relative error ${err}`);
    }
  } finally {
    await session.release();
    tf.dispose([value, ...Object.values(grads), ...Object.values(vars), ...Object.values(init)]);
  }
});

test('10 reward-model steps of the stage on each engine from the same init follow the same loss curve and leave the same state', async () => {
  await initCompute('cpu');
  const groups: RankedGroup[] = Array.from({ length: 6 }, (_, i) => ({
    prompt: [1 + i, 2 + i],
    completions: [[3 + i, 4], [5 + i], [6, 7 + i, 8]],
    pairs: [
      [0, 1],
      [0, 2],
      [2, 1],
    ],
  }));
  const cfg = { ...DEFAULT_REWARD, steps: 10, batchSize: 2, maxLen: 8, evalEvery: 5, checkpointEvery: 0, optim: { ...DEFAULT_REWARD.optim, lr: 3e-3, warmupSteps: 2, totalSteps: 10 } };
  const run = async (engine: 'ort' | 'tfjs'): Promise<{ losses: number[]; evals: number[]; params: Record<string, Float32Array>; step: number }> => {
    setTrainingEngine(engine);
    const init = { ...initParams(config, 21), 'score.weight': tf.randomNormal([1, config.n_embd], 0, 0.2, 'float32', 4) };
    const model = { config, params: Object.fromEntries(Object.entries(init).map(([k, v]) => [k, tf.variable(v, true, `${engine}_${k}`)])) };
    const optimizer = new AdamW(tf, cfg.optim);
    const losses: number[] = [];
    const evals: number[] = [];
    let saved: { params: Record<string, Float32Array>; step: number } | undefined;
    try {
      for await (const e of reward(model, optimizer, { train: groups, eval: groups.slice(0, 2), pad: 0 }, cfg)) {
        if (e.type === 'metrics' && e.record.values['reward/loss'] !== undefined) losses.push(e.record.values['reward/loss']);
        if (e.type === 'metrics' && e.record.values['reward/eval_loss'] !== undefined) evals.push(e.record.values['reward/eval_loss']);
        // What the runner saves: the engine's snapshot.
        if (e.type === 'checkpoint' && e.reason === 'final' && e.snapshot) {
          saved = { params: Object.fromEntries([...e.snapshot.weights].map(([k, v]) => [k, Float32Array.from(v.data)])), step: e.snapshot.optimizer.step };
        }
      }
      assert.ok(saved, 'a final checkpoint');
      return { losses, evals, ...saved };
    } finally {
      setTrainingEngine('ort');
      optimizer.dispose();
      tf.dispose([...Object.values(model.params), ...Object.values(init)]);
    }
  };
  const ref = await run('tfjs');
  const got = await run('ort');
  assert.equal(got.step, 10);
  assert.equal(got.losses.length, 10);
  got.losses.forEach((l, i) => assert.ok(Math.abs(l - (ref.losses[i] as number)) < 1e-3 * Math.max(1, ref.losses[i] as number), `step ${i + 1}: ${l} vs ${ref.losses[i]}`));
  got.evals.forEach((l, i) => assert.ok(Math.abs(l - (ref.evals[i] as number)) < 1e-3, `eval ${i}: ${l} vs ${ref.evals[i]}`));
  // The final checkpoint's parameters agree; but ln_f.bias, whose
  // gradient is zero in exact arithmetic (see relError), so Adam turns each engine's rounding noise into full steps.
  for (const [name, p] of Object.entries(got.params)) if (name !== 'ln_f.bias') assert.ok(relError(p, ref.params[name] as Float32Array) < 1e-3, name);
});
