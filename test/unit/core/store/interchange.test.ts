import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportPreferences, importPreferences } from '../../../../src/core/store/interchange';
import type { NotHeld } from '../../../../src/core/store/interchange';
import { derivePairs } from '../../../../src/core/store/pairs';
import { Project } from '../../../../src/core/store/project';
import { promptWithBatch, tempDir, tempProject } from './helpers';

/** A project using everything a format may not hold: K=3 with a tie, a note, all-bad, skip, two labelers. */
async function richProject() {
  const t = await tempProject('alice');
  const b1 = await promptWithBatch(t.project, 'Greet me', ['hi', 'hello there', 'yo']);
  const b2 = await promptWithBatch(t.project, 'Say bye', ['bye', 'ciao']);
  const b3 = await promptWithBatch(t.project, 'Count', ['1 2 3', 'one two']);
  const b4 = await promptWithBatch(t.project, 'Quote', ['"to be"', 'or not']);
  await t.project.rankings.submit({ batchId: b1.id, ranks: [2, 1, 2], note: 'hi and yo equally curt' });
  await t.project.rankings.submit({ batchId: b2.id, verdict: 'allBad' });
  await t.project.rankings.submit({ batchId: b3.id, ranks: [1, 2] });
  await t.project.rankings.submit({ batchId: b4.id, verdict: 'skip' });
  await t.project.rankings.submit({ batchId: b4.id, ranks: [2, 1] }, { labeler: 'bob' });
  return t;
}

function messages(notHeld: readonly NotHeld[]): string[] {
  return notHeld.map((n) => `${n.count} ${n.message.split(' (')[0]}`);
}

const pairKey = (p: { prompt: string; chosen: string; rejected: string }) => JSON.stringify([p.prompt, p.chosen, p.rejected]);

for (const conversational of [false, true]) {
  test(`TRL ${conversational ? 'conversational' : 'standard'}: export → import → export keeps every pair; what TRL cannot hold is reported`, async () => {
    const src = await richProject();
    const dst = tempDir();
    try {
      const out = path.join(src.dir, 'prefs.jsonl');
      const exported = exportPreferences(src.project, out, { format: 'trl', conversational });
      assert.equal(exported.rows, 2 + 1 + 1);
      assert.deepEqual(messages(exported.notHeld), [
        '1 tied completion pairs',
        '1 all-bad rankings',
        '1 skipped rankings',
        '1 rankings of more than 2 completions, flattened into their pairs',
        '1 ranking notes',
        '2 labelers, merged',
        '3 batches whose model, sampling parameters, seed, tokens and log-probs are not kept',
      ]);
      const lines = fs
        .readFileSync(out, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines[0],
        conversational
          ? { prompt: [{ role: 'user', content: 'Greet me' }], chosen: [{ role: 'assistant', content: 'hello there' }], rejected: [{ role: 'assistant', content: 'hi' }] }
          : { prompt: 'Greet me', chosen: 'hello there', rejected: 'hi' },
      );

      const project = await Project.create(dst.dir, { labeler: 'carol' });
      const imported = await importPreferences(project, out, { format: 'trl' });
      assert.deepEqual([imported.rows, imported.pairs, imported.skipped.length, imported.notHeld.length], [4, 4, 0, 0]);
      assert.deepEqual(imported.added, { prompts: 3, batches: 4, rankings: 4 });
      assert.equal(imported.labeler, 'imported:prefs.jsonl');
      assert.deepEqual(derivePairs(project).map(pairKey), derivePairs(src.project).map(pairKey));
      assert.ok(derivePairs(project).every((p) => p.source === 'imported'));

      const again = path.join(dst.dir, 'again.jsonl');
      const second = exportPreferences(project, again, { format: 'trl', conversational });
      assert.deepEqual(fs.readFileSync(again), fs.readFileSync(out), 'a second round trip is byte-identical');
      assert.deepEqual(second.notHeld, []);

      const twice = await importPreferences(project, out, { format: 'trl' });
      assert.deepEqual(twice.added, { prompts: 0, batches: 0, rankings: 0 }, 'importing the same file again adds nothing');
    } finally {
      src.cleanup();
      dst.cleanup();
    }
  });
}

test('HH-RLHF: an HH file round-trips byte for byte; plain prompts are wrapped on export and that is reported', async () => {
  const { project, dir, cleanup } = await tempProject('alice');
  try {
    const hh = path.join(dir, 'hh.jsonl');
    const rows = [
      { chosen: '\n\nHuman: Hi\n\nAssistant: Hello! How can I help?', rejected: '\n\nHuman: Hi\n\nAssistant: What.' },
      {
        chosen: '\n\nHuman: Two turns\n\nAssistant: ok\n\nHuman: and?\n\nAssistant: Done.',
        rejected: '\n\nHuman: Two turns\n\nAssistant: ok\n\nHuman: and?\n\nAssistant: No.',
      },
    ];
    fs.writeFileSync(hh, rows.map((r) => JSON.stringify(r) + '\n').join(''));
    const imported = await importPreferences(project, hh, { format: 'hh', labeler: 'anthropic' });
    assert.deepEqual([imported.pairs, imported.added.prompts, imported.labeler], [2, 2, 'anthropic']);
    assert.equal(project.prompts.list()[1]?.text, '\n\nHuman: Two turns\n\nAssistant: ok\n\nHuman: and?\n\nAssistant:');
    const out = path.join(dir, 'out.jsonl');
    const exported = exportPreferences(project, out, { format: 'hh' });
    assert.deepEqual(exported.notHeld, []);
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(hh));

    const plain = await promptWithBatch(project, 'Name a color', ['blue', ' red']);
    await project.rankings.submit({ batchId: plain.id, ranks: [1, 2] }, { labeler: 'anthropic' });
    const wrapped = exportPreferences(project, out, { format: 'hh' });
    assert.deepEqual(messages(wrapped.notHeld).slice(-2), ["1 prompts wrapped as '\\n\\nHuman: …\\n\\nAssistant:'", "1 completions given a leading space after 'Assistant:'"]);
    const last = JSON.parse(fs.readFileSync(out, 'utf8').trimEnd().split('\n').pop() as string) as { chosen: string; rejected: string };
    assert.deepEqual(last, { chosen: '\n\nHuman: Name a color\n\nAssistant: blue', rejected: '\n\nHuman: Name a color\n\nAssistant: red' });
  } finally {
    cleanup();
  }
});

test('rows the project cannot hold are skipped and listed; unknown fields are reported; bad rows abort with file:line', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    const file = path.join(dir, 'mixed.jsonl');
    const user = (content: string) => ({ role: 'user', content });
    const bot = (content: string) => ({ role: 'assistant', content });
    fs.writeFileSync(
      file,
      [
        { prompt: 'ok', chosen: 'a', rejected: 'b', score_chosen: 9 },
        { chosen: 'implicit prompt a', rejected: 'implicit prompt b' },
        { prompt: [{ role: 'system', content: 'be nice' }, user('hi')], chosen: [bot('hey')], rejected: [bot('no')] },
        { prompt: [user('hi')], chosen: [bot('a'), user('more'), bot('b')], rejected: [bot('no')] },
        { prompt: 'mixed', chosen: [bot('a')], rejected: 'b' },
      ]
        .map((r) => JSON.stringify(r) + '\n')
        .join(''),
    );
    const r = await importPreferences(project, file, { format: 'trl' });
    // Line 3 (a system message, then the user's) is a chat prompt now.
    assert.equal(r.pairs, 2);
    assert.deepEqual(
      r.skipped.map((s) => s.line),
      [2, 4, 5],
    );
    assert.match(r.skipped[0]?.reason as string, /no 'prompt' field/);
    assert.match(r.skipped[1]?.reason as string, /exactly one assistant message/);
    assert.deepEqual(messages(r.notHeld), ["1 field 'score_chosen' is not kept"]);

    const before = project.rankings.events().length;
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"prompt":"p","chosen":"a","rejected":"b"}\n{"prompt":"p","chosen":"a"}\n');
    await assert.rejects(importPreferences(project, bad, { format: 'trl' }), /bad\.jsonl:2: field 'rejected'/);
    fs.writeFileSync(bad, '{"chosen":"\\n\\nHuman: x","rejected":1}\n');
    await assert.rejects(importPreferences(project, bad, { format: 'hh' }), /bad\.jsonl:1: field 'rejected'/);
    fs.writeFileSync(bad, '{"prompt":"p","chosen":"a","rejected":"b"}\n{"prompt":" ","chosen":"a","rejected":"b"}\n');
    await assert.rejects(importPreferences(project, bad, { format: 'trl' }), /bad\.jsonl:2: the prompt is empty/);
    fs.writeFileSync(bad, '{"chosen":"no turns","rejected":"at all"}\n');
    assert.match((await importPreferences(project, bad, { format: 'hh' })).skipped[0]?.reason as string, /no '\\n\\nAssistant:' turn/);
    assert.equal(project.rankings.events().length, before);
  } finally {
    cleanup();
  }
});

test('implicit preferences are exported only when the project enables them', async () => {
  const { project, dir, cleanup } = await tempProject('alice');
  try {
    const b = await promptWithBatch(project, 'p', ['a', 'b']);
    await project.rankings.submit({ batchId: b.id, ranks: [1, 2] }, { source: 'implicit' });
    const out = path.join(dir, 'o.jsonl');
    const r = exportPreferences(project, out, { format: 'trl' });
    assert.equal(r.rows, 0);
    assert.deepEqual(messages(r.notHeld), ['1 rankings left out by source or labeler']);
    await project.updateMeta((m) => ({ ...m, settings: { ...m.settings, includeImplicit: true } }));
    assert.equal(exportPreferences(project, out, { format: 'trl' }).rows, 1);
  } finally {
    cleanup();
  }
});
