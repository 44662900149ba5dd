import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { planBatchMatMul } from '../../../../src/core/compute/wasmKernels';
import { maxAbsDiff } from '../model/fixtures';
import { useBackend } from '../model/useBackend';

/** Deterministic values in [-1, 1) (a small LCG), so both backends get the same inputs. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

interface Product {
  readonly a: number[];
  readonly b: number[];
  readonly ta: boolean;
  readonly tb: boolean;
}

/** Operand shapes for C [..., M, N] = op(A)·op(B) with inner dim K, given the batch dims of each. */
function product(aBatch: number[], bBatch: number[], M: number, K: number, N: number, ta: boolean, tb: boolean): Product {
  return { a: [...aBatch, ...(ta ? [K, M] : [M, K])], b: [...bBatch, ...(tb ? [N, K] : [K, N])], ta, tb };
}

const FLAGS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

// Sizes off the kernel's 4 × 8 tile (remainder rows and columns) and on it; batch 1 and > 1.
const PRODUCTS: Product[] = FLAGS.flatMap(([ta, tb]) => [
  product([], [], 7, 5, 13, ta, tb), // 2-D
  product([1], [1], 8, 16, 8, ta, tb), // batch 1
  product([6], [6], 9, 3, 21, ta, tb), // batch > 1
  product([2, 3], [2, 3], 16, 32, 12, ta, tb), // rank 4, attention-like
  product([5], [], 4, 6, 11, ta, tb), // B broadcast (rank 2)
  product([1], [3], 5, 7, 9, ta, tb), // A broadcast (batch 1)
  product([2, 1], [1, 3], 3, 4, 10, ta, tb), // both broadcast
]);

function run(p: Product, seed: number): { shape: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const a = tf.tensor(
      values(
        p.a.reduce((x, y) => x * y, 1),
        seed,
      ),
      p.a,
    );
    const b = tf.tensor(
      values(
        p.b.reduce((x, y) => x * y, 1),
        seed + 1,
      ),
      p.b,
    );
    const c = tf.matMul(a, b, p.ta, p.tb);
    return { shape: c.shape, data: c.dataSync() as Float32Array };
  });
}

/** The same product with numpy broadcasting done by hand: tile both to the output's batch dims. */
function runTiled(p: Product, seed: number): { shape: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const a = tf.tensor(
      values(
        p.a.reduce((x, y) => x * y, 1),
        seed,
      ),
      p.a,
    );
    const b = tf.tensor(
      values(
        p.b.reduce((x, y) => x * y, 1),
        seed + 1,
      ),
      p.b,
    );
    const rank = Math.max(p.a.length, p.b.length);
    const pad = (t: tf.Tensor): tf.Tensor => tf.reshape(t, [...Array(rank - t.rank).fill(1), ...t.shape]);
    const [a4, b4] = [pad(a), pad(b)];
    const outBatch = a4.shape.slice(0, -2).map((d, i) => Math.max(d, b4.shape[i]!));
    const tile = (t: tf.Tensor): tf.Tensor => tf.tile(t, [...outBatch.map((d, i) => d / t.shape[i]!), 1, 1]);
    const c = tf.matMul(tile(a4), tile(b4), p.ta, p.tb);
    return { shape: c.shape, data: c.dataSync() as Float32Array };
  });
}

test('wasm BatchMatMul (our kernel) equals the cpu backend: transposes, batch 1 and > 1, broadcasting', async () => {
  await useBackend('cpu');
  const expected = PRODUCTS.map((p, i) => runTiled(p, 10 * i));
  await useBackend('wasm');
  const tensorsBefore = tf.memory().numTensors;
  PRODUCTS.forEach((p, i) => {
    const name = `A [${p.a}]${p.ta ? 'ᵀ' : ''} · B [${p.b}]${p.tb ? 'ᵀ' : ''}`;
    const got = run(p, 10 * i);
    assert.deepEqual(got.shape, expected[i]!.shape, name);
    const diff = maxAbsDiff(got.data, expected[i]!.data);
    assert.ok(diff < 1e-5, `${name}: max |wasm − cpu| = ${diff}`);
    assert.ok(
      expected[i]!.data.some((x) => Math.abs(x) > 0.1),
      `${name}: the reference is not ~0`,
    );
  });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked');
});

test('planBatchMatMul: output shape and broadcast operand indices', () => {
  const broadcast = planBatchMatMul([2, 1, 3, 4], [1, 3, 4, 5], false, false);
  assert.deepEqual(broadcast.outShape, [2, 3, 3, 5]);
  assert.deepEqual(Array.from(broadcast.aIndex), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(Array.from(broadcast.bIndex), [0, 1, 2, 0, 1, 2]);
  assert.throws(() => planBatchMatMul([2, 3, 4], [3, 4, 5], false, false), /do not broadcast/);
  assert.throws(() => planBatchMatMul([3, 4], [5, 6], false, false), /inner dimensions/);
});

test('wasm Exp, Sum, GatherV2 and UnsortedSegmentSum (our kernels) equal the cpu backend', async () => {
  const special = [0, 1, -1, 0.5, -0.5, 10, -10, 80, 88.5, 88.8, 100, -87, -87.5, -200, -1e9, Infinity, -Infinity, NaN, 1e-8, -1e-8];
  const x = Float32Array.from([...special, ...values(1001, 7).map((v) => v * 60)]); // length not a multiple of 4
  const rows = values(7 * 6, 3);
  const ids = [6, 0, 3, 3, 6, 1, 0, 2, 5];
  const segIds = [2, 0, -1, 2, 4, 7, 1];
  const ops = () =>
    tf.tidy(() => [
      tf.exp(tf.tensor1d(x)).dataSync(),
      tf.gather(tf.tensor2d(rows, [7, 6]), tf.tensor2d(ids, [3, 3], 'int32')).dataSync(),
      tf.unsortedSegmentSum(tf.tensor2d(rows, [7, 6]), tf.tensor1d(segIds, 'int32'), 5).dataSync(),
      ...[[0], [0, 1], [-3], [1], [0, 2]].map((axis) => tf.sum(tf.tensor3d(rows, [3, 2, 7]), axis).dataSync()),
      tf.sum(tf.tensor2d(rows, [7, 6]), 0, true).dataSync(),
    ]);
  await useBackend('cpu');
  const [expCpu, gatherCpu, segCpu, ...sumsCpu] = ops();
  await useBackend('wasm');
  const before = tf.memory().numTensors;
  const [expWasm, gatherWasm, segWasm, ...sumsWasm] = ops();
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  for (let i = 0; i < x.length; i++) {
    const [a, b] = [expWasm![i]!, expCpu![i]!];
    const ok = Number.isNaN(b) ? Number.isNaN(a) : a === b || Math.abs(a - b) <= 3e-7 * Math.abs(b) || (b < 1.2e-38 && a === 0);
    assert.ok(ok, `exp(${x[i]}): wasm ${a}, cpu ${b}`);
  }
  assert.deepEqual(Array.from(gatherWasm!), Array.from(gatherCpu!));
  assert.ok(maxAbsDiff(segWasm!, segCpu!) < 1e-6, `unsortedSegmentSum: ${maxAbsDiff(segWasm!, segCpu!)}`);
  sumsCpu.forEach((s, i) => assert.ok(maxAbsDiff(sumsWasm[i]!, s) < 1e-6, `sum ${i}: ${maxAbsDiff(sumsWasm[i]!, s)}`));
});
