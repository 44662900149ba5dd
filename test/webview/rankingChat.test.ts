/**
 * The ranking app with a chat prompt: the messages are shown as one conversation (a role label
 * each, the system message dimmed), the completions as the assistant's replies without the
 * prompt's tail; ranking works as for a text prompt, and a text prompt after it is shown as text.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { RankingCommand, RankingItem, RankingNotification, RankingState, SubmitCommand } from '../../src/protocol/ranking';
import { launchBrowser, openWebview, screenshot } from './harness';

const messages = [
  { role: 'system', content: 'You are a terse assistant. <b>Never</b> ramble.' },
  { role: 'user', content: 'What is the capital of France?\nOne word, please.' },
] as const;
const chat: RankingItem = {
  batchId: 'b-chat',
  promptId: 'p-chat',
  prompt: 'system: You are a terse assistant. <b>Never</b> ramble.\nuser: What is the capital of France?\nOne word, please.\nassistant:',
  messages,
  completions: [
    { id: 'b-chat.0', text: 'Paris.' },
    { id: 'b-chat.1', text: 'The capital of France is Paris, a city on the Seine.' },
  ],
  model: '/models/qwen3-0.6b (project.json)',
};
const text: RankingItem = {
  batchId: 'b-text',
  promptId: 'p-text',
  prompt: 'Call me Ishmael.',
  completions: [
    { id: 'b-text.0', text: ' Some years ago.' },
    { id: 'b-text.1', text: ' The whale rose.' },
  ],
  model: '/models/tiny-default (project.json)',
};
const ready = (item: RankingItem, done = 0): RankingState => ({ status: 'ready', item, progress: { done, total: 2 }, guidelines: '', save: { state: 'idle' } });

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const isSubmit = (m: RankingCommand): m is SubmitCommand => m.type === 'submit';

test('a chat prompt is one conversation: role labels, the system message dimmed, replies without the prompt tail; a text prompt after it is text again', async () => {
  const host = await openWebview<RankingCommand, RankingNotification>(browser, 'ranking', ready(chat));
  try {
    await host.waitFor((m) => m.type === 'ready');
    // One prompt, shown as a conversation of two turns, in order, with their labels and exact text (never parsed as HTML).
    assert.equal(await host.page.getByTestId('prompt').count(), 1);
    assert.equal(await host.page.getByTestId('prompt').getAttribute('data-kind'), 'chat');
    const turns = host.page.getByTestId('turn');
    assert.deepEqual(await turns.evaluateAll((els) => els.map((e) => e.getAttribute('data-role'))), ['system', 'user']);
    assert.deepEqual(await host.page.getByTestId('role').allTextContents(), ['System', 'User']);
    assert.deepEqual(await turns.locator('.content').allTextContents(), [messages[0].content, messages[1].content]);
    assert.equal(await host.page.locator('[data-testid="prompt"] b').count(), 0, 'message text is text, not HTML');
    assert.equal(await host.page.getByTestId('prompt').textContent(), `System${messages[0].content}User${messages[1].content}`, 'the transcript text is not shown besides');

    // The system message is de-emphasised: the theme's description colour and italics; the user's is not.
    await host.page.evaluate(
      `document.documentElement.style.setProperty('--vscode-descriptionForeground', 'rgb(3, 3, 3)'); document.documentElement.style.setProperty('--vscode-foreground', 'rgb(1, 1, 1)')`,
    );
    const style = (selector: string, property: string): Promise<string> =>
      host.page.evaluate(`getComputedStyle(document.querySelector(${JSON.stringify(selector)}).querySelector('.content'))[${JSON.stringify(property)}]`);
    assert.equal(await style('[data-role="system"]', 'color'), 'rgb(3, 3, 3)');
    assert.equal(await style('[data-role="system"]', 'fontStyle'), 'italic');
    assert.equal(await style('[data-role="user"]', 'color'), 'rgb(1, 1, 1)');
    assert.equal(await style('[data-role="user"]', 'fontStyle'), 'normal');

    // The completions are replies: no prompt tail before them.
    assert.equal(await host.page.getByTestId('context').count(), 0);
    assert.deepEqual(await host.page.getByTestId('completion-text').allTextContents(), ['Paris.', 'The capital of France is Paris, a city on the Seine.']);
    await screenshot(host.page, 'ranking-chat');

    // Ranking is as for any prompt.
    await host.page.keyboard.press('1');
    await host.page.keyboard.press('2');
    await host.page.keyboard.press('Enter');
    assert.deepEqual(await host.waitFor(isSubmit), { type: 'submit', batchId: 'b-chat', verdict: 'ranked', completionIds: ['b-chat.0', 'b-chat.1'], ranks: [1, 2] });

    // The next, a text prompt: its text, no turns, and its tail before each completion again.
    await host.send({ type: 'didChangeState', state: ready(text, 1) });
    await host.page.locator('[data-testid="prompt"]:not([data-kind])').waitFor();
    assert.equal(await host.page.getByTestId('prompt').textContent(), 'Call me Ishmael.');
    assert.equal(await host.page.getByTestId('turn').count(), 0);
    assert.deepEqual(await host.page.getByTestId('context').allTextContents(), ['Call me Ishmael.', 'Call me Ishmael.']);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});
