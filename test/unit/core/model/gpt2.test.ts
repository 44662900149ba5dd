import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from './useBackend';
import { disposeCache, forward, initParams } from '../../../../src/core/model/gpt2';
import { parameterShapes } from '../../../../src/core/model/config';
import { TEST_CONFIG as cfg, maxAbsDiff } from './fixtures';

before(async () => {
  await useBackend('wasm');
});

test('params have exactly the HF names and shapes; forward gives [B,T,C] and [B,T,V]', () => {
  const params = initParams(cfg, 1);
  const shapes = parameterShapes(cfg);
  assert.deepEqual(Object.keys(params).sort(), [...shapes.keys()].sort());
  for (const [name, shape] of shapes) assert.deepEqual(params[name]!.shape, shape, name);
  const ids = tf.tensor2d(
    [
      [1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10],
    ],
    [2, 5],
    'int32',
  );
  const out = forward(params, cfg, { ids });
  assert.deepEqual(out.hidden.shape, [2, 5, cfg.n_embd]);
  assert.deepEqual(out.logits!.shape, [2, 5, cfg.vocab_size]);
  assert.ok(Array.from(out.logits!.dataSync()).every(Number.isFinite));
  tf.dispose([ids, out.hidden, out.logits!, ...Object.values(params)]);
});

test('the same seed gives the same weights, another seed others', () => {
  const a = initParams(cfg, 3);
  const b = initParams(cfg, 3);
  const c = initParams(cfg, 4);
  assert.equal(maxAbsDiff(a['h.1.mlp.c_fc.weight']!.dataSync(), b['h.1.mlp.c_fc.weight']!.dataSync()), 0);
  assert.ok(maxAbsDiff(a['h.1.mlp.c_fc.weight']!.dataSync(), c['h.1.mlp.c_fc.weight']!.dataSync()) > 1e-3);
  tf.dispose([...Object.values(a), ...Object.values(b), ...Object.values(c)]);
});

test('a later token does not change earlier logits (causal)', () => {
  const params = initParams(cfg, 2);
  const l1 = tf.tidy(() => forward(params, cfg, { ids: tf.tensor2d([[5, 6, 7, 8]], [1, 4], 'int32') }).logits!.arraySync());
  const l2 = tf.tidy(() => forward(params, cfg, { ids: tf.tensor2d([[5, 6, 7, 30]], [1, 4], 'int32') }).logits!.arraySync());
  assert.ok(maxAbsDiff(l1[0]!.slice(0, 3).flat(), l2[0]!.slice(0, 3).flat()) < 1e-6);
  assert.ok(maxAbsDiff(l1[0]![3]!, l2[0]![3]!) > 1e-4);
  tf.dispose(Object.values(params));
});

test('KV-cache decoding gives the same logits as one full forward', () => {
  const params = initParams(cfg, 5);
  const seq = [3, 9, 1, 22, 7, 14, 2, 30];
  const full = tf.tidy(() => forward(params, cfg, { ids: tf.tensor2d([seq], [1, seq.length], 'int32') }).logits!.arraySync()[0]!);
  // Prefill 5 tokens, then one token at a time.
  let step = tf.tidy(() => forward(params, cfg, { ids: tf.tensor2d([seq.slice(0, 5)], [1, 5], 'int32'), cache: true }));
  const rows: number[][] = (step.logits!.arraySync()[0] as number[][]).slice();
  let cache = step.present;
  tf.dispose([step.hidden, step.logits!]);
  for (let t = 5; t < seq.length; t++) {
    const prev = cache;
    step = tf.tidy(() => forward(params, cfg, { ids: tf.tensor2d([[seq[t]!]], [1, 1], 'int32'), past: prev, cache: true }));
    rows.push(step.logits!.arraySync()[0]![0]!);
    disposeCache(prev);
    cache = step.present;
    tf.dispose([step.hidden, step.logits!]);
  }
  disposeCache(cache);
  assert.ok(maxAbsDiff(rows.flat(), full.flat()) < 1e-5, `max diff ${maxAbsDiff(rows.flat(), full.flat())}`);
  tf.dispose(Object.values(params));
});

test('a left-padded prompt in a batch gives the same logits as alone (mask + positions)', () => {
  const params = initParams(cfg, 6);
  const short = [4, 8, 15];
  const long = [16, 23, 42 % 37, 5, 6];
  const alone = tf.tidy(() => forward(params, cfg, { ids: tf.tensor2d([short], [1, 3], 'int32') }).logits!.arraySync()[0]!);
  const batched = tf.tidy(() => {
    const ids = tf.tensor2d([[0, 0, ...short], long], [2, 5], 'int32');
    const attentionMask = tf.tensor2d(
      [
        [0, 0, 1, 1, 1],
        [1, 1, 1, 1, 1],
      ],
      [2, 5],
      'int32',
    );
    return forward(params, cfg, { ids, attentionMask }).logits!.arraySync()[0]!;
  });
  assert.ok(maxAbsDiff(batched.slice(2).flat(), alone.flat()) < 1e-5);
  tf.dispose(Object.values(params));
});

test('forward refuses more positions than n_positions', () => {
  const params = initParams(cfg, 7);
  const ids = tf.zeros([1, cfg.n_positions + 1], 'int32') as tf.Tensor2D;
  assert.throws(() => forward(params, cfg, { ids }), /n_positions/);
  tf.dispose([ids, ...Object.values(params)]);
});
