/**
 * The e2e harness: a real VS Code (code-server 4.100.3, installed by scripts/setup-e2e.sh)
 * with the packaged .vsix installed into fresh user-data and extensions folders, driven
 * through Debian's Chromium by playwright-core. Each session is isolated (own port, temp
 * folders, workspace) and its teardown kills code-server, the browser and every process they
 * spawned (extension host, engine). Artifacts (screenshots, logs) go to .artifacts/e2e/.
 *
 *   await withSession({ name: 'engine' }, async (s) => {
 *     await s.runCommand('RLHF: Show Engine Status');
 *     const sidebar = await s.webviewFrame('[data-testid="engine-state"]');
 *   });
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { ROOT, codeServerEntry, ensureVsix, freePort, installExtension, waitForHealth } from './codeServer';
import { killTree } from './processes';
import { PageHelpers } from './workbench';

export const ARTIFACTS = join(ROOT, '.artifacts', 'e2e');
const CHROMIUM = '/usr/bin/chromium';

/** How a session is set up; every field is optional. */
export interface SessionOptions {
  /** Prefix of the artifact files and temp folders. Default 'session'. */
  readonly name?: string;
  /** `rlhf.engine.backend` for the session. Default 'wasm' (loads everywhere, no optional packages). */
  readonly backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  /** Extra user settings, merged over the quiet defaults below. */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Workspace folder to open. Default: a fresh empty temp folder. */
  readonly workspace?: string;
  /** Browser viewport. Default 1400×900, wide enough for the sidebar and an editor. */
  readonly viewport?: { readonly width: number; readonly height: number };
}

/** Settings that keep the workbench quiet and deterministic: no welcome page, tips, telemetry, trust prompt, update checks or port scans. */
const QUIET_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'git.enabled': false,
  'chat.commandCenter.enabled': false,
  // code-server's extension host is a *remote* one, so VS Code scans for ports to forward: every
  // 2 s or more it execs `ls -l /proc/[0-9]*/fd/[0-9]* | grep socket:` and `ps … | grep root`, and
  // each spawn blocks the host's thread until the shell has exec'd (51–146 ms measured on 2
  // loaded cores, reading kernel stacks). A desktop VS Code does no such scan; the event-loop
  // figures the training test reports are meant to be about our work, not that. code-server
  // registers a tunnel provider, which turns the scan on whatever autoForwardPorts says; only
  // the 'output' source (watch terminal output instead) turns it off.
  'remote.autoForwardPorts': false,
  'remote.autoForwardPortsSource': 'output',
};

// code-server runs detached, so it would outlive a test process that is cancelled or killed
// before its teardown ran (a test timeout, Ctrl-C): kill every live session on the way out.
// Server pid → the session's temp folder.
const liveServers = new Map<number, string>();
const killAllSessions = (): void => {
  for (const [pid, temp] of [...liveServers]) {
    killServerTree(pid);
    rmSync(temp, { recursive: true, force: true });
  }
};
process.once('exit', killAllSessions);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAllSessions();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

export interface Session extends PageHelpers {
  readonly page: Page;
  readonly browser: Browser;
  readonly port: number;
  /** The code-server process: every extension host and engine descends from it. */
  readonly serverPid: number;
  readonly workspace: string;
  readonly userDataDir: string;
  readonly extensionsDir: string;
  /** Stop everything; on failure keep code-server's and the extension host's logs as artifacts. */
  close(options?: { readonly failed?: boolean }): Promise<void>;
}

export async function startSession(options: SessionOptions = {}): Promise<Session> {
  const name = options.name ?? 'session';
  const entry = codeServerEntry();
  const vsix = ensureVsix();
  mkdirSync(ARTIFACTS, { recursive: true });
  // Artifacts left by an earlier run of this session would pass for this run's.
  for (const old of readdirSync(ARTIFACTS)) {
    if (old.startsWith(`${name}-`)) rmSync(join(ARTIFACTS, old), { recursive: true, force: true });
  }
  const temp = mkdtempSync(join(tmpdir(), `rlhf-e2e-${name}-`));
  const userDataDir = join(temp, 'user-data');
  const extensionsDir = join(temp, 'extensions');
  const workspace = options.workspace ?? join(temp, 'workspace');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(workspace, { recursive: true });
  const settings = { ...QUIET_SETTINGS, 'rlhf.engine.backend': options.backend ?? 'wasm', ...options.settings };
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  // code-server keeps some state outside --user-data-dir (env-paths): keep it in the temp folder too.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    EXTENSIONS_GALLERY: '{}',
    XDG_DATA_HOME: join(temp, 'xdg-data'),
    XDG_CONFIG_HOME: join(temp, 'xdg-config'),
    XDG_CACHE_HOME: join(temp, 'xdg-cache'),
  };
  try {
    installExtension(entry, vsix, userDataDir, extensionsDir, env);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true, maxRetries: 3 });
    throw err;
  }

  const port = await freePort();
  const logPath = join(temp, 'code-server.log');
  const server = spawn(
    process.execPath,
    [
      entry,
      '--config',
      '/dev/null',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--user-data-dir',
      userDataDir,
      '--extensions-dir',
      extensionsDir,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  if (server.pid !== undefined) liveServers.set(server.pid, temp);
  const log = createWriteStream(logPath);
  server.stdout?.pipe(log);
  server.stderr?.pipe(log);
  let browser: Browser | undefined;
  const stop = async (): Promise<void> => {
    await browser?.close().catch(() => undefined);
    stopServer(server);
  };
  try {
    await waitForHealth(port, server, 30_000);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: options.viewport ?? { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    // The workbench is up when its status bar is.
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
    const helpers = new PageHelpers(page, ARTIFACTS, name);
    const liveBrowser = browser;
    let closed = false;
    return Object.assign(helpers, {
      page,
      browser: liveBrowser,
      port,
      serverPid: server.pid as number,
      workspace,
      userDataDir,
      extensionsDir,
      async close(closeOptions: { readonly failed?: boolean } = {}): Promise<void> {
        if (closed) return;
        closed = true;
        await stop();
        log.end();
        if (closeOptions.failed) keepLogs(name, logPath, userDataDir);
        rmSync(temp, { recursive: true, force: true, maxRetries: 3 });
      },
    });
  } catch (err) {
    await stop();
    log.end();
    keepLogs(name, logPath, userDataDir);
    rmSync(temp, { recursive: true, force: true, maxRetries: 3 });
    throw err;
  }
}

/**
 * Run `body` in a fresh session. On failure, screenshot the page and keep the logs before
 * rethrowing; always tear everything down.
 */
export async function withSession(options: SessionOptions, body: (session: Session) => Promise<void>): Promise<void> {
  const session = await startSession(options);
  let failed = true;
  try {
    await body(session);
    failed = false;
  } finally {
    if (failed) await session.screenshot('failure').catch(() => undefined);
    await session.close({ failed });
  }
}

/** Kill code-server's whole tree: the server, its extension hosts and any engine they forked. */
function stopServer(server: ChildProcess): void {
  if (server.pid === undefined) return;
  killServerTree(server.pid);
}

function killServerTree(pid: number): void {
  liveServers.delete(pid);
  killTree(pid);
  try {
    process.kill(-pid, 'SIGKILL'); // its process group (it is detached), for anything reparented already
  } catch {
    // The group is gone.
  }
}

function keepLogs(name: string, serverLog: string, userDataDir: string): void {
  const into = join(ARTIFACTS, `${name}-logs`);
  mkdirSync(into, { recursive: true });
  if (existsSync(serverLog)) cpSync(serverLog, join(into, 'code-server.log'));
  // VS Code's own logs: extension host, renderer, the extension's output channel.
  const vscodeLogs = join(userDataDir, 'logs');
  if (existsSync(vscodeLogs)) cpSync(vscodeLogs, join(into, 'vscode'), { recursive: true });
}
