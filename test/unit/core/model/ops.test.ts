import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { attend } from '../../../../src/core/model/attention';
import { embedding, geluNew, layerNorm, linear, logSigmoid, matMul, addPositionEmbedding, tokenLogProbs } from '../../../../src/core/model/ops';
import { maxAbsDiff } from './fixtures';
import { useBackend } from './useBackend';

type Inputs = () => tf.Tensor[];
type Op = (...xs: tf.Tensor[]) => tf.Tensor;

/** Value and gradients (w.r.t. the float inputs) of sum(op(xs) · r) for a fixed random r. */
function valueAndGrads(op: Op, inputs: Inputs, differentiable: number[]): number[][] {
  return tf.tidy(() => {
    const xs = inputs();
    const y = op(...xs);
    const r = tf.randomNormal(y.shape, 0, 1, 'float32', 99);
    const f = (...ds: tf.Tensor[]) => {
      const args = xs.slice();
      differentiable.forEach((pos, j) => (args[pos] = ds[j]!));
      return tf.sum(tf.mul(op(...args), r));
    };
    const grads = tf.grads(f)(differentiable.map((i) => xs[i]!));
    return [Array.from(y.dataSync()), ...grads.map((g) => Array.from(g.dataSync()))];
  });
}

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

interface Case {
  readonly name: string;
  readonly ours: Op;
  readonly plain: Op;
  readonly inputs: Inputs;
  readonly differentiable: number[];
}

const CASES: Case[] = [
  {
    name: 'matMul',
    ours: (a, b) => matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    plain: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    inputs: () => [rand([5, 7], 1), rand([7, 3], 2)],
    differentiable: [0, 1],
  },
  {
    name: 'linear',
    ours: (x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
    plain: (x, w, b) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b!),
    inputs: () => [rand([6, 4], 3), rand([4, 9], 4), rand([9], 5)],
    differentiable: [0, 1, 2],
  },
  {
    name: 'embedding',
    ours: (t, ids) => embedding(t as tf.Tensor2D, ids as tf.Tensor1D),
    plain: (t, ids) => tf.gather(t!, ids!),
    inputs: () => [rand([11, 4], 8), tf.tensor1d([3, 0, 3, 10, 7, 3], 'int32')],
    differentiable: [0],
  },
  {
    name: 'addPositionEmbedding',
    ours: (x, t) => addPositionEmbedding(x as tf.Tensor2D, t as tf.Tensor2D, 2, 3, 4),
    plain: (x, t) => tf.add(x!, tf.gather(t!, tf.tensor1d([2, 3, 4, 5, 2, 3, 4, 5, 2, 3, 4, 5], 'int32'))),
    inputs: () => [rand([12, 4], 17), rand([9, 4], 18)],
    differentiable: [0, 1],
  },
  {
    name: 'geluNew',
    ours: (x) => geluNew(x!),
    plain: (x) => tf.mul(tf.mul(x!, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x!, tf.mul(0.044715, tf.pow(x!, 3))))))),
    inputs: () => [tf.mul(rand([4, 6], 9), 3)],
    differentiable: [0],
  },
  { name: 'logSigmoid', ours: (x) => logSigmoid(x!), plain: (x) => tf.logSigmoid(x!), inputs: () => [tf.mul(rand([10], 10), 5)], differentiable: [0] },
  {
    name: 'tokenLogProbs',
    ours: (l, t) => tokenLogProbs(l as tf.Tensor2D, t as tf.Tensor1D),
    plain: (l, t) => {
      const lp = tf.logSoftmax(l!);
      return tf.stack(Array.from(t!.dataSync()).map((id, i) => tf.squeeze(tf.slice(lp, [i, id], [1, 1]))));
    },
    inputs: () => [tf.mul(rand([4, 13], 11), 4), tf.tensor1d([0, 12, 5, 5], 'int32')],
    differentiable: [0],
  },
  {
    name: 'attend (causal + padding bias, cached keys longer than queries)',
    ours: (q, k, v, bias) => attend(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, bias as tf.Tensor4D),
    plain: (q, k, v, bias) => tf.matMul(tf.softmax(tf.add(tf.matMul(q!, k!, false, true), bias!)), v!),
    inputs: () => {
      // 2 queries after 3 cached positions; row 1's first key is padding.
      const causal = [
        [0, 0, 0, 0, -1e9],
        [0, 0, 0, 0, 0],
      ];
      const bias = tf.add(tf.tensor4d(causal.flat(), [1, 1, 2, 5]), tf.tensor4d([0, 0, 0, 0, 0, -1e9, 0, 0, 0, 0], [2, 1, 1, 5]));
      return [rand([2, 3, 2, 4], 15), rand([2, 3, 5, 4], 16), rand([2, 3, 5, 4], 17), bias];
    },
    differentiable: [0, 1, 2],
  },
  {
    name: 'layerNorm',
    ours: (x, w, b) => layerNorm(x as tf.Tensor2D, w as tf.Tensor1D, b as tf.Tensor1D, 1e-5),
    plain: (x, w, b) => {
      const { mean, variance } = tf.moments(x!, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x!, mean), tf.sqrt(tf.add(variance, 1e-5))), w!), b!);
    },
    inputs: () => [rand([5, 8], 12), rand([8], 13), rand([8], 14)],
    differentiable: [0, 1, 2],
  },
];

test('custom ops: values and gradients equal the plain tfjs ops on cpu, and wasm agrees with cpu', async () => {
  await useBackend('cpu');
  const onCpu = CASES.map((c) => {
    const ours = valueAndGrads(c.ours, c.inputs, c.differentiable);
    const plain = valueAndGrads(c.plain, c.inputs, c.differentiable);
    ours.forEach((v, i) => assert.ok(maxAbsDiff(v, plain[i]!) < 1e-4, `${c.name} output ${i}: ${maxAbsDiff(v, plain[i]!)}`));
    assert.ok(
      ours.slice(1).some((g) => g.some((x) => Math.abs(x) > 1e-3)),
      `${c.name}: gradients are not all ~0`,
    );
    return ours;
  });
  await useBackend('wasm');
  CASES.forEach((c, k) => {
    const ours = valueAndGrads(c.ours, c.inputs, c.differentiable);
    ours.forEach((v, i) => assert.ok(maxAbsDiff(v, onCpu[k]![i]!) < 1e-4, `${c.name} wasm vs cpu, output ${i}: ${maxAbsDiff(v, onCpu[k]![i]!)}`));
  });
});

test("embedding has a gradient on wasm (which lacks tf.gather's UnsortedSegmentSum): row sums per id", async () => {
  await useBackend('wasm');
  const table = tf.randomNormal([5, 3]);
  const ids = tf.tensor1d([1, 1, 4], 'int32');
  const expected = [0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1];
  const g = tf.grad((t: tf.Tensor) => tf.sum(embedding(t as tf.Tensor2D, ids)))(table);
  assert.deepEqual(Array.from(g.dataSync()), expected);
  tf.dispose([table, ids, g]);
});
