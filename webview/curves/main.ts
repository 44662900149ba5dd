/**
 * The curves panel: live charts of every metric the selected runs logged (webview/curves/
 * charts.ts), the samples of the first selected run beside them, the run list with stop and
 * resume, smoothing, x-axis mode, and CSV/PNG export. The page keeps its view (smoothing, axis,
 * runs, folded groups, hidden series) with setState; the host bootstraps and resyncs full
 * snapshots, and appends arrive tagged with stage and step. The charts follow theme changes.
 */
import { el } from '../shared/dom';
import 'uplot/dist/uPlot.min.css';
import './curves.css';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { CurvesBootstrap, CurvesCommand, CurvesNotification, CurvesViewState, LiveRun } from '../../src/protocol/curves';
import { isCurvesNotification, MAX_SELECTED_RUNS, toViewState } from '../../src/protocol/curves';
import type { RunInfo, SamplePoint } from '../../src/protocol/engineTraining';
import { readBootstrap, vscodeApi } from '../shared/vscodeApi';
import { ChartBoard } from './charts';
import { exportPng } from './exportPng';
import { renderSamples } from './samples';
import { RunSeries, toCsv } from './series';
import { watchTheme } from './theme';

const api = vscodeApi<CurvesCommand, CurvesViewState>();
const boot = readBootstrap<CurvesBootstrap>();

// A page VS Code re-created after it was hidden has a stale bootstrap but its own saved view.
let view: CurvesViewState = toViewState(api.getState() ?? boot.view);
let runs: readonly RunInfo[] = boot.runs;
let live: LiveRun | undefined = boot.live;
const series = new Map<string, RunSeries>();
const samples = new Map<string, SamplePoint[]>();
for (const [id, points] of Object.entries(boot.series)) {
  const s = new RunSeries();
  s.replaceAll(points);
  series.set(id, s);
}
for (const [id, list] of Object.entries(boot.samples)) samples.set(id, [...list]);

const app = document.getElementById('app') as HTMLElement;
const header = el('header', { class: 'toolbar' });
const runList = el('section', { class: 'runs', 'aria-label': 'Runs' });
const error = el('p', { class: 'error', role: 'alert', hidden: '' });
const chartsRoot = el('section', { class: 'charts', 'aria-label': 'Curves' });
const samplesRoot = el('section', { class: 'samples-pane', 'aria-label': 'Samples', 'data-testid': 'samples' });
app.append(header, error, el('div', { class: 'layout' }, el('div', { class: 'main' }, runList, chartsRoot), samplesRoot));

const board = new ChartBoard(
  chartsRoot,
  (key, shown) => setView({ hidden: shown ? view.hidden.filter((h) => h !== key) : [...new Set([...view.hidden, key])] }, false),
  (group, open) => setView({ collapsed: open ? view.collapsed.filter((g) => g !== group) : [...new Set([...view.collapsed, group])] }, false),
);

// VS Code switches theme in place: the charts take the new colours.
watchTheme(() => {
  if (board.restyle()) scheduleCharts();
});

const shortId = (id: string): string => id.replace(/^\d{8}-(\d{6})-/, '$1 ');
const runLabel = (id: string): string => shortId(id);

let saveTimer: ReturnType<typeof setTimeout> | undefined;
function setView(change: Partial<CurvesViewState>, redraw = true): void {
  view = { ...view, ...change };
  api.setState(view);
  // The host keeps the view for the next panel (the slider moves fast: once it settles).
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => api.postMessage({ type: 'saveView', view }), 300);
  if (redraw) renderAll();
}

function selectRuns(ids: readonly string[]): void {
  const unique = [...new Set(ids)].slice(0, MAX_SELECTED_RUNS);
  setView({ runs: unique });
  api.postMessage({ type: 'selectRuns', runIds: unique });
}

const liveLine = el('span', { class: 'live', 'data-testid': 'live' });

/** The toolbar is built once: re-creating a slider mid-drag would drop the drag. */
function buildHeader(): void {
  const smoothing = el('input', { type: 'range', min: '0', max: '0.99', step: '0.01', value: String(view.smoothing), 'aria-label': 'Smoothing', 'data-testid': 'smoothing' });
  const smoothingValue = el('span', { class: 'value', 'data-testid': 'smoothing-value' }, view.smoothing.toFixed(2));
  smoothing.addEventListener('input', () => {
    smoothingValue.textContent = Number(smoothing.value).toFixed(2);
    setView({ smoothing: Number(smoothing.value) }, false);
    scheduleCharts();
  });
  const axis = el('select', { 'aria-label': 'X axis', 'data-testid': 'x-axis' }, el('option', { value: 'step' }, 'step'), el('option', { value: 'time' }, 'wall time'));
  axis.value = view.xAxis;
  axis.addEventListener('change', () => {
    setView({ xAxis: axis.value === 'time' ? 'time' : 'step' }, false);
    scheduleCharts();
  });
  const csv = el('vscode-button', { secondary: '', 'data-testid': 'export-csv' }, 'Export CSV');
  csv.addEventListener('click', () => api.postMessage({ type: 'exportCsv', fileName: `${exportName()}.csv`, csv: toCsv(selectedSeries()) }));
  const png = el('vscode-button', { secondary: '', 'data-testid': 'export-png' }, 'Export PNG');
  png.addEventListener(
    'click',
    () => void board.canvases().then((canvases) => api.postMessage({ type: 'exportPng', fileName: `${exportName()}.png`, dataUrl: exportPng(canvases, view.runs.map(runLabel).join(', ')) })),
  );
  header.replaceChildren(liveLine, el('label', {}, 'Smoothing ', smoothing, smoothingValue), el('label', {}, 'X axis ', axis), csv, png);
}

/** A run row's stage and step: the live run's from the metrics stream (one source with the header and status bar), others' from run.json. */
const runStep = (r: { id: string; stage: string; step: number }): string => (live?.runId === r.id ? `${live.stage} · step ${live.step} ` : `${r.stage} · step ${r.step} `);

function renderHeader(): void {
  liveLine.textContent = live ? `Training ${runLabel(live.runId)} · ${live.stage} step ${live.step}${live.reward === undefined ? '' : ` · reward ${live.reward.toFixed(3)}`}` : 'No run is training.';
  const row = live && runs.find((r) => r.id === live?.runId);
  const step = row && document.querySelector(`[data-testid="step-${CSS.escape(row.id)}"]`);
  if (row && step) step.textContent = runStep(row);
}

function renderRuns(): void {
  const items = [...runs].reverse().map((r) => {
    const box = el('input', { type: 'checkbox', 'data-testid': `select-${r.id}`, 'aria-label': `Show run ${r.id}` });
    box.checked = view.runs.includes(r.id);
    box.addEventListener('change', () => selectRuns(box.checked ? [...view.runs, r.id] : view.runs.filter((id) => id !== r.id)));
    // 'running' on disk but not training here: the engine or the editor went away mid-run.
    // A cancelled run is shown as the user did it: stopped (the toast says so too).
    const label = r.active ? 'training' : r.state === 'running' ? 'interrupted' : r.state === 'cancelled' ? 'stopped' : r.state;
    const state = el('span', { class: `state state-${r.active ? 'active' : r.state}`, 'data-testid': `state-${r.id}` }, label);
    const row = el('li', { 'data-run': r.id }, el('label', {}, box, ` ${runLabel(r.id)} `), el('span', { class: 'muted', 'data-testid': `step-${r.id}` }, runStep(r)), state);
    if (r.active) {
      const stop = el('vscode-button', { secondary: '', 'data-testid': `stop-${r.id}` }, 'Stop');
      stop.addEventListener('click', () => api.postMessage({ type: 'stopRun', runId: r.id }));
      row.append(stop);
    } else if (r.resumable) {
      const resume = el('vscode-button', { secondary: '', 'data-testid': `resume-${r.id}` }, 'Resume');
      resume.addEventListener('click', () => api.postMessage({ type: 'resumeRun', runId: r.id }));
      row.append(resume);
    }
    if (r.message && r.state === 'failed') row.append(el('div', { class: 'error' }, r.message));
    return row;
  });
  runList.replaceChildren(el('h2', {}, 'Runs'), items.length ? el('ul', {}, ...items) : el('p', { class: 'muted' }, 'No runs yet: start one with RLHF: Run Demo Pipeline or a Train command.'));
}

function selectedSeries(): Map<string, RunSeries> {
  return new Map(view.runs.flatMap((id) => (series.has(id) ? [[id, series.get(id) as RunSeries] as const] : [])));
}

function renderCharts(): void {
  const selected = selectedSeries();
  const metrics = new Set([...selected.values()].flatMap((s) => s.metricNames()));
  board.render({
    view,
    metrics,
    linesOf: (metric) => [...selected].flatMap(([id, s]) => s.lines(id, metric)),
    runIndex: (id) => Math.max(0, view.runs.indexOf(id)),
    runLabel,
  });
  chartsRoot.querySelector('[data-testid="no-metrics"]')?.remove();
  if (metrics.size === 0) chartsRoot.append(el('p', { class: 'muted', 'data-testid': 'no-metrics' }, view.runs.length ? 'No metrics logged yet.' : 'Select a run to draw its curves.'));
}

// The samples table is rebuilt only when what it shows changed: another run first, or new
// samples (every load or append stores a new list).
let samplesShown: { runId: string | undefined; list: readonly SamplePoint[] | undefined } | undefined;
function renderSamplesPane(): void {
  const first = view.runs[0];
  const list = first ? samples.get(first) : undefined;
  if (samplesShown && samplesShown.runId === first && samplesShown.list === list) return;
  samplesShown = { runId: first, list };
  renderSamples(samplesRoot, first && runLabel(first), list ?? []);
}

function renderAll(): void {
  renderHeader();
  renderRuns();
  renderCharts();
  renderSamplesPane();
}

const sampleKey = (x: SamplePoint): string => `${x.stage}\u0000${x.iteration}\u0000${x.prompt}\u0000${x.completion}`;

const exportName = (): string => `rlhf-curves-${(view.runs[0] ?? 'none').replace(/[^A-Za-z0-9_.-]/g, '-')}`;

// Charts redraw at most once per frame however fast appends come.
let pending = false;
function scheduleCharts(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    renderHeader();
    renderCharts();
    renderSamplesPane();
  });
}

function onNotification(n: CurvesNotification): void {
  switch (n.type) {
    case 'didChangeRuns': {
      runs = n.runs;
      const wasLive = live?.runId;
      live = n.live;
      // A run that starts training joins the view, as does a run the host asks to show.
      const join = n.focus ?? (live && live.runId !== wasLive ? live.runId : undefined);
      if (join !== undefined && !view.runs.includes(join)) selectRuns([join, ...view.runs]);
      else renderAll();
      return;
    }
    case 'didLoadRun': {
      const s = series.get(n.runId) ?? new RunSeries();
      s.replaceAll(n.points);
      series.set(n.runId, s);
      samples.set(n.runId, [...n.samples]);
      return scheduleCharts();
    }
    case 'didAppendMetrics': {
      // The live line moves with the curves (the run list, which also carries it, comes slower).
      if (n.live) live = n.live;
      let s = series.get(n.runId);
      if (!s) series.set(n.runId, (s = new RunSeries()));
      s.append(n.points);
      return scheduleCharts();
    }
    case 'didAppendSamples': {
      // An append may repeat lines a snapshot already had (it was read while they came in).
      const list = samples.get(n.runId) ?? [];
      const have = new Set(list.map(sampleKey));
      list.push(...n.samples.filter((x) => !have.has(sampleKey(x))));
      samples.set(n.runId, list.slice(-2000));
      return scheduleCharts();
    }
    case 'didFail':
      error.textContent = n.message;
      error.hidden = false;
      return;
    case 'didAskReady':
      return sayReady();
  }
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (isCurvesNotification(event.data)) onNotification(event.data);
});

if (boot.error) {
  error.textContent = boot.error;
  error.hidden = false;
}
// A run training now joins the view of a fresh page (it may have started while the page loaded).
if (live && !view.runs.includes(live.runId)) view = { ...view, runs: [live.runId, ...view.runs].slice(0, MAX_SELECTED_RUNS) };
api.setState(view);
buildHeader();
renderAll();
/** The host (re)sends the run list; it learns the view's runs (restored panels included) and sends what it lacks. */
function sayReady(): void {
  api.postMessage({ type: 'ready' });
  api.postMessage({ type: 'selectRuns', runIds: view.runs });
}
sayReady();
