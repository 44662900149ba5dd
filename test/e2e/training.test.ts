/**
 * Training runs in a real VS Code, from the installed .vsix: start the demo pipeline (preset
 * demo-quick) from the command palette, open the curves from the status bar item, watch PPO
 * points appear while it trains, stop it mid-PPO, resume it, and see the curves continue from
 * the step after the last checkpoint with no gap or repeat (redone steps replace their points). The extension host's event-loop delay during the run is
 * read through RLHF: Show Extension Host Event-Loop Delay and reported. Then a reward model from
 * a preset, the same preset again after its file was edited (it runs as saved), and the
 * sidebar's next step (Train policy) run to the loop's next step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame, Locator } from 'playwright-core';
import { Project } from '../../src/core/store/project';
import { withSession } from './harness';
import type { Session } from './harness';

const SCORES = '.chart[data-metric="objective/scores"]';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pick an item in the open quick pick by typing its label. */
async function pick(s: Session, label: string): Promise<void> {
  const widget = s.page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  await input.fill(label);
  await widget.locator('.monaco-list-row', { hasText: label }).first().waitFor({ state: 'visible', timeout: 30_000 });
  await s.page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 10_000 });
}

async function chartState(frame: Frame): Promise<{ points: number; lastX: number }> {
  const chart = frame.locator(SCORES);
  if ((await chart.count()) === 0) return { points: 0, lastX: 0 };
  return { points: Number(await chart.getAttribute('data-points')), lastX: Number(await chart.getAttribute('data-last-x')) };
}

/** Wait until the PPO scores chart has at least `minLastX` as its newest step. */
async function waitForPpoStep(frame: Frame, minLastX: number, timeoutMs: number): Promise<{ points: number; lastX: number }> {
  const until = Date.now() + timeoutMs;
  let last = { points: 0, lastX: 0 };
  while (Date.now() < until) {
    last = await chartState(frame).catch(() => last);
    if (last.lastX >= minLastX) return last;
    await sleep(250);
  }
  throw new Error(`The PPO curve never reached step ${minLastX} (last: ${JSON.stringify(last)}).`);
}

/**
 * Waits until the PPO curve reaches `minLastX` with every step from 1 on exactly once. A resync
 * (snapshot, then the appends buffered while it was read) can show a gap for a moment; a gap or
 * repeat that is still there when the time is up fails.
 */
async function waitForContiguousPpo(frame: Frame, minLastX: number, timeoutMs: number): Promise<{ points: number; lastX: number }> {
  const reached = await waitForPpoStep(frame, minLastX, timeoutMs);
  const until = Date.now() + 30_000;
  let last = reached;
  while (last.points !== last.lastX && Date.now() < until) {
    await sleep(250);
    last = await chartState(frame).catch(() => last);
  }
  return last;
}

/** The lines of the extension's output channel log (under the session's user-data logs). */
function extensionLog(userDataDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'RLHF Workbench.log') found.push(...fs.readFileSync(p, 'utf8').split('\n'));
    }
  };
  const logs = path.join(userDataDir, 'logs');
  if (fs.existsSync(logs)) walk(logs);
  return found;
}

/** On a failed wait: what the panel drew (charts, selected runs) and what the host logged about it. */
async function explainCurves(s: Session, frame: Frame): Promise<void> {
  const charts = await frame
    .locator('.chart')
    .evaluateAll((els) => els.map((e) => `${e.getAttribute('data-metric')}: ${e.getAttribute('data-points')} points, last x ${e.getAttribute('data-last-x')}`))
    .catch((err: unknown) => [`(could not read the charts: ${String(err)})`]);
  const runs = await frame
    .locator('.runs li')
    .allTextContents()
    .catch(() => []);
  const selected = await frame
    .locator('.runs input:checked')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')))
    .catch(() => []);
  console.log(`e2e curves: charts ${JSON.stringify(charts)}\ne2e curves: runs ${JSON.stringify(runs)}, selected ${JSON.stringify(selected)}`);
  for (const line of extensionLog(s.userDataDir).filter((l) => /Curves|Run |run-start/.test(l))) console.log(`e2e log: ${line}`);
}

/**
 * Click the status bar item until the curves page is up. The item repaints four times a second
 * while a run trains, and on a loaded machine a click can land on a repaint and do nothing
 * (once in CI-like runs here); a user would click again, and so does the test.
 */
async function clickUntilCurves(s: Session, status: Locator): Promise<Frame> {
  for (let attempt = 1; ; attempt++) {
    await status.locator('a').first().click();
    try {
      return await s.webviewFrame('[data-testid="live"]', attempt < 3 ? 30_000 : 120_000);
    } catch (err) {
      if (attempt >= 3) throw err;
      console.log(`e2e: the curves did not open after status bar click ${attempt}; clicking again`);
    }
  }
}

/** Polls `check` until it holds; fails naming `what`. */
async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** Completed runs of one stage in the workspace's project, with their steps (from run.json). */
function completedRuns(workspace: string, stage: string): { id: string; step: number }[] {
  const dir = path.join(workspace, '.rlhf', 'runs');
  return fs
    .readdirSync(dir)
    .filter((id) => fs.existsSync(path.join(dir, id, 'run.json')))
    .map((id) => ({ id, run: JSON.parse(fs.readFileSync(path.join(dir, id, 'run.json'), 'utf8')) as { stage: string; state: string; step: number } }))
    .filter(({ run }) => run.stage === stage && run.state === 'completed')
    .map(({ id, run }) => ({ id, step: run.step }));
}

async function eventLoopDelay(s: Session, since: RegExp): Promise<{ max: number; p99: number; ownWork: number; text: string }> {
  await s.runCommand('RLHF: Show Extension Host Event-Loop Delay');
  const n = await s.waitForNotification(since);
  const max = Number(/max ([\d.]+) ms/.exec(n.message)?.[1]);
  const p99 = Number(/p99 ([\d.]+) ms/.exec(n.message)?.[1]);
  const ownWork = Number(/our work on it: \d+ calls, longest ([\d.]+) ms/.exec(n.message)?.[1]);
  return { max, p99, ownWork, text: n.message };
}

test('the demo pipeline from the palette: PPO curves live, stop mid-PPO, resume, curves continue from the right step', async () => {
  await withSession({ name: 'training', backend: 'wasm' }, async (s) => {
    await s.runCommand('RLHF: Run Demo Pipeline');
    await pick(s, 'demo-quick');
    // The status bar shows stage, step and reward while it trains; clicking it opens the curves.
    const status = s.page.locator('.part.statusbar .statusbar-item', { hasText: /RLHF \w+ · step \d+/ }).first();
    await status.waitFor({ state: 'visible', timeout: 300_000 });
    const curves = await clickUntilCurves(s, status);

    // SFT and the reward model come first; then PPO points appear while it trains.
    const first = await waitForPpoStep(curves, 2, 300_000);
    assert.match((await curves.locator('[data-testid="live"]').textContent()) ?? '', /Training .* · ppo step \d+/);
    await curves.locator('.chart[data-metric="objective/kl"]').waitFor();
    await s.screenshot('ppo-live');
    const during = await waitForPpoStep(curves, first.lastX + 2, 120_000);
    assert.ok(during.points > first.points, 'no new PPO points arrived while it trained');
    // Well past the first checkpoint (every 5 iterations), so the resume has one to start
    // from and the event-loop figures cover a good stretch of PPO (~50 iterations, ~10 s here).
    await waitForPpoStep(curves, 50, 180_000);
    const delay = await eventLoopDelay(s, /event-loop delay since ppo of run \S+ started/);
    console.log(`e2e: ${delay.text}`);

    await s.runCommand('RLHF: Stop Run');
    const stopped = await s.waitForNotification(/stopped at ppo step (\d+)/, 60_000);
    const runId = /run (\S+) stopped/.exec(stopped.message)?.[1];
    assert.ok(runId, `no run id in '${stopped.message}'`);
    await curves.locator(`[data-testid="state-${runId}"]`, { hasText: 'stopped' }).waitFor({ timeout: 30_000 });
    const atStop = await chartState(curves);
    const run = JSON.parse(fs.readFileSync(path.join(s.workspace, '.rlhf', 'runs', runId, 'run.json'), 'utf8')) as { state: string; checkpoints: { stage: string; step: number }[] };
    assert.equal(run.state, 'cancelled');
    // The stop left a checkpoint at the last finished PPO iteration, or (stopped mid-rollout)
    // the last interval checkpoint is where it resumes: the steps after it will be redone.
    const checkpointStep = Math.max(...run.checkpoints.filter((c) => c.stage === 'ppo').map((c) => c.step));
    assert.ok(checkpointStep >= 5 && checkpointStep <= atStop.lastX, `PPO checkpoint at step ${checkpointStep}, curve at ${atStop.lastX}`);
    await s.screenshot('stopped');

    await s.runCommand('RLHF: Resume Run');
    await pick(s, runId);
    // The runner redoes the steps after the checkpoint: the curve goes past where it stopped,
    // and every step from 1 on appears exactly once (points = last step).
    // Far enough that the resumed window's event-loop figures cover a stretch of PPO too.
    const resumed = await waitForContiguousPpo(curves, atStop.lastX + 25, 180_000);
    assert.equal(resumed.points, resumed.lastX, `the PPO curve has ${resumed.points} points up to step ${resumed.lastX}: a gap or a repeat`);
    assert.match((await curves.locator('[data-testid="live"]').textContent()) ?? '', /ppo step \d+/);
    const metrics = fs
      .readFileSync(path.join(s.workspace, '.rlhf', 'runs', runId, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { stage?: string; step: number });
    const ppoSteps = metrics.filter((m) => m.stage === 'ppo').map((m) => m.step);
    const resumeAt = ppoSteps.findIndex((step, i) => i > 0 && step <= (ppoSteps[i - 1] as number));
    if (resumeAt > 0) assert.equal(ppoSteps[resumeAt], checkpointStep + 1, 'the resumed run did not continue from the step after its checkpoint');
    await s.screenshot('resumed');
    const delayAfter = await eventLoopDelay(s, /event-loop delay since ppo of run \S+ resumed at step/);
    console.log(`e2e (resumed run): ${delayAfter.text}`);

    // Hidden while it trains, the panel misses appends; shown again, it resyncs from snapshots.
    await s.runCommand('File: New Untitled Text File');
    await sleep(2_000);
    await s.page.locator('.tabs-container .tab', { hasText: 'RLHF Curves' }).first().click();
    const shown = await s.webviewFrame(async (f) => (await f.locator(SCORES).count()) > 0, 60_000);
    const afterShow = await waitForContiguousPpo(shown, resumed.lastX + 2, 120_000);
    assert.equal(afterShow.points, afterShow.lastX, `after hide/show the PPO curve has ${afterShow.points} points up to step ${afterShow.lastX}`);

    // This time, the panel's own Stop button.
    await shown.locator(`[data-testid="stop-${runId}"]`).click();
    const firstStop = /stopped at ppo step (\d+)/.exec(stopped.message)?.[1] ?? '';
    const stoppedAgain = await s.waitForNotification(new RegExp(`stopped at ppo step (?!${firstStop}\\b)\\d+|run ${runId} completed`), 60_000);
    assert.doesNotMatch(stoppedAgain.message, /completed/, "the run finished all its PPO iterations before the panel's Stop was clicked");
    const finalStep = Number(/stopped at ppo step (\d+)/.exec(stoppedAgain.message)?.[1]);
    assert.ok(finalStep > resumed.lastX && finalStep < 200, `the second stop came at step ${finalStep} (resumed curve at ${resumed.lastX}; the run has 200 iterations)`);
    await shown.locator(`[data-testid="state-${runId}"]`, { hasText: 'stopped' }).waitFor({ timeout: 30_000 });
    await s.screenshot('stopped-again');

    // After a reload, VS Code restores the panel through its serializer with the page's view.
    await s.runCommand('Developer: Reload Window');
    await s.page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
    const restored = await s.webviewFrame(async (f) => (await f.locator(SCORES).count()) > 0, 120_000);
    const afterReload = await waitForPpoStep(restored, finalStep, 60_000);
    assert.equal(afterReload.points, afterReload.lastX);
    assert.ok(await restored.locator(`[data-testid="select-${runId}"]`).isChecked(), 'the restored panel lost its selected run');
    await s.screenshot('restored');

    // A stage from a preset: the config is written to .rlhf/configs/ (models from the demo's
    // finished stages) and the new run joins the curves while it trains.
    await s.runCommand('RLHF: Train Reward Model');
    await pick(s, 'reward: quick');
    await s.waitForNotification(/RLHF: run \S+-reward-\S+ completed/, 240_000);
    const rewardConfig = JSON.parse(fs.readFileSync(path.join(s.workspace, '.rlhf', 'configs', 'reward-quick.json'), 'utf8')) as { model: string; steps: number };
    assert.equal(rewardConfig.model, path.join(s.workspace, '.rlhf', 'runs', runId, 'checkpoints', 'sft', 'final'));
    // Every step of the reward run reaches the curves (the last append may land just after the notification).
    // Found afresh (not through `restored`): VS Code may have re-created the page meanwhile.
    const rewardChart = `.chart[data-metric="reward/accuracy"][data-last-x="${rewardConfig.steps}"]`;
    await s.webviewFrame(rewardChart, 30_000).catch(async (err: unknown) => {
      for (const f of s.page.frames().filter((x) => !x.isDetached()))
        if (
          (await f
            .locator('.charts')
            .count()
            .catch(() => 0)) > 0
        )
          await explainCurves(s, f);
      if (restored.isDetached()) console.log('e2e curves: the restored page was re-created');
      throw err;
    });
    await s.screenshot('reward-run');

    // An edited preset file survives its preset being picked again: it runs as saved.
    const rewardFile = path.join(s.workspace, '.rlhf', 'configs', 'reward-quick.json');
    const edited = JSON.stringify({ ...rewardConfig, steps: 4, evalEvery: 2, checkpointEvery: 2 }, null, 4);
    fs.writeFileSync(rewardFile, edited);
    await s.runCommand('RLHF: Train Reward Model');
    await pick(s, 'reward: quick');
    await waitFor(() => completedRuns(s.workspace, 'reward').length >= 2, 'a second reward run to complete', 240_000);
    assert.equal(fs.readFileSync(rewardFile, 'utf8'), edited, 'picking the preset again overwrote the edited reward-quick.json');
    const second = completedRuns(s.workspace, 'reward').find((r) => r.step === 4);
    assert.ok(second, `no reward run trained the edited 4 steps: ${JSON.stringify(completedRuns(s.workspace, 'reward'))}`);

    // The sidebar's next step runs from here: a reward model and no finished policy → Train
    // policy (PPO, quick); after it, the loop goes on (sample from the new policy, rank again).
    await s.runCommand('RLHF: Show Engine Status');
    const sidebar = await s.webviewFrame('[data-testid="next-step"]', 60_000);
    await waitFor(async () => ((await sidebar.locator('[data-testid="next-step-button"]').textContent()) ?? '').trim() === 'Train policy', "the next step 'Train policy'", 60_000);
    // A prompt longer than the tiny model's context (128 bytes) is in the project: PPO fits it.
    const long = `${'A prompt far longer than the context of the tiny model, '.repeat(5)}and its end.`;
    await (await Project.open(s.workspace)).prompts.add([long], 'e2e');
    await sidebar.locator('[data-testid="next-step-button"]').click();
    await pick(s, 'PPO');
    await pick(s, 'ppo: quick');
    await waitFor(() => completedRuns(s.workspace, 'ppo').length >= 1, 'the PPO run started from the next step to complete', 240_000);
    assert.ok(
      extensionLog(s.userDataDir).some((l) => /ppo: 1 of \d+ prompts is longer than the \d+ tokens the context leaves/.test(l)),
      'the PPO run did not report the long prompt it cut',
    );
    // The demo's batches wait for a human ranking: rank them, or sample afresh from the new policy.
    await waitFor(async () => /Next round/.test((await sidebar.locator('[data-testid="next-step"]').textContent()) ?? ''), 'the next round after the policy run', 60_000);
    assert.match(((await sidebar.locator('[data-testid="next-step-button"]').textContent()) ?? '').trim(), /^(Rank \d+ waiting|Generate completions)$/);
    await s.screenshot('next-step-after-policy');

    // The editor validates .rlhf/configs/<stage>*.json against the stage's schema.
    fs.writeFileSync(path.join(s.workspace, '.rlhf', 'configs', 'ppo-broken.json'), JSON.stringify({ model: 'm', rewardModel: 'r', iterations: 0, klEstimator: 'k9', bogus: true }, null, 2));
    await s.page.keyboard.press('Control+P');
    await s.page.locator('.quick-input-widget .quick-input-box input').fill('ppo-broken.json');
    await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'ppo-broken.json' }).first().waitFor({ timeout: 30_000 });
    await s.page.keyboard.press('Enter');
    const problems = s.page.locator('.part.statusbar [id="status.problems"]');
    const until = Date.now() + 60_000;
    let label = '';
    while (Date.now() < until) {
      label = (await problems.getAttribute('aria-label').catch(() => null)) ?? (await problems.textContent().catch(() => '')) ?? '';
      if (/Warnings: 3\b/.test(label)) break;
      await sleep(500);
    }
    // VS Code reports schema violations as warnings: iterations 0, klEstimator 'k9', and 'bogus'.
    assert.match(label, /Warnings: 3\b/, `the schema violations of ppo-broken.json were not all reported (status: '${label}')`);
    await s.screenshot('config-validation');

    // The extension's log names each stall over 50 ms and how long our own host work took.
    for (const line of extensionLog(s.userDataDir).filter((l) => /event-loop delay/.test(l))) console.log(`e2e log: ${line}`);
    // Target: no stall above 50 ms. On a shared 2-core machine (the engine, code-server and
    // Chromium on the same cores) single stalls of a few hundred ms happen without any work of
    // ours on the host, so the test holds 99% of the samples to the target and bounds the worst.
    assert.ok(delay.p99 < 50, `extension host event loop p99 ${delay.p99} ms during PPO (target: under 50 ms)`);
    assert.ok(delay.max < 1000, `extension host stalled for ${delay.max} ms during PPO`);
    // What we control outright: none of our own host work (events, flushes, posts) takes 50 ms.
    for (const d of [delay, delayAfter]) assert.ok(d.ownWork < 50, `our own host work took ${d.ownWork} ms in one go: ${d.text}`);
  });
});
