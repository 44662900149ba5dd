import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { BackendReport } from '../../src/protocol/backend';
import type { SidebarCommand, SidebarNotification, SidebarState } from '../../src/protocol/sidebar';
import { isSidebarCommand } from '../../src/protocol/sidebar';
import { launchBrowser, openWebview, screenshot } from './harness';

const report: BackendReport = {
  backend: 'wasm',
  tfjsVersion: '4.22.0',
  backendPackage: '@tensorflow/tfjs-backend-wasm@4.22.0',
  ortVersion: '1.30.0',
  ortProviders: ['cpu'],
  attempts: [],
  node: 'v20.20.2',
  platform: 'linux-x64',
  pid: 4242,
};
const stopped: SidebarState = { engine: { state: 'stopped' }, activationMs: 3.25 };

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const open = (state: SidebarState = stopped) => openWebview<SidebarCommand, SidebarNotification>(browser, 'sidebar', state);

test('renders the bootstrapped state, then says ready', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.equal(await host.page.getByTestId('engine-state').textContent(), 'stopped');
    assert.equal(await host.page.getByTestId('activation').textContent(), 'Activated in 3.3 ms');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('shows the backend report the host sends, and every message it posts is a valid command', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.send({ type: 'didChangeState', state: { engine: { state: 'running', pid: 4242, report }, activationMs: 3.25 } });
    await host.page.getByTestId('backend-report').waitFor();
    assert.equal(await host.page.getByTestId('backend').textContent(), 'wasm (@tensorflow/tfjs-backend-wasm@4.22.0)');
    assert.equal(await host.page.getByTestId('ort').textContent(), '1.30.0: cpu');
    assert.match((await host.page.locator('.row').textContent()) ?? '', /pid 4242/);
    await screenshot(host.page, 'sidebar-running');

    await host.page.getByTestId('show-status').click();
    await host.waitFor((m) => m.type === 'showEngineStatus');
    await host.page.getByTestId('restart').click();
    await host.waitFor((m) => m.type === 'restartEngine');
    for (const m of host.received) assert.ok(isSidebarCommand(m), `invalid command posted: ${JSON.stringify(m)}`);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('a crash is shown as an alert with its reason; recovery replaces it', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    const reason = 'The RLHF engine stopped unexpectedly (killed by SIGKILL). It will restart on the next request.';
    await host.send({ type: 'didChangeState', state: { engine: { state: 'crashed', reason }, lastError: reason, activationMs: 1 } });
    const alert = host.page.getByTestId('engine-crash');
    await alert.waitFor();
    assert.equal(await alert.textContent(), reason);
    assert.equal(await alert.getAttribute('role'), 'alert');
    // The crash reason is not shown twice.
    assert.equal(await host.page.getByTestId('last-error').count(), 0);
    await screenshot(host.page, 'sidebar-crashed');
    await host.send({ type: 'didChangeState', state: { engine: { state: 'running', pid: 5, report }, activationMs: 1 } });
    await host.page.getByTestId('backend-report').waitFor();
    assert.equal(await host.page.getByTestId('engine-crash').count(), 0);
  } finally {
    await host.close();
  }
});

test('messages that are not protocol notifications are ignored', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.page.evaluate(`
      window.postMessage({ type: 'somethingElse', state: null }, '*');
      window.postMessage('not an object', '*');
      window.postMessage(null, '*');
    `);
    await host.page.waitForTimeout(100);
    assert.equal(await host.page.getByTestId('engine-state').textContent(), 'stopped');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('the CSP blocks scripts without the nonce', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    const ran = await host.page.evaluate(`(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true;';
      document.body.append(s);
      await new Promise((r) => setTimeout(r, 50));
      return window.__injected === true;
    })()`);
    assert.equal(ran, false);
  } finally {
    await host.close();
  }
});
