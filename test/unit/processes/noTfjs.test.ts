/**
 * The default path never loads tfjs: the built CLI (every training stage, fresh weights, sampling,
 * status) and the built engine process (status, a PPO run against a reward model), on ONNX
 * Runtime, each in a child process whose preload hook (`--require`) logs every module request
 * that names @tensorflow. Choosing tfjs (`--engine tfjs`, the engine's `--engine=tfjs`) does load
 * it (and the bundle's tfjs engine trains every stage), so the hook is seen to catch what it
 * should. Runs the bundles in dist/ (`npm run build`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Project } from '../../../src/core/store/project';
import { EngineClient } from '../../../src/extension/engineClient';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const ENGINE = path.join(ROOT, 'dist', 'engine.js');

/** Appends each request naming @tensorflow (and the files it resolves to) to $RLHF_TFJS_LOG. */
const HOOK = `
const Module = require('node:module');
const fs = require('node:fs');
const log = process.env.RLHF_TFJS_LOG;
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const out = load.apply(this, arguments);
  if (request.includes('@tensorflow')) fs.appendFileSync(log, request + '\\n');
  return out;
};
fs.appendFileSync(log, 'hook ' + process.pid + '\\n');
`;

/** Runs CLI command lines one after another in one process (the bundle's runCli), exits non-zero on the first failure. */
const DRIVER = `
const { runCli } = require(process.env.RLHF_CLI);
const commands = JSON.parse(process.env.RLHF_COMMANDS);
(async () => {
  for (const argv of commands) {
    const err = [];
    const io = { out: () => undefined, err: (t) => err.push(t), cwd: process.env.RLHF_CWD, signal: new AbortController().signal };
    const code = await runCli(argv, io);
    if (code !== 0) {
      console.error('rlhf ' + argv.join(' ') + ' exited ' + code + ': ' + err.join('\\n'));
      process.exit(1);
    }
  }
})();
`;

let dir: string;
let hook: string;

before(async () => {
  assert.ok(fs.existsSync(CLI) && fs.existsSync(ENGINE), 'dist/cli.js and dist/engine.js (run npm run build first)');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-no-tfjs-'));
  hook = path.join(dir, 'hook.js');
  fs.writeFileSync(hook, HOOK);
  fs.writeFileSync(path.join(dir, 'tiny.json'), JSON.stringify({ n_embd: 32, n_layer: 1, n_head: 2, n_positions: 48, vocab_size: 257 }));
  fs.writeFileSync(
    path.join(dir, 'sft.jsonl'),
    ['cat|meow', 'dog|woof', 'cow|moo', 'owl|hoot'].map((s) => JSON.stringify({ prompt: `${s.split('|')[0]}: `, completion: s.split('|')[1] })).join('\n') + '\n',
  );
  fs.writeFileSync(path.join(dir, 'prompts.txt'), 'Say something: \nAnother: \n');
  await Project.create(dir);
  const project = await Project.open(dir, { labeler: 'tester@example.com' });
  const { ids } = await project.prompts.add(['Say something: ', 'Another: ']);
  for (let i = 0; i < 4; i++) {
    const batch = await project.completions.addBatch({
      promptId: ids[i % 2]!,
      model: { path: path.join(dir, 'base') },
      completions: [{ text: `good ${i}` }, { text: `bad ${i}` }, { text: `meh ${i}` }],
    });
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 3, 2] });
  }
  // Each stage's config, for the default engine and (runIds ending -tfjs) for tfjs.
  for (const suffix of ['', '-tfjs']) {
    const config = (name: string, fields: object): void => fs.writeFileSync(path.join(dir, `${name}${suffix}.json`), JSON.stringify(fields));
    const id = (run: string): string => `${run}${suffix}`;
    config('pretrain', { runId: id('pretrain'), corpus: 'builtin:moby-dick', steps: 2, batchSize: 2, blockSize: 16, evalBatches: 1, evalEvery: 0 });
    config('sft', { runId: id('sft'), model: 'base', data: 'sft.jsonl', steps: 2, batchSize: 2, maxLen: 16, evalFraction: 0.25 });
    config('reward', { runId: id('rm'), model: 'base', steps: 2, batchSize: 2, maxLen: 16, evalFraction: 0.5, evalEvery: 1 });
    config('dpo', { runId: id('dpo'), model: 'base', steps: 2, batchSize: 2, maxLen: 16, evalFraction: 0.5, evalEvery: 1 });
    const policy = { model: 'base', prompts: 'prompts.txt', maxNewTokens: 4, sampleEvery: 1, checkpointEvery: 1 };
    config('ppo', { ...policy, runId: id('ppo'), rewardModel: `.rlhf/runs/${id('rm')}/checkpoints/reward/final`, iterations: 2, rolloutBatch: 2, miniBatches: 1, ppoEpochs: 1 });
    config('rloo', { ...policy, runId: id('rloo'), rewardModel: 'builtin:afinn', iterations: 1, promptsPerIteration: 1, k: 2 });
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What the hook logged in one child: the processes it saw start, and the @tensorflow requests. */
function readLog(log: string): { processes: number; tfjs: string[] } {
  const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  return { processes: lines.filter((l) => l.startsWith('hook ')).length, tfjs: lines.filter((l) => !l.startsWith('hook ')) };
}

function runCliChild(name: string, commands: readonly (readonly string[])[]): { processes: number; tfjs: string[] } {
  const log = path.join(dir, `${name}.log`);
  const r = spawnSync(process.execPath, ['--require', hook, '-e', DRIVER], {
    env: { ...process.env, RLHF_TFJS_LOG: log, RLHF_CLI: CLI, RLHF_CWD: dir, RLHF_COMMANDS: JSON.stringify(commands) },
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  return readLog(log);
}

const STAGES = ['pretrain', 'sft', 'reward', 'dpo', 'ppo', 'rloo'] as const;
const completed = (run: string): string => (JSON.parse(fs.readFileSync(path.join(dir, '.rlhf', 'runs', run, 'run.json'), 'utf8')) as { state: string }).state;

test('the built CLI trains every stage, inits, samples and reports on ONNX Runtime without loading tfjs; --engine tfjs loads it and trains every stage', () => {
  const dflt = runCliChild('cli', [
    ['status', '--json'],
    ['model', 'init', '--arch', 'gpt2', '--config', 'tiny.json', '--out', 'base', '--seed', '1'],
    ...STAGES.map((stage) => ['train', stage, '--config', `${stage}.json`]),
    ['sample', '--model', 'base', '--prompt', 'hi', '--max-new-tokens', '3'],
  ]);
  assert.equal(dflt.processes, 1, 'the hook ran in the CLI process');
  assert.deepEqual(dflt.tfjs, [], 'modules of @tensorflow loaded on the default path');
  for (const run of ['pretrain', 'sft', 'rm', 'dpo', 'ppo', 'rloo']) assert.equal(completed(run), 'completed', run);

  // The bundle's tfjs modules load on demand and train: every stage on --engine tfjs.
  const tfjs = runCliChild('cli-tfjs', [
    ['status', '--json', '--engine', 'tfjs', '--backend', 'cpu'],
    ...STAGES.map((stage) => ['train', stage, '--config', `${stage}-tfjs.json`, '--engine', 'tfjs', '--backend', 'wasm']),
  ]);
  assert.ok(tfjs.tfjs.includes('@tensorflow/tfjs-core') && tfjs.tfjs.some((m) => m.includes('tfjs-backend-cpu')), `--engine tfjs loaded: ${tfjs.tfjs.join(', ')}`);
  for (const run of ['pretrain', 'sft', 'rm', 'dpo', 'ppo', 'rloo']) assert.equal(completed(`${run}-tfjs`), 'completed', `${run} on tfjs`);
});

test('the built engine process reports its status and trains PPO on ONNX Runtime without loading tfjs; --engine=tfjs loads it', async () => {
  const engine = async (name: string, args: readonly string[], work: (client: EngineClient) => Promise<void>): Promise<{ processes: number; tfjs: string[] }> => {
    const log = path.join(dir, `${name}.log`);
    const client = new EngineClient({ enginePath: ENGINE, execArgv: ['--require', hook], engineArgs: () => args, env: { ...process.env, RLHF_TFJS_LOG: log } });
    try {
      await work(client);
    } finally {
      client.dispose();
    }
    return readLog(log);
  };
  // The arguments the extension passes with rlhf.engine.backend on its default (auto).
  const dflt = await engine('engine', ['--backend=auto', '--engine=ort', '--device=auto', '--reserved-cores=0'], async (client) => {
    const status = await client.request('status', {});
    assert.equal(status.training?.engine, 'ort');
    assert.equal(status.backend, undefined, 'no tfjs backend in the report');
    const configFile = path.join(dir, 'ppo-engine.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        ...JSON.parse(fs.readFileSync(path.join(dir, 'ppo.json'), 'utf8')),
        runId: 'ppo-engine',
        rewardModel: path.join(dir, '.rlhf/runs/rm/checkpoints/reward/final'),
        model: path.join(dir, 'base'),
        prompts: path.join(dir, 'prompts.txt'),
      }),
    );
    const result = await client.request('training.start', { workspace: dir, kind: 'ppo', configFile });
    assert.equal(result.state, 'completed');
  });
  assert.equal(dflt.processes, 1, 'the hook ran in the engine process');
  assert.deepEqual(dflt.tfjs, [], 'modules of @tensorflow loaded by the engine on the default path');

  const tfjs = await engine('engine-tfjs', ['--backend=cpu', '--engine=tfjs'], async (client) => {
    assert.equal((await client.request('status', {})).backend, 'cpu');
  });
  assert.ok(tfjs.tfjs.includes('@tensorflow/tfjs-core'), `--engine=tfjs loaded: ${tfjs.tfjs.join(', ')}`);
});
