/**
 * The engine's training requests through the real IPC client: a PPO run (tiny model, AFINN
 * scorer) streams metrics tagged with run id, stage and step; stopping it leaves a cancelled,
 * resumable run; resuming continues from its last checkpoint to completion; the metrics read
 * back from metrics.jsonl match what was streamed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineClient, EngineRequestError } from '../../../src/extension/engineClient';
import { Project } from '../../../src/core/store/project';
import type { EngineNotifications } from '../../../src/protocol/engine';

const ROOT = path.resolve(__dirname, '../../..');
const enginePath = path.join(ROOT, 'src/engine/main.ts');
const newClient = (): EngineClient => new EngineClient({ enginePath, execArgv: ['--import', 'tsx'], engineArgs: () => ['--backend=wasm'] });

async function workspaceWithConfig(iterations: number): Promise<{ workspace: string; configFile: string }> {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-training-'));
  await Project.create(workspace, { name: 'training handlers test' });
  const configFile = path.join(workspace, '.rlhf', 'configs', 'ppo-test.json');
  fs.mkdirSync(path.dirname(configFile), { recursive: true });
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      model: path.join(ROOT, 'models', 'tiny-default'),
      rewardModel: 'builtin:afinn',
      prompts: path.join(ROOT, 'assets', 'demo', 'prompts.txt'),
      iterations,
      rolloutBatch: 4,
      miniBatches: 1,
      ppoEpochs: 1,
      maxNewTokens: 8,
      sampleEvery: 1,
      checkpointEvery: 2,
    }),
  );
  return { workspace, configFile };
}

type Event = EngineNotifications['training.event'];

test('a PPO run streams tagged metrics and samples, then lists as completed with its metrics on disk', async () => {
  const client = newClient();
  const { workspace, configFile } = await workspaceWithConfig(3);
  const events: Event[] = [];
  client.onNotification('training.event', (e) => events.push(e));
  try {
    const result = await client.request('training.start', { workspace, kind: 'ppo', configFile });
    assert.equal(result.state, 'completed');
    assert.ok(result.finals.ppo && fs.existsSync(path.join(result.finals.ppo, 'model.safetensors')));
    assert.ok(events.every((e) => e.runId === result.runId));
    assert.deepEqual(events[0]?.event, { type: 'run-start', kind: 'ppo', stage: 'ppo', resumed: false, configFile });
    const steps = events.flatMap((e) => (e.event.type === 'metrics' ? [e.event.point] : []));
    assert.deepEqual(
      steps.map((p) => [p.stage, p.step]),
      [
        ['ppo', 1],
        ['ppo', 2],
        ['ppo', 3],
      ],
    );
    assert.ok(steps.every((p) => typeof p.values['objective/scores'] === 'number' && typeof p.values['objective/kl'] === 'number'));
    assert.ok(events.some((e) => e.event.type === 'samples' && e.event.samples.length > 0 && e.event.samples[0]!.stage === 'ppo'));
    assert.deepEqual(events[events.length - 1]?.event, { type: 'run-end', state: 'completed' });

    const { runs } = await client.request('training.runs', { workspace });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.state, 'completed');
    assert.equal(runs[0]?.resumable, false);
    const { points } = await client.request('training.metrics', { workspace, runId: result.runId });
    assert.deepEqual(
      points.map((p) => p.step),
      [1, 2, 3],
    );
    assert.deepEqual(points[2]?.values, steps[2]?.values);
    const { samples } = await client.request('training.samples', { workspace, runId: result.runId, limit: 2 });
    assert.equal(samples.length, 2);
    assert.equal(samples[1]?.iteration, 3);
  } finally {
    client.dispose();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});

test('stopping a run leaves it cancelled and resumable; resuming continues from its checkpoint', async () => {
  const client = newClient();
  const { workspace, configFile } = await workspaceWithConfig(40);
  const events: Event[] = [];
  client.onNotification('training.event', (e) => events.push(e));
  try {
    const controller = new AbortController();
    const stopped = client.request('training.start', { workspace, kind: 'ppo', configFile }, { signal: controller.signal });
    // A second run while one trains is refused with a clear message.
    await new Promise<void>((resolve) => {
      const sub = client.onNotification('training.event', (e) => {
        if (e.event.type === 'metrics' && e.event.point.step >= 3) {
          sub.dispose();
          resolve();
        }
      });
    });
    await assert.rejects(
      client.request('training.start', { workspace, kind: 'ppo', configFile }),
      (err: unknown) => err instanceof EngineRequestError && err.payload.code === 'user' && /is training: stop it first/.test(err.message),
    );
    controller.abort();
    await assert.rejects(stopped, (err: unknown) => err instanceof EngineRequestError && err.cancelled);
    const runId = events[0]!.runId;
    assert.equal(events[events.length - 1]?.event.type, 'run-end');
    const before = (await client.request('training.runs', { workspace })).runs[0]!;
    assert.equal(before.state, 'cancelled');
    assert.equal(before.resumable, true);
    const lastStreamed = Math.max(...events.flatMap((e) => (e.event.type === 'metrics' ? [e.event.point.step] : [])));
    assert.ok(before.step >= 2 && before.step <= lastStreamed, `checkpoint step ${before.step}, last metric ${lastStreamed}`);

    events.length = 0;
    // Shorten the resumed run: the config file is what resumes.
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(configFile, JSON.stringify({ ...config, iterations: before.step + 2 }));
    const resumed = await client.request('training.start', { workspace, resume: runId });
    assert.equal(resumed.runId, runId);
    assert.equal(resumed.state, 'completed');
    assert.deepEqual(events[0]?.event, { type: 'run-start', kind: 'ppo', stage: 'ppo', resumed: true, configFile });
    const start = events.find((e) => e.event.type === 'stage-start')?.event;
    assert.deepEqual(start, { type: 'stage-start', stage: 'ppo', resumedAtStep: before.step });
    const steps = events.flatMap((e) => (e.event.type === 'metrics' ? [e.event.point.step] : []));
    assert.deepEqual(steps, [before.step + 1, before.step + 2]);

    // metrics.jsonl keeps the redone steps too: the curves let the later line win.
    const { points } = await client.request('training.metrics', { workspace, runId });
    assert.equal(points[points.length - 1]?.step, before.step + 2);
    await assert.rejects(client.request('training.start', { workspace, resume: runId }), /has completed/);
  } finally {
    client.dispose();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});

test('bad params are user errors that say what is wrong', async () => {
  const client = newClient();
  try {
    await assert.rejects(client.request('training.runs', { workspace: 'relative/path' }), /'workspace' must be an absolute folder path/);
    await assert.rejects(client.request('training.metrics', { workspace: os.tmpdir(), runId: '../etc' }), /No RLHF project|'runId' must be a run id/);
    const { presets } = await client.request('training.presets', {});
    assert.ok(presets.demo.some((p) => p.name === 'demo-quick'));
    assert.ok(presets.ppo.some((p) => p.name === 'quick'));
  } finally {
    client.dispose();
  }
});
