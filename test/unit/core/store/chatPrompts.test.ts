import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChatMessage } from '../../../../src/protocol/chat';
import { importPrompts } from '../../../../src/core/store/importPrompts';
import { exportPreferences, importPreferences } from '../../../../src/core/store/interchange';
import { derivePairs } from '../../../../src/core/store/pairs';
import { Project } from '../../../../src/core/store/project';
import { chatPromptIdFor } from '../../../../src/core/store/prompts';
import { promptIdFor } from '../../../../src/core/store/ids';
import { tempDir, tempProject } from './helpers';

const chat: ChatMessage[] = [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'What is the capital of France?' },
];

test('a chat prompt round-trips through prompts.jsonl: its messages, a plain transcript as text, an id from the messages', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    const r = await project.prompts.add(['Call me Ishmael.', { messages: chat }], 'ui');
    assert.deepEqual([r.added, r.duplicates], [2, 0]);
    assert.equal(r.ids[0], promptIdFor('Call me Ishmael.'));
    assert.equal(r.ids[1], chatPromptIdFor(chat));
    // The same messages again are the same prompt; the same words as a text prompt are another.
    const again = await project.prompts.add([{ messages: chat.map((m) => ({ ...m })) }, 'system: You are a terse assistant.\nuser: What is the capital of France?\nassistant:']);
    assert.deepEqual([again.added, again.duplicates], [1, 1]);
    assert.notEqual(again.ids[1], r.ids[1]);

    const reopened = await Project.open(dir);
    const stored = reopened.prompts.get(r.ids[1] as string);
    assert.deepEqual(stored?.messages, chat);
    assert.equal(stored?.text, 'system: You are a terse assistant.\nuser: What is the capital of France?\nassistant:');
    assert.equal(stored?.source, 'ui');
    assert.equal(reopened.prompts.get(r.ids[0] as string)?.messages, undefined, 'a text prompt has no messages');
    // On disk: the text prompt's line is as before chat prompts; the chat prompt's adds `messages`.
    const lines = fs
      .readFileSync(reopened.paths.prompts, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(Object.keys(lines[0] as object).sort(), ['id', 'source', 'text', 'time', 'v']);
    assert.deepEqual((lines[1] as { messages: unknown }).messages, chat);
  } finally {
    cleanup();
  }
});

test('a prompts.jsonl written before chat prompts still loads', async () => {
  const { project, cleanup } = await tempProject();
  try {
    const old = [
      { v: 1, id: promptIdFor('Write a haiku'), text: 'Write a haiku', time: '2025-01-02T03:04:05.000Z', source: 'prompts.txt' },
      { v: 1, id: promptIdFor('Explain TCP'), text: 'Explain TCP', time: '2025-01-02T03:04:05.000Z' },
    ];
    fs.writeFileSync(project.paths.prompts, old.map((r) => JSON.stringify(r) + '\n').join(''));
    const reopened = await Project.open(path.dirname(path.dirname(project.paths.prompts)));
    assert.deepEqual(reopened.prompts.list(), old);
    assert.deepEqual((await reopened.prompts.add(['Explain TCP'])).duplicates, 1);
  } finally {
    cleanup();
  }
});

test('chat prompts the project cannot hold are refused with where and why, and nothing is stored', async () => {
  const { project, cleanup } = await tempProject();
  try {
    await project.prompts.add(['already here']);
    const before = fs.readFileSync(project.paths.prompts);
    const cases: [unknown, RegExp][] = [
      [[], /too small|at least/i],
      [
        [
          { role: 'user', content: 'hi' },
          { role: 'system', content: 'late' },
        ],
        /a system message may only come first|the last message must be the user's/,
      ],
      [[{ role: 'system', content: 'only a system message' }], /the last message must be the user's/],
      [
        [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
        ],
        /the last message must be the user's/,
      ],
      [[{ role: 'tool', content: 'x' }], /role/],
      [[{ role: 'user', content: '   ' }], /message 1 \(user\) is empty/],
      [[{ role: 'user', content: 'hi', name: 'bob' }], /name|Unrecognized/],
      [[{ role: 'user', content: 'a\u0000b' }], /NUL/],
      [[{ role: 'user', content: 'x'.repeat(100_001) }], /100000|too big|too long/i],
    ];
    for (const [messages, message] of cases) {
      await assert.rejects(
        project.prompts.add(['fine', { messages: messages as ChatMessage[] }], undefined, (i) => `input:${i + 1}`),
        (e: Error) => {
          assert.match(e.message, /^input:2: /);
          assert.match(e.message, message);
          return true;
        },
      );
    }
    assert.deepEqual(fs.readFileSync(project.paths.prompts), before);
    // Several turns are fine when the last is the user's.
    const turns: ChatMessage[] = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'Tell me a joke.' },
    ];
    assert.equal((await project.prompts.add([{ messages: turns }])).added, 1);
  } finally {
    cleanup();
  }
});

test('importing chat prompts from JSONL: a messages field, or a TRL conversational prompt list, beside text prompts', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    const file = path.join(dir, 'p.jsonl');
    fs.writeFileSync(
      file,
      [
        JSON.stringify('plain text'),
        JSON.stringify({ messages: chat, id: 3 }),
        JSON.stringify({ prompt: [{ role: 'user', content: 'Hi there' }] }),
        JSON.stringify({ prompt: 'a prompt string' }),
        JSON.stringify({ messages: chat }),
      ].join('\n') + '\n',
    );
    const r = await importPrompts(project, file);
    assert.deepEqual([r.read, r.added, r.duplicates], [5, 4, 1]);
    const list = project.prompts.list();
    assert.deepEqual(
      list.map((p) => p.messages ?? p.text),
      ['plain text', chat, [{ role: 'user', content: 'Hi there' }], 'a prompt string'],
    );
    assert.equal(list[2]?.text, 'user: Hi there\nassistant:');
    assert.equal(r.prompts[1]?.where, `${file}:2`);

    fs.writeFileSync(file, '"ok"\n{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}\n');
    await assert.rejects(importPrompts(project, file), /p\.jsonl:2: not a chat prompt the project can hold: the last message must be the user's/);
    fs.writeFileSync(file, '"ok"\n{"messages":"not a list"}\n');
    await assert.rejects(importPrompts(project, file), /p\.jsonl:2: /);
    assert.equal(project.prompts.list().length, 4);
  } finally {
    cleanup();
  }
});

test('TRL preferences with a system message import as chat prompts and export back with their messages', async () => {
  const { project, dir, cleanup } = await tempProject('alice');
  try {
    const file = path.join(dir, 'trl.jsonl');
    const row = { prompt: chat, chosen: [{ role: 'assistant', content: 'Paris.' }], rejected: [{ role: 'assistant', content: 'I think it might be Lyon.' }] };
    const single = { prompt: [{ role: 'user', content: 'Name a color' }], chosen: [{ role: 'assistant', content: 'blue' }], rejected: [{ role: 'assistant', content: 'loud' }] };
    fs.writeFileSync(file, JSON.stringify(row) + '\n' + JSON.stringify(single) + '\n');
    const r = await importPreferences(project, file, { format: 'trl' });
    assert.deepEqual([r.pairs, r.skipped.length, r.added.prompts], [2, 0, 2]);
    const prompts = project.prompts.list();
    assert.deepEqual(prompts[0]?.messages, chat);
    // One user message stays a text prompt, as it always imported (its id is unchanged).
    assert.deepEqual([prompts[1]?.text, prompts[1]?.messages], ['Name a color', undefined]);
    assert.equal(prompts[1]?.id, promptIdFor('Name a color'));
    assert.deepEqual((await importPreferences(project, file, { format: 'trl' })).added, { prompts: 0, batches: 0, rankings: 0 }, 'importing twice adds nothing');

    const out = path.join(dir, 'out.jsonl');
    exportPreferences(project, out, { format: 'trl', conversational: true });
    const rows = fs
      .readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(rows, [row, single]);
    const standard = exportPreferences(project, out, { format: 'trl' });
    assert.ok(standard.notHeld.some((n) => n.count === 1 && /chat prompts written as their plain transcript/.test(n.message)));
    assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[0] as string), {
      prompt: 'system: You are a terse assistant.\nuser: What is the capital of France?\nassistant:',
      chosen: 'Paris.',
      rejected: 'I think it might be Lyon.',
    });
    assert.equal(derivePairs(project)[0]?.prompt, prompts[0]?.text);

    // The round trip into a fresh project keeps the chat prompt as it was.
    const t = tempDir();
    try {
      const fresh = await Project.create(t.dir, { labeler: 'bob' });
      exportPreferences(project, out, { format: 'trl', conversational: true });
      await importPreferences(fresh, out, { format: 'trl' });
      assert.deepEqual(
        fresh.prompts.list().map((p) => [p.id, p.messages]),
        prompts.map((p) => [p.id, p.messages]),
      );
    } finally {
      t.cleanup();
    }
  } finally {
    cleanup();
  }
});
