/**
 * Every op of the autodiff tape on its own, against central finite differences of its own
 * forward (run by ONNX Runtime): random inputs of small shapes, each op made scalar by ½·Σ y²
 * where it is not a loss already. float32, so h = 1e-2 and a 2e-2 relative tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Tape } from '../../../../src/core/onnx/autodiff';
import { seededRandom } from '../../../../src/core/sample/pick';

interface FloatInput {
  readonly name: string;
  readonly dims: readonly number[];
  /** An input the op takes as a constant (a mask, weights): fed, not differentiated. */
  readonly constant?: boolean;
}
type Build = (t: Tape, x: Readonly<Record<string, string>>) => string;

/** Checks d loss / d input for every float input that is not a constant, at up to 12 elements each. */
async function check(label: string, floats: readonly FloatInput[], ints: Readonly<Record<string, { dims: number[]; data: number[] }>>, build: Build): Promise<void> {
  const t = new Tape();
  const x: Record<string, string> = {};
  for (const f of floats) x[f.name] = f.constant ? t.g.input(f.name, 'float', f.dims) : t.param(f.name, f.dims);
  const checked = floats.filter((f) => !f.constant);
  for (const [name, v] of Object.entries(ints)) x[name] = t.g.input(name, 'int64', v.dims);
  const loss = build(t, x);
  const grads = t.backward(
    loss,
    checked.map((f) => f.name),
  );
  t.g.output(loss, 'loss', 'float', []);
  checked.forEach((f, i) => t.g.output(grads[i] as string, `grad_${f.name}`, 'float', f.dims));
  const session = await ort.InferenceSession.create(t.g.model(label, label), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const random = seededRandom(label.length * 7919);
  const values = Object.fromEntries(floats.map((f) => [f.name, Float32Array.from({ length: f.dims.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1)]));
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

test('gather (with its scatter-add gradient, repeated ids) and broadcast add', () =>
  check(
    'gather',
    [
      { name: 'table', dims: [5, 3] },
      { name: 'pos', dims: [4, 3] },
    ],
    { ids: { dims: [2, 4], data: [0, 2, 2, 4, 1, 0, 3, 2] } },
    (t, x) => t.halfSumSquares(t.add(t.gather(x.table as string, x.ids as string, 3), x.pos as string, [0])),
  ));

test('linear', () =>
  check(
    'linear',
    [
      { name: 'x', dims: [2, 3, 4] },
      { name: 'w', dims: [4, 5] },
      { name: 'b', dims: [5] },
    ],
    {},
    (t, x) => t.halfSumSquares(t.linear(x.x as string, x.w as string, x.b as string, 4, 5)),
  ));

test('layerNorm', () =>
  check(
    'layernorm',
    [
      { name: 'x', dims: [2, 3, 6] },
      { name: 'gamma', dims: [6] },
      { name: 'beta', dims: [6] },
    ],
    {},
    (t, x) => t.halfSumSquares(t.layerNorm(x.x as string, x.gamma as string, x.beta as string, 6, 1e-5)),
  ));

test('gelu_new', () => check('gelu', [{ name: 'x', dims: [3, 5] }], {}, (t, x) => t.halfSumSquares(t.geluNew(x.x as string))));

test('multi-head attention with an additive bias', () => {
  return check(
    'attention',
    [
      { name: 'qkv', dims: [2, 4, 12] },
      { name: 'bias', dims: [4, 4], constant: true },
    ],
    {},
    (t, x) => t.halfSumSquares(t.attention(x.qkv as string, x.bias as string, 2, 2, 0.7)),
  );
});

test('the LM head’s masked cross-entropy', () =>
  check(
    'lmloss',
    [
      { name: 'h', dims: [2, 3, 4] },
      { name: 'wte', dims: [7, 4] },
      { name: 'mask', dims: [2, 3], constant: true },
    ],
    { targets: { dims: [2, 3], data: [1, 6, 0, 3, 3, 5] } },
    (t, x) => t.lmLoss(x.h as string, x.wte as string, x.targets as string, x.mask as string, 4),
  ));

test('the reward model’s pairwise loss', () =>
  check(
    'pairwise',
    [
      { name: 'h', dims: [4, 3, 5] },
      { name: 'w', dims: [1, 5] },
      { name: 'weights', dims: [3], constant: true },
      { name: 'margin', dims: [], constant: true },
    ],
    { last: { dims: [4], data: [2, 0, 1, 2] }, winners: { dims: [3], data: [0, 0, 3] }, losers: { dims: [3], data: [1, 2, 1] } },
    (t, x) => t.pairwise(x.h as string, x.w as string, x.last as string, x.winners as string, x.losers as string, x.weights as string, x.margin as string, 5).loss,
  ));

test('the tied head’s token log-probs and entropy at a temperature', () =>
  check(
    'tokenlogprobs',
    [
      { name: 'h', dims: [5, 4] },
      { name: 'wte', dims: [7, 4] },
      { name: 'a', dims: [5], constant: true },
      { name: 'b', dims: [5], constant: true },
    ],
    { targets: { dims: [5], data: [1, 6, 0, 3, 3] } },
    (t, x) => {
      const { logp, entropy } = t.tokenLogProbs(x.h as string, x.wte as string, x.targets as string, 0.7);
      return t.add(t.sumAll(t.mul(logp, x.a as string)), t.sumAll(t.mul(entropy, x.b as string)));
    },
  ));

test('a clipped surrogate from elementwise ops: exp, sub, mul, clip, maximum, square, scale, meanAll', () =>
  check(
    'surrogate',
    [
      { name: 'logp', dims: [2, 5] },
      { name: 'v', dims: [2, 5] },
      { name: 'old', dims: [2, 5], constant: true },
      { name: 'negAdv', dims: [2, 5], constant: true },
    ],
    {},
    (t, x) => {
      const ratio = t.exp(t.sub(x.logp as string, x.old as string));
      const pg = t.maximum(t.mul(ratio, x.negAdv as string), t.mul(t.clip(ratio, 0.5, 1.5), x.negAdv as string));
      return t.add(t.meanAll(pg), t.meanAll(t.scale(t.square(t.sub(x.v as string, x.old as string)), 0.5)));
    },
  ));

test('a preference loss from log σ, picked entries, row sums and a reshape; a dense head', () =>
  check(
    'preference',
    [
      { name: 'tok', dims: [12] },
      { name: 'shape', dims: [4, 3], constant: true },
      { name: 'x', dims: [3, 5] },
      { name: 'w', dims: [2, 5] },
      { name: 'bias', dims: [2] },
    ],
    { chosen: { dims: [2], data: [0, 1] }, rejected: { dims: [2], data: [2, 3] } },
    (t, x) => {
      const seq = t.rowSum(t.reshapeLike(x.tok as string, x.shape as string)); // [4]
      const z = t.scale(t.sub(t.pick(seq, x.chosen as string), t.pick(seq, x.rejected as string)), 0.9);
      const pref = t.meanAll(t.scale(t.logSigmoid(z), -1));
      return t.add(pref, t.halfSumSquares(t.dense(x.x as string, x.w as string, x.bias as string)));
    },
  ));
