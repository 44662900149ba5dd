/**
 * Ranking end to end in a real VS Code, from the installed .vsix: open the demo project from
 * the command palette, generate completions (engine, ORT), rank three prompts by keyboard
 * inside the ranking webview, and see the sidebar's counts change and the events land in
 * .rlhf/rankings/. Then Ctrl+Z takes back a submitted ranking, and Rank Completions for
 * Selection ranks completions of the selected text.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Frame } from 'playwright-core';
import { withSession } from './harness';

const byId = (frame: Frame, id: string) => frame.locator(`[data-testid="${id}"]`);

async function waitForText(frame: Frame, id: string, pred: (text: string) => boolean, what: string, timeoutMs = 120_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < until) {
    seen =
      (await byId(frame, id)
        .first()
        .textContent()
        .catch(() => null)) ?? '';
    if (pred(seen.trim())) return seen.trim();
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: '${id}' never matched (last: '${seen}').`);
}

interface LoggedEvent {
  readonly type: string;
  readonly source: string;
  readonly verdict: string;
  readonly ranks: number[];
}

function readEvents(dir: string): LoggedEvent[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
    .map((l) => JSON.parse(l) as LoggedEvent);
}

test('demo project → generate → rank three prompts by keyboard → sidebar counts and .rlhf events', async () => {
  await withSession({ name: 'ranking', backend: 'wasm' }, async (s) => {
    await s.runCommand('RLHF: Open Demo Project');
    const sidebar = await s.webviewFrame('[data-testid="project"]');
    const prompts = Number(await waitForText(sidebar, 'count-prompts', (t) => Number(t) > 0, 'the demo prompts in the sidebar'));
    console.log(`e2e: demo project with ${prompts} prompts`);
    assert.match((await byId(sidebar, 'model-policy').textContent()) ?? '', /tiny-default \(project\.json\)/);
    assert.equal((await byId(sidebar, 'count-ranked').textContent())?.trim(), '0');
    await s.screenshot('demo-project');

    await s.runCommand('RLHF: Generate Completions');
    const unranked = Number(await waitForText(sidebar, 'count-unranked', (t) => Number(t) > 0, 'completions generated'));
    assert.ok(unranked >= 3, `only ${unranked} batches to rank`);
    await s.screenshot('generated');

    await s.runCommand('RLHF: Start Ranking');
    const panel = await s.webviewFrame('[data-testid="completion"]');
    for (let n = 1; n <= 3; n++) {
      await waitForText(panel, 'progress', (t) => t === `${n} of ${unranked}`, `prompt ${n}`);
      const k = await byId(panel, 'completion').count();
      assert.equal(k, 4);
      // Focus the page (the first completion), then rank by keyboard only.
      await byId(panel, 'completion').first().click();
      for (const key of ['2', '1', 't', '3']) await s.page.keyboard.press(key === 't' ? 'T' : key);
      const ranks = await byId(panel, 'completion').evaluateAll((els) => els.map((e) => e.getAttribute('data-rank')));
      assert.deepEqual(ranks, ['2', '1', '1', '3']);
      if (n === 1) await s.screenshot('ranking-panel');
      await s.page.keyboard.press('Enter');
      await waitForText(panel, 'save-state', (t) => t === 'Saved', `save of prompt ${n}`, 30_000);
    }
    await waitForText(panel, 'progress', (t) => t === `4 of ${unranked}`, 'the fourth prompt');
    await waitForText(sidebar, 'count-ranked', (t) => t === '3', 'the ranked count in the sidebar', 30_000);
    assert.equal((await byId(sidebar, 'count-unranked').textContent())?.trim(), String(unranked - 3));
    await s.screenshot('ranked-three');

    const dir = join(s.workspace, '.rlhf', 'rankings');
    const events = readEvents(dir);
    assert.equal(events.length, 3);
    for (const e of events) assert.deepEqual([e.type, e.source, e.verdict, e.ranks], ['rank', 'human', 'ranked', [2, 1, 1, 3]]);

    // Ctrl+Z with nothing to undo on the new prompt takes back the submitted ranking: the third
    // prompt comes back with its ranks, and the store has an undo event.
    await byId(panel, 'completion').first().click();
    await s.page.keyboard.press('Control+z');
    await waitForText(panel, 'progress', (t) => t === `3 of ${unranked}`, 'the undone prompt', 30_000);
    assert.deepEqual(await byId(panel, 'completion').evaluateAll((els) => els.map((e) => e.getAttribute('data-rank'))), ['2', '1', '1', '3']);
    assert.deepEqual(
      readEvents(dir).map((e) => e.type),
      ['rank', 'rank', 'rank', 'undo'],
    );
    await waitForText(sidebar, 'count-ranked', (t) => t === '2', 'the ranked count after undo', 30_000);
    await s.page.keyboard.press('Enter');
    await waitForText(panel, 'progress', (t) => t === `4 of ${unranked}`, 'the fourth prompt again', 30_000);
    await waitForText(sidebar, 'count-ranked', (t) => t === '3', 'the ranked count after resubmitting', 30_000);

    // RLHF: Rank Completions for Selection: the selected text becomes the prompt.
    await s.runCommand('File: New Untitled Text File');
    await s.page.keyboard.type('The sea was calm and');
    await s.page.keyboard.press('Control+a');
    await s.runCommand('RLHF: Rank Completions for Selection');
    // The panel moved beside the editor, which gives its webview a new frame.
    const beside = await s.webviewFrame(
      async (f) => (await byId(f, 'prompt').count()) > 0 && ((await byId(f, 'prompt').textContent({ timeout: 1_000 })) ?? '').trim() === 'The sea was calm and',
      60_000,
    );
    await s.screenshot('rank-selection');
    const before = readEvents(dir).length;
    await byId(beside, 'completion').first().click();
    for (const key of ['1', '2', '3', '4']) await s.page.keyboard.press(key);
    await s.page.keyboard.press('Enter');
    await waitForText(beside, 'prompt', (t) => t !== 'The sea was calm and', 'the next prompt after the selection', 30_000);
    assert.equal(readEvents(dir).length, before + 1);
    const last = readEvents(dir).at(-1);
    assert.deepEqual([last?.type, last?.ranks], ['rank', [1, 2, 3, 4]]);
  });
});
