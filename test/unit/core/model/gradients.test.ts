import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { forward, initParams } from '../../../../src/core/model/gpt2';
import type { Params } from '../../../../src/core/model/gpt2';
import { headShapes, initHead, rewardHead, sequenceLogProbs, valueHead } from '../../../../src/core/model/heads';
import { crossEntropy } from '../../../../src/core/model/ops';
import { TEST_CONFIG as cfg, maxAbsDiff } from './fixtures';
import { useBackend } from './useBackend';

before(async () => {
  await useBackend('wasm');
});

/** One next-token training step; returns the loss. tfjs optimizers look variables up by their tf names; one fixed order keeps Adam state aligned. */
function trainStep(params: Record<string, tf.Variable>, optimizer: tf.Optimizer, batch: number[][]): number {
  const names = Object.keys(params).sort();
  const loss = tf.tidy(() => {
    const ids = tf.tensor2d(batch, [batch.length, batch[0]!.length], 'int32');
    const [B, T] = ids.shape;
    const inputs = tf.slice(ids, [0, 0], [B, T - 1]) as tf.Tensor2D;
    const targets = tf.reshape(tf.slice(ids, [0, 1], [B, T - 1]), [B * (T - 1)]) as tf.Tensor1D;
    const { value, grads } = tf.variableGrads(
      () => {
        const { logits } = forward(params, cfg, { ids: inputs });
        return crossEntropy(tf.reshape(logits!, [B * (T - 1), cfg.vocab_size]) as tf.Tensor2D, targets);
      },
      names.map((n) => params[n]!),
    );
    optimizer.applyGradients(names.map((n) => ({ name: params[n]!.name, tensor: grads[params[n]!.name]! })));
    return value;
  });
  const v = loss.dataSync()[0]!;
  loss.dispose();
  return v;
}

const BATCH = [
  [1, 2, 3, 4, 5, 6, 7, 8],
  [2, 3, 4, 5, 6, 7, 8, 9],
  [9, 8, 7, 6, 5, 4, 3, 2],
];

test('Adam steps on wasm lower the loss, and a step leaks no tensors', () => {
  const params = initParams(cfg, 11);
  const optimizer = tf.train.adam(1e-2);
  const losses: number[] = [];
  const counts: number[] = [];
  for (let step = 0; step < 30; step++) {
    losses.push(trainStep(params, optimizer, BATCH));
    counts.push(tf.memory().numTensors);
  }
  // Adam creates its moment tensors on the first step; after that the count must not move.
  assert.equal(counts[2], counts[1]);
  assert.equal(counts[29], counts[1]);
  assert.ok(losses[0]! > Math.log(cfg.vocab_size) - 0.5, `initial loss ${losses[0]} ~ log V`);
  assert.ok(losses[29]! < 0.5 * losses[0]!, `loss ${losses[0]} → ${losses[29]}`);
  optimizer.dispose();
  tf.dispose(Object.values(params));
});

test('reward head reads the last non-padding token (left and right padding)', () => {
  const params: Params = { ...initParams(cfg, 12), ...initHead(cfg, 'reward', 12) };
  const seq = [5, 9, 2, 7];
  const r = tf.tidy(() => {
    const alone = forward(params, cfg, { ids: tf.tensor2d([seq], [1, 4], 'int32'), logits: false });
    const rAlone = rewardHead(params, alone.hidden).dataSync()[0]!;
    const rightIds = tf.tensor2d([[...seq, 0, 0]], [1, 6], 'int32');
    const rightMask = tf.tensor2d([[1, 1, 1, 1, 0, 0]], [1, 6], 'int32');
    const right = forward(params, cfg, { ids: rightIds, attentionMask: rightMask, logits: false });
    const leftIds = tf.tensor2d([[0, 0, ...seq]], [1, 6], 'int32');
    const leftMask = tf.tensor2d([[0, 0, 1, 1, 1, 1]], [1, 6], 'int32');
    const left = forward(params, cfg, { ids: leftIds, attentionMask: leftMask, logits: false });
    const wrongPick = rewardHead(params, right.hidden).dataSync()[0]!; // no mask: reads a padding position
    return [rAlone, rewardHead(params, right.hidden, rightMask).dataSync()[0]!, rewardHead(params, left.hidden, leftMask).dataSync()[0]!, wrongPick];
  });
  assert.ok(Math.abs(r[1]! - r[0]!) < 1e-5, `right-padded ${r[1]} vs alone ${r[0]}`);
  assert.ok(Math.abs(r[2]! - r[0]!) < 1e-5, `left-padded ${r[2]} vs alone ${r[0]}`);
  assert.ok(Math.abs(r[3]! - r[0]!) > 1e-5);
  tf.dispose(Object.values(params));
});

test('head shapes follow TRL / HF, value head gives one value per position', () => {
  assert.deepEqual(
    [...headShapes(cfg, 'value')],
    [
      ['v_head.summary.weight', [1, cfg.n_embd]],
      ['v_head.summary.bias', [1]],
    ],
  );
  assert.deepEqual([...headShapes(cfg, 'reward')], [['score.weight', [1, cfg.n_embd]]]);
  const params: Params = { ...initParams(cfg, 13), ...initHead(cfg, 'value', 13) };
  const values = tf.tidy(() =>
    valueHead(
      params,
      forward(params, cfg, {
        ids: tf.tensor2d(
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          [2, 3],
          'int32',
        ),
      }).hidden,
    ),
  );
  assert.deepEqual(values.shape, [2, 3]);
  tf.dispose([values, ...Object.values(params)]);
});

test('sequenceLogProbs equals log-softmax of the full forward at the next ids', () => {
  const params = initParams(cfg, 14);
  const seq = [3, 1, 4, 1, 5, 9];
  const [ours, logits] = tf.tidy(() => {
    const ids = tf.tensor2d([seq], [1, 6], 'int32');
    return [sequenceLogProbs(params, cfg, ids).arraySync()[0]!, forward(params, cfg, { ids }).logits!.arraySync()[0]!];
  });
  const expected = seq.slice(1).map((id, t) => {
    const row = logits[t]!;
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    return row[id]! - lse;
  });
  assert.ok(maxAbsDiff(ours, expected) < 1e-5);
  tf.dispose(Object.values(params));
});
