import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Project } from '../../../../src/core/store/project';
import { formatRepair } from '../../../../src/core/store/log';
import { promptWithBatch, tempProject } from './helpers';

async function rankedProject() {
  const t = await tempProject('alice@example.com');
  const batch = await promptWithBatch(t.project, 'Say hi', ['hi', 'hello']);
  await t.project.rankings.submit({ batchId: batch.id, ranks: [1, 2] });
  await t.project.rankings.submit({ batchId: batch.id, ranks: [2, 1] });
  const file = t.project.rankings.logs()[0]?.file as string;
  return { ...t, batch, file };
}

test('a torn last line is reported on open, moved to .corrupt, and the valid events stay', async () => {
  const { dir, batch, file, cleanup } = await rankedProject();
  try {
    const good = fs.readFileSync(file, 'utf8');
    const torn = '{"v":1,"id":"e-x","time":"2026-01-01T00:00:00.000Z","labeler":"alice@exa';
    fs.appendFileSync(file, torn);
    // Any older .corrupt content must survive: the bad bytes are appended to it.
    fs.writeFileSync(`${file}.corrupt`, 'older damage\n');

    const project = await Project.open(dir, { labeler: 'alice@example.com' });
    assert.equal(project.repairs.length, 1);
    const [repair] = project.repairs;
    assert.equal(repair?.line, 3);
    assert.equal(repair?.bytes, Buffer.byteLength(torn));
    assert.match(formatRepair(repair as never), new RegExp(`${file}:3: the last line was damaged \\(not valid JSON`));
    assert.equal(fs.readFileSync(file, 'utf8'), good);
    assert.equal(fs.readFileSync(`${file}.corrupt`, 'utf8'), `older damage\n${torn}\n`);
    assert.equal(project.rankings.events().length, 2);

    await project.rankings.submit({ batchId: batch.id, ranks: [1, 1] });
    assert.equal(project.rankings.events().length, 3);
    assert.deepEqual(project.rankings.current()[0]?.event.ranks, [1, 1]);
  } finally {
    cleanup();
  }
});

test('a complete but invalid last line (NUL bytes after a power cut) is moved aside too', async () => {
  const { dir, file, cleanup } = await rankedProject();
  try {
    fs.appendFileSync(file, Buffer.concat([Buffer.alloc(40), Buffer.from('\n')]));
    const project = await Project.open(dir);
    assert.equal(project.repairs.length, 1);
    assert.equal(
      fs
        .readFileSync(`${file}.corrupt`)
        .subarray(0, 40)
        .every((b) => b === 0),
      true,
    );
    assert.equal(project.rankings.events().length, 2);
  } finally {
    cleanup();
  }
});

test('a tear that happens after open is repaired before the next append, not concatenated onto', async () => {
  const { project, batch, file, cleanup } = await rankedProject();
  try {
    fs.appendFileSync(file, '{"v":1,"id":"e-torn"');
    // Readers skip the tail without touching the file (it may be a write in flight).
    assert.equal(project.rankings.events().length, 2);
    assert.ok(fs.readFileSync(file, 'utf8').endsWith('"e-torn"'));
    await project.rankings.submit({ batchId: batch.id, verdict: 'skip' });
    assert.equal(project.rankings.events().length, 3);
    assert.equal(fs.readFileSync(`${file}.corrupt`, 'utf8'), '{"v":1,"id":"e-torn"\n');
  } finally {
    cleanup();
  }
});

test('a bad line in the middle is an error with file:line and field; nothing is changed', async () => {
  const { dir, file, cleanup } = await rankedProject();
  try {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    const first = JSON.parse(lines[0] as string) as Record<string, unknown>;
    fs.writeFileSync(file, [JSON.stringify({ ...first, ranks: [1, 'x'] }), lines[1], ''].join('\n'));
    const before = fs.readFileSync(file);
    const project = await Project.open(dir).catch((err: Error) => err);
    assert.ok(project instanceof Error);
    assert.match(project.message, new RegExp(`${file}:1: field 'ranks.1'`));
    assert.deepEqual(fs.readFileSync(file), before);
    assert.equal(fs.existsSync(`${file}.corrupt`), false);
  } finally {
    cleanup();
  }
});

test('a valid last line without its newline (hand edit) is kept and terminated', async () => {
  const { dir, batch, file, cleanup } = await rankedProject();
  try {
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').trimEnd());
    const project = await Project.open(dir);
    assert.deepEqual(project.repairs, []);
    assert.ok(fs.readFileSync(file, 'utf8').endsWith('\n'));
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 2] });
    assert.equal(project.rankings.events().length, 3);
  } finally {
    cleanup();
  }
});

test('prompts and completions logs are checked on open as well', async () => {
  const { dir, project, cleanup } = await rankedProject();
  try {
    fs.appendFileSync(project.paths.prompts, '{"v":1,"id":"p-1","te');
    fs.appendFileSync(project.paths.completions, '{"v":1');
    const reopened = await Project.open(dir);
    assert.deepEqual(reopened.repairs.map((r) => r.file).sort(), [project.paths.completions, project.paths.prompts].sort());
    assert.equal(reopened.prompts.list().length, 1);
    assert.equal(reopened.completions.list().length, 1);
  } finally {
    cleanup();
  }
});
