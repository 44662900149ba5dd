import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { forward, weightsToParams } from '../../../../src/core/model/gpt2';
import { buildGptGraph, pastKeyName, pastValueName } from '../../../../src/core/onnx/gptGraph';
import { OrtSampler, samplerSessionOptions } from '../../../../src/core/sample/ortSampler';
import { sampleTfjs } from '../../../../src/core/sample/tfjsSampler';
import { DEFAULT_SAMPLING } from '../../../../src/core/sample/types';
import type { SamplingOptions } from '../../../../src/core/sample/types';
import { isAbortError } from '../../../../src/core/errors';
import { TINY, randomWeights } from '../onnx/tinyModel';

before(async () => {
  await tf.setBackend('cpu');
});

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

/** The tfjs forward (the oracle): logits [B, T, V] for left-padded rows with their mask. */
function tfjsLogits(weights: ReturnType<typeof randomWeights>, ids: number[][], mask: number[][]): Float32Array {
  const params = weightsToParams(weights);
  const out = tf.tidy(() => {
    const B = ids.length;
    const T = (ids[0] as number[]).length;
    const r = forward(params, TINY, { ids: tf.tensor2d(ids.flat(), [B, T], 'int32'), attentionMask: tf.tensor2d(mask.flat(), [B, T], 'int32') });
    return (r.logits as tf.Tensor).dataSync() as Float32Array;
  });
  tf.dispose(Object.values(params));
  return out;
}

const ROWS = [
  [5, 17, 99, 3, 250, 7, 8, 9],
  [0, 0, 0, 42, 43, 44, 45, 46], // left-padded: the first three are padding
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1, 1],
  [0, 0, 0, 1, 1, 1, 1, 1],
];

/** Logits at real (unmasked) positions only: padding positions' outputs are meaningless. */
function realPositions(logits: Float32Array, mask: number[][], V: number): Float32Array {
  const T = (mask[0] as number[]).length;
  const keep: number[] = [];
  mask.forEach((row, b) => row.forEach((m, t) => m && keep.push(...logits.subarray((b * T + t) * V, (b * T + t + 1) * V))));
  return Float32Array.from(keep);
}

test('ORT logits equal tfjs logits: full forward, through the KV cache, and with left padding', async () => {
  const weights = randomWeights(TINY, 11);
  const sampler = await OrtSampler.create({ config: TINY, weights }, { providers: ['cpu'] });
  try {
    const V = TINY.vocab_size;
    const ref = realPositions(tfjsLogits(weights, ROWS, MASK), MASK, V);
    const full = await sampler.logits(ROWS, MASK);
    const diff = maxAbsDiff(realPositions(full, MASK, V), ref);
    assert.ok(diff < 1e-4, `full forward differs by ${diff}`);
    for (const split of [1, 4, 7]) {
      const cached = realPositions(await sampler.logits(ROWS, MASK, split), MASK, V);
      assert.ok(maxAbsDiff(cached, ref) < 1e-4, `split at ${split}: ${maxAbsDiff(cached, ref)}`);
    }
    // The padded row's real-token logits equal the same tokens alone, unpadded.
    const alone = await sampler.logits([[42, 43, 44, 45, 46]], [[1, 1, 1, 1, 1]]);
    assert.ok(maxAbsDiff(full.subarray((8 + 3) * V, 16 * V), alone) < 1e-4);
    // The logits are not trivially equal across rows (the test could fail).
    assert.ok(maxAbsDiff(full.subarray(7 * V, 8 * V), full.subarray(15 * V, 16 * V)) > 1e-2);
  } finally {
    await sampler.dispose();
  }
});

/** Greedy decoding with the tfjs forward, recomputing the whole sequence each step (no cache). */
function tfjsGreedy(weights: ReturnType<typeof randomWeights>, prompt: number[], n: number): number[] {
  const params = weightsToParams(weights);
  const seq = [...prompt];
  for (let i = 0; i < n; i++) {
    const next = tf.tidy(() => {
      const logits = forward(params, TINY, { ids: tf.tensor2d(seq, [1, seq.length], 'int32') }).logits as tf.Tensor3D;
      return tf.argMax(tf.squeeze(tf.slice(logits, [0, seq.length - 1, 0], [1, 1, TINY.vocab_size])), 0).dataSync()[0] as number;
    });
    seq.push(next);
  }
  tf.dispose(Object.values(params));
  return seq.slice(prompt.length);
}

test('ORT greedy sampling of a batch of different lengths equals tfjs greedy per prompt', async () => {
  const weights = randomWeights(TINY, 12);
  const sampler = await OrtSampler.create({ config: TINY, weights }, { providers: ['cpu'] });
  try {
    const prompts = [[72, 101, 108, 108, 111], [33], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]];
    const options = { ...DEFAULT_SAMPLING, temperature: 0, maxNewTokens: 12 };
    const out = await sampler.sample(prompts, options, (ids) => ids.join(','));
    assert.equal(out.length, 3);
    for (const [i, p] of prompts.entries()) {
      const c = out[i];
      assert.ok(c);
      assert.deepEqual(c.tokens, tfjsGreedy(weights, p, 12), `prompt ${i}`);
      assert.equal(c.finishReason, 'length');
      assert.equal(c.logprobs.length, 12);
      assert.ok(c.logprobs.every((lp) => lp <= 0 && Number.isFinite(lp)));
      assert.equal(c.text, c.tokens.join(','));
    }
  } finally {
    await sampler.dispose();
  }
});

test('ORT and the tfjs KV-cache sampler give the same samples for the same seed (temperature, top-k, top-p, stops)', async () => {
  const weights = randomWeights(TINY, 14);
  const sampler = await OrtSampler.create({ config: TINY, weights }, { providers: ['cpu'] });
  const params = weightsToParams(weights);
  try {
    // The last prompt is longer than TINY's context of 32: both samplers continue its end.
    const prompts = [[65, 66, 67, 68], [], [200, 201], [65, 66, 67, 68], Array.from({ length: 45 }, (_, i) => 60 + i)];
    const decode = (ids: readonly number[]): string => ids.map((i) => String.fromCharCode(97 + (i % 8))).join('');
    const settings = [
      { ...DEFAULT_SAMPLING, temperature: 1, maxNewTokens: 20, seed: 5 },
      { ...DEFAULT_SAMPLING, temperature: 0.7, topK: 20, topP: 0.9, maxNewTokens: 20, seed: 6, eosTokenId: 3, stopStrings: ['hh'] },
    ];
    for (const options of settings) {
      const ort = await sampler.sample(prompts, options, decode);
      const ref = await sampleTfjs({ params, config: TINY }, prompts, options, decode);
      assert.deepEqual(
        ort.map((c) => [c.tokens, c.text, c.finishReason]),
        ref.map((c) => [c.tokens, c.text, c.finishReason]),
      );
      for (const [i, c] of ort.entries()) assert.ok(maxAbsDiff(c.logprobs, ref[i]?.logprobs ?? []) < 1e-4);
    }
  } finally {
    tf.dispose(Object.values(params));
    await sampler.dispose();
  }
});

test('seeded sampling is reproducible, batch-independent, and honours EOS, stop strings and top-k', async () => {
  const weights = randomWeights(TINY, 13);
  const sampler = await OrtSampler.create({ config: TINY, weights }, { providers: ['cpu'] });
  try {
    const decode = (ids: readonly number[]): string => String.fromCharCode(...ids.map((i) => 65 + (i % 26)));
    const prompts = [[10, 20, 30], [40, 50], [60]];
    const options = { ...DEFAULT_SAMPLING, temperature: 1.5, maxNewTokens: 16, seed: 7 };
    const a = await sampler.sample(prompts, options, decode);
    const b = await sampler.sample(prompts, options, decode);
    assert.deepEqual(a, b);
    const c = await sampler.sample(prompts, { ...options, seed: 8 }, decode);
    assert.notDeepEqual(
      a.map((x) => x.tokens),
      c.map((x) => x.tokens),
    );

    // EOS: make the first sampled token of prompt 0 the EOS and check the stop.
    const eos = a[0]?.tokens[2] as number;
    const e = await sampler.sample(prompts, { ...options, eosTokenId: eos }, decode);
    const e0 = e[0];
    assert.ok(e0);
    assert.equal(e0.finishReason, 'eos');
    assert.equal(e0.tokens[e0.tokens.length - 1], eos);
    assert.ok(e0.tokens.length <= 3);
    assert.equal(e0.text, decode(e0.tokens.slice(0, -1)));

    // Stop string: the text of token 3 of prompt 1 stops it; text is cut before the stop string.
    const stop = decode([a[1]?.tokens[3] as number]);
    const s = await sampler.sample(prompts, { ...options, stopStrings: [stop] }, decode);
    const s1 = s[1];
    assert.ok(s1);
    assert.equal(s1.finishReason, 'stop');
    assert.ok(!s1.text.includes(stop));
    assert.ok(decode(s1.tokens).includes(stop));

    // top-k 1 is greedy whatever the temperature.
    const k1 = await sampler.sample(prompts, { ...options, topK: 1 }, decode);
    const greedy = await sampler.sample(prompts, { ...options, temperature: 0 }, decode);
    assert.deepEqual(
      k1.map((x) => x.tokens),
      greedy.map((x) => x.tokens),
    );
  } finally {
    await sampler.dispose();
  }
});

test('refresh rebuilds the session from new weights, after any running sample', async () => {
  const w1 = randomWeights(TINY, 21);
  const w2 = randomWeights(TINY, 22);
  const sampler = await OrtSampler.create({ config: TINY, weights: w1 }, { providers: ['cpu'] });
  try {
    const before1 = await sampler.logits([[1, 2, 3]], [[1, 1, 1]]);
    const options = { ...DEFAULT_SAMPLING, temperature: 0, maxNewTokens: 8 };
    const expected = await sampler.sample([[1, 2, 3]], options, String);
    // A refresh issued while a sample runs waits for it: the sample uses the old weights throughout.
    const [during] = await Promise.all([sampler.sample([[1, 2, 3]], options, String), sampler.refresh(w2)]);
    assert.deepEqual(during, expected);
    const after = await sampler.logits([[1, 2, 3]], [[1, 1, 1]]);
    assert.ok(maxAbsDiff(after, tfjsLogits(w2, [[1, 2, 3]], [[1, 1, 1]])) < 1e-4);
    assert.ok(maxAbsDiff(before1, after) > 1e-2);
  } finally {
    await sampler.dispose();
  }
});

test('bad options and prompts are user errors; long prompts are fitted; an aborted signal stops sampling', async () => {
  const sampler = await OrtSampler.create({ config: TINY, weights: randomWeights(TINY, 1) }, { providers: ['cpu'] });
  try {
    await assert.rejects(sampler.sample([[1]], { ...DEFAULT_SAMPLING, topP: 0 }, String), /topP must be in \(0, 1\]/);
    await assert.rejects(sampler.sample([[1, 999]], DEFAULT_SAMPLING, String), /token id 999 is outside the vocabulary/);
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(sampler.sample([[1]], DEFAULT_SAMPLING, String, aborted.signal), (e: unknown) => isAbortError(e));
    // A prompt longer than the context leaves room for keeps its end, so all 10 new tokens fit.
    for (const length of [30, 40]) {
      const out = await sampler.sample([new Array<number>(length).fill(1)], { ...DEFAULT_SAMPLING, maxNewTokens: 10 }, String);
      assert.equal(out[0]?.tokens.length, 10);
    }
  } finally {
    await sampler.dispose();
  }
});

/** A model big enough that a leaked session or weight copy per refresh shows in the RSS (~6 M parameters, 24 MB). */
const MEDIUM: typeof TINY = { ...TINY, vocab_size: 4000, n_positions: 64, n_embd: 256, n_head: 4, n_layer: 6 };

/** Overwrite the weights in place (as the ONNX Runtime trainer updates its parameters). */
function updateInPlace(weights: ReturnType<typeof randomWeights>, seed: number): void {
  const fresh = randomWeights(TINY, seed);
  for (const [name, w] of weights) w.data.set((fresh.get(name) as { data: Float32Array }).data);
}

test('a live sampler reads the buffers it was given: after an in-place update it samples as a sampler built on the new weights', async () => {
  const weights = randomWeights(TINY, 31);
  const live = await OrtSampler.create({ config: TINY, weights }, { providers: ['cpu'], live: true });
  try {
    assert.equal(live.live, true);
    const prompts = [[10, 20, 30], [40, 50], [60], []];
    const decode = (ids: readonly number[]): string => ids.join(',');
    const settings = [
      { ...DEFAULT_SAMPLING, temperature: 0, maxNewTokens: 12 },
      { ...DEFAULT_SAMPLING, temperature: 1, topK: 40, maxNewTokens: 16, seed: 3 },
    ];
    const same = async (reference: typeof weights): Promise<void> => {
      const baked = await OrtSampler.create({ config: TINY, weights: reference }, { providers: ['cpu'] });
      try {
        assert.equal(baked.live, false);
        for (const options of settings) {
          const a = await live.sample(prompts, options, decode);
          const b = await baked.sample(prompts, options, decode);
          assert.deepEqual(
            a.map((c) => [c.tokens, c.finishReason]),
            b.map((c) => [c.tokens, c.finishReason]),
          );
          for (const [i, c] of a.entries()) assert.ok(maxAbsDiff(c.logprobs, b[i]?.logprobs ?? []) < 1e-4);
        }
        const ref = tfjsLogits(reference, ROWS, MASK);
        assert.ok(maxAbsDiff(realPositions(await live.logits(ROWS, MASK), MASK, TINY.vocab_size), realPositions(ref, MASK, TINY.vocab_size)) < 1e-4);
      } finally {
        await baked.dispose();
      }
    };
    await same(randomWeights(TINY, 31));
    const before = await live.sample(prompts, settings[1] as SamplingOptions, decode);
    updateInPlace(weights, 32);
    await live.refresh(weights);
    await same(randomWeights(TINY, 32));
    // The update changed what it samples (the test could fail).
    assert.notDeepEqual(
      before.map((c) => c.tokens),
      (await live.sample(prompts, settings[1] as SamplingOptions, decode)).map((c) => c.tokens),
    );
    // A new Map of new buffers works too, and so does going back.
    await live.refresh(randomWeights(TINY, 33));
    await same(randomWeights(TINY, 33));
  } finally {
    await live.dispose();
  }
});

test('a baked sampler holds its own copy: an in-place update changes nothing until refresh, which works with the same Map or a new one', async () => {
  const weights = randomWeights(TINY, 41);
  const sampler = await OrtSampler.create({ config: TINY, weights }, { providers: ['cpu'] });
  try {
    const options = { ...DEFAULT_SAMPLING, temperature: 1, maxNewTokens: 10, seed: 9 };
    const first = await sampler.sample([[1, 2, 3]], options, String);
    updateInPlace(weights, 42);
    assert.deepEqual(await sampler.sample([[1, 2, 3]], options, String), first);
    await sampler.refresh(weights);
    const logits = await sampler.logits([[1, 2, 3]], [[1, 1, 1]]);
    assert.ok(maxAbsDiff(logits, tfjsLogits(randomWeights(TINY, 42), [[1, 2, 3]], [[1, 1, 1]])) < 1e-4);
    await sampler.refresh(randomWeights(TINY, 41));
    assert.deepEqual(await sampler.sample([[1, 2, 3]], options, String), first);
  } finally {
    await sampler.dispose();
  }
});

test('weights of the wrong shape are refused at create and refresh', async () => {
  const bad = randomWeights(TINY, 1);
  bad.set('ln_f.bias', { shape: [3], data: new Float32Array(3) });
  for (const live of [false, true]) await assert.rejects(OrtSampler.create({ config: TINY, weights: bad }, { providers: ['cpu'], live }), /'ln_f.bias' has shape \[3\]/);
  const sampler = await OrtSampler.create({ config: TINY, weights: randomWeights(TINY, 1) }, { providers: ['cpu'], live: true });
  try {
    await assert.rejects(sampler.refresh(bad), /'ln_f.bias' has shape \[3\]/);
  } finally {
    await sampler.dispose();
  }
});

test('20 refreshes leak no session or weights (RSS roughly flat), baked with new Maps and live in place', async () => {
  const options = { ...DEFAULT_SAMPLING, maxNewTokens: 4, seed: 1 };
  for (const live of [false, true]) {
    const weights = randomWeights(MEDIUM, 51, 'lm', 0.05);
    const sampler = await OrtSampler.create({ config: MEDIUM, weights }, { providers: ['cpu'], live });
    try {
      const round = async (i: number): Promise<void> => {
        if (live) {
          for (const w of weights.values()) w.data[i % w.data.length] += 0.01;
          await sampler.refresh(weights);
        } else {
          await sampler.refresh(new Map([...weights].map(([k, w]) => [k, { shape: w.shape, data: w.data.slice() }])));
        }
        await sampler.sample([[1, 2, 3, 4]], options, String);
        if (!live) await sampler.logits([[1, 2]], [[1, 1]]);
      };
      for (let i = 0; i < 3; i++) await round(i); // allocator pools settle
      const start = process.memoryUsage().rss;
      for (let i = 0; i < 20; i++) await round(i);
      const grown = (process.memoryUsage().rss - start) / 2 ** 20;
      // A leaked session per refresh holds ≥ 24 MB of weights: 20 of them would be ≥ 480 MB.
      assert.ok(grown < 120, `${live ? 'live' : 'baked'}: RSS grew ${grown.toFixed(0)} MB over 20 refreshes`);
    } finally {
      await sampler.dispose();
    }
  }
});

test('weights read as external data compute exactly what a model with the weights inside computes', async () => {
  const weights = randomWeights(TINY, 61);
  const ort = await import('onnxruntime-node');
  const inside = await ort.InferenceSession.create(buildGptGraph(TINY, weights, { fused: true }), samplerSessionOptions('cpu'));
  const sampler = await OrtSampler.create({ config: TINY, weights }, { providers: ['cpu'] });
  try {
    const ids = [[5, 17, 99, 3]];
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([5n, 17n, 99n, 3n]), [1, 4]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(4).fill(1n), [1, 4]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 3n]), [1, 4]),
    };
    for (let i = 0; i < TINY.n_layer; i++) {
      for (const name of [pastKeyName(i), pastValueName(i)]) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, TINY.n_head, 0, TINY.n_embd / TINY.n_head]);
    }
    const expected = (await inside.run(feeds)).logits?.data as Float32Array;
    assert.deepEqual(await sampler.logits(ids, [[1, 1, 1, 1]]), expected);
  } finally {
    await inside.release();
    await sampler.dispose();
  }
});
