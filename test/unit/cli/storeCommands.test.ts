import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/command';
import { Project } from '../../../src/core/store/project';

function capture(cwd: string): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), cwd, signal: new AbortController().signal }, out, err };
}

function temp(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-cli-store-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

test('init, import prompts, import preferences, stats --json, export preferences: the whole CLI flow', async () => {
  const { dir, cleanup } = temp();
  try {
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    let c = capture(dir);
    assert.equal(await runCli(['init', 'ws'], c.io), 0, c.err.join('\n'));
    assert.match(c.out.join('\n'), /Created .*ws\/\.rlhf/);
    assert.equal(await runCli(['init', '--project', ws], capture(dir).io), 1, 'a second init is refused');
    // A folder that does not exist yet is created, as `git init DIR` does.
    assert.equal(await runCli(['init', 'new/nested'], capture(dir).io), 0);
    assert.ok(fs.existsSync(path.join(dir, 'new', 'nested', '.rlhf', 'project.json')));

    fs.writeFileSync(path.join(dir, 'prompts.txt'), 'Greet me\nSay bye\nGreet me\n');
    c = capture(ws);
    assert.equal(await runCli(['import', 'prompts', path.join(dir, 'prompts.txt')], c.io), 0, c.err.join('\n'));
    assert.equal(c.out.join('\n'), 'Read 3 prompts (txt): 2 added, 1 already present.');

    const trl = path.join(dir, 'prefs.jsonl');
    const rows = [
      { prompt: 'Greet me', chosen: 'hello', rejected: 'hi', score: 1 },
      { prompt: 'Greet me', chosen: 'hello', rejected: 'yo' },
      {
        prompt: [
          { role: 'system', content: 's' },
          { role: 'user', content: 'u' },
        ],
        chosen: [{ role: 'assistant', content: 'a' }],
        rejected: [{ role: 'assistant', content: 'b' }],
      },
    ];
    fs.writeFileSync(trl, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    c = capture(dir);
    assert.equal(await runCli(['import', 'preferences', trl, '--format', 'trl', '--project', ws, '--labeler', 'alice'], c.io), 0, c.err.join('\n'));
    // The system + user conversation is a chat prompt of its own (a new prompt).
    assert.match(c.out.join('\n'), /Read 3 rows: 3 pairs as 'alice' \(1 new prompts, 3 new batches, 3 new rankings\), 0 skipped\./);
    assert.match(c.err.join('\n'), /not kept: 1 × field 'score'/);
    c = capture(dir);
    assert.equal(await runCli(['import', 'preferences', trl, '--format', 'trl', '--project', ws, '--labeler', 'bob'], c.io), 0);

    c = capture(ws);
    assert.equal(await runCli(['stats', '--json'], c.io), 0, c.err.join('\n'));
    const stats = JSON.parse(c.out.join('\n')) as Record<string, unknown> & { agreement: Record<string, unknown>; labelers: { labeler: string }[] };
    for (const key of ['prompts', 'completions', 'rankings', 'pairs', 'labelers', 'agreement']) assert.ok(key in stats, key);
    assert.deepEqual([stats.prompts, stats.completions, stats.rankings, stats.pairs], [3, 6, 6, 6]);
    assert.deepEqual(
      stats.labelers.map((l) => l.labeler),
      ['alice', 'bob'],
    );
    assert.equal(stats.agreement.pairwiseAgreement, 1);
    c = capture(ws);
    assert.equal(await runCli(['stats'], c.io), 0);
    assert.match(c.out.join('\n'), /^pairs:\s+6$/m);
    assert.match(c.out.join('\n'), /alice vs bob: 3 pairs, agreement 1\.000/);

    const out = path.join(dir, 'out.jsonl');
    c = capture(ws);
    assert.equal(await runCli(['export', 'preferences', '--format', 'trl', '--conversational', '--out', out], c.io), 0, c.err.join('\n'));
    assert.match(c.out.join('\n'), /Wrote 6 pairs/);
    assert.match(c.err.join('\n'), /not kept: 2 × labelers, merged/);
    const first = JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[0] as string) as { chosen: { content: string }[] };
    assert.equal(first.chosen[0]?.content, 'hello');
    // The chat prompt goes back out as its messages, system message first.
    const rowsOut = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { prompt: { role: string; content: string }[] });
    assert.ok(rowsOut.some((r) => r.prompt[0]?.role === 'system' && r.prompt[0]?.content === 's' && r.prompt[1]?.content === 'u'));
    c = capture(ws);
    assert.equal(await runCli(['export', 'preferences', '--format', 'hh', '--out', out], c.io), 0);
    assert.match(fs.readFileSync(out, 'utf8'), /^\{"chosen":"\\n\\nHuman: Greet me\\n\\nAssistant: hello"/);
  } finally {
    cleanup();
  }
});

test('store commands: usage errors exit 2, user errors exit 1 with the reason, torn logs are reported', async () => {
  const { dir, cleanup } = temp();
  try {
    const cases: [string[], number, RegExp][] = [
      [['stats'], 1, /No RLHF project in .*rlhf init/],
      [['import', 'prompts'], 2, /expected one FILE/],
      [['import', 'preferences', 'x.jsonl'], 2, /--format must be trl or hh/],
      [['import', 'preferences', 'x.jsonl', '--format', 'csv'], 2, /--format must be trl or hh, got 'csv'/],
      [['export', 'preferences', '--format', 'trl'], 2, /--out FILE is required/],
      [['export', 'preferences', '--format', 'hh', '--out', 'o', '--conversational'], 2, /--conversational applies to --format trl only/],
      [['init', 'a', 'b'], 2, /at most one folder/],
      [['init', 'a-file'], 1, /is not a folder/],
    ];
    fs.writeFileSync(path.join(dir, 'a-file'), 'not a folder');
    for (const [argv, code, message] of cases) {
      const c = capture(dir);
      assert.equal(await runCli(argv, c.io), code, argv.join(' '));
      assert.match(c.err.join('\n'), message, argv.join(' '));
    }
    const project = await Project.create(dir, { labeler: 'alice' });
    fs.appendFileSync(path.join(project.paths.rankings, 'alice.jsonl'), '{"v":1,"id":');
    const c = capture(dir);
    assert.equal(await runCli(['stats', '--json'], c.io), 0);
    assert.match(c.err.join('\n'), /warning: .*alice\.jsonl:1: the last line was damaged .* moved to .*alice\.jsonl\.corrupt/);
    assert.equal((JSON.parse(c.out.join('\n')) as { repairs: unknown[] }).repairs.length, 1);
    const bad = capture(dir);
    fs.writeFileSync(path.join(dir, 'bad.txt'), Buffer.from([0x61, 0x0a, 0xff, 0x0a]));
    assert.equal(await runCli(['import', 'prompts', 'bad.txt'], bad.io), 1);
    assert.match(bad.err.join('\n'), /bad\.txt:2: not valid UTF-8/);
  } finally {
    cleanup();
  }
});

test('rlhf --help lists the store commands', async () => {
  const c = capture(process.cwd());
  assert.equal(await runCli(['--help'], c.io), 0);
  for (const name of ['init', 'import prompts', 'import preferences', 'export preferences', 'stats']) assert.match(c.out.join('\n'), new RegExp(`^  ${name} `, 'm'));
});
