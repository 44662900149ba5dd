import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { tempProject } from './helpers';

test('a run: config written once, state and checkpoints updated atomically, listed with its latest checkpoint', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const run = await project.runs.create('reward', { lr: 1e-4, epochs: 2 });
    assert.match(run.id, /^\d{8}-\d{6}-reward-[0-9a-f]{6}$/);
    assert.equal(run.state, 'running');
    const dir = project.runs.dir(run.id);
    assert.deepEqual(project.runs.config(run.id, z.object({ lr: z.number(), epochs: z.int() })), { lr: 1e-4, epochs: 2 });
    assert.throws(() => project.runs.config(run.id, z.object({ lr: z.string() })), /config.json: field 'lr'/);

    await project.runs.addCheckpoint(run.id, { stage: 'reward', step: 50, path: path.join(dir, 'checkpoints', 'step-50') });
    await project.runs.addCheckpoint(run.id, { stage: 'reward', step: 100, path: path.join(dir, 'checkpoints', 'step-100') });
    const done = await project.runs.update(run.id, { state: 'completed' });
    assert.equal(done.step, 100);
    assert.equal(done.checkpoints[1]?.path, path.join('checkpoints', 'step-100'));

    const other = await project.runs.create('ppo', {});
    await project.runs.update(other.id, { state: 'failed', message: 'NaN loss at step 3', step: 3 });
    const list = project.runs.list();
    assert.deepEqual(
      list.map((r) => [r.stage, r.state, r.step]),
      [
        ['reward', 'completed', 100],
        ['ppo', 'failed', 3],
      ],
    );
    assert.equal(list[0]?.latestCheckpoint, path.join(dir, 'checkpoints', 'step-100'));
    assert.equal(list[1]?.latestCheckpoint, undefined);
    await assert.rejects(project.runs.create('ppo', {}, other.id), /already exists/);
    await assert.rejects(project.runs.update(run.id, { state: 'exploded' as never }), /state/);
  } finally {
    cleanup();
  }
});

test('metrics: one line per step (name → value), read back validated; a torn tail from a crash is skipped then moved aside', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const run = await project.runs.create('ppo', {});
    const writer = project.runs.metricsWriter(run.id);
    for (let step = 0; step < 100; step++) writer.append(step, { 'objective/kl': step / 100, 'loss/policy': step === 5 ? NaN : 1 / (step + 1) });
    writer.close();
    const { records, tail } = project.runs.readMetrics(run.id);
    assert.equal(tail, undefined);
    assert.equal(records.length, 100);
    assert.deepEqual(records[5]?.values, { 'objective/kl': 0.05, 'loss/policy': null });
    assert.equal(records[99]?.values['objective/kl'], 0.99);

    const file = path.join(project.runs.dir(run.id), 'metrics.jsonl');
    fs.appendFileSync(file, '{"step":100,"ti');
    const partial = project.runs.readMetrics(run.id);
    assert.equal(partial.records.length, 100);
    assert.equal(partial.tail?.line, 101);
    const resumed = project.runs.metricsWriter(run.id);
    assert.equal(resumed.repair?.line, 101);
    resumed.append(100, { 'objective/kl': 1 });
    resumed.close();
    assert.equal(project.runs.readMetrics(run.id).records.length, 101);
    assert.equal(fs.readFileSync(`${file}.corrupt`, 'utf8'), '{"step":100,"ti\n');
  } finally {
    cleanup();
  }
});

test('samples append and read back validated', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const run = await project.runs.create('ppo', {});
    await project.runs.appendSamples(run.id, [
      { iteration: 10, prompt: 'Hi', completion: ' there', score: 0.5, kl: 0.1 },
      { iteration: 10, prompt: 'Bye', completion: ' now' },
    ]);
    const { records } = project.runs.readSamples(run.id);
    assert.deepEqual(
      records.map((r) => [r.prompt, r.score, r.kl]),
      [
        ['Hi', 0.5, 0.1],
        ['Bye', undefined, undefined],
      ],
    );
    await assert.rejects(project.runs.appendSamples(run.id, [{ iteration: -1, prompt: 'x', completion: 'y' }]), /invalid record/);
  } finally {
    cleanup();
  }
});
