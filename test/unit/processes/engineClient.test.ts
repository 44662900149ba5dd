import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { EngineClient, EngineExitedError, EngineRequestError } from '../../../src/extension/engineClient';
import type { EngineState } from '../../../src/extension/engineClient';

const enginePath = path.resolve(__dirname, '../../../src/engine/main.ts');
const newClient = (backend = 'cpu'): EngineClient => new EngineClient({ enginePath, execArgv: ['--import', 'tsx'], engineArgs: () => [`--backend=${backend}`] });

test('status reports the real backend, versions and ORT providers of the engine process', async () => {
  const client = newClient('cpu');
  try {
    const report = await client.request('status', {});
    assert.equal(report.backend, 'cpu');
    assert.match(report.tfjsVersion ?? '', /^\d+\.\d+\.\d+$/);
    assert.match(report.backendPackage ?? '', /^@tensorflow\/tfjs-backend-cpu@\d/);
    assert.ok(report.ortProviders.includes('cpu'), `providers: ${report.ortProviders.join(',')}`);
    assert.equal(report.pid, client.pid);
    assert.notEqual(report.pid, process.pid);
    // A forced backend in the request overrides the engine's default.
    const wasm = await client.request('status', { backend: 'wasm' });
    assert.equal(wasm.backend, 'wasm');
  } finally {
    client.dispose();
  }
});

test('a bad backend is a user error with a clear message', async () => {
  const client = newClient('cpu');
  try {
    await assert.rejects(client.request('status', { backend: 'gpu-please' as never }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.payload.code, 'user');
      assert.match(err.message, /Unknown backend 'gpu-please'/);
      return true;
    });
  } finally {
    client.dispose();
  }
});

test('cancelling a request stops it in the engine and rejects as cancelled', async () => {
  const client = newClient();
  try {
    const controller = new AbortController();
    const progress: string[] = [];
    const started = Date.now();
    const pending = client.request('wait', { ms: 20_000 }, { signal: controller.signal, onProgress: (p) => progress.push(p.message) });
    setTimeout(() => controller.abort(), 600);
    await assert.rejects(pending, (err: unknown) => err instanceof EngineRequestError && err.cancelled);
    assert.ok(Date.now() - started < 10_000, 'cancellation was not prompt');
    assert.ok(progress.length > 0, 'no progress notification arrived');
    // The engine is still alive and serves the next request.
    const done = await client.request('wait', { ms: 10 });
    assert.ok(done.waitedMs >= 10);
  } finally {
    client.dispose();
  }
});

test('an engine crash fails pending requests clearly, and the next request starts a fresh engine', async () => {
  const client = newClient();
  const states: EngineState[] = [];
  client.onDidChangeState((s) => states.push(s));
  try {
    await client.request('wait', { ms: 1 });
    const firstPid = client.pid;
    assert.ok(firstPid);
    const pending = client.request('wait', { ms: 30_000 });
    process.kill(firstPid, 'SIGKILL');
    await assert.rejects(pending, (err: unknown) => {
      assert.ok(err instanceof EngineExitedError);
      assert.match(err.message, /stopped unexpectedly \(killed by SIGKILL\)/);
      assert.match(err.message, /'wait' did not finish/);
      return true;
    });
    assert.equal(client.state.kind, 'crashed');
    const again = await client.request('wait', { ms: 1 });
    assert.ok(again.waitedMs >= 1);
    assert.ok(client.pid && client.pid !== firstPid, 'a new engine process should serve the request');
    assert.deepEqual(
      states.map((s) => s.kind),
      ['starting', 'running', 'crashed', 'starting', 'running'],
    );
  } finally {
    client.dispose();
  }
});

test('an unknown method gets an error response, not a hang', async () => {
  const client = newClient();
  try {
    await assert.rejects(client.request('nope' as 'wait', { ms: 1 }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.payload.code, 'unknown-method');
      return true;
    });
  } finally {
    client.dispose();
  }
});
