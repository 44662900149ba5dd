import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { parameterShapes } from '../../../../src/core/model/config';
import { initHeadWeights, initParameter, initWeights } from '../../../../src/core/model/init';
import { TEST_CONFIG as cfg } from './fixtures';

test("the plain initialisation draws tfjs's randomNormal bit for bit (same seed, same weights as a model made in tfjs)", async () => {
  await tf.setBackend('cpu');
  for (const [name, shape, seed] of [
    ['wte.weight', [257, 16], 1],
    ['h.0.attn.c_attn.weight', [16, 48], 1002],
    ['h.1.mlp.c_proj.weight', [64, 16], 7013],
    ['score.weight', [1, 16], 3901],
    ['v_head.summary.weight', [1, 16], -997],
  ] as const) {
    const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * cfg.n_layer) : 0.02;
    const want = tf.tidy(() => tf.randomNormal([...shape], 0, std, 'float32', seed).dataSync());
    const got = initParameter(name, shape, seed, cfg.n_layer);
    assert.equal(got.length, want.length);
    assert.ok(
      got.every((v, i) => Object.is(v, want[i])),
      `${name}: differs from tf.randomNormal`,
    );
  }
});

test('GPT-2 init: LayerNorm weights 1, biases 0, std 0.02 (c_proj scaled by 1/√(2·layers)), seeded; heads too', () => {
  const w = initWeights(cfg, 3);
  assert.deepEqual([...w.keys()], [...parameterShapes(cfg).keys()]);
  for (const [name, shape] of parameterShapes(cfg)) assert.deepEqual(w.get(name)?.shape, shape, name);
  assert.ok(w.get('ln_f.weight')!.data.every((v) => v === 1));
  assert.ok(w.get('h.0.attn.c_attn.bias')!.data.every((v) => v === 0));
  const std = (x: Float32Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  assert.ok(Math.abs(std(w.get('wte.weight')!.data) - 0.02) < 0.002);
  assert.ok(Math.abs(std(w.get('h.0.mlp.c_proj.weight')!.data) - 0.02 / Math.sqrt(2 * cfg.n_layer)) < 0.002);
  assert.deepEqual(initWeights(cfg, 3).get('wte.weight')!.data, w.get('wte.weight')!.data);
  assert.notDeepEqual(initWeights(cfg, 4).get('wte.weight')!.data, w.get('wte.weight')!.data);
  const value = initHeadWeights(cfg, 'value', 3);
  assert.deepEqual([...value.keys()], ['v_head.summary.weight', 'v_head.summary.bias']);
  assert.ok(value.get('v_head.summary.bias')!.data.every((v) => v === 0));
  assert.deepEqual(initHeadWeights(cfg, 'reward', 3).get('score.weight')!.shape, [1, cfg.n_embd]);
});
