/**
 * The curves app in Chromium against a protocol-typed host stand-in: it draws the bootstrapped
 * runs, takes appends tagged with step (a repeated step replaces the old value), smooths with
 * the slider (raw values kept), overlays a second run, exports CSV and PNG through the host,
 * fills the samples table, keeps its view with setState, and posts only valid commands. Charts
 * take the theme's colours and follow a theme change; by wall time a line breaks where its run
 * was stopped.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { CurvesBootstrap, CurvesCommand, CurvesNotification } from '../../src/protocol/curves';
import { DEFAULT_VIEW, isCurvesCommand } from '../../src/protocol/curves';
import type { MetricPoint, RunInfo, SamplePoint } from '../../src/protocol/engineTraining';
import { launchBrowser, openWebview, screenshot } from './harness';

const RUN_A = '20261121-063654-demo-9a20cd';
const RUN_B = '20261121-071000-ppo-1b2c3d';
const t0 = Date.parse('2026-11-21T06:36:54Z');

const run = (id: string, over: Partial<RunInfo> = {}): RunInfo => ({
  id,
  stage: 'ppo',
  state: 'completed',
  step: 10,
  createdAt: new Date(t0).toISOString(),
  updatedAt: new Date(t0).toISOString(),
  active: false,
  resumable: false,
  ...over,
});
const ppoPoint = (step: number, score: number, kl = 0.01 * step): MetricPoint => ({
  stage: 'ppo',
  step,
  time: t0 + step * 1000,
  values: { 'objective/scores': score, 'objective/kl': kl, 'loss/policy': -0.01 * step },
});
const sample = (iteration: number, score: number, kl: number): SamplePoint => ({
  stage: 'ppo',
  iteration,
  time: t0 + iteration * 1000,
  prompt: `prompt ${iteration}`,
  completion: `completion with score ${score}`,
  score,
  kl,
});

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

function boot(over: Partial<CurvesBootstrap> = {}): CurvesBootstrap {
  return {
    view: { ...DEFAULT_VIEW, runs: [RUN_A] },
    runs: [run(RUN_A, { state: 'running', active: true }), run(RUN_B)],
    live: { runId: RUN_A, stage: 'ppo', step: 3, reward: 0.3 },
    series: { [RUN_A]: [1, 2, 3].map((s) => ppoPoint(s, s / 10)) },
    samples: { [RUN_A]: [sample(1, 0.1, 0.01), sample(2, 0.2, 0.02), sample(3, 0.9, 0.5), sample(3, 0.05, 0.01)] },
    ...over,
  };
}

const open = (b: CurvesBootstrap = boot()) => openWebview<CurvesCommand, CurvesNotification>(browser, 'curves', b);
const chart = (metric: string) => `.chart[data-metric="${metric}"]`;

test('draws the bootstrapped run in groups, with the samples table and the live run', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    const select = await host.waitFor((m) => m.type === 'selectRuns');
    assert.deepEqual(select, { type: 'selectRuns', runIds: [RUN_A] });
    await host.page.locator(chart('objective/scores')).waitFor();
    assert.equal(await host.page.locator(chart('objective/scores')).getAttribute('data-points'), '3');
    assert.deepEqual(await host.page.locator('details.group > summary').allTextContents(), ['Policy (PPO / RLOO)']);
    assert.match((await host.page.getByTestId('live').textContent()) ?? '', /Training 063654 demo-9a20cd · ppo step 3 · reward 0\.300/);
    const rows = host.page.locator('[data-testid="samples-table"] tbody tr');
    assert.equal(await rows.count(), 4);
    // Newest iteration first; the high-reward, high-KL row is flagged.
    assert.equal(await rows.first().locator('td').first().textContent(), '3');
    assert.equal(await host.page.locator('tr.suspect').count(), 1);
    assert.match((await host.page.locator('tr.suspect').textContent()) ?? '', /0\.900/);
    // An append that repeats a line the page has (a snapshot raced it) adds only the new one.
    await host.send({ type: 'didAppendSamples', runId: RUN_A, samples: [{ ...sample(3, 0.9, 0.5), time: t0 + 9999 }, sample(4, 0.3, 0.1)] });
    await host.page.locator('[data-testid="samples-table"] tbody tr').nth(4).waitFor();
    assert.equal(await rows.count(), 5);
    assert.equal(await rows.first().locator('td').first().textContent(), '4');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test("a GRPO run: its metrics in the GRPO group, each reward function in its own group (DPO's rewards/* stay with DPO), and a column per function in the samples table", async () => {
  const grpoPoint = (step: number): MetricPoint => ({
    stage: 'grpo',
    step,
    time: t0 + step * 1000,
    values: { reward: step / 10, reward_std: 0.2, kl: 0.01 * step, 'rewards/format/mean': step / 20, 'rewards/length/mean': -0.1, 'rewards/chosen': 0.5 },
  });
  const grpoSample = (iteration: number, format: number | null): SamplePoint => ({ ...sample(iteration, 0.5, 0.01), stage: 'grpo', rewards: { format, length: -0.25 } });
  const host = await open(boot({ live: undefined, series: { [RUN_A]: [1, 2].map(grpoPoint) }, samples: { [RUN_A]: [grpoSample(1, 1), grpoSample(2, null)] } }));
  try {
    await host.page.locator(chart('rewards/format/mean')).waitFor();
    assert.deepEqual(await host.page.locator('details.group > summary').allTextContents(), ['GRPO', 'Reward functions', 'DPO']);
    assert.deepEqual(
      await host.page
        .locator('details.group')
        .nth(1)
        .locator('.chart')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-metric'))),
      ['rewards/format/mean', 'rewards/length/mean'],
    );
    const header = await host.page.locator('[data-testid="samples-table"] thead th').allTextContents();
    assert.deepEqual(header, ['iter', 'reward', 'format', 'length', 'KL', 'prompt', 'completion']);
    const cells = host.page.locator('[data-testid="samples-table"] tbody tr').first().locator('td');
    // Newest first: iteration 2, whose format reward could not be computed.
    assert.deepEqual([await cells.nth(0).textContent(), await cells.nth(2).textContent(), await cells.nth(3).textContent()], ['2', '–', '-0.250']);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('appends grow the curves; a repeated (stage, step) replaces the old value', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.send({ type: 'didAppendMetrics', runId: RUN_A, points: [ppoPoint(4, 0.4), ppoPoint(5, 0.5)], live: { runId: RUN_A, stage: 'ppo', step: 5, reward: 0.5 } });
    await host.page.locator(`${chart('objective/scores')}[data-points="5"]`).waitFor();
    // The live line moves with the curves, not only with the (slower) run list.
    assert.match((await host.page.getByTestId('live').textContent()) ?? '', /ppo step 5 · reward 0\.500/);
    // So does the live run's row in the run list: one step everywhere, not run.json's (checkpoints only).
    assert.equal(await host.page.getByTestId(`step-${RUN_A}`).textContent(), 'ppo · step 5 ');
    assert.equal(await host.page.locator(chart('objective/scores')).getAttribute('data-last-x'), '5');
    // A resumed run redoes step 5 (and 4) from its checkpoint: same steps, new values.
    await host.send({ type: 'didAppendMetrics', runId: RUN_A, points: [ppoPoint(4, 0.44), ppoPoint(5, 0.55), ppoPoint(6, 0.66)] });
    await host.page.locator(`${chart('objective/scores')}[data-points="6"]`).waitFor();
    // A second record at the same step (a stage's eval metrics) adds to it, it does not replace it.
    await host.send({ type: 'didAppendMetrics', runId: RUN_A, points: [{ stage: 'ppo', step: 6, time: t0 + 6500, values: { 'objective/entropy': 2.5 } }] });
    await host.page.locator(`${chart('objective/entropy')}[data-points="1"]`).waitFor();
    assert.equal(await host.page.locator(chart('objective/scores')).getAttribute('data-last-x'), '6');
    await host.page.getByTestId('export-csv').click();
    const csv = await host.waitFor((m): m is Extract<CurvesCommand, { type: 'exportCsv' }> => m.type === 'exportCsv');
    const scores = csv.csv
      .trim()
      .split('\n')
      .filter((l) => l.includes(',objective/scores,'));
    assert.deepEqual(
      scores.map((l) => l.split(',').slice(2, 3).concat(l.split(',').slice(5))),
      [
        ['1', '0.1'],
        ['2', '0.2'],
        ['3', '0.3'],
        ['4', '0.44'],
        ['5', '0.55'],
        ['6', '0.66'],
      ],
    );
    assert.equal(csv.csv.split('\n')[0], 'run,stage,step,time,metric,value');
    assert.match(csv.fileName, /^rlhf-curves-.*\.csv$/);
    assert.ok(isCurvesCommand(csv));
  } finally {
    await host.close();
  }
});

test('a chart out of view is made only when scrolled to, is not redrawn on appends while away, and catches up; the DOM is not rebuilt per append', async () => {
  const metrics = [
    'objective/scores',
    'objective/kl',
    'objective/entropy',
    'objective/rlhf_reward',
    'objective/non_score_reward',
    'policy/approxkl',
    'policy/clipfrac',
    'loss/policy',
    'loss/value',
    'val/vpred',
    'val/explained_variance',
    'val/ratio',
  ];
  const wide = (step: number): MetricPoint => ({ stage: 'ppo', step, time: t0 + step * 1000, values: Object.fromEntries(metrics.map((m, i) => [m, Math.sin(step + i)])) });
  const host = await open(boot({ series: { [RUN_A]: [1, 2, 3].map(wide) }, samples: {} }));
  try {
    await host.waitFor((m) => m.type === 'ready');
    const first = host.page.locator(chart('objective/scores'));
    const last = host.page.locator(chart('val/ratio'));
    await first.locator('canvas').first().waitFor();
    await last.waitFor();
    const frames = (): Promise<unknown> => host.page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    await frames();
    // Below the fold: its box holds its place, its plot is not made yet.
    assert.equal(await last.locator('canvas').count(), 0, 'a chart out of view was made on load');
    // Seen once, it is made; then scrolled away again.
    await last.scrollIntoViewIfNeeded();
    await last.locator('canvas').first().waitFor();
    await first.scrollIntoViewIfNeeded();
    await frames();
    // Page code as strings: this tsconfig has no DOM types. (An expression: a string holding a
    // function is evaluated, not called.)
    const pixels = (): Promise<string> => host.page.evaluate(`document.querySelector('${chart('val/ratio')} canvas').toDataURL()`) as Promise<string>;
    const before = await pixels();
    const firstRoot = await first.elementHandle();
    await host.send({ type: 'didAppendMetrics', runId: RUN_A, points: [4, 5, 6, 7, 8].map(wide) });
    await host.page.locator(`${chart('val/ratio')}[data-points="8"]`).waitFor();
    await frames();
    assert.equal(await pixels(), before, 'the chart below the fold was redrawn on an append');
    assert.ok(await firstRoot?.evaluate((e) => e.isConnected), 'the board rebuilt its DOM for an append');
    await last.scrollIntoViewIfNeeded();
    // Polled from here: a string predicate polled in the page would need eval, which the CSP refuses.
    for (const deadline = Date.now() + 5000; (await pixels()) === before; await frames()) assert.ok(Date.now() < deadline, 'the chart did not catch up when scrolled back into view');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

async function legendValues(host: Awaited<ReturnType<typeof open>>, metric: string): Promise<string[]> {
  const over = host.page.locator(`${chart(metric)} .u-over`);
  const box = await over.boundingBox();
  assert.ok(box);
  // Hover the right edge: the legend shows the values at the last step.
  await host.page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
  return host.page.locator(`${chart(metric)} .u-legend .u-series .u-value`).allTextContents();
}

test('the smoothing slider smooths the line and keeps the raw values; hover shows values; the view persists', async () => {
  const points = Array.from({ length: 20 }, (_, i) => ppoPoint(i + 1, i % 2 === 0 ? 1 : 0));
  const host = await open(boot({ series: { [RUN_A]: points }, view: { ...DEFAULT_VIEW, runs: [RUN_A], smoothing: 0 } }));
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.page.locator(`${chart('objective/scores')}[data-points="20"]`).waitFor();
    // [x, raw, smoothed]: unsmoothed, the smoothed line equals the raw one (step 20 → 0).
    const [, raw0, smooth0] = await legendValues(host, 'objective/scores');
    assert.equal(raw0, '0');
    assert.equal(smooth0, '0');
    await host.page.getByTestId('smoothing').fill('0.9');
    assert.equal(await host.page.getByTestId('smoothing-value').textContent(), '0.90');
    await host.page.waitForTimeout(100);
    const [, raw9, smooth9] = await legendValues(host, 'objective/scores');
    assert.equal(raw9, '0');
    const smoothed = Number(smooth9);
    assert.ok(smoothed > 0.3 && smoothed < 0.6, `EMA 0.9 of alternating 1,0 should sit near 0.5, got ${smooth9}`);
    await host.page.getByTestId('x-axis').selectOption('time');
    await host.page.waitForTimeout(100);
    assert.equal(await host.page.locator(chart('objective/scores')).getAttribute('data-last-x'), String((t0 + 20_000) / 1000));
    await screenshot(host.page, 'curves-smoothed');
    // The host keeps the settled view for the next panel.
    const saved = await host.waitFor((m): m is Extract<CurvesCommand, { type: 'saveView' }> => m.type === 'saveView' && m.view.xAxis === 'time');
    assert.equal(saved.view.smoothing, 0.9);
    assert.ok(isCurvesCommand(saved));
    const state = (await host.page.evaluate('acquireVsCodeApi().getState()')) as { smoothing: number; xAxis: string; runs: string[] };
    assert.equal(state.smoothing, 0.9);
    assert.equal(state.xAxis, 'time');
    assert.deepEqual(state.runs, [RUN_A]);
  } finally {
    await host.close();
  }
});

test('a second run overlays on the same charts; PNG export sends a real PNG', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.page.getByTestId(`select-${RUN_B}`).check();
    const select = await host.waitFor((m) => m.type === 'selectRuns' && m.runIds.length === 2);
    assert.deepEqual(select, { type: 'selectRuns', runIds: [RUN_A, RUN_B] });
    await host.send({ type: 'didLoadRun', runId: RUN_B, points: [1, 2, 3, 4, 5, 6, 7].map((s) => ppoPoint(s, 1 - s / 10)), samples: [] });
    await host.page.locator(`${chart('objective/scores')}[data-lines="2"]`).waitFor();
    assert.equal(await host.page.locator(chart('objective/scores')).getAttribute('data-points'), '7');
    // Legend: x, then raw and smoothed for each run.
    assert.equal(await host.page.locator(`${chart('objective/scores')} .u-legend .u-series`).count(), 5);
    await screenshot(host.page, 'curves-overlay');
    await host.page.getByTestId('export-png').click();
    const png = await host.waitFor((m): m is Extract<CurvesCommand, { type: 'exportPng' }> => m.type === 'exportPng');
    assert.ok(isCurvesCommand(png));
    const bytes = Buffer.from(png.dataUrl.slice('data:image/png;base64,'.length), 'base64');
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const width = bytes.readUInt32BE(16);
    const height = bytes.readUInt32BE(20);
    assert.ok(width >= 200 && height >= 200, `PNG is ${width}×${height}`);
    // Unselecting a run removes its lines.
    await host.page.getByTestId(`select-${RUN_B}`).uncheck();
    await host.page.locator(`${chart('objective/scores')}[data-lines="1"]`).waitFor();
    for (const m of host.received) assert.ok(isCurvesCommand(m), `invalid command posted: ${JSON.stringify(m)}`);
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('run control: stop on the live run, resume on a resumable one; a new live run joins the view', async () => {
  const host = await open(boot({ runs: [run(RUN_A, { state: 'running', active: true }), run(RUN_B, { state: 'cancelled', resumable: true })] }));
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.page.getByTestId(`stop-${RUN_A}`).click();
    await host.waitFor((m) => m.type === 'stopRun' && m.runId === RUN_A);
    await host.page.getByTestId(`resume-${RUN_B}`).click();
    await host.waitFor((m) => m.type === 'resumeRun' && m.runId === RUN_B);
    await host.send({
      type: 'didChangeRuns',
      runs: [run(RUN_A, { state: 'cancelled', resumable: true }), run(RUN_B, { state: 'running', active: true })],
      live: { runId: RUN_B, stage: 'ppo', step: 4 },
    });
    await host.waitFor((m) => m.type === 'selectRuns' && m.runIds[0] === RUN_B);
    assert.equal(await host.page.getByTestId(`state-${RUN_B}`).textContent(), 'training');
    assert.match((await host.page.getByTestId('live').textContent()) ?? '', /ppo step 4/);
    await host.send({ type: 'didFail', message: 'Could not read metrics.jsonl' });
    assert.equal(await host.page.locator('.error[role="alert"]').textContent(), 'Could not read metrics.jsonl');
  } finally {
    await host.close();
  }
});

/** A theme as VS Code sets it on the page: the body's class and colour variables on <html>, in the forms VS Code writes. */
interface Theme {
  readonly classes: string;
  readonly vars: Record<string, string>;
  /** The colours the variables name, [r, g, b, a]. */
  readonly foreground: Rgba;
  readonly blue: Rgba;
  readonly border?: Rgba;
}
type Rgba = [number, number, number, number];

const DARK: Theme = {
  classes: 'vscode-dark',
  vars: { '--vscode-foreground': '#d4d4d4', '--vscode-charts-blue': '#4daafc', '--vscode-editor-background': '#1f1f1f' },
  foreground: [212, 212, 212, 1],
  blue: [77, 170, 252, 1],
};
const HC_DARK: Theme = {
  classes: 'vscode-high-contrast',
  vars: {
    '--vscode-foreground': 'rgb(255, 255, 255)',
    '--vscode-charts-blue': '#3794ffee',
    '--vscode-contrastBorder': '#6fc3df',
    '--vscode-editorWidget-border': '#ffffff',
    '--vscode-editor-background': '#000000',
  },
  foreground: [255, 255, 255, 1],
  blue: [55, 148, 255, 0xee / 255],
  border: [111, 195, 223, 1],
};
const HC_LIGHT: Theme = {
  classes: 'vscode-high-contrast vscode-high-contrast-light',
  vars: { '--vscode-foreground': '#292929', '--vscode-charts-blue': 'rgb(15 74 133)', '--vscode-contrastBorder': 'rgba(0, 110, 200, 1)', '--vscode-editor-background': '#ffffff' },
  foreground: [41, 41, 41, 1],
  blue: [15, 74, 133, 1],
  border: [0, 110, 200, 1],
};
const LIGHT: Theme = {
  classes: 'vscode-light',
  vars: { '--vscode-foreground': 'rgba(97, 97, 97, 1)', '--vscode-charts-blue': '#0066bf', '--vscode-editor-background': '#ffffff' },
  foreground: [97, 97, 97, 1],
  blue: [0, 102, 191, 1],
};

/** A canvas style as the canvas reports it (#rrggbb, or rgba() with an alpha). */
function canvasColor(style: string): Rgba {
  const hex = /^#([0-9a-f]{6})$/i.exec(style)?.[1];
  if (hex) return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)).concat(1) as Rgba;
  const parts = /^rgba\(([^)]*)\)$/.exec(style)?.[1]?.split(',').map(Number);
  assert.ok(parts?.length === 4, `unexpected canvas colour ${style}`);
  return parts as Rgba;
}
const sameRgb = (a: Rgba, b: Rgba): boolean => a.slice(0, 3).every((v, i) => Math.abs(v - (b[i] as number)) <= 1);

interface Drawn {
  readonly op: 'stroke' | 'text';
  readonly color: Rgba;
  readonly width: number;
}

/**
 * Every stroke (colour, width) and text (colour) the charts draw after this, read back by
 * `drawn()`: what uPlot was given, as the canvas applied it.
 */
const RECORD_DRAWING = `(() => {
  const proto = CanvasRenderingContext2D.prototype;
  const stroke = proto.stroke;
  const fillText = proto.fillText;
  window.__drawn = [];
  proto.stroke = function (...args) { window.__drawn.push({ op: 'stroke', style: String(this.strokeStyle), width: this.lineWidth }); return stroke.apply(this, args); };
  proto.fillText = function (...args) { window.__drawn.push({ op: 'text', style: String(this.fillStyle), width: 0 }); return fillText.apply(this, args); };
})()`;

/** Switch theme as VS Code does (class and variables in place), and wait until the charts are remade and drawn. */
async function applyTheme(host: Awaited<ReturnType<typeof open>>, theme: Theme): Promise<Drawn[]> {
  const old = await host.page.locator(chart('objective/scores')).elementHandle();
  await host.page.evaluate(`(() => {
    window.__drawn = [];
    const style = document.documentElement.style;
    for (const name of [...style]) if (name.startsWith('--vscode-')) style.removeProperty(name);
    for (const [name, value] of Object.entries(${JSON.stringify(theme.vars)})) style.setProperty(name, value);
    document.body.className = ${JSON.stringify(theme.classes)};
  })()`);
  await host.page.waitForFunction((e) => !e?.isConnected, old);
  await host.page
    .locator(`${chart('objective/scores')} canvas`)
    .first()
    .waitFor();
  await host.page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  const drawn = (await host.page.evaluate('window.__drawn')) as { op: Drawn['op']; style: string; width: number }[];
  return drawn.map((d) => ({ op: d.op, color: canvasColor(d.style), width: d.width }));
}

/** The colours and widths the charts drew in `theme`; returns the raw lines' alpha. */
function assertStyled(drawn: readonly Drawn[], theme: Theme, name: string): number {
  const strokes = drawn.filter((d) => d.op === 'stroke');
  const texts = drawn.filter((d) => d.op === 'text');
  assert.ok(texts.length > 0, `${name}: no axis labels drawn`);
  for (const t of texts) assert.ok(sameRgb(t.color, theme.foreground) && t.color[3] === 1, `${name}: an axis label in ${t.color}, not the foreground`);
  const line = strokes.filter((d) => sameRgb(d.color, theme.blue) && Math.abs(d.color[3] - theme.blue[3]) < 0.01);
  const raw = strokes.filter((d) => sameRgb(d.color, theme.blue) && d.color[3] < theme.blue[3] - 0.05);
  const grid = strokes.filter((d) => sameRgb(d.color, theme.foreground));
  assert.ok(line.length > 0 && raw.length > 0 && grid.length > 0, `${name}: smoothed ${line.length}, raw ${raw.length}, grid ${grid.length} strokes`);
  const rawAlpha = raw[0]?.color[3] as number;
  assert.ok(rawAlpha >= 0.35, `${name}: the raw line (alpha ${rawAlpha}) is too faint`);
  for (const g of grid) {
    assert.ok(g.color[3] <= 0.35, `${name}: grid alpha ${g.color[3]} is heavier than a grid`);
    assert.ok(g.width < Math.min(...raw.map((r) => r.width)), `${name}: grid width ${g.width} is not thinner than the data`);
  }
  assert.ok(Math.min(...line.map((l) => l.width)) > Math.max(...raw.map((r) => r.width)), `${name}: the smoothed line is not above the raw one`);
  const border = theme.border;
  if (border)
    assert.ok(
      strokes.some((d) => sameRgb(d.color, border)),
      `${name}: no contrast border drawn`,
    );
  const unknown = strokes.filter((d) => !sameRgb(d.color, theme.blue) && !sameRgb(d.color, theme.foreground) && !(border && sameRgb(d.color, border)));
  assert.deepEqual(unknown, [], `${name}: strokes in colours not from the theme`);
  return rawAlpha;
}

test('charts take the theme colours (dark, high contrast, light) and are restyled when the theme changes in place', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.page
      .locator(`${chart('objective/scores')} canvas`)
      .first()
      .waitFor();
    await host.page.evaluate(RECORD_DRAWING);
    const dark = assertStyled(await applyTheme(host, DARK), DARK, 'dark');
    await screenshot(host.page, 'curves-theme-dark');
    const hcDark = assertStyled(await applyTheme(host, HC_DARK), HC_DARK, 'high contrast dark');
    await screenshot(host.page, 'curves-theme-hc-dark');
    const hcLight = assertStyled(await applyTheme(host, HC_LIGHT), HC_LIGHT, 'high contrast light');
    const light = assertStyled(await applyTheme(host, LIGHT), LIGHT, 'light');
    await screenshot(host.page, 'curves-theme-light');
    assert.ok(hcDark > dark && hcLight > light, `raw alpha: high contrast ${hcDark}, ${hcLight}; dark ${dark}, light ${light}`);
    // The same theme set again (VS Code re-sends its styles) does not remake the charts.
    const root = await host.page.locator(chart('objective/scores')).elementHandle();
    await host.page.evaluate(
      `document.body.className = ${JSON.stringify(LIGHT.classes)}; document.documentElement.style.setProperty('--vscode-foreground', ${JSON.stringify(LIGHT.vars['--vscode-foreground'])})`,
    );
    await host.page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    assert.ok(await root?.evaluate((e) => e.isConnected), 'an unchanged theme remade the charts');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

/** Whether the plot's middle column (x halfway along the axis) has a pixel of the run's blue line. */
const lineAtMiddle = (host: Awaited<ReturnType<typeof open>>): Promise<boolean> =>
  host.page.evaluate(`(() => {
    const root = document.querySelector('${chart('objective/scores')}');
    const canvas = root.querySelector('canvas');
    const over = root.querySelector('.u-over').getBoundingClientRect();
    const box = canvas.getBoundingClientRect();
    const scale = canvas.width / box.width;
    const x = Math.round((over.left + over.width / 2 - box.left) * scale);
    const top = Math.round((over.top - box.top) * scale);
    const px = canvas.getContext('2d').getImageData(x, top, 1, Math.round(over.height * scale)).data;
    for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 40 && px[i + 2] - px[i] > 60) return true;
    return false;
  })()`) as Promise<boolean>;

test('by wall time a line breaks where the run was stopped and resumed later; by step it stays continuous', async () => {
  // Thirty steps ten seconds apart, a ten-minute stop, and thirty more steps.
  const at = (step: number): MetricPoint => ({ ...ppoPoint(step, Math.sin(step / 5)), time: t0 + step * 10_000 + (step > 30 ? 600_000 : 0) });
  const host = await open(boot({ series: { [RUN_A]: Array.from({ length: 60 }, (_, i) => at(i + 1)) }, view: { ...DEFAULT_VIEW, runs: [RUN_A], smoothing: 0.6 } }));
  try {
    await host.waitFor((m) => m.type === 'ready');
    const root = host.page.locator(chart('objective/scores'));
    await root.locator('canvas').first().waitFor();
    await host.page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    assert.equal(await root.getAttribute('data-points'), '60');
    assert.equal(await root.getAttribute('data-breaks'), '0');
    assert.ok(await lineAtMiddle(host), 'by step, the line is not drawn between steps 30 and 31');
    await host.page.getByTestId('x-axis').selectOption('time');
    await host.page
      .locator(`${chart('objective/scores')}[data-breaks="1"] canvas`)
      .first()
      .waitFor();
    await host.page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    assert.equal(await root.getAttribute('data-points'), '60');
    assert.equal(await root.getAttribute('data-last-x'), String((t0 + 1_200_000) / 1000));
    assert.equal(await lineAtMiddle(host), false, 'by wall time, a line bridges the ten minutes the run was stopped');
    await screenshot(host.page, 'curves-stopped-gap');
    // Steady logging (no stop) keeps the wall-time line whole.
    await host.send({ type: 'didLoadRun', runId: RUN_A, points: Array.from({ length: 60 }, (_, i) => ppoPoint(i + 1, Math.sin((i + 1) / 5))), samples: [] });
    await host.page.locator(`${chart('objective/scores')}[data-breaks="0"]`).waitFor();
    await host.page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    assert.ok(await lineAtMiddle(host), 'by wall time, a run that did not stop is drawn broken');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('messages that are not protocol notifications are ignored', async () => {
  const host = await open();
  try {
    await host.waitFor((m) => m.type === 'ready');
    await host.page.evaluate(`
      window.postMessage({ type: 'didAppendEverything', points: 5 }, '*');
      window.postMessage('nope', '*');
      window.postMessage(null, '*');
    `);
    await host.page.waitForTimeout(100);
    assert.equal(await host.page.locator(chart('objective/scores')).getAttribute('data-points'), '3');
    assert.deepEqual(host.problems, []);
  } finally {
    await host.close();
  }
});

test('isCurvesCommand rejects malformed and hostile commands', () => {
  assert.equal(isCurvesCommand({ type: 'selectRuns', runIds: ['../../etc'] }), false);
  assert.equal(isCurvesCommand({ type: 'selectRuns', runIds: [RUN_A], extra: 1 }), false);
  assert.equal(isCurvesCommand({ type: 'exportCsv', fileName: '../x.csv', csv: '' }), false);
  assert.equal(isCurvesCommand({ type: 'exportPng', fileName: 'x.png', dataUrl: 'data:text/html;base64,PGI+' }), false);
  assert.equal(isCurvesCommand({ type: 'stopRun' }), false);
  assert.equal(isCurvesCommand({ type: 'resumeRun', runId: RUN_B }), true);
  assert.equal(isCurvesCommand({ type: 'saveView', view: { ...DEFAULT_VIEW, smoothing: 5 } }), false);
  assert.equal(isCurvesCommand({ type: 'saveView', view: { ...DEFAULT_VIEW, runs: ['a/b'] } }), false);
  assert.equal(isCurvesCommand({ type: 'saveView', view: DEFAULT_VIEW }), true);
});
