/**
 * The AdamW arenas agree: the SIMD kernel over buffers in one wasm memory, the same kernel over
 * plain arrays copied through a small memory chunk by chunk (what a model past 4 GiB of buffers
 * gets), and the JavaScript loop. The chunked update is bitwise the in-memory one (same kernel,
 * same float32 arithmetic, chunk edges included); both match the JavaScript update to float32
 * rounding (1e-6 of the largest value).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findKernelFile } from '../../../../../src/core/compute/adamKernel';
import { createArena, createChunkedArena, createJsArena } from '../../../../../src/core/train/ort/arena';
import type { Arena } from '../../../../../src/core/train/ort/arena';
import { seededRandom } from '../../../../../src/core/sample/pick';

const N = 2 * 1000 + 7; // not a multiple of the chunk (1000) nor of the SIMD width (4)
const STEP = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3, decay: 1 - 1e-2 * 0.01, clip: 0.5 };

/** Three AdamW steps on the arena's own buffers from the same random start; p, m, v after them, and p before. */
function run(arena: Arena): Float32Array[] {
  const random = seededRandom(17);
  const [p, g, m, v] = [0, 1, 2, 3].map(() => arena.alloc(N)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  for (let i = 0; i < N; i++) {
    p[i] = random() * 2 - 1;
    m[i] = (random() - 0.5) * 0.1;
    v[i] = random() * 0.01;
  }
  const start = Float32Array.from(p);
  for (let step = 0; step < 3; step++) {
    for (let i = 0; i < N; i++) g[i] = random() * 2 - 1;
    arena.adamW(p, g, m, v, STEP);
  }
  return [...[p, m, v].map((a) => Float32Array.from(a)), start];
}

test(
  'AdamW: the kernel over chunks copied through a small memory is bitwise the kernel in one memory, and both match JavaScript',
  { skip: findKernelFile() ? false : 'dist/kernels.wasm not built (npm run build)' },
  () => {
    const whole = createArena(4 * N, 4);
    assert.equal(whole.kind, 'wasm');
    const chunked = createChunkedArena(undefined, 'test', 1000);
    assert.equal(chunked.kind, 'wasm');
    assert.match(chunked.detail, /chunks of 1000 floats/);
    const [a, b, js] = [run(whole), run(chunked), run(createJsArena())];
    for (let k = 0; k < 3; k++) {
      assert.deepEqual(b[k], a[k], `buffer ${'pmv'[k]}: chunked and whole differ`);
      // float32 in the kernel, float64 rounded per step in JavaScript: within a few float32 ulps of the largest value.
      const scale = Math.max(...Array.from(js[k]!, Math.abs));
      let worst = 0;
      for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs((a[k]![i] as number) - (js[k]![i] as number)));
      assert.ok(worst <= 1e-6 * scale, `buffer ${'pmv'[k]}: kernel vs JavaScript differ by ${worst} (largest value ${scale})`);
    }
    // The update did something: every p moved from its start.
    assert.ok(a[0]!.every((x, i) => x !== a[3]![i]));
  },
);
