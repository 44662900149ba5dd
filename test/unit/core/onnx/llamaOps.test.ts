/**
 * The Llama-family ops of the autodiff tape on their own (torch-layout linear, RMSNorm and its
 * per-head use, rotary embedding, SwiGLU, grouped-query attention), each against central finite
 * differences of its own forward run by ONNX Runtime, as autodiff.test.ts checks the GPT-2 ops:
 * random inputs of small shapes, made scalar by ½·Σ y², float32, h = 1e-2, 2e-2 relative.
 */
import { test } from 'node:test';
import { checkGradients as check } from './gradCheck';

test('linearT (torch layout [out, in]), with and without a bias', async () => {
  await check(
    'linearT',
    [
      { name: 'x', dims: [2, 3, 4] },
      { name: 'w', dims: [5, 4] },
      { name: 'b', dims: [5] },
    ],
    {},
    (t, x) => t.halfSumSquares(t.linearT(x.x as string, x.w as string, x.b as string, 4, 5)),
  );
  await check(
    'linearT, no bias',
    [
      { name: 'x', dims: [2, 3, 4] },
      { name: 'w', dims: [5, 4] },
    ],
    {},
    (t, x) => t.halfSumSquares(t.linearT(x.x as string, x.w as string, undefined, 4, 5)),
  );
});

test('rmsNorm, over the features and per head (Qwen3’s q/k norm: reshape, norm over D, reshape back)', async () => {
  await check(
    'rmsnorm',
    [
      { name: 'x', dims: [2, 3, 6] },
      { name: 'gamma', dims: [6] },
    ],
    {},
    (t, x) => t.halfSumSquares(t.rmsNorm(x.x as string, x.gamma as string, 6, 1e-6)),
  );
  await check(
    'rmsnorm per head',
    [
      { name: 'x', dims: [2, 3, 8] },
      { name: 'gamma', dims: [4] },
    ],
    {},
    (t, x) => t.halfSumSquares(t.reshape(t.rmsNorm(t.reshape(x.x as string, [0, 0, 2, 4]), x.gamma as string, 4, 1e-6), [0, 0, 8])),
  );
});

test('rotary embedding at per-row positions (gradient: the rotation by −θ)', () => {
  const P = 6;
  const half = 3;
  const angle = (p: number, i: number): number => p * 0.7 ** i;
  const table = (f: (a: number) => number): number[] => Array.from({ length: P * half }, (_, k) => f(angle(Math.floor(k / half), k % half)));
  return check(
    'rotary',
    [
      { name: 'x', dims: [2, 3, 2 * 2 * half] },
      { name: 'cos', dims: [P, half], values: table(Math.cos) },
      { name: 'sin', dims: [P, half], values: table(Math.sin) },
    ],
    { positions: { dims: [2, 3], data: [0, 1, 2, 0, 4, 5] } },
    (t, x) => t.halfSumSquares(t.mul(t.rotary(x.x as string, { positions: x.positions as string, cos: x.cos as string, sin: x.sin as string }, 2, 2 * half), x.x as string)),
  );
});

test('SwiGLU: silu(gate) · up', () =>
  check(
    'swiglu',
    [
      { name: 'gate', dims: [3, 5] },
      { name: 'up', dims: [3, 5] },
    ],
    {},
    (t, x) => t.halfSumSquares(t.swiglu(x.gate as string, x.up as string)),
  ));

test('grouped-query attention, 4 query heads on 2 KV heads, causal with a left-padded row', () => {
  const T = 4;
  // [2, 1, T, T]: causal for both rows; row 1's first key is padding.
  const bias = [0, 1].flatMap((b) => Array.from({ length: T * T }, (_, k) => (k % T > Math.floor(k / T) || (b === 1 && k % T === 0 && Math.floor(k / T) > 0) ? -1e9 : 0)));
  return check(
    'gqa',
    [
      { name: 'q', dims: [2, T, 4 * 3] },
      { name: 'k', dims: [2, T, 2 * 3] },
      { name: 'v', dims: [2, T, 2 * 3] },
      { name: 'bias', dims: [2, 1, T, T], values: bias },
    ],
    {},
    (t, x) => t.halfSumSquares(t.groupedAttention(x.q as string, x.k as string, x.v as string, x.bias as string, { H: 4, KV: 2, D: 3 }, 0.8)),
  );
});
