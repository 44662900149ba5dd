/**
 * Prompts longer than the model's context, through every stage that reads prompts (SFT, reward,
 * DPO, PPO, RLOO, and a resumed PPO run): none dies on a prompt's length; each fits the prompt
 * by cutting it from the left and says so in its log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../../src/core/compute/backend';
import { TINY_CONFIG } from '../../../../src/core/model/config';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/core/model/checkpoint';
import { initParams } from '../../../../src/core/model/gpt2';
import { Project } from '../../../../src/core/store/project';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import { weightsOf } from '../../../../src/core/train/model';
import { runCli } from '../../../../src/cli/main';
import { capture as captureIn, writeConfig as writeConfigIn } from './cliHelpers';

// Byte-level tokens: one per byte, so a 100-character prompt is 100 tokens, beyond n_positions 48.
const small = { ...TINY_CONFIG, n_embd: 32, n_head: 2, n_layer: 1, n_positions: 48 };
const longText = (i: number): string => `Prompt ${i}: ${'a very long opening that runs on and on, '.repeat(3)}and ends here: `;
let dir: string;

before(async () => {
  await initCompute('wasm');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-long-'));
  const params = initParams(small, 3);
  saveCheckpoint(path.join(dir, 'base'), { config: small, kind: 'lm', weights: weightsOf({ config: small, params }), tokenizer: byteLevelTokenizerJson() });
  tf.dispose(Object.values(params));
  const sft = [0, 1, 2, 3].map((i) => JSON.stringify({ prompt: longText(i), completion: 'yes.' }));
  fs.writeFileSync(path.join(dir, 'sft.jsonl'), sft.join('\n') + '\n');
  const project = await Project.create(dir, { labeler: 'tester@example.com' });
  const { ids } = await project.prompts.add([0, 1, 2, 3, 4, 5].map(longText));
  for (const [i, promptId] of ids.entries()) {
    assert.ok(longText(i).length > small.n_positions);
    const batch = await project.completions.addBatch({ promptId, model: { path: 'base' }, completions: [{ text: `good ${i}` }, { text: `bad ${i}, and longer` }, { text: `meh ${i}` }] });
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 3, 2] });
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Trains `stage` through the CLI; `cancelAt` cancels the run once a line matches it (exit 130). */
async function train(stage: string, config: object, cancelAt?: RegExp): Promise<string[]> {
  const file = writeConfigIn(dir, `${stage}.json`, config);
  const c = captureIn(dir);
  const controller = new AbortController();
  const out = (t: string): void => {
    c.out.push(t);
    if (cancelAt?.test(t)) controller.abort();
  };
  const code = await runCli(['train', stage, '--config', file, '--backend', 'wasm'], { ...c.io, out, signal: controller.signal });
  assert.equal(code, cancelAt ? 130 : 0, `${stage} ended with ${code}:\n${c.err.join('\n')}`);
  return c.out;
}

const final = (runId: string, stage: string): string => path.join(dir, '.rlhf', 'runs', runId, 'checkpoints', stage, 'final');

test('SFT, reward and DPO keep the end of prompts longer than maxLen and say how many', async () => {
  const sftOut = await train('sft', { runId: 'long-sft', model: 'base', data: 'sft.jsonl', steps: 2, batchSize: 2, maxLen: 48, evalEvery: 0 });
  assert.ok(
    sftOut.some((l) => /sft: 4 of 4 examples are longer than maxLen 48 tokens; their prompts are cut from the left/.test(l)),
    sftOut.join('\n'),
  );
  assert.equal(loadCheckpoint(final('long-sft', 'sft')).kind, 'lm');

  const rewardOut = await train('reward', { runId: 'long-rm', model: 'base', steps: 2, batchSize: 2, maxLen: 48, evalFraction: 0 });
  assert.ok(
    rewardOut.some((l) => /reward: 6 of 6 rankings are longer than maxLen 48/.test(l)),
    rewardOut.join('\n'),
  );
  assert.equal(loadCheckpoint(final('long-rm', 'reward')).kind, 'reward');

  const dpoOut = await train('dpo', { runId: 'long-dpo', model: 'base', steps: 2, batchSize: 2, maxLen: 48, evalFraction: 0 });
  assert.ok(
    dpoOut.some((l) => /dpo: \d+ of \d+ pairs are longer than maxLen 48/.test(l)),
    dpoOut.join('\n'),
  );
});

test('a maxLen beyond the model context is a config error naming the field', async () => {
  const file = writeConfigIn(dir, 'reward-too-long.json', { runId: 'long-rm-bad', model: 'base', steps: 2, batchSize: 2, maxLen: 96, evalFraction: 0 });
  const c = captureIn(dir);
  assert.equal(await runCli(['train', 'reward', '--config', file, '--backend', 'wasm'], c.io), 1);
  assert.match(c.err.join('\n'), /reward: maxLen 96 exceeds the model's context 48; lower maxLen/);
});

test('PPO (reward model) and RLOO train on prompts longer than the context, and a PPO run resumes', async () => {
  if (!fs.existsSync(final('long-rm', 'reward'))) await train('reward', { runId: 'long-rm', model: 'base', steps: 2, batchSize: 2, maxLen: 48, evalFraction: 0 });
  const rewardModel = path.relative(dir, final('long-rm', 'reward'));
  const ppoConfig = { runId: 'long-ppo', model: 'base', rewardModel, rolloutBatch: 4, miniBatches: 2, ppoEpochs: 1, maxNewTokens: 8, checkpointEvery: 1, sampleEvery: 1 };
  const first = await train('ppo', { ...ppoConfig, iterations: 3 }, /\[ppo\] checkpoint at step 1$/);
  // The reward model reads prompt + response + EOS: 48 − 1 − 8 = 39 prompt tokens.
  assert.ok(
    first.some((l) => /ppo: 6 of 6 prompts are longer than the 39 tokens the context leaves \(47 − maxNewTokens 8\); they are cut from the left/.test(l)),
    first.join('\n'),
  );
  const resumed = await train('ppo', { ...ppoConfig, iterations: 3 });
  assert.ok(
    resumed.some((l) => /resuming at step [12]\)/.test(l)),
    resumed.join('\n'),
  );
  assert.equal(loadCheckpoint(final('long-ppo', 'ppo')).kind, 'lm');
  const samples = fs
    .readFileSync(path.join(dir, '.rlhf', 'runs', 'long-ppo', 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n');
  // samples.jsonl keeps the prompt as the user wrote it.
  assert.ok(samples.some((l) => (JSON.parse(l) as { prompt: string }).prompt.startsWith('Prompt ')));

  const rloo = await train('rloo', { runId: 'long-rloo', model: 'base', rewardModel: 'builtin:afinn', iterations: 1, promptsPerIteration: 2, k: 2, maxNewTokens: 8 });
  assert.ok(
    rloo.some((l) => /rloo: 6 of 6 prompts are longer than the 40 tokens the context leaves \(48 − maxNewTokens 8\)/.test(l)),
    rloo.join('\n'),
  );
  assert.equal(loadCheckpoint(final('long-rloo', 'rloo')).kind, 'lm');
});

test('a maxNewTokens that fills the context is a clear error, not a crash mid-run', async () => {
  const file = writeConfigIn(dir, 'rloo-full.json', { runId: 'long-rloo-full', model: 'base', rewardModel: 'builtin:afinn', iterations: 1, promptsPerIteration: 2, k: 2, maxNewTokens: 48 });
  const c = captureIn(dir);
  assert.equal(await runCli(['train', 'rloo', '--config', file, '--backend', 'wasm'], c.io), 1);
  assert.match(c.err.join('\n'), /rloo: maxNewTokens 48 leaves no room for a prompt in the model's context of 48 tokens/);
});
