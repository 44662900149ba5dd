/**
 * The opt-in inline completion provider in a real VS Code: with rlhf.inlineCompletions.enabled
 * on, typing in a settings file or in .rlhf/ shows nothing and stores nothing; typing in a .txt
 * file of the demo project shows the policy's continuation as ghost text;
 * accepting it (Tab) records an implicit preference, kept apart from human rankings and out of
 * the ranking queue. Runs in the high-contrast theme (screenshots of the sidebar and panel).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Frame } from 'playwright-core';
import { withSession } from './harness';

const byId = (frame: Frame, id: string) => frame.locator(`[data-testid="${id}"]`);

test('inline completions: ghost text from the policy; accepting it records an implicit preference', async () => {
  await withSession(
    { name: 'inline', backend: 'wasm', settings: { 'rlhf.inlineCompletions.enabled': true, 'editor.inlineSuggest.enabled': true, 'workbench.colorTheme': 'Default High Contrast' } },
    async (s) => {
      await s.runCommand('RLHF: Open Demo Project');
      const sidebar = await s.webviewFrame('[data-testid="count-implicit"]');
      const ghost = s.page.locator('.ghost-text-decoration, .ghost-text').first();
      const promptsFile = join(s.workspace, '.rlhf', 'prompts.jsonl');
      const promptsBefore = readFileSync(promptsFile, 'utf8');
      // Quick Open: the palette without '>' searches files.
      const openFile = async (name: string): Promise<void> => {
        await s.page.keyboard.press('F1');
        const input = s.page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor({ state: 'visible', timeout: 10_000 });
        await input.fill(name);
        await s.page
          .locator('.quick-input-widget .monaco-list-row', { hasText: name.split('/').pop()! })
          .first()
          .click({ timeout: 30_000 });
        await s.page.locator('.monaco-editor .view-lines').first().click();
        await s.page.keyboard.press('Control+End');
      };
      // A settings file and the project's own files get no ghost text and store nothing.
      mkdirSync(join(s.workspace, '.vscode'), { recursive: true });
      writeFileSync(join(s.workspace, '.vscode', 'settings.json'), '{\n  "editor.fontSize": 14,\n  ');
      writeFileSync(join(s.workspace, '.rlhf', 'scratch.md'), 'Call me Ishmael. Some years ago');
      // Written before the first Quick Open, whose file list is read once and then kept.
      writeFileSync(join(s.workspace, 'notes.txt'), 'Call me Ishmael. Some years ago');
      for (const name of ['.vscode/settings.json', '.rlhf/scratch.md']) {
        await openFile(name);
        await s.page.keyboard.type(name.endsWith('.json') ? '"editor.tabSize": ' : ', never mind how');
        await ghost.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => undefined);
        assert.ok(!(await ghost.isVisible()), `ghost text appeared in ${name}`);
        await s.page.keyboard.press('Escape');
      }
      assert.equal(readFileSync(promptsFile, 'utf8'), promptsBefore, 'text from a settings file or .rlhf/ was stored');

      await openFile('notes.txt');
      // Typing triggers the provider; retry a few words in case a sample came back empty.
      for (let attempt = 0; attempt < 5 && !(await ghost.isVisible()); attempt++) {
        await s.page.keyboard.type(attempt === 0 ? ', never mind how' : ' the');
        await ghost.waitFor({ state: 'visible', timeout: 20_000 }).catch(() => undefined);
      }
      assert.ok(await ghost.isVisible(), 'no ghost text appeared');
      await s.screenshot('ghost-text');
      await s.page.keyboard.press('Tab');

      const dir = join(s.workspace, '.rlhf', 'rankings');
      const until = Date.now() + 30_000;
      let implicit: { source: string; verdict: string }[] = [];
      while (Date.now() < until) {
        implicit = readdirSync(dir)
          .filter((f) => f.endsWith('.jsonl'))
          .flatMap((f) =>
            readFileSync(join(dir, f), 'utf8')
              .trim()
              .split('\n')
              .filter((l) => l !== ''),
          )
          .map((l) => JSON.parse(l) as { source: string; verdict: string })
          .filter((e) => e.source === 'implicit' && e.verdict === 'ranked');
        if (implicit.length > 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(implicit.length >= 1, 'the accepted suggestion was not recorded as an implicit preference');
      const until2 = Date.now() + 30_000;
      while (Date.now() < until2 && !/^[1-9]\d* \(not used in training\)$/.test(((await byId(sidebar, 'count-implicit').textContent()) ?? '').trim())) {
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(((await byId(sidebar, 'count-implicit').textContent()) ?? '').trim(), /^[1-9]\d* \(not used in training\)$/);
      assert.equal(((await byId(sidebar, 'count-ranked').textContent()) ?? '').trim(), '0', 'implicit preferences are not human rankings');

      // The implicit batch is not in the human ranking queue; generated ones are. (A high-contrast
      // screenshot of the panel, for the theme.)
      await s.runCommand('RLHF: Generate Completions');
      const until3 = Date.now() + 120_000;
      while (Date.now() < until3 && Number(((await byId(sidebar, 'count-unranked').textContent()) ?? '').trim()) === 0) {
        await new Promise((r) => setTimeout(r, 250));
      }
      await s.runCommand('RLHF: Start Ranking');
      const panel = await s.webviewFrame('[data-testid="completion"]');
      assert.doesNotMatch((await byId(panel, 'prompt').textContent()) ?? '', /Ishmael/);
      await s.screenshot('ranking-high-contrast');
    },
  );
});
