import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { forward, weightsToParams } from '../../../../src/core/model/gpt2';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/core/model/checkpoint';
import { exportOnnx } from '../../../../src/core/onnx/export';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import { loadTokenizer } from '../../../../src/core/tokenizer/tokenizer';
import { isUserError } from '../../../../src/core/errors';
import { TINY, randomWeights } from './tinyModel';

test('the exported model.onnx runs in a fresh InferenceSession and gives the tfjs logits', async () => {
  await tf.setBackend('cpu');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'export-'));
  const weights = randomWeights(TINY, 31, 'value');
  saveCheckpoint(path.join(root, 'policy'), { config: TINY, kind: 'value', weights, tokenizer: byteLevelTokenizerJson() });
  const out = path.join(root, 'onnx');
  const report = exportOnnx(loadCheckpoint(path.join(root, 'policy')), out);
  assert.deepEqual(fs.readdirSync(out).sort(), ['config.json', 'generation_config.json', 'model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
  assert.equal(fs.statSync(path.join(out, 'model.onnx')).size, report.onnxBytes);

  const tokenizer = loadTokenizer(out);
  const ids = tokenizer.encode('Hello ONNX');
  const T = ids.length;
  const session = await ort.InferenceSession.create(path.join(out, 'model.onnx'));
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, T]),
  };
  for (let i = 0; i < TINY.n_layer; i++) {
    for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, TINY.n_head, 0, 8]);
  }
  const result = await session.run(feeds);
  assert.deepEqual(session.outputNames, ['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
  assert.deepEqual(result['present.1.value']?.dims, [1, TINY.n_head, T, 8]);
  const got = result.logits?.data as Float32Array;
  const params = weightsToParams(weights);
  const want = tf.tidy(() => (forward(params, TINY, { ids: tf.tensor2d(ids, [1, T], 'int32') }).logits as tf.Tensor).dataSync());
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs((want[i] as number) - (got[i] as number)));
  assert.ok(diff < 1e-4, `export differs from tfjs by ${diff}`);

  // One more token through the cache: the last logits of the longer sequence.
  const next = 7;
  const step: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(next)), [1, 1]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T + 1).fill(1n), [1, T + 1]),
    position_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(T)), [1, 1]),
  };
  for (let i = 0; i < TINY.n_layer; i++) for (const kv of ['key', 'value']) step[`past_key_values.${i}.${kv}`] = result[`present.${i}.${kv}`] as ort.Tensor;
  const cached = (await session.run(step)).logits?.data as Float32Array;
  const V = TINY.vocab_size;
  const full = tf.tidy(() => (forward(params, TINY, { ids: tf.tensor2d([...ids, next], [1, T + 1], 'int32') }).logits as tf.Tensor).dataSync().slice(T * V));
  tf.dispose(Object.values(params));
  let cacheDiff = 0;
  for (let i = 0; i < V; i++) cacheDiff = Math.max(cacheDiff, Math.abs((full[i] as number) - (cached[i] as number)));
  assert.ok(cacheDiff < 1e-4, `export through the KV cache differs from tfjs by ${cacheDiff}`);
  await session.release();

  // Exporting again replaces the earlier export; a folder that is not one is refused.
  exportOnnx(loadCheckpoint(path.join(root, 'policy')), out);
  fs.writeFileSync(path.join(root, 'notes.txt'), 'x');
  assert.throws(
    () => exportOnnx(loadCheckpoint(path.join(root, 'policy')), root),
    (e: unknown) => isUserError(e) && /is not an earlier ONNX export/.test((e as Error).message),
  );
});

test('a reward model is refused with a clear reason', () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'export-')), 'rm');
  saveCheckpoint(dir, { config: TINY, kind: 'reward', weights: randomWeights(TINY, 1, 'reward'), tokenizer: byteLevelTokenizerJson() });
  assert.throws(
    () => exportOnnx(loadCheckpoint(dir), `${dir}-onnx`),
    (e: unknown) => isUserError(e) && /is a reward model/.test((e as Error).message),
  );
});
