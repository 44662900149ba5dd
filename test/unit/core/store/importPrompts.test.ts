import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importPrompts } from '../../../../src/core/store/importPrompts';
import { tempProject } from './helpers';

test('prompts from .txt: one per line, BOM and CRLF handled, blank lines and duplicates skipped', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    const file = path.join(dir, 'prompts.txt');
    fs.writeFileSync(file, '\ufeffWrite a haiku\r\n\r\nExplain TCP\r\nWrite a haiku\r\nSay “hi” in Ελληνικά');
    const r = await importPrompts(project, file);
    assert.deepEqual([r.format, r.read, r.added, r.duplicates], ['txt', 4, 3, 1]);
    assert.deepEqual(
      project.prompts.list().map((p) => p.text),
      ['Write a haiku', 'Explain TCP', 'Say “hi” in Ελληνικά'],
    );
    assert.equal(project.prompts.list()[0]?.source, 'prompts.txt');
    const again = await importPrompts(project, file);
    assert.deepEqual([again.added, again.duplicates], [0, 4]);
    assert.deepEqual(again.ids, r.ids, 'ids are stable');
  } finally {
    cleanup();
  }
});

test('prompts from .jsonl (strings or {prompt} / {text} objects) and .csv (quoted fields spanning lines)', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    const jsonl = path.join(dir, 'p.jsonl');
    fs.writeFileSync(jsonl, '"plain"\n{"prompt":"with\\nnewline","id":7}\n\n{"text":"from text"}\n');
    assert.equal((await importPrompts(project, jsonl)).added, 3);
    const csv = path.join(dir, 'p.csv');
    fs.writeFileSync(csv, '\ufeffid,Prompt\r\n1,"multi\nline, with comma"\r\n2,"say ""hi"""\r\n3,plain\r\n');
    assert.equal((await importPrompts(project, csv)).added, 2, '"plain" was already there');
    assert.deepEqual(
      project.prompts.list().map((p) => p.text),
      ['plain', 'with\nnewline', 'from text', 'multi\nline, with comma', 'say "hi"'],
    );
  } finally {
    cleanup();
  }
});

test('bad or hostile prompt files are rejected with file:line and nothing is stored', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    await project.prompts.add(['already here']);
    const before = fs.readFileSync(project.paths.prompts);
    const cases: [string, Buffer | string, RegExp][] = [
      ['bad.txt', Buffer.concat([Buffer.from('ok\nfine\n'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]), /bad\.txt:3: not valid UTF-8/],
      ['huge.txt', 'ok\n' + 'x'.repeat(200_000) + '\n', /huge\.txt:2: the prompt has 200000 characters/],
      ['proto.jsonl', '"ok"\n{"__proto__":{"polluted":1},"prompt":"x"}\n', /proto\.jsonl:2: forbidden key '__proto__'/],
      ['deep.jsonl', '"ok"\n' + '['.repeat(50_000) + ']'.repeat(50_000) + '\n', /deep\.jsonl:2: nesting deeper/],
      ['wrong.jsonl', '"ok"\n{"prompt":42}\n', /wrong\.jsonl:2: .*This is not a prompt/],
      ['empty.jsonl', '"ok"\n{"prompt":"   "}\n', /empty\.jsonl:2: the prompt is empty/],
      ['nocol.csv', '__proto__,x\n1,2\n', /nocol\.csv:1: the header has no 'prompt' or 'text' column/],
      ['ragged.csv', 'prompt,x\na,1\nb\n', /ragged\.csv: not valid CSV/],
      ['nul.txt', 'a\u0000b\n', /nul\.txt:1: the prompt contains a NUL/],
      ['what.docx', 'x', /Cannot tell the prompt format/],
    ];
    for (const [name, content, message] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content);
      await assert.rejects(importPrompts(project, file), message, name);
    }
    await assert.rejects(importPrompts(project, path.join(dir, 'missing.txt')), /does not exist/);
    assert.deepEqual(fs.readFileSync(project.paths.prompts), before);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // A __proto__ header beside a prompt column is just another column.
    fs.writeFileSync(path.join(dir, 'ok.csv'), '__proto__,prompt\n1,fine\n');
    assert.equal((await importPrompts(project, path.join(dir, 'ok.csv'))).added, 1);
  } finally {
    cleanup();
  }
});
