/**
 * The engine runs below the editor's CPU priority (src/engine/priority.ts): every thread of the
 * built engine process, ONNX Runtime's pools included (made after start-up, while a PPO run
 * trains), has nice 10, read from /proc/<pid>/task/<tid>/stat. Linux only: elsewhere the priority
 * is the process's, not a thread's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Project } from '../../../src/core/store/project';
import { EngineClient } from '../../../src/extension/engineClient';

const ROOT = path.resolve(__dirname, '../../..');

/** Each thread's nice value (field 19 of its stat line; the fields after the command's closing parenthesis start at 3). */
function niceByThread(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19 - 3]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

test('every thread of the engine, ONNX Runtime’s among them, runs at nice 10 while it trains', { skip: process.platform !== 'linux' && 'per-thread nice values are Linux’s' }, async () => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-priority-'));
  const client = new EngineClient({ enginePath: path.join(ROOT, 'dist', 'engine.js'), engineArgs: () => ['--backend=auto', '--engine=ort', '--device=cpu', '--threads=2'] });
  try {
    await Project.create(workspace, { name: 'priority test' });
    const configFile = path.join(workspace, 'ppo.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        model: path.join(ROOT, 'models', 'tiny-default'),
        rewardModel: 'builtin:afinn',
        prompts: path.join(ROOT, 'assets', 'demo', 'prompts.txt'),
        iterations: 3,
        rolloutBatch: 4,
        miniBatches: 1,
        ppoEpochs: 1,
        maxNewTokens: 8,
      }),
    );
    await client.request('wait', { ms: 1 });
    const pid = client.pid as number;
    const idle = niceByThread(pid);
    const seen = new Map(idle);
    const training = client.request('training.start', { workspace, kind: 'ppo', configFile });
    let done = false;
    void training.finally(() => (done = true)).catch(() => undefined);
    while (!done) {
      for (const [tid, nice] of niceByThread(pid)) seen.set(tid, nice);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await training).state, 'completed');
    const started = [...seen.keys()].filter((tid) => !idle.has(tid));
    assert.ok(started.length > 0, 'threads started while training (ONNX Runtime’s pools)');
    const off = [...seen].filter(([, nice]) => nice !== 10);
    assert.deepEqual(off, [], `threads [tid, nice] not at nice 10 (of ${seen.size})`);
  } finally {
    client.dispose();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});
