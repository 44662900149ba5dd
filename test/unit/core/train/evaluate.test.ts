/** evaluatePolicy (the demo's before/after measure) on both engines: KL of a model to itself is 0, and the engines agree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initCompute } from '../../../../src/core/compute/backend';
import { saveCheckpoint } from '../../../../src/core/model/checkpoint';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import { setTrainingEngine } from '../../../../src/core/train/engine';
import { evaluatePolicy } from '../../../../src/core/train/evaluate';
import { randomWeights } from '../onnx/tinyModel';
import { TINY_CONFIG } from '../../../../src/core/model/config';

const config = { ...TINY_CONFIG, n_positions: 48, n_embd: 16, n_head: 2 };

test('evaluatePolicy: KL to itself is 0 and both engines measure the same KL and scores', async () => {
  await initCompute('cpu');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'evaluate-'));
  try {
    for (const [name, seed] of [
      ['a', 1],
      ['b', 2],
    ] as const)
      saveCheckpoint(path.join(root, name), { config, kind: 'lm', weights: randomWeights(config, seed, 'lm', 0.2), tokenizer: byteLevelTokenizerJson() });
    const [a, b] = [path.join(root, 'a'), path.join(root, 'b')];
    const prompts = ['Hello there', 'A much longer prompt than the first one'];
    const options = { temperature: 0.8, maxNewTokens: 10, seed: 3, n: 3 };
    const score = (text: string): number => text.length;
    const self = await evaluatePolicy(a, a, prompts, score, options);
    assert.equal(self.meanKl, 0);
    const ort = await evaluatePolicy(a, b, prompts, score, options);
    setTrainingEngine('tfjs');
    const tfjs = await evaluatePolicy(a, b, prompts, score, options).finally(() => setTrainingEngine('ort'));
    assert.deepEqual(
      ort.samples.map((s) => s.completion),
      tfjs.samples.map((s) => s.completion),
    );
    assert.ok(Math.abs(ort.meanKl - tfjs.meanKl) < 1e-3 * Math.max(1, Math.abs(tfjs.meanKl)), `KL ${ort.meanKl} vs ${tfjs.meanKl}`);
    assert.notEqual(ort.meanKl, 0);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
