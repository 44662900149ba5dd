import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../src/core/compute/backend';
import { TINY_CONFIG } from '../../../src/core/model/config';
import { loadCheckpoint, saveCheckpoint } from '../../../src/core/model/checkpoint';
import { initParams } from '../../../src/core/model/gpt2';
import { Project } from '../../../src/core/store/project';
import { byteLevelTokenizerJson } from '../../../src/core/tokenizer/byteLevel';
import { weightsOf } from '../../../src/core/train/model';
import { runCli } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/command';
import { capture as captureIn, writeConfig as writeConfigIn } from '../core/train/cliHelpers';
import { modelWidth } from '../../../src/core/model/modelConfig';

const ROOT = path.resolve(__dirname, '../../..');
const small = { ...TINY_CONFIG, n_embd: 32, n_head: 2, n_layer: 1, n_positions: 48 };
let dir: string;
let base: string;

before(async () => {
  await initCompute('wasm');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-runner-'));
  base = path.join(dir, 'base');
  const params = initParams(small, 1);
  saveCheckpoint(base, { config: small, kind: 'lm', weights: weightsOf({ config: small, params }), tokenizer: byteLevelTokenizerJson() });
  tf.dispose(Object.values(params));
  const lines = ['cat|meow', 'dog|woof', 'cow|moo', 'owl|hoot', 'bee|buzz'].map((s) => {
    const [prompt, completion] = s.split('|');
    return JSON.stringify({ prompt: `${prompt}: `, completion });
  });
  fs.writeFileSync(path.join(dir, 'sft.jsonl'), lines.join('\n') + '\n');
  await Project.create(dir);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const capture = (): ReturnType<typeof captureIn> => captureIn(dir);
const writeConfig = (name: string, config: object): string => writeConfigIn(dir, name, config);

const runJson = (id: string): { state: string; step: number; checkpoints: { stage: string; step: number; path: string }[] } =>
  JSON.parse(fs.readFileSync(path.join(dir, '.rlhf', 'runs', id, 'run.json'), 'utf8'));

test('a config error names the file and the field; a wrong flag exits 2', async () => {
  const bad = writeConfig('bad.json', { model: 'base', data: 'sft.jsonl', optim: { lr: -1 } });
  const c = capture();
  assert.equal(await runCli(['train', 'sft', '--config', bad, '--backend', 'wasm'], c.io), 1);
  assert.match(c.err.join('\n'), /bad\.json: .*optim\.lr/);
  assert.equal(await runCli(['train', 'sft', '--confi', bad], capture().io), 2);
  const unknown = writeConfig('unknown.json', { model: 'base', data: 'sft.jsonl', stepz: 3 });
  const u = capture();
  assert.equal(await runCli(['train', 'sft', '--config', unknown], u.io), 1);
  assert.match(u.err.join('\n'), /unknown\.json: .*stepz/);
});

test('a SIGKILLed run resumes from its last checkpoint at the right step', async () => {
  const config = writeConfig('kill.json', { runId: 'kill-test', model: 'base', data: 'sft.jsonl', steps: 60, batchSize: 2, maxLen: 16, checkpointEvery: 4, evalEvery: 0 });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'train', 'sft', '--config', config, '--project', dir, '--backend', 'wasm'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // Wait for the second recorded checkpoint, then kill without warning.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const runFile = path.join(dir, '.rlhf', 'runs', 'kill-test', 'run.json');
    if (fs.existsSync(runFile) && runJson('kill-test').checkpoints.length >= 2) break;
    if (child.exitCode !== null) assert.fail(`the training process ended early (code ${child.exitCode}): ${stderr}`);
    assert.ok(Date.now() < deadline, 'no checkpoint within 120 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await exited;
  const killed = runJson('kill-test');
  assert.equal(killed.state, 'running'); // it never got to say otherwise
  const lastStep = killed.checkpoints[killed.checkpoints.length - 1]!.step;
  assert.ok(lastStep >= 8 && lastStep < 60, `last checkpoint at ${lastStep}`);

  const c = capture();
  assert.equal(await runCli(['train', 'sft', '--config', config, '--backend', 'wasm'], c.io), 0, c.err.join('\n'));
  const lastRecorded = runJson('kill-test');
  assert.ok(
    c.out.some((l) => l.includes(`resuming at step ${lastStep})`)),
    c.out.join('\n'),
  );
  assert.equal(lastRecorded.state, 'completed');
  assert.equal(lastRecorded.step, 60);
  // The resumed run's first metric line is the step after its checkpoint.
  const metrics = fs
    .readFileSync(path.join(dir, '.rlhf', 'runs', 'kill-test', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; stage: string; values: Record<string, number> });
  const trainLines = metrics.filter((m) => 'sft/loss' in m.values);
  const resumeAt = trainLines.findIndex((m, i) => i > 0 && m.step <= trainLines[i - 1]!.step);
  // Steps after the checkpoint that the killed process logged are redone, from lastStep + 1.
  if (resumeAt >= 0) assert.equal(trainLines[resumeAt]!.step, lastStep + 1);
  else assert.equal(trainLines.length, 60);
  assert.equal(metrics[metrics.length - 1]!.step, 60);
  assert.ok(metrics.every((m) => m.stage === 'sft'));
  const final = loadCheckpoint(path.join(dir, '.rlhf', 'runs', 'kill-test', 'checkpoints', 'sft', 'final'));
  assert.equal(modelWidth(final.config), 32);
  // rlhf runs --json points at it.
  const r = capture();
  assert.equal(await runCli(['runs', '--json'], r.io), 0);
  const listed = (JSON.parse(r.out.join('\n')) as { id: string; stages: string[]; state: string; checkpoints: Record<string, string> }[]).find((x) => x.id === 'kill-test')!;
  assert.deepEqual(listed.stages, ['sft']);
  assert.equal(listed.state, 'completed');
  assert.equal(listed.checkpoints.sft, path.join(dir, '.rlhf', 'runs', 'kill-test', 'checkpoints', 'sft', 'final'));
});

test('a reward run trains on the project rankings and saves a reward-model folder', async () => {
  const project = await Project.open(dir, { labeler: 'tester@example.com' });
  const { ids } = await project.prompts.add(['Say something: ']);
  const promptId = ids[0]!;
  for (let i = 0; i < 6; i++) {
    const batch = await project.completions.addBatch({ promptId, model: { path: base }, completions: [{ text: `good ${i}` }, { text: `bad ${i}` }, { text: `meh ${i}` }] });
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 3, 2] });
  }
  const config = writeConfig('reward.json', { runId: 'rm-test', model: 'base', steps: 6, batchSize: 2, maxLen: 24, evalFraction: 0 });
  const c = capture();
  assert.equal(await runCli(['train', 'reward', '--config', config, '--backend', 'wasm'], c.io), 0, c.err.join('\n'));
  const final = loadCheckpoint(path.join(dir, '.rlhf', 'runs', 'rm-test', 'checkpoints', 'reward', 'final'));
  assert.equal(final.kind, 'reward');
  assert.ok(final.weights.has('score.weight'));
});

test('cancelling a run stops within a step, leaves a cancel checkpoint and state, and it resumes from there', async () => {
  const config = writeConfig('cancel.json', { runId: 'cancel-test', model: 'base', data: 'sft.jsonl', steps: 500, batchSize: 2, maxLen: 16, checkpointEvery: 0, evalEvery: 0 });
  const controller = new AbortController();
  const out: string[] = [];
  const io: CliIo = {
    out: (t) => {
      out.push(t);
      // The progress printer writes a line every 10 steps: cancel at the first one.
      if (/\[sft\] step 10 /.test(t)) controller.abort();
    },
    err: (t) => out.push(t),
    cwd: dir,
    signal: controller.signal,
  };
  assert.equal(await runCli(['train', 'sft', '--config', config, '--backend', 'wasm'], io), 130);
  const cancelled = runJson('cancel-test');
  assert.equal(cancelled.state, 'cancelled');
  const last = cancelled.checkpoints[cancelled.checkpoints.length - 1]!;
  assert.ok(last.step >= 10 && last.step <= 11, `cancel checkpoint at step ${last.step}`);
  assert.ok(fs.existsSync(path.join(dir, '.rlhf', 'runs', 'cancel-test', last.path, 'optimizer.safetensors')));
  // Resume with the same config: it picks up at the cancel checkpoint (cancelled again to keep the test short).
  const resumed = capture();
  const controller2 = new AbortController();
  const io2: CliIo = {
    ...resumed.io,
    signal: controller2.signal,
    out: (t) => {
      resumed.out.push(t);
      if (/\[sft\] step 20 /.test(t)) controller2.abort();
    },
  };
  assert.equal(await runCli(['train', 'sft', '--config', config, '--backend', 'wasm'], io2), 130);
  assert.ok(
    resumed.out.some((l) => l.includes(`resuming at step ${last.step})`)),
    resumed.out.join('\n'),
  );
  assert.ok(!resumed.out.some((l) => /\[sft\] step 10 /.test(l)), 'steps before the checkpoint were redone');
});
