import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { forward, initParams } from '../../../../src/core/model/gpt2';
import { sampleTfjs } from '../../../../src/core/sample/tfjsSampler';
import type { TfjsModel } from '../../../../src/core/sample/tfjsSampler';
import { DEFAULT_SAMPLING } from '../../../../src/core/sample/types';
import type { SamplingOptions } from '../../../../src/core/sample/types';
import { isUserError } from '../../../../src/core/errors';
import { TEST_CONFIG as config, maxAbsDiff } from '../model/fixtures';
import { useBackend } from '../model/useBackend';

let model: TfjsModel;
const decode = (ids: readonly number[]): string => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('');
const greedy: SamplingOptions = { ...DEFAULT_SAMPLING, temperature: 0, maxNewTokens: 8 };
const PROMPT = [3, 14, 15, 9];
const LONGER = [2, 7, 18, 28, 1, 8, 2];

before(async () => {
  await useBackend('wasm');
  model = { params: initParams(config, 21), config };
});
after(() => tf.dispose(Object.values(model.params)));

/** The model's log-softmax at every position of one sequence, by one full forward (no cache). */
function fullLogSoftmax(seq: number[]): number[][] {
  return tf.tidy(() => tf.logSoftmax(forward(model.params, config, { ids: tf.tensor2d([seq], [1, seq.length], 'int32') }).logits!).arraySync()[0]!);
}

test('greedy: deterministic, equals argmax of full forwards, logprobs equal the full log-softmax', async () => {
  const [a] = await sampleTfjs(model, [PROMPT], greedy, decode);
  const [b] = await sampleTfjs(model, [PROMPT], greedy, decode);
  assert.deepEqual(a!.tokens, b!.tokens);
  assert.equal(a!.tokens.length, 8);
  assert.equal(a!.finishReason, 'length');
  assert.equal(a!.text, decode(a!.tokens));
  const lsm = fullLogSoftmax([...PROMPT, ...a!.tokens]);
  a!.tokens.forEach((tok, j) => {
    const row = lsm[PROMPT.length - 1 + j]!;
    assert.equal(tok, row.indexOf(Math.max(...row)), `token ${j} is the argmax`);
    assert.ok(Math.abs(a!.logprobs[j]! - row[tok]!) < 1e-4, `logprob ${j}: ${a!.logprobs[j]} vs ${row[tok]}`);
  });
});

test('seeded sampling is reproducible; another seed differs; logprobs match the full forward', async () => {
  const opts: SamplingOptions = { ...DEFAULT_SAMPLING, temperature: 1.5, maxNewTokens: 12, seed: 5 };
  const a = await sampleTfjs(model, [PROMPT, PROMPT], opts, decode);
  const b = await sampleTfjs(model, [PROMPT, PROMPT], opts, decode);
  const c = await sampleTfjs(model, [PROMPT, PROMPT], { ...opts, seed: 6 }, decode);
  assert.deepEqual(
    a.map((x) => x.tokens),
    b.map((x) => x.tokens),
  );
  assert.notDeepEqual(
    a.map((x) => x.tokens),
    c.map((x) => x.tokens),
  );
  assert.notDeepEqual(a[0]!.tokens, a[1]!.tokens, 'repeated prompts get their own streams');
  const lsm = fullLogSoftmax([...PROMPT, ...a[1]!.tokens]);
  const expected = a[1]!.tokens.map((tok, j) => lsm[PROMPT.length - 1 + j]![tok]!);
  assert.ok(maxAbsDiff(a[1]!.logprobs, expected) < 1e-4);
});

test('top-k 1 is greedy at any temperature', async () => {
  const [g] = await sampleTfjs(model, [PROMPT], greedy, decode);
  const [k] = await sampleTfjs(model, [PROMPT], { ...greedy, temperature: 3, topK: 1, seed: 9 }, decode);
  assert.deepEqual(k!.tokens, g!.tokens);
});

test('a prompt continues the same alone and left-padded beside a longer one', async () => {
  const [alone] = await sampleTfjs(model, [PROMPT], greedy, decode);
  const [longAlone] = await sampleTfjs(model, [LONGER], greedy, decode);
  const both = await sampleTfjs(model, [PROMPT, LONGER], greedy, decode);
  assert.deepEqual(both[0]!.tokens, alone!.tokens);
  assert.deepEqual(both[1]!.tokens, longAlone!.tokens);
  assert.ok(maxAbsDiff(both[0]!.logprobs, alone!.logprobs) < 1e-4);
  assert.deepEqual(
    both.map((c) => c.promptIndex),
    [0, 1],
  );
});

test('EOS and stop strings end a sequence; EOS is kept in tokens, not in text', async () => {
  const [g] = await sampleTfjs(model, [PROMPT], greedy, decode);
  const eos = g!.tokens[2]!;
  const firstAt = g!.tokens.indexOf(eos);
  const [e] = await sampleTfjs(model, [PROMPT], { ...greedy, eosTokenId: eos }, decode);
  assert.equal(e!.finishReason, 'eos');
  assert.deepEqual(e!.tokens, g!.tokens.slice(0, firstAt + 1));
  assert.equal(e!.text, decode(g!.tokens.slice(0, firstAt)));

  const full = decode(g!.tokens);
  const stop = full.slice(3, 5);
  const cut = full.indexOf(stop);
  const [s] = await sampleTfjs(model, [PROMPT], { ...greedy, stopStrings: ['never-there', stop] }, decode);
  assert.equal(s!.finishReason, 'stop');
  assert.equal(s!.text, full.slice(0, cut));
  assert.deepEqual(s!.tokens, g!.tokens.slice(0, cut + stop.length));
});

test('context limit: a prompt longer than the context leaves room for is continued from its end', async () => {
  const long = Array.from({ length: config.n_positions + 5 }, (_, i) => (i * 7) % config.vocab_size);
  const maxNewTokens = 10;
  const [c] = await sampleTfjs(model, [long], { ...greedy, maxNewTokens }, decode);
  assert.equal(c!.tokens.length, maxNewTokens);
  assert.equal(c!.finishReason, 'length');
  // The same as sampling from the prompt's last n_positions − maxNewTokens tokens.
  const [tail] = await sampleTfjs(model, [long.slice(long.length - (config.n_positions - maxNewTokens))], { ...greedy, maxNewTokens }, decode);
  assert.deepEqual(c!.tokens, tail!.tokens);
  // A short prompt batched with the long one is not cut and generates as many tokens.
  const [short, longAgain] = await sampleTfjs(model, [PROMPT, long], { ...greedy, maxNewTokens }, decode);
  assert.equal(short!.tokens.length, maxNewTokens);
  assert.deepEqual(longAgain!.tokens, tail!.tokens);
  await assert.rejects(sampleTfjs(model, [PROMPT], { ...greedy, temperature: -1 }, decode), (err: unknown) => isUserError(err));
});

test('sampling leaves no tensors behind and honours an abort', async () => {
  await sampleTfjs(model, [PROMPT, LONGER], { ...greedy, temperature: 1 }, decode);
  const before = tf.memory().numTensors;
  await sampleTfjs(model, [PROMPT, LONGER], { ...greedy, temperature: 1 }, decode);
  assert.equal(tf.memory().numTensors, before);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(sampleTfjs(model, [PROMPT], greedy, decode, controller.signal), { name: 'AbortError' });
  assert.equal(tf.memory().numTensors, before);
});
