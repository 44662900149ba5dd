/**
 * The ONNX DPO graphs against the tfjs implementation (tfjs/dpo.ts, an independent one): on a
 * small random GPT-2, the loss, TRL's statistics and every parameter's gradient to 1e-4 relative,
 * with and without label smoothing; the loss-only graph gives the same loss; and the frozen
 * reference scores the pairs as scoreReference does (tfjs/dpo.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { initCompute } from '../../../../src/core/compute/backend';
import { TINY_CONFIG, parameterShapes } from '../../../../src/core/model/config';
import type { GPT2Config } from '../../../../src/core/model/config';
import { buildDpoGraphs } from '../../../../src/core/onnx/dpoGraph';
import { gradName } from '../../../../src/core/onnx/gptGraph';
import { dpoBatch, dpoFeeds, scoreReferenceOrt } from '../../../../src/core/train/stages/dpo';
import { completionLogProbs, dpoTerms, scoreReference } from '../../../../src/core/train/tfjs/dpo';
import type { DpoPair } from '../../../../src/core/train/stages/dpo';
import { randomWeights } from './tinyModel';
import { relError } from './relError';

const config: GPT2Config = { ...TINY_CONFIG, vocab_size: 61, n_positions: 16, n_embd: 24, n_head: 3, n_layer: 2 };
const PAD = 60;
const MAX_LEN = 12;

const tokens = (n: number, seed: number): number[] => Array.from({ length: n }, (_, j) => (seed * 13 + j * 7 + 1) % PAD);

/** Pairs of different lengths: one cut to fit MAX_LEN, one with an empty prompt, one with nothing rejected. */
const pairs: DpoPair[] = [
  { prompt: tokens(3, 1), chosen: [...tokens(4, 2), PAD], rejected: [...tokens(2, 3), PAD] },
  { prompt: tokens(6, 4), chosen: tokens(9, 5), rejected: tokens(1, 6) },
  { prompt: [], chosen: tokens(3, 7), rejected: tokens(5, 8) },
  { prompt: tokens(2, 9), chosen: tokens(2, 10), rejected: [] },
];

/** Random weights spread enough that the two models' log-probs differ clearly (non-trivial LayerNorm scales and biases too). */
function randomModel(seed: number): Record<string, tf.Variable> {
  return Object.fromEntries([...randomWeights(config, seed)].map(([name, w]) => [name, tf.variable(tf.tensor(w.data, [...w.shape]), false, `dpo_init_${seed}_${name}`)]));
}

test('the DPO training graph: loss, statistics and every gradient match tfjs (ε 0 and 0.2); the loss graph agrees', async () => {
  await initCompute('cpu');
  const params = randomModel(42);
  const refParams = randomModel(43);
  const vars = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tf.variable(v, true, `dpo_${k}`)]));
  const policy = { config, params: vars };
  const batch = dpoBatch(pairs, MAX_LEN, PAD);
  assert.ok(batch.T === MAX_LEN, 'the long pair is cut to maxLen');
  const scored = scoreReference({ config, params: refParams }, pairs, { maxLen: MAX_LEN, batchSize: 3 }, PAD);
  const reference = Float32Array.from([...scored.map((s) => s.refChosen), ...scored.map((s) => s.refRejected)]);
  try {
    for (const labelSmoothing of [0, 0.2]) {
      const settings = { beta: 0.7, labelSmoothing };
      const stats = tf.tidy(() => {
        const t = dpoTerms(completionLogProbs(policy, batch), reference, batch.B, settings);
        return { chosen: t.chosen.dataSync()[0]!, rejected: t.rejected.dataSync()[0]!, accuracy: t.accuracy.dataSync()[0]!, margin: t.margin.dataSync()[0]! };
      });
      const { value, grads } = tf.variableGrads(() => dpoTerms(completionLogProbs(policy, batch), reference, batch.B, settings).loss);
      const expectedLoss = value.dataSync()[0]!;
      const graphs = buildDpoGraphs(config, settings);
      const options = { executionProviders: ['cpu'], intraOpNumThreads: 1 };
      const train = await ort.InferenceSession.create(graphs.build.train(), options);
      const lossOnly = await ort.InferenceSession.create((graphs.build.loss as () => Uint8Array)(), options);
      try {
        const feeds = dpoFeeds(ort, batch, reference);
        for (const [name, dims] of parameterShapes(config)) feeds[name] = new ort.Tensor('float32', vars[name]!.dataSync() as Float32Array, [...dims]);
        const out = await train.run(feeds);
        const scalar = (name: string): number => out[name]?.data[0] as number;
        assert.ok(Math.abs(scalar('loss') - expectedLoss) < 1e-5 * Math.max(1, Math.abs(expectedLoss)), `ε ${labelSmoothing}: loss ${scalar('loss')} vs ${expectedLoss}`);
        for (const k of ['chosen', 'rejected', 'margin'] as const) assert.ok(Math.abs(scalar(k) - stats[k]) < 1e-4 * Math.max(1, Math.abs(stats[k])), `${k} ${scalar(k)} vs ${stats[k]}`);
        assert.equal(scalar('accuracy'), stats.accuracy);
        // The two models differ: the margin is not 0 and the gradients are not trivially small.
        assert.ok(Math.abs(stats.margin) > 0.1, `margin ${stats.margin}`);
        let sumSquares = 0;
        for (const name of parameterShapes(config).keys()) {
          const expected = grads[`dpo_${name}`]?.dataSync() as Float32Array;
          const got = out[gradName(name)]?.data as Float32Array;
          assert.ok(expected && got, `gradient of ${name} missing`);
          const err = relError(got, expected);
          assert.ok(err < 1e-4, `ε ${labelSmoothing}: gradient of ${name}: relative error ${err}`);
          for (const v of expected) sumSquares += v * v;
        }
        assert.ok(Math.abs(scalar('grad_norm') - Math.sqrt(sumSquares)) < 1e-4 * Math.sqrt(sumSquares));
        const evaluated = await lossOnly.run(feeds, ['loss', 'accuracy']);
        assert.ok(Math.abs((evaluated.loss?.data[0] as number) - expectedLoss) < 1e-5 * Math.max(1, Math.abs(expectedLoss)));
        assert.equal(evaluated.accuracy?.data[0], stats.accuracy);
      } finally {
        await train.release();
        await lossOnly.release();
        tf.dispose([value, ...Object.values(grads)]);
      }
    }
  } finally {
    tf.dispose([...Object.values(vars), ...Object.values(params), ...Object.values(refParams)]);
  }
});

test("the frozen reference on ONNX Runtime gives scoreReference's log-probs: as a session, and fed to the DPO graph (over 2 GiB)", async () => {
  await initCompute('cpu');
  const reference = { config, params: randomModel(44) };
  try {
    // maxGraphBytes 0: every reference is "too large for one ONNX file", so its weights are fed as inputs.
    for (const [batchSize, maxGraphBytes] of [
      [1, undefined],
      [3, undefined],
      [3, 0],
    ] as const) {
      const expected = scoreReference(reference, pairs, { maxLen: MAX_LEN, batchSize }, PAD);
      const got = await scoreReferenceOrt(reference, pairs, { maxLen: MAX_LEN, batchSize }, PAD, maxGraphBytes);
      assert.equal(got.length, pairs.length);
      got.forEach((s, i) => {
        const e = expected[i]!;
        assert.equal(s.pair, e.pair);
        assert.ok(Math.abs(s.refChosen - e.refChosen) < 1e-4 * Math.max(1, Math.abs(e.refChosen)), `pair ${i} chosen: ${s.refChosen} vs ${e.refChosen}`);
        assert.ok(Math.abs(s.refRejected - e.refRejected) < 1e-4 * Math.max(1, Math.abs(e.refRejected)), `pair ${i} rejected: ${s.refRejected} vs ${e.refRejected}`);
      });
      // Nothing rejected scores 0; the scores are real sums otherwise.
      assert.ok(got[3]!.refRejected === 0);
      assert.ok(got[1]!.refChosen < -1);
    }
    // The reference's tensors are untouched (read, not moved).
    assert.ok(Object.values(reference.params).every((v) => !v.isDisposed));
  } finally {
    tf.dispose(Object.values(reference.params));
  }
});
