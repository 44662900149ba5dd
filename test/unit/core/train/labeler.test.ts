import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Project } from '../../../../src/core/store/project';
import { derivePairs } from '../../../../src/core/store/pairs';
import { afinnScore, DEFAULT_SIMULATED_LABELER, labelUnranked, ranksFromScores } from '../../../../src/core/train/labeler';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-labeler-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('ranks from scores: best first, equal scores tie, dense ranks', () => {
  assert.deepEqual(ranksFromScores([0.5, 2, 0.5, -1], 1e-9), [2, 1, 2, 3]);
  assert.deepEqual(ranksFromScores([0, 0, 0], 1e-9), [1, 1, 1]);
  assert.deepEqual(ranksFromScores([1, 1.05], 0.1), [1, 1]);
});

test('AFINN: positive words score above negative ones', () => {
  assert.ok(afinnScore('a good and happy day') > 0);
  assert.ok(afinnScore('a terrible, sad death') < 0);
  assert.equal(afinnScore('the whale swam'), 0);
});

test('the simulated labeler ranks unranked batches, stored as simulated and kept apart from humans', async () => {
  const project = await Project.create(dir, { labeler: 'human@example.com' });
  const { ids } = await project.prompts.add(['The day was']);
  const batch = await project.completions.addBatch({
    promptId: ids[0]!,
    model: { path: 'test' },
    completions: [{ text: ' terrible and sad' }, { text: ' good and happy' }, { text: ' long' }],
  });
  const result = await labelUnranked(project, afinnScore, DEFAULT_SIMULATED_LABELER);
  assert.equal(result.ranked, 1);
  assert.deepEqual(result.events[0]!.ranks, [3, 1, 2]);
  assert.equal(result.events[0]!.source, 'simulated');
  assert.equal(result.events[0]!.labeler, 'simulated:afinn');
  // Already ranked by this labeler: nothing to do the second time.
  assert.equal((await labelUnranked(project)).ranked, 0);
  // Training can leave simulated labels out (a project setting; on by default).
  assert.equal(derivePairs(project).length, 3);
  await project.updateMeta((m) => ({ ...m, settings: { ...m.settings, includeSimulated: false } }));
  assert.equal(derivePairs(project).length, 0);
  assert.equal(derivePairs(project, { sources: ['simulated'] }).length, 3);
  // A human can still rank the same batch; the two are separate.
  await project.rankings.submit({ batchId: batch.id, ranks: [1, 2, 3] });
  assert.equal(derivePairs(project).length, 3);
  assert.deepEqual(project.rankings.labelers().sort(), ['human@example.com', 'simulated:afinn']);
});

test('noise changes rankings reproducibly (same seed, same ranks)', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-labeler-noise-'));
  try {
    const project = await Project.create(ws, { labeler: 'h@example.com' });
    const { ids } = await project.prompts.add(['x']);
    for (let i = 0; i < 10; i++) await project.completions.addBatch({ promptId: ids[0]!, model: { path: 't' }, completions: [{ text: 'good' }, { text: 'bad' }] });
    const noisy = { ...DEFAULT_SIMULATED_LABELER, labeler: 'noisy', noise: 5, seed: 7 };
    const a = await labelUnranked(project, afinnScore, noisy);
    const flipped = a.events.filter((e) => e.ranks![0]! > e.ranks![1]!).length;
    assert.ok(flipped > 0 && flipped < 10, `noise 5 should flip some of 10 rankings, flipped ${flipped}`);
    const again = await labelUnranked(project, afinnScore, { ...noisy, labeler: 'noisy-2' });
    assert.deepEqual(
      again.events.map((e) => e.ranks),
      a.events.map((e) => e.ranks),
    );
  } finally {
    fs.rmSync(ws, { recursive: true, force: true });
  }
});
