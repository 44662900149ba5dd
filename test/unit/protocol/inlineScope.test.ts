/** Where inline completions may run: workspace files only, never .rlhf/, .vscode/, .git/ or settings files, on either separator. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inlineRefusal } from '../../../src/protocol/inlineScope';

test('workspace files are allowed; outside, private folders and settings files are refused', () => {
  const ws = '/home/me/proj';
  assert.equal(inlineRefusal('/home/me/proj/notes.md', ws), undefined);
  assert.equal(inlineRefusal('/home/me/proj/docs/a/b.txt', ws), undefined);
  assert.equal(inlineRefusal('/home/me/proj/docs/../notes.md', ws), undefined);
  for (const [file, reason] of [
    ['/home/me/.config/Code/User/settings.json', /outside the workspace folder/],
    ['/home/me/proj-other/notes.md', /outside the workspace folder/],
    ['/home/me/proj/../secret.md', /outside the workspace folder/],
    ['/home/me/proj', /outside the workspace folder/],
    ['notes.md', /outside the workspace folder/],
    ['/home/me/proj/.rlhf/configs/ppo-default.json', /is in \.rlhf\//],
    ['/home/me/proj/.vscode/settings.json', /is in \.vscode\//],
    ['/home/me/proj/.git/COMMIT_EDITMSG', /is in \.git\//],
    ['/home/me/proj/sub/settings.json', /is a settings file/],
    ['/home/me/proj/all.code-workspace', /is a settings file/],
  ] as const) {
    assert.match(inlineRefusal(file, ws) ?? 'allowed', reason, file);
  }
});

test('Windows paths: either separator, drive letters without case', () => {
  assert.equal(inlineRefusal('c:\\Users\\me\\proj\\notes.md', 'C:\\Users\\me\\proj'), undefined);
  assert.match(inlineRefusal('C:\\Users\\me\\proj\\.rlhf\\project.json', 'C:\\Users\\me\\proj') ?? '', /is in \.rlhf\//);
  assert.match(inlineRefusal('D:\\proj\\notes.md', 'C:\\Users\\me\\proj') ?? '', /outside/);
});
