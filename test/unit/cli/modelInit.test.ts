/** `rlhf model init`: an HF folder with fresh weights that loads, seeded, checked against its tokenizer; and pretraining from one. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';
import { loadCheckpoint } from '../../../src/core/model/checkpoint';
import { Project } from '../../../src/core/store/project';
import { capture } from '../core/train/cliHelpers';
import { contextLength, layerCount, modelWidth } from '../../../src/core/model/modelConfig';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-model-init-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('model init writes a loadable folder; the seed decides the weights; bad input is refused with the reason', async () => {
  fs.writeFileSync(path.join(dir, 'small.json'), JSON.stringify({ n_embd: 32, n_layer: 2, n_head: 4, n_positions: 24, vocab_size: 260, bos_token_id: 256, eos_token_id: 256 }));
  const init = async (out: string, ...extra: string[]): Promise<{ code: number; err: string }> => {
    const c = capture(dir);
    const code = await runCli(['model', 'init', '--arch', 'gpt2', '--config', 'small.json', '--out', out, ...extra], c.io);
    return { code, err: c.err.join('\n') };
  };
  assert.equal((await init('a')).code, 0);
  assert.equal((await init('b')).code, 0);
  assert.equal((await init('c', '--seed', '7')).code, 0);
  const [a, b, c] = ['a', 'b', 'c'].map((m) => loadCheckpoint(path.join(dir, m)));
  assert.equal(a!.kind, 'lm');
  assert.deepEqual([layerCount(a!.config), modelWidth(a!.config), contextLength(a!.config), a!.config.vocab_size], [2, 32, 24, 260]);
  assert.equal(a!.tokenizer.vocabSize, 257);
  const h = (ck: typeof a, name: string): Float32Array => ck!.weights.get(name)!.data;
  assert.deepEqual(h(a, 'h.0.attn.c_attn.weight'), h(b, 'h.0.attn.c_attn.weight'));
  assert.notDeepEqual(h(a, 'h.0.attn.c_attn.weight'), h(c, 'h.0.attn.c_attn.weight'));

  assert.match((await init('a')).err, /already exists and is not an empty folder/);
  fs.writeFileSync(path.join(dir, 'tiny-vocab.json'), JSON.stringify({ n_embd: 32, n_layer: 1, n_head: 4, n_positions: 24, vocab_size: 100 }));
  const c2 = capture(dir);
  assert.equal(await runCli(['model', 'init', '--arch', 'gpt2', '--config', 'tiny-vocab.json', '--out', 'd'], c2.io), 1);
  assert.match(c2.err.join('\n'), /The tokenizer has 257 tokens, more than the config's vocab_size 100/);
  assert.equal((await init('e', '--arch', 'llama')).code, 2);
});

test('pretraining from an initialised folder runs on the ONNX Runtime engine, evaluates and checkpoints; a cancelled run resumes', async () => {
  await Project.create(dir);
  fs.writeFileSync(
    path.join(dir, 'pretrain.json'),
    JSON.stringify({ runId: 'pre', model: 'a', corpus: 'builtin:moby-dick', steps: 6, batchSize: 2, blockSize: 16, evalEvery: 3, evalBatches: 1, checkpointEvery: 2 }),
  );
  const controller = new AbortController();
  const first = capture(dir);
  const out = (t: string): void => {
    first.out.push(t);
    if (/\[pretrain\] checkpoint at step 2$/.test(t)) controller.abort();
  };
  assert.equal(await runCli(['train', 'pretrain', '--config', 'pretrain.json'], { ...first.io, out, signal: controller.signal }), 130, first.err.join('\n'));
  assert.ok(
    first.out.some((l) => /ONNX Runtime on cpu/.test(l)),
    first.out.join('\n'),
  );
  const resumed = capture(dir);
  assert.equal(await runCli(['train', 'pretrain', '--config', 'pretrain.json'], resumed.io), 0, resumed.err.join('\n'));
  assert.ok(
    resumed.out.some((l) => /resuming at step [23]\)/.test(l)),
    resumed.out.join('\n'),
  );
  const metrics = fs
    .readFileSync(path.join(dir, '.rlhf', 'runs', 'pre', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; values: Record<string, number> });
  assert.ok(metrics.some((m) => Number.isFinite(m.values['pretrain/eval_loss'])));
  assert.equal(Math.max(...metrics.map((m) => m.step)), 6);
  assert.equal(loadCheckpoint(path.join(dir, '.rlhf', 'runs', 'pre', 'checkpoints', 'pretrain', 'final')).kind, 'lm');
});

test('a run started on the tfjs engine resumes on ONNX Runtime from its checkpoint (parameters and AdamW state)', async () => {
  fs.writeFileSync(
    path.join(dir, 'cross.json'),
    JSON.stringify({ runId: 'cross', model: 'a', corpus: 'builtin:moby-dick', steps: 4, batchSize: 2, blockSize: 16, evalEvery: 0, evalBatches: 1, checkpointEvery: 2 }),
  );
  const controller = new AbortController();
  const first = capture(dir);
  const out = (t: string): void => {
    first.out.push(t);
    if (/\[pretrain\] checkpoint at step 2$/.test(t)) controller.abort();
  };
  assert.equal(await runCli(['train', 'pretrain', '--config', 'cross.json', '--engine', 'tfjs'], { ...first.io, out, signal: controller.signal }), 130, first.err.join('\n'));
  const ckpt = path.join(dir, '.rlhf', 'runs', 'cross', 'checkpoints', 'pretrain', 'step-000002');
  const saved = loadCheckpoint(ckpt).weights.get('h.0.mlp.c_fc.weight')!.data;
  const resumed = capture(dir);
  assert.equal(await runCli(['train', 'pretrain', '--config', 'cross.json'], resumed.io), 0, resumed.err.join('\n'));
  const log = resumed.out.join('\n');
  assert.match(log, /ONNX Runtime on cpu/);
  assert.match(log, /resuming at step 2\)/);
  const metrics = fs
    .readFileSync(path.join(dir, '.rlhf', 'runs', 'cross', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; values: Record<string, number> });
  // Steps 3 and 4 ran on ONNX Runtime from step 2's state: the learning-rate schedule goes on, the loss stays finite.
  const steps = metrics.filter((m) => m.values['pretrain/loss'] !== undefined).map((m) => m.step);
  assert.deepEqual(steps.slice(-2), [3, 4]);
  assert.ok(metrics.every((m) => Object.values(m.values).every(Number.isFinite)));
  const final = loadCheckpoint(path.join(dir, '.rlhf', 'runs', 'cross', 'checkpoints', 'pretrain', 'final')).weights.get('h.0.mlp.c_fc.weight')!.data;
  assert.notDeepEqual(final, saved, 'the resumed steps moved the weights');
});
