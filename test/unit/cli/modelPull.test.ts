/** `rlhf model pull` against a local Hub in the Hub's URL layout, through HF_ENDPOINT, into a temp HF_HOME. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';
import { capture } from '../core/train/cliHelpers';
import { startHubServer, tinyRepo } from '../core/hub/hubServer';
import type { HubServer } from '../core/hub/hubServer';

const COMMIT = 'e'.repeat(40);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-model-pull-'));
let hub: HubServer;

before(async () => {
  hub = await startHubServer([tinyRepo('org/tiny', COMMIT)]);
  process.env.HF_ENDPOINT = hub.endpoint;
  process.env.HF_HOME = path.join(dir, 'hf');
  for (const k of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE']) delete process.env[k];
});
after(async () => {
  await hub.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('model pull prints progress to stderr and the snapshot folder to stdout; again, it fetches nothing; --json; errors', async () => {
  const snapshot = path.join(dir, 'hf', 'hub', 'models--org--tiny', 'snapshots', COMMIT);
  const first = capture(dir);
  assert.equal(await runCli(['model', 'pull', 'org/tiny'], first.io), 0, first.err.join('\n'));
  assert.deepEqual(first.out, [snapshot]);
  const err = first.err.join('\n');
  assert.match(err, /\[4\/4\] /);
  assert.match(err, /model\.safetensors \(2\.0 MiB\)/);
  assert.match(err, /org\/tiny@main \(commit eeeeeeeeeeee\): 4 files, .* fetched 2\.0 MiB/);
  assert.ok(fs.existsSync(path.join(snapshot, 'config.json')) && fs.existsSync(path.join(snapshot, 'model.safetensors')));

  hub.requests.length = 0;
  const again = capture(dir);
  assert.equal(await runCli(['model', 'pull', 'org/tiny', '--revision', COMMIT, '--json'], again.io), 0, again.err.join('\n'));
  const result = JSON.parse(again.out.join('\n')) as { snapshot: string; downloadedBytes: number; files: { status: string }[] };
  assert.equal(result.snapshot, snapshot);
  assert.equal(result.downloadedBytes, 0);
  assert.ok(result.files.every((f) => f.status === 'cached'));
  assert.ok(!hub.requests.some((r) => r.url.includes('/resolve/')));

  const missing = capture(dir);
  assert.equal(await runCli(['model', 'pull', 'org/none'], missing.io), 1);
  assert.match(missing.err.join('\n'), /^rlhf model pull: org\/none at http:\/\/127\.0\.0\.1:\d+ was not found \(404/);

  const usage = capture(dir);
  assert.equal(await runCli(['model', 'pull'], usage.io), 2);
  assert.match(usage.err.join('\n'), /usage: rlhf model pull ORG\/NAME \[--revision R\] \[--json\]/);
  const help = capture(dir);
  assert.equal(await runCli(['model', 'pull', '--help'], help.io), 0);
  assert.match(help.out.join('\n'), /HF_ENDPOINT/);
});
