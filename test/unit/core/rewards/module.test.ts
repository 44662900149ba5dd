/**
 * Reward modules from the workspace: bundled with their imports, run in a worker, and whatever
 * they do wrong — throw, hang, leak memory, return NaN or the wrong number of scores — reported
 * with the file, the export and the sample, those samples skipped (null), and the next batch
 * scored by a live (or fresh) worker. Problems a user can fix before the run (a missing file,
 * a syntax error, a missing export, a throw at load) are UserErrors that say where.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRewardFunctions } from '../../../../src/core/rewards/load';
import type { ModuleRewardSpec } from '../../../../src/core/rewards/config';
import type { RewardFunction, RewardProblem } from '../../../../src/core/rewards/types';
import { isUserError } from '../../../../src/core/errors';
import { rewardFileOf, rewardTemplate } from '../../../../src/extension/project/rewardTemplate';
import { problems, samples, testWorkspace } from './workspace';

/** One module reward from `file` (relative to .rlhf/), trusted; disposed and the workspace removed after `body`. */
async function withModule(files: Record<string, string>, spec: Partial<ModuleRewardSpec>, body: (f: RewardFunction) => Promise<void>): Promise<void> {
  const ws = testWorkspace();
  let fns: RewardFunction[] = [];
  try {
    for (const [rel, text] of Object.entries(files)) ws.write(rel, text);
    fns = await loadRewardFunctions([{ type: 'module', file: Object.keys(files)[0] as string, ...spec }], { workspaceRoot: ws.root, trusted: true });
    await body(fns[0] as RewardFunction);
  } finally {
    await Promise.all(fns.map((f) => f.dispose()));
    ws.remove();
  }
}

async function loadError(files: Record<string, string>, spec: Partial<ModuleRewardSpec> = {}, file?: string): Promise<Error> {
  const ws = testWorkspace();
  try {
    for (const [rel, text] of Object.entries(files)) ws.write(rel, text);
    await loadRewardFunctions([{ type: 'module', file: file ?? (Object.keys(files)[0] as string), ...spec }], { workspaceRoot: ws.root, trusted: true });
  } catch (err) {
    assert.ok(isUserError(err), `a UserError, got ${String(err)}`);
    return err as Error;
  } finally {
    ws.remove();
  }
  assert.fail('the module loaded');
}

test('a TypeScript module and its local import are bundled and score a batch, named export and async included', async () => {
  const files = {
    'rewards/polite.ts': `import { WORDS } from './words';\nimport * as os from 'node:os';\nexport default function (samples: { completion: string }[]): number[] {\n  return samples.map((s) => WORDS.filter((w) => s.completion.includes(w)).length + (os.EOL ? 0 : 1));\n}\nexport async function later(samples: { prompt: string }[]): Promise<number[]> {\n  await new Promise((r) => setTimeout(r, 5));\n  return samples.map((s) => s.prompt.length);\n}\n`,
    'rewards/words.ts': `export const WORDS: string[] = ['please', 'thanks'];\n`,
  };
  await withModule(files, {}, async (f) => {
    assert.equal(f.name, 'polite');
    assert.equal(f.weight, 1);
    const p = problems();
    assert.deepEqual(await f.score(samples('please and thanks', 'no', 'thanks'), p.report), [2, 0, 1]);
    assert.deepEqual(await f.score([], p.report), []);
    assert.deepEqual(p.list, []);
  });
  await withModule(files, { export: 'later', weight: 0.5 }, async (f) => {
    assert.equal(f.name, 'polite.later');
    assert.equal(f.weight, 0.5);
    assert.deepEqual(await f.score(samples('a', 'b'), problems().report), [8, 8]);
  });
  // A CommonJS module whose export is the function itself.
  await withModule({ 'rewards/cjs.js': 'module.exports = (samples) => samples.map(() => 0.25);\n' }, {}, async (f) => {
    assert.deepEqual(await f.score(samples('x'), problems().report), [0.25]);
  });
});

test('a function that throws is reported with the file, the export, the message and the line; the batch is skipped and the worker lives on', async () => {
  const source = `export default function (samples: { completion: string }[]): number[] {\n  if (samples.some((s) => s.completion === 'boom')) {\n    throw new RangeError('no booms allowed');\n  }\n  return samples.map(() => 1);\n}\n`;
  await withModule({ 'rewards/throws.ts': source }, {}, async (f) => {
    const p = problems();
    assert.deepEqual(await f.score(samples('a', 'boom', 'c'), p.report), [null, null, null]);
    assert.equal(p.list.length, 1);
    const [problem] = p.list;
    assert.equal(problem?.name, 'throws');
    assert.equal(problem?.source, '.rlhf/rewards/throws.ts');
    assert.equal(problem?.sample, null);
    assert.match(problem?.message ?? '', /^default\(\) threw RangeError: no booms allowed \(at \.rlhf\/rewards\/throws\.ts:3:\d+\); the batch's 3 samples are skipped$/);
    assert.deepEqual(await f.score(samples('a'), p.report), [1]);
    assert.equal(p.list.length, 1);
  });
  // A rejected promise is the same as a throw.
  await withModule({ 'rewards/rejects.ts': `export default async function (): Promise<number[]> {\n  throw 'just a string';\n}\n` }, {}, async (f) => {
    const p = problems();
    assert.deepEqual(await f.score(samples('a'), p.report), [null]);
    assert.match(p.list[0]?.message ?? '', /threw a non-Error value: "just a string"/);
  });
});

test('a function that hangs is stopped at its time limit, reported, and a fresh worker scores the next batch', async () => {
  const source = `export default function (samples: { completion: string }[]): number[] {\n  if (samples.some((s) => s.completion === 'hang')) for (;;) {}\n  return samples.map((s) => s.completion.length);\n}\n`;
  await withModule({ 'rewards/hangs.ts': source }, { timeoutMs: 300 }, async (f) => {
    const p = problems();
    const started = Date.now();
    assert.deepEqual(await f.score(samples('hang', 'ok'), p.report), [null, null]);
    assert.ok(Date.now() - started < 5_000, `stopped in ${Date.now() - started} ms`);
    assert.equal(p.list.length, 1);
    assert.equal(p.list[0]?.sample, null);
    assert.match(p.list[0]?.message ?? '', /^default\(\) did not finish within 300 ms \("timeoutMs"\); its worker was stopped and a fresh one scores the next batch/);
    assert.deepEqual(await f.score(samples('ok', 'fine'), p.report), [2, 4]);
    assert.equal(p.list.length, 1);
  });
});

test('a function that leaks memory runs out at its limit, is reported, and the next batch works', async () => {
  const source = `const kept: number[][] = [];\nexport default function (samples: { completion: string }[]): number[] {\n  if (samples.some((s) => s.completion === 'leak')) for (;;) kept.push(new Array(100_000).fill(1.5));\n  return samples.map(() => kept.length);\n}\n`;
  await withModule({ 'rewards/leaks.ts': source }, { memoryMb: 32, timeoutMs: 60_000 }, async (f) => {
    const p = problems();
    assert.deepEqual(await f.score(samples('leak', 'x'), p.report), [null, null]);
    assert.equal(p.list.length, 1);
    assert.match(p.list[0]?.message ?? '', /^default\(\) ran out of memory \(the worker's JS heap limit is 32 MB; raise "memoryMb" if it needs more\); a fresh worker scores the next batch/);
    // The fresh worker starts with an empty array.
    assert.deepEqual(await f.score(samples('x'), p.report), [0]);
  });
});

test('NaN at one index skips only that sample; a wrong length or a non-array skips the batch', async () => {
  const source = `export default function (samples: { completion: string }[]): unknown {\n  if (samples[0]?.completion === 'short') return [1];\n  if (samples[0]?.completion === 'object') return { score: 1 };\n  return samples.map((s, i) => (i === 2 ? NaN : i === 3 ? '7' : 1));\n}\n`;
  await withModule({ 'rewards/bad.ts': source }, {}, async (f) => {
    /** The batch's scores and what was reported about it. */
    const scored = async (...completions: string[]): Promise<[(number | null)[], RewardProblem[]]> => {
      const p = problems();
      return [await f.score(samples(...completions), p.report), p.list];
    };
    assert.deepEqual(await scored('a', 'b', 'c'), [
      [1, 1, null],
      [{ name: 'bad', source: '.rlhf/rewards/bad.ts', sample: 2, message: 'default() returned NaN for sample 2, not a finite number; the sample is skipped' }],
    ]);
    const [scores, reported] = await scored('a', 'b', 'c', 'd');
    assert.deepEqual(scores, [1, 1, null, null]);
    assert.deepEqual(
      reported.map((q) => [q.sample, q.message]),
      [
        [2, 'default() returned NaN for sample 2, not a finite number; the sample is skipped'],
        [3, 'default() returned "7" for sample 3, not a finite number; the sample is skipped'],
      ],
    );
    assert.deepEqual(await scored('short', 'b'), [
      [null, null],
      [{ name: 'bad', source: '.rlhf/rewards/bad.ts', sample: null, message: "default() returned 1 scores for 2 samples; the batch's 2 samples are skipped" }],
    ]);
    const [none, why] = await scored('object');
    assert.deepEqual(none, [null]);
    assert.match(why[0]?.message ?? '', /^default\(\) returned an object, not an array of numbers/);
  });
});

test("a module that posts to the worker's port itself gets its batch skipped, and cannot crash the run", async () => {
  const source = `import { parentPort } from 'node:worker_threads';\nlet calls = 0;\nexport default function (samples: unknown[]): number[] {\n  calls++;\n  parentPort?.postMessage(null);\n  if (calls === 1) parentPort?.postMessage({ type: 'scores', id: 1, scores: 'all', bad: 3 });\n  return samples.map(() => calls);\n}\n`;
  await withModule({ 'rewards/posts.ts': source }, {}, async (f) => {
    const p = problems();
    assert.deepEqual(await f.score(samples('a', 'b'), p.report), [null, null]);
    assert.match(p.list[0]?.message ?? '', /^default\(\) sent a reply that is not scores/);
    assert.deepEqual(await f.score(samples('a'), p.report), [2]);
  });
});

test('a cancelled batch rejects with an abort error, and the next batch runs on a fresh worker', async () => {
  const source = `export default function (samples: { completion: string }[]): number[] {\n  if (samples.some((s) => s.completion === 'hang')) for (;;) {}\n  return samples.map(() => 3);\n}\n`;
  await withModule({ 'rewards/cancel.ts': source }, { timeoutMs: 30_000 }, async (f) => {
    const p = problems();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(f.score(samples('hang'), p.report, controller.signal), { name: 'AbortError' });
    assert.deepEqual(p.list, []);
    assert.deepEqual(await f.score(samples('x'), p.report), [3]);
  });
});

test('a module that cannot run is a UserError naming the file and saying why, before the run', async () => {
  assert.match((await loadError({}, {}, 'rewards/missing.ts')).message, /^\.rlhf\/rewards\/missing\.ts: reward module not found\. Create it \(RLHF: New Reward Function\)/);
  const syntax = await loadError({ 'rewards/broken.ts': 'export default function (s) {\n  return s.map((x) => x +);\n}\n' });
  assert.match(syntax.message, /^\.rlhf\/rewards\/broken\.ts: the reward module does not build:\n {2}\.rlhf\/rewards\/broken\.ts:2:\d+: Unexpected "\)"/);
  const unresolved = await loadError({ 'rewards/imports.ts': "import { x } from './nowhere';\nexport default () => [x];\n" });
  assert.match(unresolved.message, /\.rlhf\/rewards\/imports\.ts:1:\d+: Could not resolve "\.\/nowhere"/);
  const named = await loadError({ 'rewards/named.ts': 'export function a() { return []; }\nexport const b = 1;\n' });
  assert.equal(named.message, '.rlhf/rewards/named.ts: reward module has no default export that is a function (its exported functions: a).');
  const wrong = await loadError({ 'rewards/named.ts': 'export default () => [];\n' }, { export: 'score' });
  assert.equal(wrong.message, '.rlhf/rewards/named.ts: reward module has no exported function "score" (its exported functions: default).');
  const top = await loadError({ 'rewards/top.ts': "const x: number = 1;\nif (x) throw new Error('not configured');\nexport default () => [];\n" });
  assert.match(top.message, /^\.rlhf\/rewards\/top\.ts: reward module threw while loading: Error: not configured \(at \.rlhf\/rewards\/top\.ts:2:\d+\)\.$/);
});

test('the file "RLHF: New Reward Function" writes bundles and rewards completions that end with a period', async () => {
  await withModule({ [rewardFileOf('endsWithPeriod')]: rewardTemplate('endsWithPeriod') }, {}, async (f) => {
    assert.equal(f.name, 'endsWithPeriod');
    const p = problems();
    assert.deepEqual(await f.score(samples('It ends here.  ', 'It does not', ''), p.report), [1, 0, 0]);
    assert.deepEqual(p.list, []);
  });
});
