/**
 * Every op of the autodiff tape on its own, against central finite differences of its own
 * forward (run by ONNX Runtime): random inputs of small shapes, each op made scalar by ½·Σ y²
 * where it is not a loss already. float32, so h = 1e-2 and a 2e-2 relative tolerance.
 */
import { test } from 'node:test';
import { checkGradients as check } from './gradCheck';

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
