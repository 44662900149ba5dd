import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logSoftmax, pickToken, seededRandom } from '../../../../src/core/sample/pick';

const logits = Float32Array.from([2, 1, 0.5, -1, 3]);

test('greedy picks the argmax and reports its model log-prob', () => {
  const p = pickToken(logits, { temperature: 0, topK: 0, topP: 1 }, seededRandom(1));
  assert.equal(p.token, 4);
  const z = Math.log([2, 1, 0.5, -1, 3].reduce((s, v) => s + Math.exp(v), 0));
  assert.ok(Math.abs(p.logprob - (3 - z)) < 1e-9);
});

test('top-k 1 is greedy whatever the temperature', () => {
  for (let s = 0; s < 20; s++) assert.equal(pickToken(logits, { temperature: 5, topK: 1, topP: 1 }, seededRandom(s)).token, 4);
});

test('top-p keeps only the nucleus', () => {
  // p(4) ≈ 0.61, p(0) ≈ 0.22: top-p 0.5 leaves only token 4, top-p 0.7 leaves {4, 0}.
  const seen = new Set<number>();
  for (let s = 0; s < 200; s++) seen.add(pickToken(logits, { temperature: 1, topK: 0, topP: 0.7 }, seededRandom(s)).token);
  assert.deepEqual([...seen].sort(), [0, 4]);
  for (let s = 0; s < 50; s++) assert.equal(pickToken(logits, { temperature: 1, topK: 0, topP: 0.5 }, seededRandom(s)).token, 4);
});

test('sampling frequencies follow softmax(logits / T)', () => {
  const rng = seededRandom(42);
  const counts = new Array<number>(5).fill(0);
  const N = 20000;
  for (let i = 0; i < N; i++) counts[pickToken(logits, { temperature: 2, topK: 0, topP: 1 }, rng).token]! += 1;
  const expected = Array.from(logSoftmax(logits.map((v) => v / 2)), Math.exp);
  counts.forEach((c, i) => assert.ok(Math.abs(c / N - expected[i]!) < 0.015, `token ${i}: ${c / N} vs ${expected[i]}`));
});

test('the same seed gives the same stream', () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  for (let i = 0; i < 10; i++) assert.equal(a(), b());
  assert.notEqual(seededRandom(8)(), seededRandom(7)());
});
