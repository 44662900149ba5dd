import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/command';

function capture(): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), cwd: process.cwd(), signal: new AbortController().signal }, out, err };
}

test('rlhf status --json reports backend, tfjsVersion and ortProviders', async () => {
  const c = capture();
  const code = await runCli(['status', '--json', '--backend', 'cpu'], c.io);
  assert.equal(code, 0, c.err.join('\n'));
  const report = JSON.parse(c.out.join('\n')) as Record<string, unknown>;
  assert.equal(report.backend, 'cpu');
  assert.equal(typeof report.tfjsVersion, 'string');
  assert.ok(Array.isArray(report.ortProviders) && report.ortProviders.includes('cpu'));
});

test('rlhf status prints a readable report', async () => {
  const c = capture();
  assert.equal(await runCli(['status', '--backend', 'wasm'], c.io), 0);
  assert.match(c.out.join('\n'), /^backend:\s+wasm \(@tensorflow\/tfjs-backend-wasm@/m);
});

test('a wrong flag prints usage and exits 2', async () => {
  const c = capture();
  assert.equal(await runCli(['status', '--frobnicate'], c.io), 2);
  assert.match(c.err.join('\n'), /Unknown option '--frobnicate'/);
  assert.match(c.err.join('\n'), /usage: rlhf status/);
});

test('a bad flag value is a usage error naming the flag', async () => {
  const c = capture();
  assert.equal(await runCli(['status', '--backend', 'quantum'], c.io), 2);
  assert.match(c.err.join('\n'), /--backend must be one of/);
});

test('every command has --help; unknown commands and no command exit 2', async () => {
  const c = capture();
  assert.equal(await runCli(['--help'], c.io), 0);
  assert.match(c.out.join('\n'), /commands:\n\s+status/);
  const h = capture();
  assert.equal(await runCli(['status', '--help'], h.io), 0);
  assert.match(h.out.join('\n'), /usage: rlhf status/);
  assert.equal(await runCli(['fly'], capture().io), 2);
  assert.equal(await runCli([], capture().io), 2);
});

test('the built bin/rlhf.js runs the same CLI', () => {
  const root = path.resolve(__dirname, '../../..');
  const r = spawnSync(process.execPath, [path.join(root, 'bin/rlhf.js'), 'status', '--json', '--backend', 'cpu'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `bin/rlhf.js failed (run npm run build first?): ${r.stderr}`);
  assert.equal((JSON.parse(r.stdout) as { backend: string }).backend, 'cpu');
  const bad = spawnSync(process.execPath, [path.join(root, 'bin/rlhf.js'), 'status', '--nope'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
});
