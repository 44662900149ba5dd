import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/command';
import { checkProvider, physicalCores } from '../../../src/core/train/ort/device';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: process.cwd(), signal: new AbortController().signal };
  const code = await runCli(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface Training {
  engine: string;
  device: string;
  threads?: number;
  fallbackReason?: string;
}

test('rlhf status --json: the training engine, the device it resolved to, and its threads', async () => {
  const r = await cli('status', '--json', '--backend', 'cpu');
  assert.equal(r.code, 0, r.err);
  const training = (JSON.parse(r.out) as { training: Training }).training;
  assert.equal(training.engine, 'ort');
  assert.ok(['cpu', 'cuda', 'webgpu', 'dml', 'coreml'].includes(training.device), training.device);
  assert.equal(training.threads, physicalCores());
  if (training.device === 'cpu') assert.ok(training.fallbackReason, 'the CPU under auto says why no GPU');

  const pinned = await cli('status', '--json', '--backend', 'cpu', '--device', 'cpu', '--threads', '3');
  assert.equal(pinned.code, 0, pinned.err);
  assert.deepEqual((JSON.parse(pinned.out) as { training: Training }).training, { engine: 'ort', device: 'cpu', threads: 3 });

  const tfjs = await cli('status', '--json', '--backend', 'cpu', '--engine', 'tfjs');
  assert.deepEqual((JSON.parse(tfjs.out) as { training: Training }).training, { engine: 'tfjs', device: 'cpu' });
});

test('rlhf status says the training device in one line', async () => {
  const r = await cli('status', '--backend', 'cpu', '--device', 'cpu', '--threads', '2');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^training: ONNX Runtime on cpu, 2 thread\(s\)$/m);
});

test('a bad --device or --threads is a usage error naming the valid values', async () => {
  const bad = await cli('status', '--device', 'foo');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--device must be one of auto, cpu, webgpu, cuda, dml, coreml; got 'foo'/);
  assert.match(bad.err, /usage: rlhf status .*--device auto\|cpu\|webgpu\|cuda\|dml\|coreml/);
  for (const command of [['train', 'sft', '--config', 'x.json'], ['demo']]) {
    const r = await cli(...command, '--device', 'gpu');
    assert.equal(r.code, 2, `${command.join(' ')}: ${r.err}`);
    assert.match(r.err, /--device must be one of/);
  }
  const zero = await cli('status', '--threads', '0');
  assert.equal(zero.code, 2);
  assert.match(zero.err, /--threads must be at least 1/);
});

test('rlhf status --device webgpu where WebGPU does not work: an error naming the device and the way out', async (t) => {
  if ((await checkProvider('webgpu')) === undefined) {
    t.skip('WebGPU loads and agrees with the CPU on this machine');
    return;
  }
  const r = await cli('status', '--backend', 'cpu', '--device', 'webgpu');
  assert.equal(r.code, 1);
  assert.match(r.err, /The training device 'webgpu' is not usable here: .+--device cpu/);
});
