/**
 * The ranking panel's host: one panel, restored across reloads by a serializer. It bootstraps
 * the full state, waits for the page's `ready`, and resends the whole state on every change.
 * Everything it reads or writes goes through the engine (the store's fsync happens there); a
 * submit is acknowledged to the page only once the engine has answered, and a failed save keeps
 * the item so the page keeps its ranking and can retry. Messages from the page are validated.
 */
import { errorMessage } from '../../protocol/guards';
import * as vscode from 'vscode';
import type { RankingCommand, RankingNotification, RankingState, SubmitCommand, Tally } from '../../protocol/ranking';
import { isRankingCommand } from '../../protocol/ranking';
import type { FeatureDeps } from '../features';
import { renderWebviewHtml } from '../webviewHtml';
import { withEngineProgress } from './engineProgress';
import { UNTRUSTED_MESSAGE, hasProjectOnDisk, projectFolder } from './workspace';

export const RANKING_VIEW_TYPE = 'rlhf.ranking';

const EMPTY: RankingState = { status: 'loading', progress: { done: 0, total: 0 }, guidelines: '', save: { state: 'idle' } };

export class RankingPanel implements vscode.Disposable {
  private static current: RankingPanel | undefined;
  private state: RankingState = EMPTY;
  private ready = false;
  /** The batch sampled for the last Rank Completions for Selection. */
  private selectionBatchId: string | undefined;
  /** Submissions since the panel opened, and the verdict of the last one (which an undo takes back). */
  private tally: Tally = { ranked: 0, allBad: 0, skipped: 0 };
  private lastVerdict: SubmitCommand['verdict'] | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  /** Show the panel (creating it if needed) and load the next batch, or `batchId`. */
  static show(deps: FeatureDeps, workspace: string, options: { column?: vscode.ViewColumn; batchId?: string; loading?: string } = {}): RankingPanel {
    let panel = RankingPanel.current;
    if (panel && panel.workspace === workspace) panel.panel.reveal(options.column);
    else {
      panel?.panel.dispose();
      const webview = vscode.window.createWebviewPanel(RANKING_VIEW_TYPE, 'RLHF: Rank Completions', options.column ?? vscode.ViewColumn.Active, panelOptions(deps));
      panel = new RankingPanel(webview, deps, workspace);
    }
    if (options.loading !== undefined) panel.setState({ ...panel.state, status: 'loading', message: options.loading });
    else void panel.load(options.batchId);
    return panel;
  }

  /** A panel VS Code restored after a reload (see the serializer in projectFeatures). */
  static revive(webview: vscode.WebviewPanel, deps: FeatureDeps): void {
    const workspace = projectFolder();
    webview.webview.options = panelOptions(deps);
    const panel = new RankingPanel(webview, deps, workspace ?? '');
    void panel.load();
  }

  static get open(): RankingPanel | undefined {
    return RankingPanel.current;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly deps: FeatureDeps,
    readonly workspace: string,
  ) {
    RankingPanel.current = this;
    const root = vscode.Uri.joinPath(deps.context.extensionUri, 'dist', 'webview');
    panel.webview.html = renderWebviewHtml({
      title: 'RLHF: Rank Completions',
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(root, 'ranking.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(root, 'ranking.css')).toString(),
      bootstrap: this.state,
    });
    this.disposables.push(
      panel.webview.onDidReceiveMessage((msg: unknown) => deps.eventLoop.track('ranking page message', () => this.onMessage(msg))),
      panel.onDidDispose(() => this.dispose()),
      // Not kept alive while hidden: when shown again, the page restarts from a full snapshot.
      panel.onDidChangeViewState(() => deps.eventLoop.track('ranking shown/hidden', () => panel.visible && this.post())),
    );
  }

  /** Fetch the next batch (or `batchId`) and show it. */
  async load(batchId?: string, extra: Partial<RankingState> = {}): Promise<void> {
    if (!this.workspace || !hasProjectOnDisk(this.workspace)) {
      return this.setState({ ...EMPTY, status: 'error', message: 'No RLHF project in this workspace. Run RLHF: Create or Open Project, or RLHF: Open Demo Project.' });
    }
    try {
      const q = await this.deps.engine.request('ranking.next', { workspace: this.workspace, ...(batchId ? { batchId } : {}) });
      const policy = q.policy ? `${q.policy.path} (${q.policy.from})` : undefined;
      const base = { progress: { done: q.done, total: q.total }, guidelines: q.guidelines, ...(policy ? { policy } : {}), save: this.state.save, tally: this.tally };
      if (q.item) {
        const selection = q.item.batchId === this.selectionBatchId ? { selection: 'current' as const } : {};
        this.setState({ ...base, status: 'ready', item: q.item, ...extra, ...selection });
      } else {
        if (!vscode.workspace.isTrusted) return this.setState({ ...base, status: 'untrusted', message: UNTRUSTED_MESSAGE, ...extra });
        const message = q.total === 0 ? 'No completions yet: generate some from the current policy.' : `All ${q.total} batches are ranked. Generate more from the current policy to keep going.`;
        this.setState({ ...base, status: 'empty', message, ...extra });
      }
    } catch (err) {
      this.setState({ ...this.state, status: 'error', message: errorMessage(err) });
    }
  }

  private setState(next: RankingState): void {
    this.state = next;
    this.post();
  }

  private post(): void {
    if (!this.ready) return;
    const n: RankingNotification = { type: 'didChangeState', state: this.state };
    void this.panel.webview.postMessage(n);
  }

  private onMessage(msg: unknown): void {
    if (!isRankingCommand(msg)) {
      this.deps.log.warn(`Ranking panel: ignored an invalid message ${JSON.stringify(msg)?.slice(0, 200)}`);
      return;
    }
    void this.dispatch(msg);
  }

  private async dispatch(cmd: RankingCommand): Promise<void> {
    switch (cmd.type) {
      case 'ready':
        this.ready = true;
        this.post();
        return;
      case 'submit':
        return this.submit(cmd);
      case 'undoSubmit':
        return this.undoSubmit(cmd.eventId);
      case 'generate':
        await vscode.commands.executeCommand('rlhf.generateCompletions');
        return this.load();
    }
  }

  private async submit(cmd: SubmitCommand): Promise<void> {
    const item = this.state.item;
    if (!item || item.batchId !== cmd.batchId || this.state.save.state === 'saving') return;
    // The ids must be the shown batch's, in its order.
    if (cmd.completionIds.join('\n') !== item.completions.map((c) => c.id).join('\n')) {
      this.setState({ ...this.state, save: { state: 'failed', batchId: cmd.batchId, error: 'the ranking does not match the completions shown; reload the panel.' } });
      return;
    }
    this.setState({ ...this.state, save: { state: 'saving', batchId: cmd.batchId } });
    try {
      const { eventId } = await this.deps.engine.request('ranking.submit', {
        workspace: this.workspace,
        batchId: cmd.batchId,
        verdict: cmd.verdict,
        completionIds: cmd.completionIds,
        ...(cmd.ranks ? { ranks: cmd.ranks } : {}),
        ...(cmd.note !== undefined ? { note: cmd.note } : {}),
      });
      this.count(cmd.verdict, 1);
      this.lastVerdict = cmd.verdict;
      this.state = { ...this.state, save: { state: 'saved', batchId: cmd.batchId } };
      // After the selection's batch, say that what follows is the project's queue.
      const selection = cmd.batchId === this.selectionBatchId ? { selection: 'ranked' as const } : {};
      await this.load(undefined, { lastSubmitted: { batchId: cmd.batchId, eventId }, ...selection });
      this.deps.refreshSidebar();
    } catch (err) {
      this.deps.log.error(`Ranking of ${cmd.batchId} not saved: ${errorMessage(err)}`);
      this.setState({ ...this.state, save: { state: 'failed', batchId: cmd.batchId, error: errorMessage(err) } });
    }
  }

  private async undoSubmit(eventId: string): Promise<void> {
    if (this.state.lastSubmitted?.eventId !== eventId) return;
    try {
      const r = await this.deps.engine.request('ranking.undo', { workspace: this.workspace, eventId });
      if (r.undone && this.lastVerdict) this.count(this.lastVerdict, -1);
      this.lastVerdict = undefined;
      this.state = { ...this.state, save: { state: 'idle' } };
      await this.load(r.batchId);
      this.deps.refreshSidebar();
    } catch (err) {
      void vscode.window.showErrorMessage(`RLHF: could not undo the ranking: ${errorMessage(err)}`);
    }
  }

  private count(verdict: SubmitCommand['verdict'], step: 1 | -1): void {
    const key = verdict === 'skip' ? 'skipped' : verdict;
    this.tally = { ...this.tally, [key]: Math.max(0, this.tally[key] + step) };
  }

  /** Sample completions for `promptText` and show them here (Rank Completions for Selection). */
  async rankText(promptText: string): Promise<void> {
    const r = await withEngineProgress('sampling completions for the selection', this.deps.log, (signal, onProgress) =>
      this.deps.engine.request('project.generate', { workspace: this.workspace, promptText }, { signal, onProgress }),
    );
    if (!r) return this.load();
    this.deps.refreshSidebar();
    this.selectionBatchId = r.batchIds[0];
    await this.load(r.batchIds[0]);
  }

  dispose(): void {
    if (RankingPanel.current === this) RankingPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function panelOptions(deps: FeatureDeps): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(deps.context.extensionUri, 'dist', 'webview')] };
}
