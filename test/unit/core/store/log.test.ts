/** The incremental log reader: appends are parsed alone, any earlier change means a full reparse. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { JsonlLog } from '../../../../src/core/store/log';
import { tempDir } from './helpers';

const rec = z.strictObject({ n: z.int(), s: z.string() });

test('reads see appends from anywhere, and hand edits of earlier lines even when the size is unchanged', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'log.jsonl');
    const log = new JsonlLog(file, rec);
    assert.deepEqual(log.read().records, []);
    log.append([
      { n: 1, s: 'aaaa' },
      { n: 2, s: 'bbbb' },
    ]);
    assert.deepEqual(
      log.read().records.map((r) => r.value.n),
      [1, 2],
    );
    // Another process appends (plain fs, bypassing this JsonlLog).
    fs.appendFileSync(file, JSON.stringify({ n: 3, s: 'cccc' }) + '\n');
    assert.deepEqual(
      log.read().records.map((r) => [r.value.n, r.line]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
    // A same-length edit of the first line, last lines untouched.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"aaaa"', '"zzzz"'));
    assert.equal(log.read().records[0]?.value.s, 'zzzz');
    // A second reader object for the same file sees the same thing.
    assert.deepEqual(
      new JsonlLog(file, rec).read().records.map((r) => r.value.s),
      ['zzzz', 'bbbb', 'cccc'],
    );
    // Truncation (a restore from git) and deletion.
    fs.writeFileSync(file, JSON.stringify({ n: 9, s: 'x' }) + '\n');
    assert.deepEqual(
      log.read().records.map((r) => r.value.n),
      [9],
    );
    fs.rmSync(file);
    assert.deepEqual(log.read().records, []);
  } finally {
    cleanup();
  }
});

test('a record being written (no newline yet) is returned but re-read once complete; records are frozen', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'log.jsonl');
    const log = new JsonlLog(file, rec);
    fs.writeFileSync(file, '{"n":1,"s":"a"}\n{"n":2,"s":"b"}');
    const first = log.read();
    assert.equal(first.unterminated, true);
    assert.deepEqual(
      first.records.map((r) => r.value.n),
      [1, 2],
    );
    fs.appendFileSync(file, '\n{"n":3,"s":"c"}\n');
    const second = log.read();
    assert.equal(second.unterminated, false);
    assert.deepEqual(
      second.records.map((r) => r.value.n),
      [1, 2, 3],
    );
    assert.throws(() => {
      (second.records[0]?.value as { n: number }).n = 7;
    }, TypeError);
    second.records.pop();
    assert.equal(log.read().records.length, 3, 'callers cannot change what later reads return');
  } finally {
    cleanup();
  }
});
