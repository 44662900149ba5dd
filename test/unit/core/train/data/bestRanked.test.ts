/**
 * SFT with "data": "builtin:best-ranked": the project's first-ranked completions (ties at the
 * top included; skips, all-bad and rankings without pairs give none), each ending with EOS.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../../../src/core/compute/backend';
import { TINY_CONFIG } from '../../../../../src/core/model/config';
import { loadCheckpoint, saveCheckpoint } from '../../../../../src/core/model/checkpoint';
import { initParams } from '../../../../../src/core/model/gpt2';
import { Project } from '../../../../../src/core/store/project';
import { byteLevelTokenizerJson } from '../../../../../src/core/tokenizer/byteLevel';
import { tokenizerFromJson } from '../../../../../src/core/tokenizer/tokenizer';
import { bestRankedExamples } from '../../../../../src/core/train/data/datasets';
import { weightsOf } from '../../../../../src/core/train/model';
import { runCli } from '../../../../../src/cli/main';
import { capture, writeConfig } from '../cliHelpers';

const small = { ...TINY_CONFIG, n_embd: 32, n_head: 2, n_layer: 1, n_positions: 48 };
const tokenizer = tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level');
let dir: string;

before(async () => {
  await initCompute('wasm');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-best-'));
  const params = initParams(small, 5);
  saveCheckpoint(path.join(dir, 'base'), { config: small, kind: 'lm', weights: weightsOf({ config: small, params }), tokenizer: byteLevelTokenizerJson() });
  tf.dispose(Object.values(params));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('no rankings with pairs: a user error that says what to do', async () => {
  const project = await Project.create(dir, { labeler: 'tester@example.com' });
  const { ids } = await project.prompts.add(['Skipped: ']);
  const batch = await project.completions.addBatch({ promptId: ids[0]!, model: { path: 'base' }, completions: [{ text: 'x' }, { text: 'y' }] });
  await project.rankings.submit({ batchId: batch.id, verdict: 'skip' });
  assert.throws(() => bestRankedExamples(project, tokenizer), /no ranked completions .* to learn from yet/);
});

test('the first-ranked completions (ties at the top included) become SFT examples, and an SFT run trains on them', async () => {
  const project = await Project.open(dir, { labeler: 'tester@example.com' });
  const { ids } = await project.prompts.add(['Cat: ', 'Dog: ']);
  const cat = await project.completions.addBatch({ promptId: ids[0]!, model: { path: 'base' }, completions: [{ text: 'meh' }, { text: 'meow' }, { text: 'bark' }] });
  await project.rankings.submit({ batchId: cat.id, ranks: [2, 1, 3] });
  const dog = await project.completions.addBatch({ promptId: ids[1]!, model: { path: 'base' }, completions: [{ text: 'woof' }, { text: 'moo' }, { text: 'arf' }] });
  await project.rankings.submit({ batchId: dog.id, ranks: [1, 2, 1] });
  const examples = bestRankedExamples(project, tokenizer).map((e) => [tokenizer.decode(e.prompt), tokenizer.decode(e.response.slice(0, -1)), e.response.at(-1)]);
  const eos = tokenizer.eosTokenId;
  assert.deepEqual(
    examples.sort(),
    [
      ['Cat: ', 'meow', eos],
      ['Dog: ', 'arf', eos],
      ['Dog: ', 'woof', eos],
    ].sort(),
  );

  const config = writeConfig(dir, 'sft-best.json', { runId: 'best', model: 'base', data: 'builtin:best-ranked', steps: 2, batchSize: 2, maxLen: 32, evalEvery: 0, evalFraction: 0 });
  const c = capture(dir);
  assert.equal(await runCli(['train', 'sft', '--config', config, '--backend', 'wasm'], c.io), 0, c.err.join('\n'));
  assert.equal(loadCheckpoint(path.join(dir, '.rlhf', 'runs', 'best', 'checkpoints', 'sft', 'final')).kind, 'lm');
});
