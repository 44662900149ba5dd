/**
 * The command reward: 1 on exit code 0, else 0, with the completion in a temp file ({file},
 * RLHF_COMPLETION_FILE), the prompt in RLHF_PROMPT(_FILE), and the workspace as the working
 * folder. A command past its time limit has its whole process group killed (the shell and what it
 * started) and the sample is reported and skipped; the temp files are gone afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRewardFunctions } from '../../../../src/core/rewards/load';
import type { CommandRewardSpec } from '../../../../src/core/rewards/config';
import { problems, samples, testWorkspace } from './workspace';

const posix = process.platform !== 'win32';

async function commandFn(root: string, spec: Omit<CommandRewardSpec, 'type'>) {
  const [f] = await loadRewardFunctions([{ type: 'command', ...spec }], { workspaceRoot: root, trusted: true });
  assert.ok(f);
  return f;
}

/** Whether a process is still running (a zombie, killed but not yet reaped, counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

test('exit code 0 rewards 1 and any other 0; the command sees the completion, the prompt and the workspace', { skip: !posix && 'POSIX shell' }, async () => {
  const ws = testWorkspace();
  try {
    const f = await commandFn(ws.root, { command: 'grep -q "^ok" {file}', extension: '.ts' });
    assert.equal(f.name, 'command');
    const p = problems();
    assert.deepEqual(await f.score(samples('ok then', 'not ok', 'ok'), p.report), [1, 0, 1]);
    assert.deepEqual(p.list, []);

    const seen = path.join(ws.root, 'seen.txt');
    const env = await commandFn(ws.root, {
      command: `printf '%s|%s|%s|%s|%s' "$(cat "$RLHF_COMPLETION_FILE")" "$RLHF_PROMPT" "$(cat "$RLHF_PROMPT_FILE")" "$(basename {file})" "$PWD" > seen.txt; exit 3`,
    });
    assert.deepEqual(await env.score([{ prompt: 'the prompt', completion: "it's done" }], p.report), [0]);
    assert.equal(fs.readFileSync(seen, 'utf8'), `it's done|the prompt|the prompt|completion.txt|${fs.realpathSync(ws.root)}`);
    assert.deepEqual(p.list, []);
  } finally {
    ws.remove();
  }
});

test('a command past its timeout has its process group killed, is reported, and leaves no temp file', { skip: !posix && 'POSIX process groups' }, async () => {
  const ws = testWorkspace();
  try {
    const pids = path.join(ws.root, 'pids');
    const command = `echo {file} > ${pids}.file; sleep 30 & echo "$$ $!" > ${pids}; wait`;
    const f = await commandFn(ws.root, { command, timeoutMs: 500 });
    const p = problems();
    const started = Date.now();
    assert.deepEqual(await f.score(samples('slow'), p.report), [null]);
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 5_000, `took ${took} ms`);
    assert.deepEqual(p.list, [
      { name: 'command', source: 'command', sample: 0, message: `\`${command}\` did not finish within 500 ms ("timeoutMs"); its process group was killed; the sample is skipped` },
    ]);
    const [shell, sleep] = fs.readFileSync(pids, 'utf8').trim().split(' ').map(Number);
    assert.ok(shell && sleep && shell !== sleep);
    // SIGKILL lands at once; give the kernel a moment to finish the sleep reparented to init.
    for (let i = 0; i < 50 && (alive(shell) || alive(sleep)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(shell), false, 'the shell is gone');
    assert.equal(alive(sleep), false, 'the sleep it started is gone');
    // The temp folder the completion was written to is removed.
    const tempFile = fs.readFileSync(`${pids}.file`, 'utf8').trim();
    assert.match(tempFile, /rlhf-reward-.*completion\.txt$/);
    assert.equal(fs.existsSync(path.dirname(tempFile)), false);
  } finally {
    ws.remove();
  }
});

test('commands run side by side, and a cancelled batch kills them and rejects', { skip: !posix && 'POSIX shell' }, async () => {
  const ws = testWorkspace();
  try {
    // A barrier: each command marks itself started and waits for the other (run one after the other, the first would give up and score 0).
    const barrier = 'touch "$RLHF_PROMPT.ready"; for i in $(seq 300); do [ -e "prompt 0.ready" ] && [ -e "prompt 1.ready" ] && exit 0; sleep 0.01; done; exit 1';
    const f = await commandFn(ws.root, { command: barrier, timeoutMs: 10_000 });
    const p = problems();
    if (os.availableParallelism() >= 2) assert.deepEqual(await f.score(samples('a', 'b'), p.report), [1, 1]);

    const controller = new AbortController();
    const slow = await commandFn(ws.root, { command: 'sleep 30', timeoutMs: 60_000 });
    setTimeout(() => controller.abort(), 200);
    const t = Date.now();
    await assert.rejects(slow.score(samples('a', 'b'), p.report, controller.signal), { name: 'AbortError' });
    assert.ok(Date.now() - t < 5_000);
    assert.deepEqual(p.list, []);
  } finally {
    ws.remove();
  }
});
