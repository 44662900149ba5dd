/**
 * Loads a built webview app (dist/webview/<app>.js) in headless Chromium, in the same HTML shell
 * and CSP the extension uses, with a host stand-in typed by the surface's protocol: it records
 * every message the page posts and can send notifications to the page.
 */
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { renderWebviewHtml } from '../../src/extension/webviewHtml';

const ROOT = path.resolve(__dirname, '../..');
const WEBVIEW_DIST = path.join(ROOT, 'dist', 'webview');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, '.artifacts', 'webview');

/** Flags measured to work offline as root: without the background-networking ones, Chromium's connections are refused by a closed network. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH).`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface HostStandIn<C, N> {
  readonly page: Page;
  /** Every message the page posted, in order. */
  readonly received: C[];
  /** CSP violations and page errors seen so far. */
  readonly problems: string[];
  send(notification: N): Promise<void>;
  /** Wait until the page has posted a message matching `pred`, and return it. */
  waitFor<T extends C>(pred: (m: C) => m is T, timeoutMs?: number): Promise<T>;
  waitFor(pred: (m: C) => boolean, timeoutMs?: number): Promise<C>;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.ttf': 'font/ttf' };

/** Serve dist/webview and one page for `app` with `bootstrap` state; open it with a host stand-in. */
export async function openWebview<C, N>(browser: Browser, app: string, bootstrap: unknown): Promise<HostStandIn<C, N>> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/') {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(renderWebviewHtml({ title: app, cspSource: origin, scriptUri: `${origin}/${app}.js`, styleUri: `${origin}/${app}.css`, bootstrap }));
      return;
    }
    const file = path.join(WEBVIEW_DIST, path.normalize(url.pathname).replace(/^([/\\])+/, ''));
    if (!file.startsWith(WEBVIEW_DIST) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;

  const context = await browser.newContext({ viewport: { width: 360, height: 640 } });
  const page = await context.newPage();
  const received: C[] = [];
  const problems: string[] = [];
  const waiters = new Set<() => void>();
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.exposeFunction('__hostReceive', (msg: C) => {
    received.push(msg);
    for (const w of waiters) w();
  });
  // The stand-in for VS Code's webview API: messages go to the test, state stays in the page.
  // A string, not a function: tsx's transform would reference helpers that the page lacks.
  await page.addInitScript(`(() => {
    let state;
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => void window.__hostReceive(JSON.parse(JSON.stringify(m))),
      getState: () => state,
      setState: (s) => { state = s; },
    });
  })();`);
  await page.goto(`http://127.0.0.1:${port}/`);

  const waitFor = (pred: (m: C) => boolean, timeoutMs = 5000): Promise<C> =>
    new Promise<C>((resolve, reject) => {
      const check = (): boolean => {
        const found = received.find(pred);
        if (found === undefined) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`The page did not post the expected message within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });

  return {
    page,
    received,
    problems,
    send: async (n: N) => {
      await page.evaluate((msg) => (globalThis as unknown as { postMessage(m: unknown, origin: string): void }).postMessage(msg, '*'), n as unknown);
    },
    waitFor: waitFor as HostStandIn<C, N>['waitFor'],
    close: async () => {
      await context.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
