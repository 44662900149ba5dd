/**
 * What a session needs before the browser: the code-server install, a fresh .vsix, a free
 * port, the extension installed into the session's own extensions folder, and the server's
 * health check.
 */
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const VSIX = join(ROOT, 'rlhf-workbench.vsix');

export function codeServerEntry(): string {
  const entry = join(ROOT, '.vscode-test', 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  if (!existsSync(entry)) {
    throw new Error(`code-server is not installed at ${entry}. Run \`npm run setup:e2e\` (scripts/setup-e2e.sh) first.`);
  }
  return entry;
}

/**
 * Folders that cannot change the .vsix (or are rebuilt from what can): skipped when looking
 * for inputs newer than it. Everything else in the repository counts, so new shipped folders
 * (models/, assets/) make it stale without a list to keep up to date.
 */
const NOT_INPUTS = new Set(['node_modules', '.git', '.artifacts', '.vscode-test', 'dist', 'test', 'bench', 'out']);

/** Newest modification time of the files under `dir` that go into the .vsix. */
function newestInput(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (NOT_INPUTS.has(entry.name) || entry.name.endsWith('.vsix')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestInput(path));
    else if (entry.isFile()) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

let builtThisRun = false;

/** The packaged extension, rebuilt with `npm run package` when missing or older than any of its inputs. */
export function ensureVsix(): string {
  if (builtThisRun && existsSync(VSIX)) return VSIX;
  if (existsSync(VSIX) && statSync(VSIX).mtimeMs >= newestInput(ROOT)) return VSIX;
  const r = spawnSync('npm', ['run', '--silent', 'package'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(VSIX)) {
    throw new Error(`\`npm run package\` failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  builtThisRun = true;
  return VSIX;
}

export function installExtension(entry: string, vsix: string, userDataDir: string, extensionsDir: string, env: NodeJS.ProcessEnv): void {
  const r = spawnSync(process.execPath, [entry, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix], { env, encoding: 'utf8', timeout: 120_000 });
  const installed = existsSync(extensionsDir) && readdirSync(extensionsDir).some((d) => d.startsWith('rlhf-workbench.rlhf-workbench-'));
  if (r.status !== 0 || !installed) {
    throw new Error(`code-server could not install ${vsix} (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Poll /healthz until code-server answers; fail early if it exits. */
export async function waitForHealth(port: number, server: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`code-server exited (${server.exitCode ?? server.signalCode}) before it was ready; see its log in .artifacts/e2e/.`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not answer http://127.0.0.1:${port}/healthz within ${timeoutMs} ms.`);
}
