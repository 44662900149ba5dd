/**
 * The ranking app in Chromium against a protocol-typed host stand-in: the keyboard flow (rank,
 * tie, undo, submit), a failed save that keeps the ranking and retries, undo of a submitted
 * ranking and of the draft it brings back, drag to reorder, skip / all bad, long completions,
 * Enter on buttons and the guidelines toggle, a ranked selection, duplicates, the prompt's tail,
 * highlighted differences, the tally, theme colours.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import type { RankingCommand, RankingItem, RankingNotification, RankingState, SubmitCommand } from '../../src/protocol/ranking';
import { isRankingCommand } from '../../src/protocol/ranking';
import { launchBrowser, openWebview, screenshot } from './harness';

const item = (batchId: string, texts: string[], prompt = 'Call me Ishmael.'): RankingItem => ({
  batchId,
  promptId: `p-${batchId}`,
  prompt,
  completions: texts.map((text, i) => ({ id: `${batchId}.${i}`, text, temperature: [0.7, 0.9, 1.1, 1.3][i] as number })),
  model: '/models/tiny-default (project.json)',
});
const first = item('b1', [' Some years ago, never mind how long.', ' Some months ago, the sea was calm.', ' The whale rose from the deep.']);
const second = item('b2', [' It is a way I have.', ' It is a way of driving off the spleen.', ' Whenever I find myself grim.']);
const ready = (it: RankingItem, done = 0, extra: Partial<RankingState> = {}): RankingState => ({
  status: 'ready',
  item: it,
  progress: { done, total: 3 },
  guidelines: '# Guidelines\nPrefer **vivid**, concrete continuations.\n\n- Penalise repetition.\n- Skip <script>alert(1)</script> prompts you cannot judge.',
  policy: '/models/tiny-default (project.json)',
  save: { state: 'idle' },
  ...extra,
});

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const open = (state: RankingState) => openWebview<RankingCommand, RankingNotification>(browser, 'ranking', state);
const isSubmit = (m: RankingCommand): m is SubmitCommand => m.type === 'submit';
const ranksShown = async (host: Awaited<ReturnType<typeof open>>): Promise<string[]> => host.page.getByTestId('completion').evaluateAll((els) => els.map((e) => e.getAttribute('data-rank') ?? ''));

test('keyboard flow: rank, tie, undo, submit; a failed save keeps the ranking and retries; undo of a submit', async () => {
  const host = await open(ready(first));
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.equal(await host.page.getByTestId('progress').textContent(), '1 of 3');
    assert.match((await host.page.getByTestId('policy').textContent()) ?? '', /tiny-default/);
    // Focus starts on the first completion.
    assert.equal(await host.page.evaluate("document.activeElement?.getAttribute('data-index')"), '0');
    await host.page.keyboard.press('2'); // first → 2, focus moves to the second
    await host.page.keyboard.press('1'); // second → 1
    await host.page.keyboard.press('t'); // third tied with the rank given last (1)
    assert.deepEqual(await ranksShown(host), ['2', '1', '1']);
    await host.page.keyboard.press('Control+z');
    assert.deepEqual(await ranksShown(host), ['2', '1', '']);
    // Enter does nothing while a completion is unranked.
    await host.page.keyboard.press('Enter');
    assert.equal(host.received.filter(isSubmit).length, 0);
    await host.page.keyboard.press('ArrowUp');
    await host.page.keyboard.press('ArrowDown');
    await host.page.keyboard.press('3');
    assert.deepEqual(await ranksShown(host), ['2', '1', '3']);
    await host.page.getByTestId('note').fill('the second is the most vivid');
    await host.page.getByTestId('note').press('Escape');
    await host.page.keyboard.press('Enter');
    const submitted = await host.waitFor(isSubmit);
    assert.deepEqual(submitted, { type: 'submit', batchId: 'b1', verdict: 'ranked', completionIds: ['b1.0', 'b1.1', 'b1.2'], ranks: [2, 1, 3], note: 'the second is the most vivid' });

    await host.send({ type: 'didChangeState', state: ready(first, 0, { save: { state: 'saving', batchId: 'b1' } }) });
    await host.page.getByText('Saving…').waitFor();
    await host.send({ type: 'didChangeState', state: ready(first, 0, { save: { state: 'failed', batchId: 'b1', error: 'EACCES: permission denied, open .rlhf/rankings/me.jsonl' } }) });
    await host.page.getByTestId('retry').waitFor();
    assert.match((await host.page.getByTestId('save-state').textContent()) ?? '', /Not saved: EACCES/);
    assert.deepEqual(await ranksShown(host), ['2', '1', '3'], 'the ranking is kept after a failed save');
    await screenshot(host.page, 'ranking-save-failed');
    await host.page.getByTestId('retry').click();
    await host.waitFor((m) => isSubmit(m) && host.received.filter(isSubmit).length === 2);
    assert.deepEqual(host.received.filter(isSubmit)[1], submitted);

    // Saved: the host moves on to the next prompt.
    await host.send({ type: 'didChangeState', state: ready(second, 1, { save: { state: 'saved', batchId: 'b1' }, lastSubmitted: { batchId: 'b1', eventId: 'e-1' } }) });
    await host.page.getByText('It is a way I have.').waitFor();
    assert.equal(await host.page.getByTestId('progress').textContent(), '2 of 3');
    assert.deepEqual(await ranksShown(host), ['', '', '']);
    await screenshot(host.page, 'ranking-next');
    // Nothing to undo locally: Ctrl+Z takes back the submitted ranking.
    await host.page.keyboard.press('Control+z');
    assert.deepEqual(await host.waitFor((m) => m.type === 'undoSubmit'), { type: 'undoSubmit', eventId: 'e-1' });
    await host.send({ type: 'didChangeState', state: ready(first, 0) });
    await host.page.getByText('Some years ago').waitFor();
    assert.deepEqual(await ranksShown(host), ['2', '1', '3'], 'the undone ranking comes back as it was');
    for (const m of host.received) assert.ok(isRankingCommand(m), `invalid command posted: ${JSON.stringify(m)}`);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('drag handles reorder, and ranks follow the order; Alt+arrows move the focused completion', async () => {
  const host = await open(ready(first));
  try {
    await host.waitFor((m) => m.type === 'ready');
    const handles = host.page.getByTestId('drag-handle');
    await handles.nth(2).dragTo(host.page.getByTestId('completion').nth(0));
    // Display order is now [2, 0, 1]; ranks by position.
    const order = await host.page.getByTestId('completion').evaluateAll((els) => els.map((e) => e.getAttribute('data-index')));
    assert.deepEqual(order, ['2', '0', '1']);
    assert.deepEqual(await ranksShown(host), ['1', '2', '3']);
    await screenshot(host.page, 'ranking-dragged');
    await host.page.keyboard.press('Alt+ArrowDown'); // the focused top one (index 2) moves down
    assert.deepEqual(await host.page.getByTestId('completion').evaluateAll((els) => els.map((e) => e.getAttribute('data-index'))), ['0', '2', '1']);
    await host.page.keyboard.press('Control+z');
    await host.page.keyboard.press('Control+z');
    assert.deepEqual(await host.page.getByTestId('completion').evaluateAll((els) => els.map((e) => e.getAttribute('data-index'))), ['0', '1', '2']);
    assert.deepEqual(await ranksShown(host), ['', '', '']);
    await handles.nth(1).dragTo(host.page.getByTestId('completion').nth(0));
    await host.page.keyboard.press('Enter');
    const s = await host.waitFor(isSubmit);
    // Completion 1 dragged to the top: it is best; ids stay in batch order.
    assert.deepEqual(s.ranks, [2, 1, 3]);
    assert.deepEqual(s.completionIds, ['b1.0', 'b1.1', 'b1.2']);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('S skips and B marks all bad (no ranks sent); long completions collapse; differences are highlighted', async () => {
  const long = Array.from({ length: 30 }, (_, i) => `Line ${i} of a long completion about the sea.`).join('\n');
  const host = await open(ready(item('b3', [' the white whale swims', ' the grey whale swims', long])));
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.page.getByTestId('guidelines').locator('summary').click();
    assert.match((await host.page.getByTestId('guidelines').textContent()) ?? '', /Penalise repetition/);
    // A little Markdown, built as elements: text is never parsed as HTML.
    assert.equal(await host.page.getByTestId('guidelines').locator('li').count(), 2);
    assert.equal(await host.page.getByTestId('guidelines').locator('strong').textContent(), 'vivid');
    assert.equal(await host.page.getByTestId('guidelines').locator('script').count(), 0);
    assert.match((await host.page.getByTestId('guidelines').locator('li').nth(1).textContent()) ?? '', /<script>alert\(1\)<\/script>/);
    const texts = host.page.getByTestId('completion-text');
    assert.equal(await host.page.locator('mark').count(), 0, 'differences are not highlighted until asked for');
    await host.page.getByTestId('diff-toggle').check();
    assert.equal(await texts.nth(0).locator('mark').textContent(), 'white');
    assert.equal(await texts.nth(1).locator('mark').textContent(), 'grey');
    assert.match((await texts.nth(2).getAttribute('class')) ?? '', /collapsed/);
    await screenshot(host.page, 'ranking-panel');
    await host.page.getByTestId('expand').click();
    assert.doesNotMatch((await texts.nth(2).getAttribute('class')) ?? '', /collapsed/);
    await host.page.getByTestId('diff-toggle').uncheck();
    assert.equal(await texts.nth(0).locator('mark').count(), 0);

    await host.page.getByTestId('completion').nth(0).click();
    await host.page.keyboard.press('s');
    assert.equal(await host.page.getByTestId('verdict').textContent(), 'Skipped');
    await host.page.keyboard.press('b');
    assert.equal(await host.page.getByTestId('verdict').textContent(), 'All bad');
    await host.page.keyboard.press('Enter');
    const s = await host.waitFor(isSubmit);
    assert.deepEqual(s, { type: 'submit', batchId: 'b3', verdict: 'allBad', completionIds: ['b3.0', 'b3.1', 'b3.2'] });
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('Enter and Space on the guidelines toggle or a button activate it, never submit; the guidelines stay as the user left them', async () => {
  const host = await open(ready(first));
  try {
    await host.waitFor((m) => m.type === 'ready');
    for (const key of ['1', '2', '3']) await host.page.keyboard.press(key);
    assert.deepEqual(await ranksShown(host), ['1', '2', '3']);
    const isOpen = (): Promise<boolean> => host.page.getByTestId('guidelines').evaluate((d) => (d as unknown as { open: boolean }).open);
    assert.equal(await isOpen(), false);
    await host.page.getByTestId('guidelines').locator('summary').focus();
    await host.page.keyboard.press('Enter');
    assert.equal(await isOpen(), true, 'Enter on the toggle opens the guidelines');
    await host.page.keyboard.press(' ');
    assert.equal(await isOpen(), false, 'Space closes them');
    await host.page.keyboard.press('Enter');
    assert.equal(await isOpen(), true);
    // Enter on a focused button presses that button.
    await host.page.getByTestId('skip').focus();
    await host.page.keyboard.press('Enter');
    assert.equal(await host.page.getByTestId('verdict').textContent(), 'Skipped');
    assert.equal(host.received.filter(isSubmit).length, 0, 'nothing was submitted');
    // A re-render and a new prompt keep the guidelines open.
    await host.page.keyboard.press('s');
    assert.equal(await isOpen(), true);
    await host.send({ type: 'didChangeState', state: ready(second, 1) });
    await host.page.getByText('It is a way I have.').waitFor();
    assert.equal(await isOpen(), true, 'still open on the next prompt');
    await host.page.getByTestId('guidelines').locator('summary').click();
    await host.send({ type: 'didChangeState', state: ready(first, 0) });
    await host.page.getByText('Some years ago').waitFor();
    assert.equal(await isOpen(), false, 'closed stays closed');
    // Back on a completion, Enter submits.
    await host.page.keyboard.press('Enter');
    assert.deepEqual((await host.waitFor(isSubmit)).ranks, [1, 2, 3]);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('an undone submit comes back with its undo history: Ctrl+Z steps back through the restored draft', async () => {
  const host = await open(ready(first));
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.page.keyboard.press('1');
    await host.page.keyboard.press('b');
    assert.equal(await host.page.getByTestId('verdict').textContent(), 'All bad');
    await host.page.keyboard.press('Enter');
    assert.equal((await host.waitFor(isSubmit)).verdict, 'allBad');
    await host.send({ type: 'didChangeState', state: ready(second, 1, { save: { state: 'saved', batchId: 'b1' }, lastSubmitted: { batchId: 'b1', eventId: 'e-1' } }) });
    await host.page.getByText('It is a way I have.').waitFor();
    await host.page.keyboard.press('Control+z');
    await host.waitFor((m) => m.type === 'undoSubmit');
    await host.send({ type: 'didChangeState', state: ready(first, 0) });
    await host.page.getByText('Some years ago').waitFor();
    assert.equal(await host.page.getByTestId('verdict').textContent(), 'All bad', 'the submitted draft is restored');
    await host.page.keyboard.press('Control+z');
    assert.equal(await host.page.getByTestId('verdict').textContent(), '1 of 3 ranked', 'All bad is cleared');
    assert.deepEqual(await ranksShown(host), ['1', '', '']);
    await host.page.keyboard.press('Control+z');
    assert.deepEqual(await ranksShown(host), ['', '', '']);
    await host.page.keyboard.press('Control+z');
    assert.equal(host.received.filter((m) => m.type === 'undoSubmit').length, 1, 'no second undo of a submit: none is pending');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('Rank Completions for Selection: the selection is named, and once ranked the panel says the queue follows', async () => {
  const selected = item('b9', [' d.', ' d.', ' then it rained.'], 'The sea was calm an');
  const host = await open(ready(selected, 0, { selection: 'current' }));
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.equal(await host.page.getByTestId('prompt-heading').textContent(), 'Prompt: your selection');
    assert.equal(await host.page.getByTestId('selection-notice').count(), 0);
    for (const key of ['1', '1', '2']) await host.page.keyboard.press(key);
    await host.page.keyboard.press('Enter');
    assert.equal((await host.waitFor(isSubmit)).batchId, 'b9');
    await host.send({ type: 'didChangeState', state: ready(first, 1, { save: { state: 'saved', batchId: 'b9' }, lastSubmitted: { batchId: 'b9', eventId: 'e-9' }, selection: 'ranked' }) });
    await host.page.getByText('Some years ago').waitFor();
    assert.equal(await host.page.getByTestId('selection-notice').textContent(), 'Selection ranked — next: queued prompts from the project.');
    assert.equal(await host.page.getByTestId('prompt-heading').textContent(), 'Prompt');
    await screenshot(host.page, 'ranking-after-selection');
    // The next queued prompt is just the queue.
    await host.send({ type: 'didChangeState', state: ready(second, 2) });
    await host.page.getByText('It is a way I have.').waitFor();
    assert.equal(await host.page.getByTestId('selection-notice').count(), 0);
    // Nothing queued after the selection: the panel stops and says so.
    await host.send({
      type: 'didChangeState',
      state: { status: 'empty', message: 'All 3 batches are ranked.', progress: { done: 3, total: 3 }, guidelines: '', save: { state: 'idle' }, selection: 'ranked' },
    });
    assert.equal(await host.page.getByTestId('selection-notice').textContent(), 'Selection ranked.');
    assert.equal(await host.page.getByTestId('empty').textContent(), 'All 3 batches are ranked.');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test("identical completions are marked and can tie; each completion follows the prompt's tail; differences mark only what no other completion has, once asked for, and stay on", async () => {
  const prompt = 'It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, and the sea was calm an';
  const host = await open(ready(item('b4', [' the white whale swims', ' d.', ' the grey whale swims', ' d.', ' the white whale dives'], prompt)));
  try {
    await host.waitFor((m) => m.type === 'ready');
    const badges = host.page.getByTestId('completion').evaluateAll((els) => els.map((e) => e.querySelector('[data-testid="same-as"]')?.textContent ?? ''));
    assert.deepEqual(await badges, ['', 'same as #4', '', 'same as #2', '']);
    assert.deepEqual(await host.page.getByTestId('position').allTextContents(), ['#1', '#2', '#3', '#4', '#5']);
    // The prompt's last ~80 characters (from a word start) before each completion, so ' d.' reads as 'an d.'.
    const context = await host.page.getByTestId('context').allTextContents();
    assert.equal(context.length, 5);
    assert.equal(context[0], '… was the age of wisdom, it was the age of foolishness, and the sea was calm an');
    assert.ok(context.every((c) => c === context[0]));
    assert.equal(await host.page.getByTestId('completion-text').nth(1).textContent(), `${context[0]} d.`);
    // Duplicates can still be ranked, as a tie.
    await host.page.getByTestId('completion').nth(1).click();
    await host.page.keyboard.press('1');
    await host.page.keyboard.press('ArrowDown');
    await host.page.keyboard.press('t');
    assert.deepEqual(await ranksShown(host), ['', '1', '', '1', '']);

    const texts = host.page.getByTestId('completion-text');
    assert.equal(await host.page.locator('mark').count(), 0, 'off by default');
    await host.page.getByTestId('diff-toggle').check();
    // Against every other different completion: #1's words all occur in #3 or #5, so nothing of it is marked.
    assert.deepEqual(await texts.nth(0).locator('mark').allTextContents(), []);
    assert.deepEqual(await texts.nth(2).locator('mark').allTextContents(), ['grey']);
    assert.deepEqual(await texts.nth(4).locator('mark').allTextContents(), ['dives']);
    assert.deepEqual(await texts.nth(1).locator('mark').allTextContents(), ['d.'], 'a duplicate is compared with the completions that differ');
    await screenshot(host.page, 'ranking-duplicates-context');
    // Kept on for the next prompt.
    await host.send({ type: 'didChangeState', state: ready(first, 1) });
    await host.page.getByText('Some years ago').waitFor();
    assert.equal(await host.page.getByTestId('diff-toggle').isChecked(), true);
    assert.deepEqual(await texts.nth(0).locator('mark').allTextContents(), ['years', 'never mind how long.']);
    assert.equal(await host.page.getByTestId('context').first().textContent(), 'Call me Ishmael.', 'a short prompt is shown whole');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test("the header counts this panel's submissions by verdict: a skip is not a ranking", async () => {
  const host = await open(ready(first));
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.equal(await host.page.getByTestId('tally').count(), 0, 'nothing submitted yet');
    await host.send({ type: 'didChangeState', state: ready(second, 1, { tally: { ranked: 0, allBad: 0, skipped: 1 } }) });
    assert.equal(await host.page.getByTestId('tally').textContent(), 'Ranked 0 · skipped 1');
    await host.send({ type: 'didChangeState', state: ready(second, 2, { tally: { ranked: 7, allBad: 1, skipped: 1 } }) });
    assert.equal(await host.page.getByTestId('tally').textContent(), 'Ranked 7 · all bad 1 · skipped 1');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test("every colour comes from the theme: no literal colours in the stylesheet, and the new pieces follow the theme's variables", async () => {
  const css = fs.readFileSync(path.resolve(__dirname, '../../media/ranking.css'), 'utf8');
  assert.doesNotMatch(css, /#[0-9a-f]{3,8}\b|rgba?\(|hsla?\(/i, 'a literal colour in media/ranking.css');
  const host = await open(ready(item('b5', [' d.', ' d.', ' then it rained.'], 'The sea was calm an'), 1, { selection: 'ranked', tally: { ranked: 1, allBad: 0, skipped: 1 } }));
  try {
    await host.waitFor((m) => m.type === 'ready');
    // What VS Code puts on <html> for a theme, with a distinct colour per variable.
    const theme: Record<string, string> = {
      '--vscode-foreground': 'rgb(1, 1, 1)',
      '--vscode-editor-background': 'rgb(2, 2, 2)',
      '--vscode-descriptionForeground': 'rgb(3, 3, 3)',
      '--vscode-diffEditor-insertedTextBackground': 'rgb(4, 4, 4)',
      '--vscode-editorInfo-foreground': 'rgb(5, 5, 5)',
      '--vscode-textBlockQuote-background': 'rgb(6, 6, 6)',
      '--vscode-badge-background': 'rgb(7, 7, 7)',
    };
    await host.page.evaluate(`for (const [k, v] of Object.entries(${JSON.stringify(theme)})) document.documentElement.style.setProperty(k, v)`);
    await host.page.getByTestId('diff-toggle').check();
    const style = (selector: string, property: string): Promise<string> =>
      host.page.evaluate(
        `(() => { const e = document.querySelector(${JSON.stringify(selector)}); return getComputedStyle(e.shadowRoot?.querySelector('.root') ?? e)[${JSON.stringify(property)}]; })()`,
      );
    assert.equal(await style('body', 'color'), 'rgb(1, 1, 1)');
    assert.equal(await style('body', 'backgroundColor'), 'rgb(2, 2, 2)');
    assert.equal(await style('[data-testid="context"]', 'color'), 'rgb(3, 3, 3)');
    assert.equal(await style('[data-testid="tally"]', 'color'), 'rgb(3, 3, 3)');
    assert.equal(await style('mark', 'backgroundColor'), 'rgb(4, 4, 4)');
    assert.equal(await style('[data-testid="selection-notice"]', 'borderLeftColor'), 'rgb(5, 5, 5)');
    assert.equal(await style('[data-testid="selection-notice"]', 'backgroundColor'), 'rgb(6, 6, 6)');
    assert.equal(await style('[data-testid="same-as"]', 'backgroundColor'), 'rgb(7, 7, 7)');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('loading, empty (with Generate) and error states; stray messages are ignored', async () => {
  const host = await open({ status: 'loading', message: 'Generating completions…', progress: { done: 0, total: 0 }, guidelines: '', save: { state: 'idle' } });
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.equal(await host.page.getByTestId('loading').textContent(), 'Generating completions…');
    await host.page.evaluate(`window.postMessage({ type: 'didChangeState' }, '*'); window.postMessage('x', '*');`);
    await host.send({ type: 'didChangeState', state: { status: 'empty', progress: { done: 3, total: 3 }, guidelines: '', save: { state: 'idle' } } });
    await host.page.getByTestId('generate').click();
    await host.waitFor((m) => m.type === 'generate');
    await host.send({
      type: 'didChangeState',
      state: {
        status: 'untrusted',
        message: 'This workspace is not trusted: RLHF Workbench does not load or sample models here.',
        progress: { done: 0, total: 0 },
        guidelines: '',
        save: { state: 'idle' },
      },
    });
    assert.match((await host.page.getByTestId('error').textContent()) ?? '', /not trusted/);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('isRankingCommand rejects malformed and extra-field messages', () => {
  const ok: SubmitCommand = { type: 'submit', batchId: 'b1', verdict: 'ranked', completionIds: ['a', 'b'], ranks: [1, 1] };
  assert.ok(isRankingCommand(ok));
  assert.ok(isRankingCommand({ type: 'submit', batchId: 'b1', verdict: 'skip', completionIds: ['a', 'b'] }));
  assert.ok(!isRankingCommand({ ...ok, ranks: [1, 3] }), 'rank above K');
  assert.ok(!isRankingCommand({ ...ok, ranks: [1] }), 'one rank short');
  assert.ok(!isRankingCommand({ ...ok, completionIds: ['a', 'a'] }), 'duplicate ids');
  assert.ok(!isRankingCommand({ ...ok, batchId: '../../etc' }), 'unsafe id');
  assert.ok(!isRankingCommand({ ...ok, extra: 1 }), 'extra field');
  assert.ok(!isRankingCommand({ type: 'submit', batchId: 'b1', verdict: 'skip', completionIds: ['a', 'b'], ranks: [1, 2] }), 'ranks with skip');
  assert.ok(!isRankingCommand({ ...ok, note: 'x'.repeat(10_001) }), 'note too long');
  assert.ok(!isRankingCommand({ type: 'undoSubmit' }));
  assert.ok(!isRankingCommand({ type: 'ready', x: 1 }));
  assert.ok(!isRankingCommand(null) && !isRankingCommand([]) && !isRankingCommand('submit'));
});
