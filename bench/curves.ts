/**
 * `npm run bench:curves`: what the curves page costs the browser's main thread while a PPO run
 * trains. The page (dist/webview/curves.js, in headless Chromium against a host stand-in) gets
 * what the host sends during the demo's PPO: one batch of metrics every 100 ms (the panel's
 * flush), samples every 5 iterations, a run list every 5; and, separately, what loading the
 * whole demo run as one snapshot costs (a panel opened or shown again). Beside it, the
 * reference: a bare page making the same number of uPlot charts of the same size, then giving
 * each the same data with setData on every batch — the chart library's own floor. Printed:
 * main-thread busy time (script, layout, style) per second of training and for the load, and
 * ours / reference. On a 2-core machine this time is
 * taken from the cores the extension host and the engine need. Not a test.
 *
 * Usage: npm run bench:curves [-- --iterations N]
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { STAGE_INFO } from '../src/protocol/stages';
import type { StageName } from '../src/protocol/stages';
import type { CDPSession, Page } from 'playwright-core';
import type { CurvesBootstrap, CurvesCommand, CurvesNotification } from '../src/protocol/curves';
import { DEFAULT_VIEW } from '../src/protocol/curves';
import type { MetricPoint, RunInfo, SamplePoint } from '../src/protocol/engineTraining';
import { launchBrowser, openWebview } from '../test/webview/harness';

const RUN = '20261121-071146-demo-17ea58';
const T0 = Date.parse('2026-11-21T07:11:46Z');
const VIEWPORT = { width: 1200, height: 900 };
const FLUSH_MS = 100;

// What each stage logs (protocol/stages.ts); the reward run here without its eval and speed lines.
const PPO_METRICS = STAGE_INFO.ppo.metrics;
const SFT_METRICS = STAGE_INFO.sft.metrics;
const REWARD_METRICS = STAGE_INFO.reward.metrics.filter((m) => !m.includes('eval') && m !== 'tokens_per_second');

/** A deterministic wobbly curve per metric. */
const value = (metric: string, step: number): number => Math.sin(step / 7 + metric.length) * 0.5 + metric.length / 10 + step / 100;
const point = (stage: StageName, metrics: readonly string[], step: number, at: number): MetricPoint => ({ stage, step, time: at, values: Object.fromEntries(metrics.map((m) => [m, value(m, step)])) });
const sample = (iteration: number, i: number): SamplePoint => ({
  stage: 'ppo',
  iteration,
  time: T0 + iteration * 1000,
  prompt: `prompt ${i} of iteration ${iteration}`,
  completion: ` a completion of thirty-two bytes ${i}`,
  score: value('score', iteration + i),
  kl: iteration / 50,
});

interface Busy {
  readonly script: number;
  readonly layout: number;
  readonly style: number;
  readonly task: number;
}

async function busy(cdp: CDPSession): Promise<Busy> {
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  const get = (name: string): number => (metrics.find((m) => m.name === name)?.value ?? 0) * 1000;
  return { script: get('ScriptDuration'), layout: get('LayoutDuration'), style: get('RecalcStyleDuration'), task: get('TaskDuration') };
}

/** Main-thread ms that `work` and the two frames after it took. */
async function once(page: Page, work: () => Promise<unknown>): Promise<Busy> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const before = await busy(cdp);
  await work();
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  const after = await busy(cdp);
  return { script: after.script - before.script, layout: after.layout - before.layout, style: after.style - before.style, task: after.task - before.task };
}

/** Feed `iterations` batches at the panel's pace; the main thread's busy ms per second. */
async function measure(page: Page, iterations: number, feed: (iteration: number) => Promise<void>): Promise<Busy> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const before = await busy(cdp);
  const started = performance.now();
  for (let it = 1; it <= iterations; it++) {
    const due = started + it * FLUSH_MS;
    await feed(it);
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  // Let the last frame draw.
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  const after = await busy(cdp);
  const seconds = (performance.now() - started) / 1000;
  return {
    script: (after.script - before.script) / seconds,
    layout: (after.layout - before.layout) / seconds,
    style: (after.style - before.style) / seconds,
    task: (after.task - before.task) / seconds,
  };
}

const sftPoints = (): MetricPoint[] => Array.from({ length: 100 }, (_, i) => point('sft', SFT_METRICS, i + 1, T0 + i * 300));
const rewardPoints = (): MetricPoint[] => Array.from({ length: 60 }, (_, i) => point('reward', REWARD_METRICS, i + 1, T0 + 40_000 + i * 300));
const ppoPoints = (n: number): MetricPoint[] => Array.from({ length: n }, (_, i) => point('ppo', PPO_METRICS, i + 1, T0 + 60_000 + (i + 1) * FLUSH_MS));

/** A page shown again loads the demo run whole (SFT, reward model, 200 PPO iterations) as one snapshot. */
async function benchSnapshot(): Promise<{ busy: Busy; charts: number }> {
  const browser = await launchBrowser();
  try {
    const boot: CurvesBootstrap = { view: { ...DEFAULT_VIEW, runs: [RUN] }, runs: [], series: {}, samples: {} };
    const host = await openWebview<CurvesCommand, CurvesNotification>(browser, 'curves', boot);
    await host.page.setViewportSize(VIEWPORT);
    await host.waitFor((m) => m.type === 'ready');
    const points = [...sftPoints(), ...rewardPoints(), ...ppoPoints(200)];
    const samples = Array.from({ length: 40 }, (_, it) => Array.from({ length: 8 }, (_, i) => sample((it + 1) * 5, i))).flat();
    const result = await once(host.page, () => host.send({ type: 'didLoadRun', runId: RUN, points, samples }));
    const charts = await host.page.locator('.chart').count();
    await host.close();
    return { busy: result, charts };
  } finally {
    await browser.close();
  }
}

async function benchPage(iterations: number): Promise<{ busy: Busy; charts: number }> {
  const browser = await launchBrowser();
  try {
    const sft = sftPoints();
    const reward = rewardPoints();
    const runInfo = (step: number): RunInfo => ({
      id: RUN,
      stage: 'ppo',
      state: 'running',
      step,
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0 + step * 100).toISOString(),
      active: true,
      resumable: true,
    });
    const boot: CurvesBootstrap = {
      view: { ...DEFAULT_VIEW, runs: [RUN] },
      runs: [runInfo(0)],
      live: { runId: RUN, stage: 'ppo', step: 0 },
      series: { [RUN]: [...sft, ...reward] },
      samples: { [RUN]: [] },
    };
    const host = await openWebview<CurvesCommand, CurvesNotification>(browser, 'curves', boot);
    await host.page.setViewportSize(VIEWPORT);
    await host.waitFor((m) => m.type === 'ready');
    const result = await measure(host.page, iterations, async (it) => {
      await host.send({ type: 'didAppendMetrics', runId: RUN, points: [point('ppo', PPO_METRICS, it, T0 + 60_000 + it * FLUSH_MS)] });
      if (it % 5 === 0) {
        await host.send({ type: 'didAppendSamples', runId: RUN, samples: Array.from({ length: 8 }, (_, i) => sample(it, i)) });
        await host.send({ type: 'didChangeRuns', runs: [runInfo(it)], live: { runId: RUN, stage: 'ppo', step: it, reward: value('score', it) } });
      }
    });
    const charts = await host.page.locator('.chart').count();
    if (host.problems.length) throw new Error(`the curves page reported problems: ${host.problems.join('; ')}`);
    await host.close();
    return { busy: result, charts };
  } finally {
    await browser.close();
  }
}

/**
 * The reference: `charts` bare uPlot charts of the page's size, made with `points` points each
 * (the creation is measured), then each redrawn with setData per batch.
 */
async function benchReference(iterations: number, charts: number, points: number): Promise<{ create: Busy; live: Busy }> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.setContent('<!doctype html><html><body style="margin:0"><div id="root"></div></body></html>');
    await page.addScriptTag({ path: createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js') });
    await page.addStyleTag({ path: createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css') });
    // Page code as a string: the bench's tsconfig has no DOM types, and tsx helpers would not exist there.
    const create = await once(page, () =>
      page.evaluate(`(() => {
      const root = document.getElementById('root');
      const plots = [];
      const data = [[], [], []];
      for (let s = 1; s <= ${points}; s++) { data[0].push(s); data[1].push(Math.sin(s / 7)); data[2].push(Math.sin(s / 7) * 0.9); }
      for (let i = 0; i < ${charts}; i++) plots.push(new uPlot({ width: 584, height: 170, series: [{}, { stroke: '#3794ff80', width: 1 }, { stroke: '#3794ff', width: 2 }] }, data, root));
      window.feed = (step) => {
        data[0].push(step);
        data[1].push(Math.sin(step / 7));
        data[2].push(Math.sin(step / 7) * 0.9);
        requestAnimationFrame(() => plots.forEach((p) => p.setData(data)));
      };
    })()`),
    );
    const live = await measure(page, iterations, (it) => page.evaluate(`window.feed(${points + it})`));
    return { create, live };
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200' } } });
  const iterations = Number(values.iterations);
  if (!Number.isInteger(iterations) || iterations < 10) throw new Error(`--iterations must be an integer ≥ 10 (got '${values.iterations}')`);
  console.log(`Curves page during PPO: ${iterations} batches at ${1000 / FLUSH_MS}/s, samples and run list every 5, viewport ${VIEWPORT.width}×${VIEWPORT.height}`);
  const ours = await benchPage(iterations);
  const snapshot = await benchSnapshot();
  const ref = await benchReference(iterations, ours.charts, 200);
  const row = (name: string, b: Busy): string =>
    `${name.padEnd(38)} ${b.task.toFixed(0).padStart(6)} ${b.script.toFixed(0).padStart(7)} ${b.layout.toFixed(0).padStart(7)} ${b.style.toFixed(0).padStart(6)}`;
  console.log(`\nwhile PPO trains, main-thread ms per second  busy  script  layout  style`);
  console.log(row(`curves page (${ours.charts} charts)`, ours.busy));
  console.log(row(`reference: bare uPlot × ${ours.charts}`, ref.live));
  console.log(`\nloading the whole demo run, main-thread ms     busy  script  layout  style`);
  console.log(row(`curves page (${snapshot.charts} charts)`, snapshot.busy));
  console.log(row(`reference: bare uPlot × ${ours.charts}, 200 pts`, ref.create));
  console.log(`\nours / reference (busy): while training ${(ours.busy.task / ref.live.task).toFixed(2)}×, loading a run ${(snapshot.busy.task / ref.create.task).toFixed(2)}×`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
