/**
 * Loading a config's rewards: an untrusted workspace never runs a module or a command (refused
 * before anything is bundled or spawned, with a message naming it); names are unique (given
 * twice: an error; defaults numbered); the reward model comes from the caller under the entry's
 * name and weight; the built-in regex and length rewards give the values their definitions say.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rewardsSchema } from '../../../../src/core/rewards/config';
import type { RewardSpec } from '../../../../src/core/rewards/config';
import { formatProblem, loadRewardFunctions } from '../../../../src/core/rewards/load';
import type { RewardFunction } from '../../../../src/core/rewards/types';
import { problems, samples, testWorkspace } from './workspace';

test('an untrusted workspace never runs a reward module or a command', async () => {
  const ws = testWorkspace();
  try {
    const marker = path.join(ws.root, 'ran');
    // Either would leave the marker file if it ran: the module at load, the command when scoring.
    ws.write('rewards/side.ts', `import * as fs from 'node:fs';\nfs.writeFileSync(${JSON.stringify(marker)}, 'module');\nexport default (s: unknown[]) => s.map(() => 1);\n`);
    const command = `touch ${marker}`;
    const module: RewardSpec = { type: 'module', file: 'rewards/side.ts' };
    await assert.rejects(loadRewardFunctions([{ type: 'length' }, module], { workspaceRoot: ws.root, trusted: false }), {
      name: 'UserError',
      message:
        ".rlhf/rewards/side.ts: this reward module is code from the workspace, so it runs only in a trusted workspace. Trust the workspace (Manage Workspace Trust) to use it, or remove it from the config's rewards.",
    });
    await assert.rejects(loadRewardFunctions([{ type: 'command', command }], { workspaceRoot: ws.root, trusted: false }), {
      name: 'UserError',
      message: new RegExp(`^The command reward \`touch .*ran\` runs a shell command the workspace's config names, so it runs only in a trusted workspace\\.`),
    });
    assert.equal(fs.existsSync(marker), false, 'nothing ran');
    // Built-ins that run no workspace code load anyway.
    const fns = await loadRewardFunctions([{ type: 'regex', pattern: 'x' }, { type: 'length' }], { workspaceRoot: ws.root, trusted: false });
    assert.deepEqual(
      fns.map((f) => f.name),
      ['regex', 'length'],
    );
    // Trusted, the same module runs (so the test above could have failed).
    const [trusted] = await loadRewardFunctions([module], { workspaceRoot: ws.root, trusted: true });
    assert.equal(fs.readFileSync(marker, 'utf8'), 'module');
    await trusted?.dispose();
  } finally {
    ws.remove();
  }
});

test('names are unique: defaults are numbered, a name given twice is an error; weights default to 1', async () => {
  const ws = testWorkspace();
  try {
    const fns = await loadRewardFunctions(
      [
        { type: 'regex', pattern: 'a' },
        { type: 'regex', pattern: 'b', name: 'regex-2', weight: -2 },
        { type: 'regex', pattern: 'c' },
        { type: 'length', name: 'short' },
      ],
      { workspaceRoot: ws.root, trusted: false },
    );
    assert.deepEqual(
      fns.map((f) => [f.name, f.weight]),
      [
        ['regex', 1],
        ['regex-2', -2],
        ['regex-3', 1],
        ['short', 1],
      ],
    );
    await assert.rejects(
      loadRewardFunctions(
        [
          { type: 'length', name: 'x' },
          { type: 'regex', pattern: 'a', name: 'x' },
        ],
        { workspaceRoot: ws.root, trusted: true },
      ),
      { name: 'UserError', message: /two entries are named "x"/ },
    );
  } finally {
    ws.remove();
  }
});

test('the reward model comes from the caller, under the entry name and weight; without one it is a UserError', async () => {
  const disposed: string[] = [];
  const model: RewardFunction = {
    name: 'inner',
    weight: 9,
    score: async (s, report) => {
      report({ name: 'inner', source: 'reward model', sample: 0, message: 'too long' });
      return s.map((x) => x.completion.length);
    },
    dispose: async () => void disposed.push('model'),
  };
  const [rm, len] = await loadRewardFunctions([{ type: 'rewardModel', weight: 0.5 }, { type: 'length' }], { workspaceRoot: '/w', trusted: false, rewardModel: () => model });
  assert.equal(rm?.name, 'rewardModel');
  assert.equal(rm?.weight, 0.5);
  assert.equal(len?.name, 'length');
  const p = problems();
  assert.deepEqual(await rm?.score(samples('abc'), p.report), [3]);
  assert.deepEqual(p.list, [{ name: 'rewardModel', source: 'reward model', sample: 0, message: 'too long' }]);
  assert.equal(formatProblem(p.list[0] as never), 'reward rewardModel (reward model), sample 0: too long');
  await rm?.dispose();
  assert.deepEqual(disposed, ['model']);
  await assert.rejects(loadRewardFunctions([{ type: 'rewardModel' }], { workspaceRoot: '/w', trusted: true }), {
    name: 'UserError',
    message: /"rewardModel" entry \(rewardModel\) is not available here/,
  });
});

test('regex: 1 on a match (anywhere, or the whole completion with match "full"), else 0', async () => {
  const [search, full, flags] = await loadRewardFunctions(
    [
      { type: 'regex', pattern: '\\d+' },
      { type: 'regex', pattern: '\\d+|yes', match: 'full' },
      { type: 'regex', pattern: '^answer: .+$', flags: 'im' },
    ],
    { workspaceRoot: '/w', trusted: false },
  );
  const batch = samples('42', 'it is 42', 'no digits', 'yes', 'first line\nANSWER: 7');
  const p = problems();
  assert.deepEqual(await search?.score(batch, p.report), [1, 1, 0, 0, 1]);
  assert.deepEqual(await full?.score(batch, p.report), [1, 0, 0, 1, 0]);
  assert.deepEqual(await flags?.score(batch, p.report), [0, 0, 0, 0, 1]);
  assert.deepEqual(p.list, []);
});

test('length: 0 up to target, -(len - target) / (max - target) between, -1 from max on, in code points or words', async () => {
  const [chars, words, byDefault] = await loadRewardFunctions([{ type: 'length', target: 10, max: 20 }, { type: 'length', target: 2, unit: 'words' }, { type: 'length' }], {
    workspaceRoot: '/w',
    trusted: false,
  });
  const p = problems();
  // 5, 10, 15, 12 (code points: each emoji is one), 25 characters.
  assert.deepEqual(await chars?.score(samples('x'.repeat(5), 'x'.repeat(10), 'x'.repeat(15), '😀'.repeat(12), 'x'.repeat(25)), p.report), [0, 0, -0.5, -0.2, -1]);
  // 2, 3, 4 words (max defaults to 2 × target = 4).
  assert.deepEqual(await words?.score(samples(' two  words ', 'one two\nthree', 'a b c d'), p.report), [0, -0.5, -1]);
  // target 200, max 400.
  assert.deepEqual(await byDefault?.score(samples('x'.repeat(200), 'x'.repeat(300)), p.report), [0, -0.5]);
});

test('the rewards schema: kinds, strict fields, valid patterns, max above target', () => {
  const ok = rewardsSchema.safeParse([
    { type: 'module', file: 'rewards/format.ts', export: 'score', weight: 2, timeoutMs: 500, memoryMb: 64 },
    { type: 'regex', pattern: '\\.$', flags: 'i', match: 'full' },
    { type: 'length', target: 50, max: 100, unit: 'words' },
    { type: 'command', command: 'npx tsc --noEmit {file}', extension: '.ts', timeoutMs: 20_000 },
    { type: 'rewardModel', path: '../runs/r/final', name: 'rm' },
  ]);
  assert.equal(ok.success, true, JSON.stringify(ok.error?.issues));
  const issue = (value: unknown): string => {
    const r = rewardsSchema.safeParse(value);
    assert.equal(r.success, false);
    return `${r.error?.issues[0]?.path.join('.')}: ${r.error?.issues[0]?.message}`;
  };
  assert.match(issue([{ type: 'regex', pattern: '(' }]), /^0\.pattern: is not a valid regular expression/);
  assert.match(issue([{ type: 'regex', pattern: 'a', flags: 'g' }]), /^0\.flags: RegExp flags/);
  assert.equal(issue([{ type: 'length', target: 10, max: 10 }]), '0.max: must be greater than target');
  assert.match(issue([{ type: 'module', file: 'rewards/format.py' }]), /^0\.file: a \.ts or \.js file/);
  assert.match(issue([{ type: 'module', file: 'a.ts', timeout: 5 }]), /^0: Unrecognized key: "timeout"/);
  assert.match(issue([{ type: 'command', command: 'true', name: 'a/b' }]), /^0\.name: letters, digits/);
  assert.match(issue([]), /^: Too small/);
});
