/**
 * The curves panel (a webview panel, restored after a reload by its serializer). The host
 * bootstraps the full state (runs, the selected runs' metrics and samples, read through the
 * engine), waits for the page's `ready`, then forwards live appends tagged with their stage and
 * step, batched to at most ten messages a second. A panel that was hidden missed appends: when
 * it becomes visible again it gets full snapshots. Every page message is validated first.
 *
 * Why the page's curves have no gap and no repeat, however snapshots and appends interleave:
 *  1. the runner writes a metrics or samples line to the run's files before it emits the event;
 *  2. appends are forwarded only for runs the page has a snapshot of (`loaded`), buffered per run;
 *  3. a snapshot clears that run's buffer, then reads the files; while a read is in flight
 *     (`inFlight`, counted) the run's new appends wait in the buffer and are sent after it;
 *  4. so every point is in the snapshot, or in an append sent after it, or both; the page
 *     replaces a point it already has for the same (stage, step), so "both" draws it once;
 *  5. of overlapping reads (a page re-created meanwhile), only the newest is posted (`snapshotGeneration`).
 */
import { errorMessage } from '../../protocol/guards';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { projectFolder } from '../project/workspace';
import type { CurvesBootstrap, CurvesCommand, CurvesNotification, CurvesViewState } from '../../protocol/curves';
import { DEFAULT_VIEW, isCurvesCommand, MAX_SELECTED_RUNS, toViewState } from '../../protocol/curves';
import type { MetricPoint, SamplePoint } from '../../protocol/engineTraining';
import type { FeatureDeps } from '../features';
import { renderWebviewHtml } from '../webviewHtml';
import type { RunController, TrainingEventMessage } from './runController';

export const CURVES_VIEW_TYPE = 'rlhf.curves';
const FLUSH_MS = 100;
const VIEW_KEY = 'rlhf.curves.view';
/** How long a panel shown again waits for its page's `ready` before asking for it. */
const ASK_READY_MS = 2000;

export class CurvesPanel implements vscode.Disposable {
  private static current: CurvesPanel | undefined;
  private ready = false;
  private view: CurvesViewState;
  /** Runs whose snapshot the page has (appends for others are not sent). */
  private readonly loaded = new Set<string>();
  /** Runs whose snapshot is being read: their appends wait until it has been posted. */
  private readonly inFlight = new Map<string, number>();
  /** The newest snapshot started per run: an older one finishing later must not be posted. */
  private readonly snapshotGeneration = new Map<string, number>();
  /** The page's bootstrap is fresh (set by load()); a page re-created after hiding has a stale one. */
  private freshBootstrap = false;
  private readonly pendingMetrics = new Map<string, MetricPoint[]>();
  private readonly pendingSamples = new Map<string, SamplePoint[]>();
  private flushTimer: NodeJS.Timeout | undefined;
  private runsTimer: NodeJS.Timeout | undefined;
  private askTimer: NodeJS.Timeout | undefined;
  /** A run that started since the page last heard: it joins the view even if it ends at once. */
  private startedRun: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  /** Open (or reveal) the panel; `runId` joins the runs drawn. */
  static async show(deps: FeatureDeps, runs: RunController, runId?: string): Promise<void> {
    const existing = CurvesPanel.current;
    if (existing) {
      existing.panel.reveal(undefined, true);
      if (runId && !existing.view.runs.includes(runId)) await existing.select([runId, ...existing.view.runs], true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(CURVES_VIEW_TYPE, 'RLHF Curves', { viewColumn: vscode.ViewColumn.Active, preserveFocus: true }, CurvesPanel.options(deps));
    deps.log.info(`Curves: panel opened${runId ? ` on run ${runId}` : ''}`);
    // The view the last panel had (smoothing, axis, runs…), with the run asked for in front.
    const saved = toViewState(deps.context.workspaceState.get(VIEW_KEY) ?? DEFAULT_VIEW);
    const first = runId ?? runs.live?.runId;
    const view: CurvesViewState = { ...saved, runs: first ? [first, ...saved.runs.filter((id) => id !== first)].slice(0, MAX_SELECTED_RUNS) : saved.runs };
    await new CurvesPanel(panel, deps, runs, view).load();
  }

  /** For the serializer: a panel VS Code restored after a reload, with the page's saved view. */
  static async revive(panel: vscode.WebviewPanel, deps: FeatureDeps, runs: RunController, state: unknown): Promise<void> {
    panel.webview.options = CurvesPanel.options(deps);
    CurvesPanel.current?.panel.dispose();
    await new CurvesPanel(panel, deps, runs, toViewState(state)).load();
  }

  private static options(deps: FeatureDeps): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [vscode.Uri.joinPath(deps.context.extensionUri, 'dist', 'webview')] };
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly deps: FeatureDeps,
    private readonly runs: RunController,
    view: CurvesViewState,
  ) {
    this.view = view;
    CurvesPanel.current = this;
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => deps.eventLoop.track('curves page message', () => this.onMessage(m))),
      panel.onDidChangeViewState(() =>
        deps.eventLoop.track('curves shown/hidden', () => {
          // Hidden, the page is gone (no retainContextWhenHidden): it reloads and says ready again.
          // Shown, ask the page to say ready anyway: a page that was not re-created (a hide and
          // show VS Code coalesced) would otherwise never hear from the host again.
          deps.log.info(`Curves: panel ${panel.visible ? 'shown' : 'hidden'}`);
          clearTimeout(this.askTimer);
          if (!panel.visible) this.ready = false;
          // A re-created page says ready within moments; only a page that stayed alive needs asking.
          else this.askTimer = setTimeout(() => this.ready || void panel.webview.postMessage({ type: 'didAskReady' } satisfies CurvesNotification), ASK_READY_MS);
        }),
      ),
      runs.onEvent((m) => this.onRunEvent(m)),
    );
  }

  private workspace(): string | undefined {
    return projectFolder();
  }

  /** Render the page with a full bootstrap (used on open, restore, and reload). */
  private async load(): Promise<void> {
    const bootstrap = await this.bootstrap();
    const root = vscode.Uri.joinPath(this.deps.context.extensionUri, 'dist', 'webview');
    const webview = this.panel.webview;
    webview.html = renderWebviewHtml({
      title: 'RLHF Curves',
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(root, 'curves.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(root, 'curves.css')).toString(),
      bootstrap,
    });
  }

  private async bootstrap(): Promise<CurvesBootstrap> {
    const live = this.runs.live;
    const base = { view: this.view, ...(live ? { live } : {}) };
    const workspace = this.workspace();
    if (!workspace) return { ...base, runs: [], series: {}, samples: {}, error: 'Open a folder with an RLHF project to see its runs.' };
    try {
      const { runs } = await this.deps.engine.request('training.runs', { workspace });
      const known = new Set(runs.map((r) => r.id));
      this.view = { ...this.view, runs: this.view.runs.filter((id) => known.has(id)) };
      const series: Record<string, MetricPoint[]> = {};
      const samples: Record<string, SamplePoint[]> = {};
      this.loaded.clear();
      for (const id of this.view.runs) {
        const s = await this.snapshot(workspace, id);
        series[id] = s.points;
        samples[id] = s.samples;
        this.loaded.add(id);
      }
      this.freshBootstrap = true;
      return { ...base, view: this.view, runs, series, samples };
    } catch (err) {
      return { ...base, runs: [], series: {}, samples: {}, error: `Could not read the runs: ${errorMessage(err)}` };
    }
  }

  /**
   * A run's metrics and samples from its files. The runner writes a line before it emits it,
   * so appends buffered before the read are in the snapshot; appends arriving during the read
   * may or may not be, and are sent after it (the page replaces a repeated (stage, step)).
   */
  private async snapshot(workspace: string, runId: string): Promise<{ points: MetricPoint[]; samples: SamplePoint[]; current: boolean }> {
    this.pendingMetrics.delete(runId);
    this.pendingSamples.delete(runId);
    // Counted, not a flag: a page re-created while an older read is in flight starts another,
    // and the older one finishing must not release the appends the newer one is holding.
    this.inFlight.set(runId, (this.inFlight.get(runId) ?? 0) + 1);
    const generation = (this.snapshotGeneration.get(runId) ?? 0) + 1;
    this.snapshotGeneration.set(runId, generation);
    try {
      const [{ points, warning }, { samples }] = await Promise.all([
        this.deps.engine.request('training.metrics', { workspace, runId }),
        this.deps.engine.request('training.samples', { workspace, runId }),
      ]);
      if (warning) this.deps.log.warn(warning);
      return { points, samples, current: this.snapshotGeneration.get(runId) === generation };
    } finally {
      const left = (this.inFlight.get(runId) ?? 1) - 1;
      if (left > 0) this.inFlight.set(runId, left);
      else this.inFlight.delete(runId);
      this.scheduleFlush();
    }
  }

  private post(n: CurvesNotification): void {
    if (this.ready) void this.panel.webview.postMessage(n);
  }

  private onMessage(raw: unknown): void {
    if (!isCurvesCommand(raw)) {
      this.deps.log.warn(`Curves: ignored an invalid message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    void this.dispatch(raw).catch((err: unknown) => {
      const message = errorMessage(err);
      this.deps.log.error(`Curves: ${raw.type} failed: ${message}`);
      this.post({ type: 'didFail', message });
    });
  }

  private async dispatch(cmd: CurvesCommand): Promise<void> {
    switch (cmd.type) {
      case 'ready':
        // A page re-created after it was hidden has a stale bootstrap: resend what it draws.
        this.deps.log.info(`Curves: page ready (${this.freshBootstrap ? 'fresh' : 'stale'} bootstrap)`);
        this.ready = true;
        if (!this.freshBootstrap) this.loaded.clear();
        this.freshBootstrap = false;
        await this.sendRuns();
        return;
      case 'selectRuns':
        return this.select(cmd.runIds, false);
      case 'exportCsv':
        return this.save(cmd.fileName, 'CSV', Buffer.from(cmd.csv, 'utf8'));
      case 'exportPng':
        return this.save(cmd.fileName, 'PNG', Buffer.from(cmd.dataUrl.slice(cmd.dataUrl.indexOf(',') + 1), 'base64'));
      case 'stopRun':
        await vscode.commands.executeCommand('rlhf.stopRun', cmd.runId);
        return;
      case 'resumeRun':
        await vscode.commands.executeCommand('rlhf.resumeRun', cmd.runId);
        return;
      case 'saveView':
        this.view = cmd.view;
        await this.deps.context.workspaceState.update(VIEW_KEY, cmd.view);
        return;
    }
  }

  /** The page draws `runIds`: send a snapshot of each it lacks (and the run list, if asked). */
  private async select(runIds: readonly string[], tellPage: boolean): Promise<void> {
    this.view = { ...this.view, runs: [...runIds] };
    this.deps.log.info(`Curves: drawing ${runIds.join(', ') || 'no run'}`);
    const workspace = this.workspace();
    if (!workspace) return;
    if (tellPage) await this.sendRuns(runIds[0]);
    for (const id of runIds) {
      if (this.loaded.has(id)) continue;
      this.loaded.add(id);
      const s = await this.snapshot(workspace, id);
      // A newer snapshot of this run is on its way (the page was re-created meanwhile).
      if (s.current) this.deps.eventLoop.track('curves snapshot', () => this.post({ type: 'didLoadRun', runId: id, points: s.points, samples: s.samples }));
    }
  }

  private async sendRuns(focus?: string): Promise<void> {
    const workspace = this.workspace();
    // No page to tell: it asks again when it says ready.
    if (!workspace || !this.ready) return;
    const { runs } = await this.deps.engine.request('training.runs', { workspace });
    const live = this.runs.live;
    // A run that started meanwhile joins the view even when it has already ended (a short run
    // can start and finish between two run lists): `focus` makes the page select it.
    const join = focus ?? this.startedRun;
    if (!this.ready) return;
    this.startedRun = undefined;
    this.deps.eventLoop.track('curves run list', () => this.post({ type: 'didChangeRuns', runs, ...(live ? { live } : {}), ...(join ? { focus: join } : {}) }));
  }

  private onRunEvent(m: TrainingEventMessage): void {
    const e = m.event;
    if (e.type === 'metrics' || e.type === 'samples') {
      // Not drawn, or the page is hidden (it resyncs from snapshots when it is back).
      if (!this.loaded.has(m.runId) || (!this.ready && !this.freshBootstrap)) return;
      if (e.type === 'metrics') push(this.pendingMetrics, m.runId, [e.point]);
      else push(this.pendingSamples, m.runId, e.samples);
      this.scheduleFlush();
    } else if (e.type !== 'log') {
      if (e.type === 'run-start') this.startedRun = m.runId;
      // Run list and live line: debounced, they change with state, stage and checkpoints.
      if (!this.runsTimer) {
        this.runsTimer = setTimeout(
          () =>
            this.deps.eventLoop.track('curves run list', () => {
              this.runsTimer = undefined;
              if (this.ready) void this.sendRuns().catch((err: unknown) => this.deps.log.warn(`Curves: could not list runs: ${String(err)}`));
            }),
          300,
        );
      }
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.deps.eventLoop.track('curves flush', () => this.flush()), FLUSH_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (!this.ready) return; // the page resyncs from snapshots when it is back
    for (const [runId, points] of this.pendingMetrics) {
      if (this.inFlight.has(runId)) continue;
      const live = this.runs.live;
      this.post({ type: 'didAppendMetrics', runId, points, ...(live?.runId === runId ? { live } : {}) });
      this.pendingMetrics.delete(runId);
    }
    for (const [runId, samples] of this.pendingSamples) {
      if (this.inFlight.has(runId)) continue;
      this.post({ type: 'didAppendSamples', runId, samples });
      this.pendingSamples.delete(runId);
    }
  }

  private async save(fileName: string, what: 'CSV' | 'PNG', bytes: Buffer): Promise<void> {
    const workspace = projectFolder();
    const folder = workspace ? vscode.Uri.file(workspace) : undefined;
    const target = await vscode.window.showSaveDialog({
      title: `Export the curves as ${what}`,
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, fileName) } : {}),
      filters: what === 'CSV' ? { CSV: ['csv'] } : { PNG: ['png'] },
    });
    if (!target) return;
    await fs.promises.writeFile(target.fsPath, bytes);
    void vscode.window.showInformationMessage(`RLHF: curves exported to ${target.fsPath}.`);
  }

  dispose(): void {
    if (CurvesPanel.current === this) CurvesPanel.current = undefined;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.runsTimer) clearTimeout(this.runsTimer);
    clearTimeout(this.askTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

function push<T>(map: Map<string, T[]>, key: string, items: readonly T[]): void {
  const list = map.get(key);
  if (list) list.push(...items);
  else map.set(key, [...items]);
}
