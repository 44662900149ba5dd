/**
 * The engine's project handlers on a real project with the shipped tiny model: create the demo
 * project, generate completions through the cached ORT sampler, rank, undo, inline
 * suggestions recorded as implicit preferences (kept out of the ranking queue), exports.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { projectHandlers } from '../../../src/engine/projectHandlers';
import { createHandlers } from '../../../src/engine/handlers';
import type { HandlerContext } from '../../../src/engine/handlers';
import { isUserError } from '../../../src/core/errors';
import { Project } from '../../../src/core/store/project';
import { loadModelConfig } from '../../../src/core/model/checkpoint';
import { parameterCount } from '../../../src/core/model/modelConfig';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'models', 'tiny-default');
const PROMPTS = path.join(ROOT, 'assets', 'demo', 'prompts.txt');
const h = projectHandlers({ defaultBackend: 'cpu' });
const progress: string[] = [];
const ctx: HandlerContext = { signal: new AbortController().signal, progress: (m) => void progress.push(m), notify: () => undefined };

let ws: string;
before(() => {
  ws = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-handlers-'));
});
after(() => fs.rmSync(ws, { recursive: true, force: true }));

test('overview without a project, then the demo project is created with its prompts and base model', async () => {
  assert.deepEqual(await h['project.overview']({ workspace: ws }, ctx), { exists: false });
  const created = await h['project.create']({ workspace: ws, name: 'demo', demo: { model: MODEL, promptsFile: PROMPTS, guidelines: 'Prefer vivid text.' } }, ctx);
  assert.equal(created.name, 'demo');
  assert.ok(created.prompts > 0);
  assert.equal(created.prompts, (await Project.open(ws)).prompts.list().length);
  assert.equal(created.models.base?.path, MODEL);
  // With its class and size from config.json, as the sidebar shows them.
  assert.deepEqual(created.models.policy, { path: MODEL, from: 'project.json', architecture: 'GPT2LMHeadModel', parameters: parameterCount(loadModelConfig(MODEL)) });
  assert.equal(created.unranked, 0);
  await assert.rejects(h['project.create']({ workspace: ws }, ctx), (e) => isUserError(e) && /already holds a project/.test(e.message));
});

test('generate, rank by submit, undo, and the queue with progress', async () => {
  const gen = await h['project.generate']({ workspace: ws, limit: 2, k: 3, maxNewTokens: 8 }, ctx);
  assert.equal(gen.batchIds.length, 2);
  assert.equal(gen.model, MODEL);
  assert.ok(progress.some((m) => m.startsWith('sampling 1 of 3')));
  const first = await h['ranking.next']({ workspace: ws }, ctx);
  assert.equal(first.done, 0);
  assert.equal(first.total, 2);
  assert.equal(first.guidelines, 'Prefer vivid text.');
  const item = first.item!;
  assert.equal(item.batchId, gen.batchIds[0]);
  assert.equal(item.completions.length, 3);
  assert.deepEqual(
    item.completions.map((c) => c.temperature),
    [0.7, 0.9, 1.1],
  );

  const { eventId } = await h['ranking.submit']({ workspace: ws, batchId: item.batchId, verdict: 'ranked', completionIds: item.completions.map((c) => c.id), ranks: [2, 1, 2], note: 'ok' }, ctx);
  // Durable before the answer: the event is in the labeler's log on disk.
  const dir = path.join(ws, '.rlhf', 'rankings');
  const log = fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('');
  assert.match(log, new RegExp(eventId));
  const second = await h['ranking.next']({ workspace: ws }, ctx);
  assert.equal(second.done, 1);
  assert.equal(second.item?.batchId, gen.batchIds[1]);

  const undone = await h['ranking.undo']({ workspace: ws, eventId }, ctx);
  assert.deepEqual(undone, { undone: eventId, batchId: item.batchId });
  assert.equal((await h['ranking.next']({ workspace: ws }, ctx)).item?.batchId, item.batchId);

  await assert.rejects(
    h['ranking.submit']({ workspace: ws, batchId: item.batchId, verdict: 'ranked', completionIds: item.completions.map((c) => c.id), ranks: [1, 9, 2] }, ctx),
    (e) => isUserError(e) && /ranks/.test(e.message),
  );
  await assert.rejects(h['ranking.next']({ workspace: 'relative/path' }, ctx), (e) => isUserError(e) && /absolute path/.test(e.message));
  // Params are checked before any handler runs (the engine's handlers, params.ts).
  const checked = createHandlers({ defaultBackend: 'cpu' });
  await assert.rejects(
    checked['ranking.submit']({ workspace: ws, batchId: 'x', verdict: 'maybe', completionIds: ['a', 'b'] } as never, ctx),
    (e) => isUserError(e) && /ranking.submit: 'verdict'/.test(e.message),
  );
});

test('long prompts: import warns about those the context cannot hold, generation continues their end, a selection that cannot fit stores nothing', async () => {
  // The tiny model's context is 128 byte-level tokens; ranking completions take 48 of them.
  const long = `${'It was the best of times, it was the worst of times, '.repeat(4)}and so on`;
  const file = path.join(ws, 'long-prompts.txt');
  fs.writeFileSync(file, `A short prompt that fits\n${long}\n`);
  const imported = await h['project.importPrompts']({ workspace: ws, file }, ctx);
  assert.equal(imported.added, 2);
  assert.deepEqual(imported.tooLong, { count: 1, room: 80, nPositions: 128, first: `${file}:2` });
  const project = await Project.open(ws);
  const longId = project.prompts.list().find((p) => p.text === long)!.id;
  const gen = await h['project.generate']({ workspace: ws, promptIds: [longId], k: 2, maxNewTokens: 8 }, ctx);
  assert.equal(gen.batchIds.length, 1);
  assert.equal(gen.promptsCut, 1);
  assert.equal(gen.promptRoom, 120);

  const before = fs.readFileSync(path.join(ws, '.rlhf', 'prompts.jsonl'), 'utf8');
  const selection = `${long} (selected)`;
  await assert.rejects(
    h['project.generate']({ workspace: ws, promptText: selection, k: 2, maxNewTokens: 8 }, ctx),
    (e) => isUserError(e) && /The selection is \d+ tokens; the model's context of 128 holds 120 prompt tokens .*Nothing was stored/.test(e.message),
  );
  assert.equal(fs.readFileSync(path.join(ws, '.rlhf', 'prompts.jsonl'), 'utf8'), before);
  // A selection that fits becomes a prompt with its batch.
  const fits = await h['project.generate']({ workspace: ws, promptText: 'Call me Ishmael (selected)', k: 2, maxNewTokens: 8 }, ctx);
  assert.equal((await Project.open(ws)).prompts.get(fits.promptIds[0]!)?.source, 'selection');
});

test('inline suggestions are recorded as implicit preferences, apart from the ranking queue', async () => {
  const before = await h['project.overview']({ workspace: ws }, ctx);
  assert.ok(before.exists);
  const s = await h['inline.complete']({ workspace: ws, file: path.join(ws, 'notes.md'), text: 'Call me Ishmael. Some years ago', maxNewTokens: 6 }, ctx);
  assert.equal(s.completions.length, 2);
  const { eventId } = await h['inline.record']({ workspace: ws, id: s.id, accepted: 1 }, ctx);
  assert.ok(eventId);
  await assert.rejects(h['inline.record']({ workspace: ws, id: s.id, accepted: 0 }, ctx), (e) => isUserError(e) && /no pending/.test(e.message));
  const shown = await h['inline.complete']({ workspace: ws, file: path.join(ws, 'docs', 'notes.txt'), text: 'The whale', maxNewTokens: 4 }, ctx);
  await h['inline.record']({ workspace: ws, id: shown.id, accepted: null }, ctx);

  const after = await h['project.overview']({ workspace: ws }, ctx);
  assert.ok(after.exists);
  assert.equal(after.overview.implicit, 2);
  assert.equal(after.overview.unranked, before.overview.unranked);
  const project = await Project.open(ws);
  const implicit = project.rankings.current({ sources: ['implicit'] });
  assert.deepEqual(implicit.map((c) => c.event.verdict).sort(), ['allBad', 'ranked']);
  assert.deepEqual(implicit.find((c) => c.event.verdict === 'ranked')?.event.ranks, [2, 1]);
});

test('inline completions are refused outside the workspace, in .rlhf/, .vscode/ and settings files; nothing is stored', async () => {
  const stored = (): string => ['prompts.jsonl', 'completions.jsonl'].map((f) => fs.readFileSync(path.join(ws, '.rlhf', f), 'utf8')).join('\n');
  const before = stored();
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-elsewhere-'));
  try {
    for (const file of [
      path.join(elsewhere, 'settings.json'),
      path.join(ws, '.rlhf', 'configs', 'ppo-default.json'),
      path.join(ws, '.rlhf', 'project.json'),
      path.join(ws, '.vscode', 'settings.json'),
      path.join(ws, 'sub', 'settings.json'),
      path.join(ws, '..', 'outside.md'),
    ]) {
      await assert.rejects(
        h['inline.complete']({ workspace: ws, file, text: '"editor.fontSize": 14,', maxNewTokens: 4 }, ctx),
        (e) => isUserError(e) && /inline completions run only in the workspace's own files/.test(e.message),
        file,
      );
    }
  } finally {
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
  assert.equal(stored(), before);
});

test('exports: preferences as TRL, the policy as an HF folder and as ONNX', async () => {
  const item = (await h['ranking.next']({ workspace: ws }, ctx)).item!;
  await h['ranking.submit']({ workspace: ws, batchId: item.batchId, verdict: 'ranked', completionIds: item.completions.map((c) => c.id), ranks: [1, 2, 3] }, ctx);
  const prefs = await h['project.exportPreferences']({ workspace: ws, format: 'trl', out: path.join(ws, 'prefs.jsonl') }, ctx);
  assert.equal(prefs.rows, 3);
  assert.equal(fs.readFileSync(prefs.out, 'utf8').trim().split('\n').length, 3);
  const hf = await h['project.exportModel']({ workspace: ws, format: 'hf', out: path.join(ws, 'export-hf') }, ctx);
  assert.ok(hf.files.includes('model.safetensors') && hf.files.includes('config.json'));
  const onnx = await h['project.exportModel']({ workspace: ws, format: 'onnx', out: path.join(ws, 'export-onnx') }, ctx);
  assert.ok(fs.existsSync(path.join(onnx.out, 'model.onnx')));
  await assert.rejects(h['project.exportModel']({ workspace: ws, format: 'hf', out: path.join(ws, 'export-hf') }, ctx), (e) => isUserError(e) && /not empty/.test(e.message));
});

test('the labeler setting (engine option) names who rankings are recorded as; a bad one is refused with the setting named', async () => {
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-handlers-labeler-'));
  try {
    const alice = projectHandlers({ defaultBackend: 'cpu', labeler: 'alice@example.com' });
    await alice['project.create']({ workspace: other, name: 'labeled', demo: { model: MODEL, promptsFile: PROMPTS, guidelines: '' } }, ctx);
    await alice['project.generate']({ workspace: other, limit: 1, k: 2, maxNewTokens: 4 }, ctx);
    const item = (await alice['ranking.next']({ workspace: other }, ctx)).item!;
    await alice['ranking.submit']({ workspace: other, batchId: item.batchId, verdict: 'ranked', completionIds: item.completions.map((c) => c.id), ranks: [1, 2] }, ctx);
    const overview = await alice['project.overview']({ workspace: other }, ctx);
    assert.ok(overview.exists);
    assert.equal(overview.overview.labeler, 'alice@example.com');
    const ranked = (await Project.open(other)).rankings.current();
    assert.deepEqual(
      ranked.map((c) => c.event.labeler),
      ['alice@example.com'],
    );

    const third = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-handlers-labeler-'));
    try {
      await Project.create(third, { name: 'x' });
      const bad = projectHandlers({ defaultBackend: 'cpu', labeler: 'eve\u0007' });
      await assert.rejects(bad['project.overview']({ workspace: third }, ctx), (e) => isUserError(e) && /rlhf\.labeler setting/.test(e.message));
    } finally {
      fs.rmSync(third, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});
