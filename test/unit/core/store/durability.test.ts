/**
 * The fsync policy: a label is fsync'd before the call that wrote it returns; metric lines are
 * not fsync'd one by one, only on flush/close. Checked by counting real fsync(2) calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { promptWithBatch, tempProject } from './helpers';

// The CommonJS fs object itself, which every `import * as fs` in the store reads through.
const cjsFs = createRequire(__filename)('node:fs') as typeof fs;

async function countingFsyncs<T>(fn: () => Promise<T> | T): Promise<{ result: T; fsyncs: number; writesBeforeFirstSync: number }> {
  const original = cjsFs.fsyncSync;
  const originalWrite = cjsFs.writeSync;
  let fsyncs = 0;
  let writes = 0;
  let writesBeforeFirstSync = -1;
  cjsFs.fsyncSync = (fd: number) => {
    if (fsyncs++ === 0) writesBeforeFirstSync = writes;
    original(fd);
  };
  cjsFs.writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    writes++;
    return (originalWrite as (...a: unknown[]) => number)(...args);
  }) as typeof fs.writeSync;
  try {
    const result = await fn();
    return { result, fsyncs, writesBeforeFirstSync };
  } finally {
    cjsFs.fsyncSync = original;
    cjsFs.writeSync = originalWrite;
  }
}

test('a ranking is written and fsync’d before submit() resolves', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const batch = await promptWithBatch(project, 'p', ['a', 'b']);
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 2] }); // creates the file (and syncs its folder)
    const { fsyncs, writesBeforeFirstSync } = await countingFsyncs(() => project.rankings.submit({ batchId: batch.id, ranks: [2, 1] }));
    assert.equal(fsyncs, 1);
    assert.ok(writesBeforeFirstSync >= 1, 'the event is written before the sync');
    const undo = await countingFsyncs(() => project.rankings.undo());
    assert.equal(undo.fsyncs, 1);
  } finally {
    cleanup();
  }
});

test('metric lines are not fsync’d one by one; close() syncs once', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const run = await project.runs.create('sft', {});
    const writer = project.runs.metricsWriter(run.id, { fsyncEveryMs: 60_000 });
    const appended = await countingFsyncs(() => {
      for (let step = 0; step < 200; step++) writer.append(step, { 'sft/loss': 1 / (step + 1) });
    });
    assert.equal(appended.fsyncs, 0);
    const closed = await countingFsyncs(() => writer.close());
    assert.equal(closed.fsyncs, 1);
    assert.equal(project.runs.readMetrics(run.id).records.length, 200);
  } finally {
    cleanup();
  }
});
