/**
 * pullModel against a local Hub in the Hub's URL layout, reached through HF_ENDPOINT, into a temp
 * HF_HOME: the cache layout, nothing fetched twice, resume of a dropped download with a Range
 * request, cancellation, and the errors for an unreachable endpoint, a missing repo and a gated one.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAbortError, isUserError } from '../../../../src/core/errors';
import { parseRepoSpec, pullModel, selectModelFiles } from '../../../../src/core/hub/pull';
import type { PullProgress } from '../../../../src/core/hub/pull';
import { startHubServer, tinyRepo } from './hubServer';
import type { HubServer } from './hubServer';

const COMMIT = 'a'.repeat(40);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-hub-pull-'));
const repo = tinyRepo('org/tiny', COMMIT);
const weights = repo.files.find((f) => f.path === 'model.safetensors')!.content;
const weightsSha = createHash('sha256').update(weights).digest('hex');
let hub: HubServer;
let home: string;

before(async () => {
  hub = await startHubServer([repo, tinyRepo('org/gated', 'b'.repeat(40), { token: 'hf_secret' }), tinyRepo('org/drop', 'c'.repeat(40)), tinyRepo('org/slow', 'd'.repeat(40))]);
  process.env.HF_ENDPOINT = hub.endpoint;
  for (const k of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE']) delete process.env[k];
});
after(async () => {
  await hub.close();
  fs.rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  home = fs.mkdtempSync(path.join(root, 'home-'));
  process.env.HF_HOME = home;
  hub.requests.length = 0;
  hub.throttle(0, 0);
});

const resolves = (): typeof hub.requests => hub.requests.filter((r) => r.url.includes('/resolve/'));

test('the default selection: config, tokenizer, safetensors; no .bin, ONNX or subfolder copies beside safetensors', () => {
  const all = [
    'config.json',
    'tokenizer.json',
    'README.md',
    'model.safetensors',
    'pytorch_model.bin',
    'tf_model.h5',
    'flax_model.msgpack',
    'onnx/model.onnx',
    'model.gguf',
    'merges.txt',
    'vocab.json',
  ];
  assert.deepEqual(selectModelFiles(all).sort(), ['config.json', 'merges.txt', 'model.safetensors', 'tokenizer.json', 'vocab.json']);
  assert.deepEqual(selectModelFiles(['config.json', 'pytorch_model.bin', 'tf_model.h5']).sort(), ['config.json', 'pytorch_model.bin']);
  assert.deepEqual(parseRepoSpec(' org/name@v1 '), { repo: 'org/name', revision: 'v1' });
  assert.deepEqual(parseRepoSpec('org/name'), { repo: 'org/name' });
});

test('a pull writes the HF cache layout under HF_HOME; a second pull fetches nothing', async () => {
  const events: PullProgress[] = [];
  const r = await pullModel({ repo: 'org/tiny', onProgress: (p) => events.push(p), progressEveryMs: 0 });
  const dir = path.join(home, 'hub', 'models--org--tiny');
  assert.equal(r.snapshot, path.join(dir, 'snapshots', COMMIT));
  assert.equal(r.commit, COMMIT);
  assert.equal(r.endpoint, hub.endpoint);
  assert.equal(fs.readFileSync(path.join(dir, 'refs', 'main'), 'utf8'), COMMIT);
  assert.deepEqual(r.files.map((f) => f.path).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json']);
  assert.ok(r.files.every((f) => f.status === 'downloaded'));
  // Snapshot entries are relative links to blobs named by their etag (the sha256 for LFS files).
  const link = path.join(r.snapshot, 'model.safetensors');
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.equal(fs.readlinkSync(link), path.join('..', '..', 'blobs', weightsSha));
  assert.deepEqual(fs.readFileSync(link), weights);
  assert.deepEqual(fs.readFileSync(path.join(r.snapshot, 'config.json')), repo.files[0]!.content);
  assert.equal(fs.readdirSync(path.join(dir, 'blobs')).length, 4);
  assert.ok(!fs.readdirSync(path.join(dir, 'blobs')).some((b) => b.endsWith('.incomplete')));
  assert.ok(!fs.existsSync(path.join(r.snapshot, 'pytorch_model.bin')) && !fs.existsSync(path.join(r.snapshot, 'onnx')));
  assert.equal(r.downloadedBytes, r.totalBytes);
  // Progress: per file and overall, ending at the total.
  const last = events.at(-1)!;
  assert.equal(last.done, r.totalBytes);
  assert.equal(last.filesDone, 4);
  assert.ok(events.some((e) => e.file === 'model.safetensors' && e.fileDone > 0 && e.fileDone < e.fileTotal));
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.done >= events[i - 1]!.done);

  hub.requests.length = 0;
  const again = await pullModel({ repo: 'org/tiny' });
  assert.equal(again.downloadedBytes, 0);
  assert.ok(again.files.every((f) => f.status === 'cached'));
  assert.deepEqual(resolves(), []);
});

test('a connection dropped halfway leaves blobs/<etag>.incomplete; the next pull resumes it with a Range request', async () => {
  hub.dropOnce('model.safetensors', 1024 * 1024);
  await assert.rejects(pullModel({ repo: 'org/drop' }), (err: Error) => {
    assert.ok(isUserError(err), String(err));
    assert.match(err.message, /connection to http:\/\/127\.0\.0\.1:\d+ dropped while downloading org\/drop\/model\.safetensors/);
    assert.match(err.message, /Run the pull again to resume/);
    return true;
  });
  const partial = path.join(home, 'hub', 'models--org--drop', 'blobs', `${weightsSha}.incomplete`);
  const kept = fs.statSync(partial).size;
  assert.ok(kept > 0 && kept < weights.length, `kept ${kept}`);
  assert.deepEqual(fs.readFileSync(partial), weights.subarray(0, kept));

  hub.requests.length = 0;
  const r = await pullModel({ repo: 'org/drop' });
  const ranged = resolves().filter((q) => q.url.endsWith('/model.safetensors'));
  assert.equal(ranged.length, 1);
  assert.equal(ranged[0]!.range, `bytes=${kept}-`);
  const f = r.files.find((x) => x.path === 'model.safetensors')!;
  assert.equal(f.status, 'resumed');
  assert.equal(f.resumedFrom, kept);
  assert.deepEqual(fs.readFileSync(path.join(r.snapshot, 'model.safetensors')), weights);
  assert.ok(!fs.existsSync(partial));
  assert.equal(r.downloadedBytes, weights.length - kept);
});

test('an unreachable endpoint is a UserError naming the repo and endpoint and what to do', async () => {
  const port = await closedPort();
  process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
  try {
    await assert.rejects(pullModel({ repo: 'org/tiny' }), (err: Error) => {
      assert.ok(isUserError(err), String(err));
      assert.match(err.message, new RegExp(`Cannot reach the Hugging Face Hub at http://127\\.0\\.0\\.1:${port} to download org/tiny \\(ECONNREFUSED\\)`));
      assert.match(err.message, /HF_ENDPOINT/);
      assert.match(err.message, /Use a Model Folder/);
      return true;
    });
  } finally {
    process.env.HF_ENDPOINT = hub.endpoint;
  }
});

test('a pulled snapshot still serves when the endpoint is unreachable (and with HF_HUB_OFFLINE)', async () => {
  await pullModel({ repo: 'org/tiny' });
  process.env.HF_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
  try {
    const r = await pullModel({ repo: 'org/tiny' });
    assert.equal(r.offline, true);
    assert.equal(r.commit, COMMIT);
    assert.ok(r.files.some((f) => f.path === 'model.safetensors'));
    process.env.HF_HUB_OFFLINE = '1';
    assert.equal((await pullModel({ repo: 'org/tiny' })).offline, true);
    await assert.rejects(pullModel({ repo: 'org/other' }), /HF_HUB_OFFLINE is set and org\/other@main is not in the cache/);
  } finally {
    delete process.env.HF_HUB_OFFLINE;
    process.env.HF_ENDPOINT = hub.endpoint;
  }
});

test('a missing repo, a missing revision, a bad name and a gated repo without a token are clear errors; HF_TOKEN opens the gated one', async () => {
  await assert.rejects(pullModel({ repo: 'nobody/missing' }), (err: Error) => {
    assert.ok(isUserError(err));
    assert.match(err.message, /nobody\/missing at http:\/\/127\.0\.0\.1:\d+ was not found \(404/);
    assert.match(err.message, /Check the name/);
    return true;
  });
  await assert.rejects(pullModel({ repo: 'org/tiny', revision: 'v9' }), /org\/tiny at .* has no revision 'v9'/);
  await assert.rejects(pullModel({ repo: '../etc' }), /is not a Hub model id: write it as ORG\/NAME/);
  await assert.rejects(pullModel({ repo: 'org/gated' }), (err: Error) => {
    assert.ok(isUserError(err));
    assert.match(err.message, /org\/gated at .* needs a token \(401/);
    assert.match(err.message, /HF_TOKEN/);
    return true;
  });
  process.env.HF_TOKEN = 'hf_secret';
  hub.requests.length = 0;
  try {
    const r = await pullModel({ repo: 'org/gated' });
    assert.ok(fs.existsSync(path.join(r.snapshot, 'model.safetensors')));
    assert.ok(hub.requests.length >= 3 && hub.requests.every((q) => q.auth === 'Bearer hf_secret'));
  } finally {
    delete process.env.HF_TOKEN;
  }
});

test('cancelling stops the download: the partial file stays for a resume, nothing lands in the snapshot', async () => {
  hub.throttle(64 * 1024, 30);
  const controller = new AbortController();
  const started = Date.now();
  await assert.rejects(
    pullModel({
      repo: 'org/slow',
      signal: controller.signal,
      progressEveryMs: 0,
      onProgress: (p) => {
        if (p.file === 'model.safetensors' && p.fileDone >= 256 * 1024) controller.abort();
      },
    }),
    (err) => isAbortError(err),
  );
  assert.ok(Date.now() - started < 1500, 'stopped well before the throttled 2 MB were sent');
  const dir = path.join(home, 'hub', 'models--org--slow');
  assert.ok(!fs.existsSync(path.join(dir, 'snapshots', 'd'.repeat(40), 'model.safetensors')));
  const partial = fs.statSync(path.join(dir, 'blobs', `${weightsSha}.incomplete`)).size;
  assert.ok(partial > 0 && partial < weights.length);
});

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}
