/**
 * The Llama-family ops of the autodiff tape on their own (torch-layout linear, RMSNorm and its
 * per-head use, rotary embedding, SwiGLU, grouped-query attention), each against central finite
 * differences of its own forward run by ONNX Runtime, as autodiff.test.ts checks the GPT-2 ops:
 * random inputs of small shapes, made scalar by ½·Σ y², float32, h = 1e-2, 2e-2 relative.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Tape } from '../../../../src/core/onnx/autodiff';
import { seededRandom } from '../../../../src/core/sample/pick';

interface FloatInput {
  readonly name: string;
  readonly dims: readonly number[];
  /** Fed as given (a mask, a table), not differentiated. */
  readonly values?: readonly number[];
}
type Build = (t: Tape, x: Readonly<Record<string, string>>) => string;

/** Checks d loss / d input for every float input without fixed values, at up to 12 elements each. */
async function check(label: string, floats: readonly FloatInput[], ints: Readonly<Record<string, { dims: number[]; data: number[] }>>, build: Build): Promise<void> {
  const t = new Tape();
  const x: Record<string, string> = {};
  for (const f of floats) x[f.name] = f.values ? t.g.input(f.name, 'float', f.dims) : t.param(f.name, f.dims);
  for (const [name, v] of Object.entries(ints)) x[name] = t.g.input(name, 'int64', v.dims);
  const checked = floats.filter((f) => !f.values);
  const loss = build(t, x);
  const grads = t.backward(
    loss,
    checked.map((f) => f.name),
  );
  t.g.output(loss, 'loss', 'float', []);
  checked.forEach((f, i) => t.g.output(grads[i] as string, `grad_${f.name}`, 'float', f.dims));
  const session = await ort.InferenceSession.create(t.g.model(label, label), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const random = seededRandom(label.length * 7919);
  const values = Object.fromEntries(floats.map((f) => [f.name, f.values ? Float32Array.from(f.values) : Float32Array.from({ length: f.dims.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1)]));
  const feeds = (): Record<string, ort.Tensor> => ({
    ...Object.fromEntries(floats.map((f) => [f.name, new ort.Tensor('float32', Float32Array.from(values[f.name] as Float32Array), [...f.dims])])),
    ...Object.fromEntries(
      Object.entries(ints).map(([name, v]) => [
        name,
        new ort.Tensor(
          'int64',
          BigInt64Array.from(v.data, (n) => BigInt(n)),
          v.dims,
        ),
      ]),
    ),
  });
  try {
    const out = await session.run(feeds());
    for (const f of checked) {
      const analytic = out[`grad_${f.name}`]?.data as Float32Array;
      const data = values[f.name] as Float32Array;
      const scale = Math.max(1e-2, ...Array.from(analytic, Math.abs));
      const step = Math.max(1, Math.floor(data.length / 12));
      for (let i = 0; i < data.length; i += step) {
        const h = 1e-2;
        const keep = data[i] as number;
        data[i] = keep + h;
        const up = (await session.run(feeds())).loss?.data[0] as number;
        data[i] = keep - h;
        const down = (await session.run(feeds())).loss?.data[0] as number;
        data[i] = keep;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs(numeric - (analytic[i] as number)) < 2e-2 * scale, `${label}: d/d${f.name}[${i}] analytic ${analytic[i]} vs numeric ${numeric}`);
      }
    }
  } finally {
    await session.release();
  }
}

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
