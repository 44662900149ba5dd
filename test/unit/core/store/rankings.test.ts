import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Project } from '../../../../src/core/store/project';
import { promptWithBatch, tempProject } from './helpers';

test('submit, edit and undo are appended events; the current state is derived', async () => {
  const { project, dir, cleanup } = await tempProject('alice@example.com');
  try {
    const batch = await promptWithBatch(project, 'Say hi', ['hi', 'hello', 'yo']);
    const first = await project.rankings.submit({ batchId: batch.id, ranks: [1, 2, 3] });
    assert.equal(first.labeler, 'alice@example.com');
    assert.equal(first.source, 'human');
    const edit = await project.rankings.submit({ batchId: batch.id, ranks: [3, 1, 1], note: 'hello and yo tie' });
    assert.equal(edit.replaces, first.id);
    assert.deepEqual(
      project.rankings.current().map((c) => c.event.id),
      [edit.id],
    );

    const undo = await project.rankings.undo();
    assert.equal(undo?.target, edit.id);
    assert.deepEqual(
      project.rankings.current().map((c) => c.event.id),
      [first.id],
    );
    await project.rankings.undo();
    assert.deepEqual(project.rankings.current(), []);
    assert.equal(await project.rankings.undo(), undefined);

    // Everything is in the labeler's log, one event per line, and survives reopening.
    const [log] = project.rankings.logs();
    assert.ok(log);
    assert.equal(fs.readFileSync(log.file, 'utf8').trimEnd().split('\n').length, 4);
    const reopened = await Project.open(dir, { labeler: 'alice@example.com' });
    assert.equal(reopened.rankings.events().length, 4);
    assert.deepEqual(
      reopened.rankings.unranked().map((b) => b.id),
      [batch.id],
    );
    assert.deepEqual(
      reopened.rankings.pending().map((q) => [q.prompt.text, q.batch.completions.map((c) => c.text)]),
      [['Say hi', ['hi', 'hello', 'yo']]],
    );
    assert.deepEqual(reopened.rankings.pending('someone-else').length, 1);
  } finally {
    cleanup();
  }
});

test('undoing an older, superseded event leaves the newer one in force; undo twice is refused', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const batch = await promptWithBatch(project, 'p', ['a', 'b']);
    const first = await project.rankings.submit({ batchId: batch.id, ranks: [1, 2] });
    const second = await project.rankings.submit({ batchId: batch.id, ranks: [2, 1] });
    await project.rankings.undo(first.id);
    assert.deepEqual(
      project.rankings.current().map((c) => c.event.id),
      [second.id],
    );
    await assert.rejects(project.rankings.undo(first.id), /already undone/);
    await assert.rejects(project.rankings.undo('e-nope'), /No human ranking event/);
  } finally {
    cleanup();
  }
});

test('skip and all-bad carry no ranks; rankings are checked against the batch', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const batch = await promptWithBatch(project, 'p', ['a', 'b', 'c']);
    const other = await promptWithBatch(project, 'q', ['x', 'y']);
    const skip = await project.rankings.submit({ batchId: batch.id, verdict: 'skip' });
    assert.equal(skip.ranks, undefined);
    await project.rankings.submit({ batchId: other.id, verdict: 'allBad', note: 'both rude' });
    assert.deepEqual(project.rankings.unranked(), []);

    const bad = [
      [{ batchId: batch.id }, /one rank per completion/],
      [{ batchId: batch.id, ranks: [1, 2] }, /one rank per completion/],
      [{ batchId: batch.id, ranks: [1, 2, 4] }, /between 1 and K=3/],
      [{ batchId: batch.id, ranks: [0, 1, 2] }, /ranks/],
      [{ batchId: batch.id, ranks: [1.5, 1, 2] }, /ranks/],
      [{ batchId: batch.id, completionIds: [other.completions[0]?.id as string, batch.completions[0]?.id as string], ranks: [1, 2] }, /not part of batch/],
      [{ batchId: 'b-missing', ranks: [1, 2] }, /not in the project/],
      [{ batchId: '../../x', ranks: [1, 2] }, /not in the project/],
    ] as const;
    const eventsBefore = project.rankings.events().length;
    for (const [input, message] of bad) await assert.rejects(project.rankings.submit(input), message);
    assert.equal(project.rankings.events().length, eventsBefore);
  } finally {
    cleanup();
  }
});

test('labelers write to separate files; the raw labeler is kept in events; sources are kept apart', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const batch = await promptWithBatch(project, 'p', ['a', 'b']);
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 2] }, { labeler: 'Bob <bob@x.org>' });
    await project.rankings.submit({ batchId: batch.id, ranks: [2, 1] }, { labeler: 'sim:sentiment', source: 'simulated' });
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 2] }, { labeler: 'alice@example.com', source: 'implicit' });
    assert.equal(project.rankings.logs().length, 3);
    assert.deepEqual(project.rankings.labelers(), ['Bob <bob@x.org>', 'alice@example.com', 'sim:sentiment']);
    assert.deepEqual(
      project.rankings.current({ sources: ['simulated'] }).map((c) => c.event.labeler),
      ['sim:sentiment'],
    );
    await assert.rejects(project.rankings.submit({ batchId: batch.id, ranks: [1, 2] }, { labeler: 'evil\nname' }), /not usable/);
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 2] }, { labeler: '../../../escape' });
    for (const log of project.rankings.logs()) assert.equal(path.dirname(log.file), project.paths.rankings);
    assert.equal(project.rankings.logs().length, 4);
    assert.ok(project.rankings.labelers().includes('../../../escape'), 'the raw labeler is kept in the event');
  } finally {
    cleanup();
  }
});

test("an implicit preference never edits or undoes the same person's human ranking", async () => {
  const { project, cleanup } = await tempProject('alice');
  try {
    const batch = await promptWithBatch(project, 'p', ['a', 'b']);
    const human = await project.rankings.submit({ batchId: batch.id, ranks: [1, 2] });
    const implicit = await project.rankings.submit({ batchId: batch.id, ranks: [2, 1] }, { source: 'implicit' });
    assert.equal(implicit.replaces, undefined);
    assert.deepEqual(
      project.rankings
        .current()
        .map((c) => c.event.id)
        .sort(),
      [human.id, implicit.id].sort(),
    );
    const undo = await project.rankings.undo();
    assert.equal(undo?.target, human.id, 'a human undo takes back the human ranking, not the later implicit one');
    assert.deepEqual(
      project.rankings.current().map((c) => c.event.id),
      [implicit.id],
    );
    assert.deepEqual(
      project.rankings.unranked().map((b) => b.id),
      [batch.id],
    );
    assert.deepEqual(project.rankings.unranked('alice', 'implicit'), []);
  } finally {
    cleanup();
  }
});
