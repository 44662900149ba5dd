import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { isUserError } from '../../../../../src/core/errors';
import { autoCandidates, checkProvider, configureOrtDevice, ortThreads, physicalCores, resolveOrtDevice, threadsFor, trainingReport } from '../../../../../src/core/train/ort/device';
import type { OrtProvider } from '../../../../../src/core/train/ort/device';

test('physicalCores: at least 1, at most the logical CPUs', () => {
  const cores = physicalCores();
  assert.ok(Number.isInteger(cores) && cores >= 1, `cores ${cores}`);
  assert.ok(cores <= os.cpus().length, `cores ${cores} > cpus ${os.cpus().length}`);
});

test('physicalCores counts unique (physical id, core id) pairs: hyper-threads share a core', () => {
  // 2 sockets × 2 cores × 2 hyper-threads: 8 logical CPUs, 4 cores.
  const blocks: string[] = [];
  let processor = 0;
  for (const socket of [0, 1])
    for (const core of [0, 1]) for (let ht = 0; ht < 2; ht++) blocks.push(`processor\t: ${processor++}\nphysical id\t: ${socket}\nsiblings\t: 4\ncore id\t\t: ${core}\ncpu cores\t: 2\n`);
  const logical = os.availableParallelism();
  assert.equal(physicalCores(blocks.join('\n')), Math.min(4, logical));
  // Core ids repeat across sockets: one socket alone has 2.
  assert.equal(physicalCores(blocks.slice(0, 4).join('\n')), Math.min(2, logical));
  // No core ids (e.g. some ARM kernels): the CPUs this process may use.
  assert.equal(physicalCores('processor\t: 0\nBogoMIPS\t: 50\n\nprocessor\t: 1\nBogoMIPS\t: 50\n'), logical);
});

test('threads: the cores minus the reserved ones, at least 1; an explicit count wins', () => {
  assert.equal(threadsFor(0, 8), 8);
  assert.equal(threadsFor(3, 8), 5);
  assert.equal(threadsFor(8, 8), 1);
  assert.equal(threadsFor(20, 8), 1);
  try {
    configureOrtDevice({});
    assert.equal(ortThreads(), physicalCores());
    configureOrtDevice({ reservedCores: 1 });
    assert.equal(ortThreads(), Math.max(1, physicalCores() - 1));
    configureOrtDevice({ reservedCores: 1, threads: 3 });
    assert.equal(ortThreads(), 3);
  } finally {
    configureOrtDevice({});
  }
});

test('the CPU passes its own check step; cpu resolves without a check or a reason', async () => {
  assert.equal(await checkProvider('cpu', 1), undefined);
  const cpu = await resolveOrtDevice('cpu', 2);
  assert.deepEqual(cpu, { requested: 'cpu', device: 'cpu', threads: 2 });
});

test('auto: a GPU provider that agreed with the CPU, else the CPU with a reason naming each provider tried', async () => {
  const candidates = autoCandidates();
  const resolved = await resolveOrtDevice('auto', 2);
  // Once per process: the same promise.
  assert.equal(resolveOrtDevice('auto', 2), resolveOrtDevice('auto', 2));
  assert.equal(resolved.threads, 2);
  if (resolved.device === 'cpu') {
    assert.ok(resolved.fallbackReason, 'a fallback to the CPU says why');
    for (const provider of candidates) assert.match(resolved.fallbackReason, new RegExp(`\\b${provider}: \\S`), `${provider} in: ${resolved.fallbackReason}`);
  } else {
    assert.ok(candidates.includes(resolved.device), `${resolved.device} is one of ${candidates.join(', ')}`);
    assert.equal(resolved.fallbackReason, undefined);
  }
  const report = await trainingReport('ort', 'wasm');
  assert.equal(report.engine, 'ort');
  assert.deepEqual(await trainingReport('tfjs', 'wasm'), { engine: 'tfjs', device: 'wasm' });
});

test('auto tries the platform GPU providers in order', () => {
  assert.deepEqual(autoCandidates('linux'), ['cuda', 'webgpu']);
  assert.deepEqual(autoCandidates('win32'), ['dml', 'cuda', 'webgpu']);
  assert.deepEqual(autoCandidates('darwin'), ['coreml', 'webgpu']);
});

for (const device of ['webgpu', 'cuda'] as const satisfies readonly OrtProvider[]) {
  test(`an explicit --device ${device} that does not work here is a clear error, not a fallback`, async (t) => {
    const reason = await checkProvider(device, 2);
    if (reason === undefined) {
      // It really loads and agrees with the CPU here: then it is what trains.
      assert.equal((await resolveOrtDevice(device, 2)).device, device);
      t.skip(`${device} loads and agrees with the CPU on this machine`);
      return;
    }
    await assert.rejects(resolveOrtDevice(device, 2), (err: unknown) => {
      assert.ok(isUserError(err), String(err));
      const message = (err as Error).message;
      assert.match(message, new RegExp(`'${device}'`));
      assert.ok(message.includes(reason), `the reason (${reason}) in: ${message}`);
      assert.match(message, /--device cpu/);
      assert.match(message, /rlhf\.engine\.device/);
      return true;
    });
    // The engine's status reports it instead of throwing.
    try {
      configureOrtDevice({ device, threads: 2 });
      const report = await trainingReport('ort', 'cpu', true);
      assert.equal(report.device, device);
      assert.match(report.error ?? '', new RegExp(`'${device}'`));
    } finally {
      configureOrtDevice({});
    }
  });
}
