/**
 * Our wasm layout kernels (compute/wasmLayoutKernels.ts), fused model kernels
 * (compute/wasmModelKernels.ts) and the biased 2-D product (_FusedMatMul) against the cpu
 * backend, on shapes off the 4-float vector width, gradients included, with no tensor leaked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { collapsePermutation } from '../../../../src/core/compute/wasmLayoutKernels';
import { LAYER_NORM_KERNEL } from '../../../../src/core/compute/wasmModelKernels';
import { attend } from '../../../../src/core/model/attention';
import { crossEntropy, geluNew, layerNorm, linear, tokenLogProbs } from '../../../../src/core/model/ops';
import { maxAbsDiff } from '../model/fixtures';
import { useBackend } from '../model/useBackend';

const rand = (shape: number[], seed: number, scale = 1): tf.Tensor => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);

/** Runs `f` on cpu then on wasm (checking that wasm leaks nothing); returns both results. */
async function onBoth(f: () => Float32Array[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  await useBackend('cpu');
  const cpu = tf.tidy(f);
  await useBackend('wasm');
  f(); // first run may create lasting state (none expected); count from the second
  const before = tf.memory().numTensors;
  const wasm = tf.tidy(f);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked on wasm');
  return { cpu, wasm };
}

function assertClose(got: Float32Array[], want: Float32Array[], tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  got.forEach((g, i) => {
    const d = maxAbsDiff(g, want[i]!);
    assert.ok(d <= tol, `${what} [${i}]: max |wasm − cpu| = ${d}`);
  });
}

const data = (ts: tf.Tensor[]): Float32Array[] => ts.map((t) => t.dataSync() as Float32Array);

test('wasm Identity, SplitV, Concat and Transpose (our layout kernels) equal the cpu backend', async () => {
  const run = (): Float32Array[] => {
    const x = rand([3, 10, 7], 1);
    const out: tf.Tensor[] = [tf.clone(x)];
    out.push(...tf.split(x, 2, 0 + 1)); // equal parts on a middle axis
    out.push(...tf.split(x, [2, -1, 3], 2)); // sizes with one inferred, last axis
    out.push(...tf.split(x, [1, 2], 0));
    out.push(tf.concat([x, rand([3, 4, 7], 2), rand([3, 1, 7], 3)], 1));
    out.push(tf.concat([x, rand([3, 10, 5], 4)], -1));
    out.push(tf.concat([rand([2, 10, 7], 5), x], 0));
    const h = rand([2, 5, 3, 8], 6);
    for (const perm of [
      [0, 2, 1, 3],
      [1, 0, 2, 3],
      [0, 1, 2, 3],
      [2, 1, 0, 3],
      [0, 3, 1, 2],
    ])
      out.push(tf.transpose(h, perm));
    out.push(tf.transpose(rand([6, 9], 7)), tf.transpose(rand([1, 6, 5, 1], 8), [0, 2, 1, 3]), tf.transpose(rand([4, 1, 6, 5], 9), [2, 1, 0, 3]));
    return data(out);
  };
  const { cpu, wasm } = await onBoth(run);
  cpu.forEach((c, i) => assert.deepEqual(Array.from(wasm[i]!), Array.from(c), `output ${i}`));
});

test("wasm Add and Multiply (ours for one shape, tfjs-wasm's for broadcasts) equal the cpu backend", async () => {
  const run = (): Float32Array[] => {
    const [a, b] = [rand([5, 7, 3], 1), rand([5, 7, 3], 2)];
    return data([tf.add(a, b), tf.mul(a, b), tf.add(a, rand([7, 3], 3)), tf.mul(a, 2.5), tf.add(rand([6], 4), rand([6], 5))]);
  };
  const { cpu, wasm } = await onBoth(run);
  cpu.forEach((c, i) => assert.deepEqual(Array.from(wasm[i]!), Array.from(c), `output ${i}`));
});

test('wasm softmax backward (our kernel, in attend) equals the cpu backend', async () => {
  const run = (): Float32Array[] =>
    valueAndGrads(
      (q, k, v, bias) => attend(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, bias as tf.Tensor4D),
      [rand([2, 3, 7, 5], 1), rand([2, 3, 7, 5], 2), rand([2, 3, 7, 5], 3), tf.zeros([1, 1, 7, 7])],
      [0, 1, 2],
    );
  const { cpu, wasm } = await onBoth(run);
  assertClose(wasm, cpu, 2e-5, 'attend');
});

test('Identity on wasm shares the buffer and outlives its source', async () => {
  await useBackend('wasm');
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
  y.dispose();
});

test('collapsePermutation drops unit axes and merges axes that stay together', () => {
  assert.deepEqual(collapsePermutation([8, 64, 4, 32], [0, 2, 1, 3]), { shape: [8, 64, 4, 32], perm: [0, 2, 1, 3] });
  assert.deepEqual(collapsePermutation([1, 6, 5, 1], [0, 2, 1, 3]), { shape: [6, 5], perm: [1, 0] });
  assert.deepEqual(collapsePermutation([2, 3, 4, 5], [2, 3, 0, 1]), { shape: [6, 20], perm: [1, 0] });
  assert.deepEqual(collapsePermutation([2, 3, 4], [0, 1, 2]), { shape: [24], perm: [0] });
});

test('wasm biased and plain 2-D products (our gemm) equal the cpu backend, transposes included', async () => {
  const run = (): Float32Array[] => {
    const out: tf.Tensor[] = [];
    for (const [M, K, N] of [
      [9, 13, 11],
      [16, 8, 24],
      [1, 5, 3],
    ] as const) {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = rand(ta ? [K, M] : [M, K], M + K);
        const b = rand(tb ? [N, K] : [K, N], K + N);
        out.push(tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: ta, transposeB: tb, bias: rand([N], N) }));
        out.push(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb));
      }
    }
    return data(out);
  };
  const { cpu, wasm } = await onBoth(run);
  assertClose(wasm, cpu, 1e-5, 'matMul');
});

/** Value and gradients of sum(op(xs)·r) w.r.t. the inputs at `wrt`. */
function valueAndGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], wrt: number[]): Float32Array[] {
  const y = op(...xs);
  const r = rand(y.shape, 99);
  const grads = tf.grads((...ds: tf.Tensor[]) => {
    const args = xs.slice();
    wrt.forEach((pos, j) => (args[pos] = ds[j]!));
    return tf.sum(tf.mul(op(...args), r));
  })(wrt.map((i) => xs[i]!));
  return data([y, ...grads]);
}

test('wasm fused LayerNorm, gelu_new and token log-probs (our kernels): values and gradients equal the cpu backend', async () => {
  const run = (): Float32Array[] => [
    ...valueAndGrads((x, w, b) => layerNorm(x as tf.Tensor2D, w as tf.Tensor1D, b as tf.Tensor1D, 1e-5), [tf.add(rand([7, 13], 1, 3), 2), rand([13], 2), rand([13], 3)], [0, 1, 2]),
    ...valueAndGrads((x, w, b) => layerNorm(x as tf.Tensor2D, w as tf.Tensor1D, b as tf.Tensor1D, 1e-3), [rand([5, 32], 4), rand([32], 5), rand([32], 6)], [0, 1, 2]),
    ...valueAndGrads((x) => geluNew(x!), [rand([3, 5, 7], 7, 4)], [0]),
    ...valueAndGrads((x) => geluNew(x!), [tf.tensor1d([0, -30, 30, -5, 5, 1e-4, -1e-4, 2.5, -9, 9, 100, -100])], [0]),
    // Targets off the end (−1, V) give 0 and no gradient, as a one-hot pick of nothing.
    ...valueAndGrads((l) => tokenLogProbs(l as tf.Tensor2D, tf.tensor1d([0, 22, 5, -1, 23, 7], 'int32')), [rand([6, 23], 8, 6)], [0]),
    ...valueAndGrads((l) => crossEntropy(l as tf.Tensor2D, tf.tensor1d([3, 1, 4, 1, 5], 'int32'), tf.tensor1d([1, 1, 0, 1, 1])), [rand([5, 8], 9, 3)], [0]),
    ...valueAndGrads(
      (l) => crossEntropy(l as tf.Tensor2D, tf.tensor1d([3, 1], 'int32')),
      [
        tf.tensor2d([
          [1e4, -1e4, 0, 3],
          [-50, 80, 80, 0],
        ]),
      ],
      [0],
    ),
    // linear = the biased product forward, our gemm products backward.
    ...valueAndGrads((x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), [rand([9, 6], 10), rand([6, 11], 11), rand([11], 12)], [0, 1, 2]),
  ];
  const { cpu, wasm } = await onBoth(run);
  assert.ok(tf.getKernel(LAYER_NORM_KERNEL, 'wasm'), 'our LayerNorm kernel is registered on wasm');
  assert.equal(tf.getKernel(LAYER_NORM_KERNEL, 'cpu'), undefined, 'cpu ran the tfjs-op fallback');
  assert.ok(
    cpu.every((a) => a.every(Number.isFinite)),
    'the reference is finite',
  );
  wasm.forEach((w, i) => {
    const c = cpu[i]!;
    const scale = Math.max(1, ...Array.from(c, Math.abs));
    const d = maxAbsDiff(w, c);
    assert.ok(d <= 2e-5 * scale, `output ${i}: max |wasm − cpu| = ${d} (scale ${scale})`);
  });
});
