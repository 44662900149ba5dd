/**
 * The engine lifecycle in a real VS Code, from the installed .vsix: Show Engine Status starts
 * the engine and the sidebar shows its backend report; killing the engine with SIGKILL is
 * reported in the sidebar and in an error notification; the next Show Engine Status starts a
 * fresh engine with a new pid. The sidebar's own buttons do the same, with the configured
 * backend.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frame } from 'playwright-core';
import { withSession } from './harness';
import { commandLine, descendsFrom, isAlive, waitForExit } from './processes';

const byId = (frame: Frame, id: string) => frame.locator(`[data-testid="${id}"]`);

/**
 * Wait for the sidebar to show a running engine with a backend report (and a pid other than
 * `previousPid`, when given); returns its pid.
 */
async function waitForRunningEngine(sidebar: Frame, previousPid?: number): Promise<number> {
  // The first start loads tfjs and onnxruntime: allow for a slow, busy machine.
  const until = Date.now() + 120_000;
  let seen = '';
  while (Date.now() < until) {
    const reported = (await byId(sidebar, 'backend').count()) > 0;
    seen = (await byId(sidebar, 'engine-state').locator('xpath=..').textContent()) ?? '';
    const pid = Number(/^State: running pid (\d+)$/.exec(seen.trim())?.[1]);
    if (reported && Number.isInteger(pid) && pid > 0 && pid !== previousPid) return pid;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`The sidebar never showed a running engine${previousPid ? ` other than pid ${previousPid}` : ''} with a backend report (last: '${seen}').`);
}

test('Show Engine Status reports the backend; a killed engine is reported and replaced', async () => {
  await withSession({ name: 'engine', backend: 'wasm' }, async (s) => {
    await s.runCommand('RLHF: Show Engine Status');
    const sidebar = await s.webviewFrame('[data-testid="engine-state"]');

    const firstPid = await waitForRunningEngine(sidebar);
    assert.match((await byId(sidebar, 'backend').textContent()) ?? '', /^wasm \(@tensorflow\/tfjs-backend-wasm@4\.22\.0\)$/);
    assert.match((await byId(sidebar, 'ort').textContent()) ?? '', /\bcpu\b/);
    assert.match((await byId(sidebar, 'tfjs-version').textContent()) ?? '', /^4\.22\.0$/);
    // The pid shown is the engine forked from the installed extension, under this code-server.
    assert.ok(isAlive(firstPid), `engine pid ${firstPid} is not running`);
    assert.ok(descendsFrom(firstPid, s.serverPid), `engine pid ${firstPid} is not a child of code-server ${s.serverPid}`);
    assert.match(commandLine(firstPid), new RegExp(`${escapeRegExp(s.extensionsDir)}/rlhf-workbench\\.rlhf-workbench-[^ ]+/dist/engine\\.js --backend=wasm`));

    const activation = (await byId(sidebar, 'activation').textContent()) ?? '';
    const activationMs = Number(/Activated in ([\d.]+) ms/.exec(activation)?.[1]);
    assert.ok(Number.isFinite(activationMs) && activationMs >= 0, `no activation time in '${activation}'`);
    console.log(`e2e: extension activated in ${activationMs} ms; engine pid ${firstPid}`);
    await s.screenshot('running');

    process.kill(firstPid, 'SIGKILL');
    assert.ok(await waitForExit(firstPid, 10_000), `engine pid ${firstPid} survived SIGKILL`);
    await byId(sidebar, 'engine-crash').waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(await byId(sidebar, 'engine-state').textContent(), 'crashed');
    assert.match((await byId(sidebar, 'engine-crash').textContent()) ?? '', /stopped unexpectedly \(killed by SIGKILL\)/);
    const crash = await s.waitForNotification(/The RLHF engine stopped unexpectedly \(killed by SIGKILL\)/);
    assert.ok(crash.buttons.includes('Restart Engine'), `the crash notification has no Restart Engine button: ${JSON.stringify(crash)}`);
    await s.screenshot('crashed');

    await s.runCommand('RLHF: Show Engine Status');
    const secondPid = await waitForRunningEngine(sidebar, firstPid);
    assert.notEqual(secondPid, firstPid);
    assert.ok(isAlive(secondPid) && descendsFrom(secondPid, s.serverPid), `new engine pid ${secondPid} is not a running child of code-server`);
    assert.match((await byId(sidebar, 'backend').textContent()) ?? '', /^wasm /);
    await s.screenshot('restarted');

    // VS Code's own measure of the activate() call, beside the extension's (which also counts
    // the wait between loading the module and VS Code calling activate()).
    console.log(`e2e: VS Code reports activation ${await s.activationTimeMs('RLHF Workbench')} ms`);
  });
});

test('the sidebar opens from the activity bar; its buttons start the engine with the configured backend and restart it', async () => {
  await withSession({ name: 'sidebar-buttons', backend: 'cpu' }, async (s) => {
    await s.page.locator('.part.activitybar [aria-label^="RLHF Workbench"]').first().click();
    // The activity bar's hover label would cover the sidebar's buttons: move the pointer away.
    await s.page.mouse.move(800, 600);
    const sidebar = await s.webviewFrame('[data-testid="show-status"]');
    assert.equal(await byId(sidebar, 'engine-state').textContent(), 'stopped');

    await byId(sidebar, 'show-status').click();
    const firstPid = await waitForRunningEngine(sidebar);
    // The setting `rlhf.engine.backend: cpu` reaches the engine.
    assert.match((await byId(sidebar, 'backend').textContent()) ?? '', /^cpu \(@tensorflow\/tfjs-backend-cpu@4\.22\.0\)$/);
    assert.match(commandLine(firstPid), /dist\/engine\.js --backend=cpu/);

    await byId(sidebar, 'restart').click();
    assert.ok(await waitForExit(firstPid, 15_000), `the old engine ${firstPid} still runs after Restart Engine`);
    const secondPid = await waitForRunningEngine(sidebar, firstPid);
    assert.notEqual(secondPid, firstPid);
    assert.ok(descendsFrom(secondPid, s.serverPid));
    await s.screenshot('after-restart');
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
