/**
 * The sidebar's project section in Chromium: the welcome state, the project at a glance with
 * the suggested next step and stage buttons, run rows, restricted mode; every button posts an
 * allowlisted runCommand, and the host's guard rejects anything else.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { ProjectOverview, SidebarCommand, SidebarNotification, SidebarState } from '../../src/protocol/sidebar';
import { isSidebarCommand } from '../../src/protocol/sidebar';
import { launchBrowser, openWebview, screenshot } from './harness';

const overview: ProjectOverview = {
  workspace: '/home/me/aligned',
  name: 'aligned',
  models: {
    base: { path: '/ext/models/tiny-default', from: 'project.json' },
    sft: { path: '/home/me/aligned/.rlhf/runs/sft-1/checkpoints/sft/final', from: 'run sft-1', architecture: 'Qwen2ForCausalLM', parameters: 494_032_768 },
    policy: { path: '/home/me/aligned/.rlhf/runs/sft-1/checkpoints/sft/final', from: 'run sft-1', architecture: 'Qwen2ForCausalLM', parameters: 494_032_768 },
  },
  prompts: 64,
  batches: 12,
  ranked: 9,
  skipped: 1,
  unranked: 3,
  pairs: 40,
  implicit: 2,
  includeImplicit: false,
  labeler: 'me@example.com',
  labelers: ['me@example.com'],
  loop: { rankedSinceReward: 0 },
  runs: [
    { id: 'sft-1', stage: 'sft', state: 'completed', step: 120, updatedAt: '2026-01-01T00:00:00Z' },
    { id: 'reward-2', stage: 'reward', state: 'failed', step: 40, updatedAt: '2026-01-01T01:00:00Z' },
    { id: 'ppo-3', stage: 'ppo', state: 'running', step: 7, updatedAt: '2026-01-01T02:00:00Z' },
  ],
  repairs: [],
};
const base = { engine: { state: 'stopped' as const }, activationMs: 2, trusted: true };

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});
const open = (state: SidebarState) => openWebview<SidebarCommand, SidebarNotification>(browser, 'sidebar', state);

test('welcome state: create a project or open the demo', async () => {
  const host = await open({ ...base, project: { kind: 'none', workspace: '/home/me/empty' } });
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.match((await host.page.getByTestId('welcome').textContent()) ?? '', /No RLHF project in \/home\/me\/empty/);
    await screenshot(host.page, 'sidebar-welcome');
    await host.page.getByTestId('open-demo').click();
    assert.deepEqual(await host.waitFor((m) => m.type === 'runCommand'), { type: 'runCommand', command: 'rlhf.openDemoProject' });
    await host.page.getByTestId('create-project').click();
    await host.waitFor((m) => m.type === 'runCommand' && m.command === 'rlhf.createProject');
    // The engine section and its test ids are still there.
    assert.equal(await host.page.getByTestId('engine-state').textContent(), 'stopped');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('the project at a glance: models, counts, next step, stage buttons and run rows', async () => {
  const host = await open({ ...base, project: { kind: 'open', overview, next: { label: 'Rank 3 waiting', reason: '3 prompts have completions to rank.', command: 'rlhf.startRanking' } } });
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.equal(await host.page.getByTestId('count-unranked').textContent(), '3');
    assert.equal(await host.page.getByTestId('count-implicit').textContent(), '2 (not used in training)');
    // The architecture and size after the name, when config.json says them; a model without them shows its name alone.
    assert.equal(await host.page.getByTestId('model-policy').textContent(), 'sft (run sft-1) · Qwen2ForCausalLM · 494 M');
    assert.equal(await host.page.getByTestId('model-policy-about').textContent(), ' · Qwen2ForCausalLM · 494 M');
    assert.equal(await host.page.getByTestId('model-base-about').count(), 0);
    assert.equal(await host.page.getByTestId('model-policy').getAttribute('title'), overview.models.policy?.path);
    assert.equal(await host.page.getByTestId('model-base').textContent(), 'tiny-default (project.json)');
    assert.equal(await host.page.getByTestId('count-ranked').textContent(), '9 (1 skipped)');
    assert.equal(await host.page.getByTestId('model-reward').textContent(), '—');
    await screenshot(host.page, 'sidebar-project');
    await host.page.getByTestId('next-step-button').click();
    await host.waitFor((m) => m.type === 'runCommand' && m.command === 'rlhf.startRanking');
    await host.page.getByTestId('stage-reward').click();
    await host.waitFor((m) => m.type === 'runCommand' && m.command === 'rlhf.trainReward');
    const rows = host.page.getByTestId('run');
    assert.equal(await rows.count(), 3);
    // Newest first; a running run can be stopped, a failed one resumed.
    await rows.nth(0).getByTestId('run-stop').click();
    assert.deepEqual(await host.waitFor((m) => m.type === 'runCommand' && m.command === 'rlhf.stopRun'), { type: 'runCommand', command: 'rlhf.stopRun', runId: 'ppo-3' });
    await rows.nth(1).getByTestId('run-resume').click();
    await host.waitFor((m) => m.type === 'runCommand' && m.command === 'rlhf.resumeRun' && m.runId === 'reward-2');
    assert.equal(await rows.nth(2).getByTestId('run-resume').count(), 0);
    for (const m of host.received) assert.ok(isSidebarCommand(m), `invalid command posted: ${JSON.stringify(m)}`);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('a project.json that cannot be read is named, with a button that opens it; a next step with an alternative shows both; the live run shows its live step', async () => {
  const message = "/home/me/aligned/.rlhf/project.json: unknown field 'schemaVersion2' at the top level: remove or rename it. Fix the file (or restore it from version control).";
  const host = await open({ ...base, project: { kind: 'error', workspace: '/home/me/aligned', message, projectFile: true } });
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.equal(await host.page.getByTestId('project-error').textContent(), message);
    await host.page.getByTestId('open-project-file').click();
    await host.waitFor((m) => m.type === 'runCommand' && m.command === 'rlhf.openProjectFile');
    const next = {
      label: 'Train SFT',
      reason: 'Fine-tune first, or go straight to the reward model.',
      command: 'rlhf.trainSft' as const,
      alternative: { label: 'Train reward model', command: 'rlhf.trainReward' as const },
    };
    await host.send({ type: 'didChangeState', state: { ...base, live: { runId: 'ppo-3', stage: 'ppo', step: 19 }, project: { kind: 'open', overview, next } } });
    // The live run's row shows the live step (run.json says 7: it moves only at checkpoints).
    assert.equal(await host.page.locator('[data-run-id="ppo-3"]').getByTestId('run-step').textContent(), 'ppo · step 19');
    assert.equal(await host.page.locator('[data-run-id="sft-1"]').getByTestId('run-step').textContent(), 'sft · step 120');
    await host.page.getByTestId('next-step-alternative').click();
    await host.waitFor((m) => m.type === 'runCommand' && m.command === 'rlhf.trainReward');
    for (const m of host.received) assert.ok(isSidebarCommand(m), `invalid command posted: ${JSON.stringify(m)}`);
  } finally {
    await host.close();
  }
});

test('restricted mode says why and disables training and sampling buttons', async () => {
  const host = await open({ ...base, trusted: false, project: { kind: 'open', overview, next: { label: 'Train reward model', reason: 'ready', command: 'rlhf.trainReward' } } });
  try {
    await host.waitFor((m) => m.type === 'ready');
    assert.match((await host.page.getByTestId('untrusted').textContent()) ?? '', /not trusted, so no training, sampling or model loading/);
    assert.equal(await host.page.getByTestId('stage-generate').getAttribute('disabled'), '');
    await host.page.getByTestId('stage-generate').click({ force: true });
    await host.page.getByTestId('stage-rank').click();
    await host.waitFor((m) => m.type === 'runCommand' && m.command === 'rlhf.startRanking');
    assert.ok(!host.received.some((m) => m.type === 'runCommand' && m.command === 'rlhf.generateCompletions'));
    await screenshot(host.page, 'sidebar-untrusted');
  } finally {
    await host.close();
  }
});

test('isSidebarCommand: runCommand only with an allowlisted id and a safe run id', () => {
  assert.ok(isSidebarCommand({ type: 'runCommand', command: 'rlhf.trainSft' }));
  assert.ok(isSidebarCommand({ type: 'runCommand', command: 'rlhf.showCurves', runId: 'ppo-3' }));
  assert.ok(!isSidebarCommand({ type: 'runCommand', command: 'workbench.action.terminal.new' }));
  assert.ok(!isSidebarCommand({ type: 'runCommand', command: 'rlhf.stopRun', runId: '../x' }));
  assert.ok(!isSidebarCommand({ type: 'runCommand', command: 'rlhf.stopRun', args: [1] }));
  assert.ok(!isSidebarCommand({ type: 'runCommand' }));
  assert.ok(!isSidebarCommand({ type: 'ready', extra: true }));
});
