import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Project } from '../../../../src/core/store/project';
import { promptWithBatch, tempProject } from './helpers';

async function rankedProject() {
  const t = await tempProject('alice@example.com');
  const batch = await promptWithBatch(t.project, 'Say hi', ['hi', 'hello']);
  const event = await t.project.rankings.submit({ batchId: batch.id, ranks: [1, 2] });
  const file = t.project.rankings.logs()[0]?.file as string;
  return { ...t, batch, event, file };
}

/** Hostile lines, each with what the error must say. */
function hostileLines(valid: Record<string, unknown>): [string, Buffer, RegExp][] {
  return [
    ['a huge line', Buffer.from(JSON.stringify({ ...valid, note: 'x'.repeat(5 * 1024 * 1024) })), /line is \d+ bytes, more than the 4194304 allowed/],
    ['deep nesting', Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)), /nesting deeper than 16 levels/],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"v":1,"note":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]), /not valid UTF-8/],
    ['a __proto__ key', Buffer.from(JSON.stringify(valid).replace('{', '{"__proto__":{"polluted":true},')), /forbidden key '__proto__'/],
    ['path traversal in an id', Buffer.from(JSON.stringify({ ...valid, batchId: '../../../etc/passwd' })), /field 'batchId'/],
    ['an unknown field', Buffer.from(JSON.stringify({ ...valid, extra: 1 })), /unknown field 'extra' at the top level/],
  ];
}

test('hostile lines in the middle of a log are rejected with file:line; the log is not touched', async () => {
  const { dir, event, file, cleanup } = await rankedProject();
  try {
    const good = fs.readFileSync(file);
    for (const [what, line, message] of hostileLines(event)) {
      const content = Buffer.concat([line, Buffer.from('\n'), good]);
      fs.writeFileSync(file, content);
      const err = await Project.open(dir).catch((e: Error) => e);
      assert.ok(err instanceof Error && err.name === 'UserError', what);
      assert.match(err.message, new RegExp(`${file}:1: `), what);
      assert.match(err.message, message, what);
      assert.deepEqual(fs.readFileSync(file), content, what);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }
  } finally {
    cleanup();
  }
});

test('hostile last lines are moved aside on open; the events before them stay', async () => {
  const { dir, event, file, cleanup } = await rankedProject();
  try {
    const good = fs.readFileSync(file);
    let corruptBytes = 0;
    for (const [what, line, message] of hostileLines(event)) {
      fs.writeFileSync(file, Buffer.concat([good, line, Buffer.from('\n')]));
      const project = await Project.open(dir);
      assert.equal(project.repairs.length, 1, what);
      assert.match(project.repairs[0]?.reason as string, message, what);
      assert.deepEqual(fs.readFileSync(file), good, what);
      corruptBytes += line.length + 1;
      assert.equal(fs.statSync(`${file}.corrupt`).size, corruptBytes, `${what}: .corrupt only grows`);
      assert.deepEqual(
        project.rankings.current().map((c) => c.event.id),
        [event.id],
      );
    }
  } finally {
    cleanup();
  }
});

test('a BOM and CRLF line endings (a file touched on Windows) read cleanly and appends still work', async () => {
  const { dir, batch, file, cleanup } = await rankedProject();
  try {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    fs.writeFileSync(file, '\ufeff' + lines.map((l) => l + '\r\n').join(''));
    const project = await Project.open(dir, { labeler: 'alice@example.com' });
    assert.deepEqual(project.repairs, []);
    assert.equal(project.rankings.events().length, 1);
    await project.rankings.submit({ batchId: batch.id, ranks: [2, 1] });
    assert.equal(project.rankings.events().length, 2);
    assert.deepEqual(project.rankings.current()[0]?.event.ranks, [2, 1]);
  } finally {
    cleanup();
  }
});

test('ids that could leave .rlhf/ are refused before touching the disk', async () => {
  const { project, dir, cleanup } = await rankedProject();
  try {
    for (const id of ['../escape', '..', '/etc', 'a/b', 'a\\b', '.hidden', '', 'x'.repeat(200)]) {
      await assert.rejects(project.runs.create('sft', {}, id), /not a valid run id/, id);
      assert.throws(() => project.runs.get(id), /not a valid run id/, id);
    }
    assert.deepEqual(fs.readdirSync(project.paths.runs), []);
    assert.equal(fs.existsSync(`${dir}/escape`), false);
    await assert.rejects(project.completions.addBatch({ id: '../b', promptId: project.prompts.list()[0]?.id as string, model: { path: 'm' }, completions: [{ text: 'a' }] }), /field 'id'/);
  } finally {
    cleanup();
  }
});

test('a record too large for the reader is refused at write time, not stored unreadable', async () => {
  const { project, cleanup } = await rankedProject();
  try {
    const before = fs.readFileSync(project.paths.completions);
    const promptId = project.prompts.list()[0]?.id as string;
    const huge = Array.from({ length: 30 }, () => ({ text: 'x'.repeat(150_000) }));
    await assert.rejects(project.completions.addBatch({ promptId, model: { path: 'm' }, completions: huge }), /more than the 4194304 a line may hold/);
    assert.deepEqual(fs.readFileSync(project.paths.completions), before);
  } finally {
    cleanup();
  }
});
