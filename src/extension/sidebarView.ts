/**
 * The Workbench sidebar (a webview view). Bootstraps full state into the page, waits for the
 * app's `ready`, then sends whole-state notifications on every change. Every message from the
 * page is validated before anything acts on it.
 */
import { errorMessage } from '../protocol/guards';
import * as vscode from 'vscode';
import type { SidebarCommand, SidebarNotification, SidebarState } from '../protocol/sidebar';
import { isSidebarCommand } from '../protocol/sidebar';
import type { EventLoopMonitor } from './eventLoop';
import { renderWebviewHtml } from './webviewHtml';
import type { ProjectSectionSource } from './project/sidebarProject';

export const SIDEBAR_VIEW_ID = 'rlhf.sidebar';

export interface SidebarActions {
  showEngineStatus(): Promise<void>;
  restartEngine(): Promise<void>;
}

export class SidebarViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private postTimer: NodeJS.Timeout | undefined;
  /** Listeners of the resolved view, disposed with it (VS Code resolves a new one after a move or reload). */
  private viewListeners: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly getState: () => SidebarState,
    private readonly actions: SidebarActions,
    private readonly log: vscode.LogOutputChannel,
    private readonly eventLoop: EventLoopMonitor,
    private readonly projectSection: ProjectSectionSource,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const webviewRoot = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [webviewRoot] };
    view.webview.html = renderWebviewHtml({
      title: 'RLHF Workbench',
      cspSource: view.webview.cspSource,
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot, 'sidebar.js')).toString(),
      styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot, 'sidebar.css')).toString(),
      bootstrap: this.fullState(),
    });
    this.disposeView();
    this.viewListeners = [
      view.webview.onDidReceiveMessage((msg: unknown) => this.eventLoop.track('sidebar message', () => this.onMessage(msg))),
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
        this.ready = false;
        this.disposeView();
      }),
      // A view hidden and shown again may have missed updates: resync it from a full snapshot.
      view.onDidChangeVisibility(() => {
        if (view.visible) this.refresh();
      }),
    ];
  }

  private disposeView(): void {
    for (const d of this.viewListeners.splice(0)) d.dispose();
  }

  /**
   * Send the full current state to the page, once it has said it is ready; then reload the
   * project section from the engine (runs and counts change outside this view) and send again.
   */
  refresh(): void {
    this.post();
    void this.eventLoop.track('sidebar reload', () => this.projectSection.reload()).then(() => this.post());
  }

  /** Send the state again within a quarter second (a live step moving: at most four a second, no reload). */
  postSoon(): void {
    if (this.postTimer) return;
    this.postTimer = setTimeout(() => {
      this.postTimer = undefined;
      this.post();
    }, 250);
  }

  private post(): void {
    this.eventLoop.track('sidebar post', () => {
      if (!this.view || !this.ready) return;
      const notification: SidebarNotification = { type: 'didChangeState', state: this.fullState() };
      void this.view.webview.postMessage(notification);
    });
  }

  /** The extension's state plus the project section and workspace trust. */
  private fullState(): SidebarState {
    const project = this.projectSection.current;
    return { ...this.getState(), ...(project ? { project } : {}), trusted: vscode.workspace.isTrusted };
  }

  private onMessage(msg: unknown): void {
    if (!isSidebarCommand(msg)) {
      this.log.warn(`Sidebar: ignored an invalid message ${JSON.stringify(msg)?.slice(0, 200)}`);
      return;
    }
    void this.dispatch(msg);
  }

  private async dispatch(cmd: SidebarCommand): Promise<void> {
    switch (cmd.type) {
      case 'ready':
        this.ready = true;
        this.refresh();
        return;
      case 'showEngineStatus':
        return this.actions.showEngineStatus();
      case 'restartEngine':
        return this.actions.restartEngine();
      case 'runCommand':
        // The id is from the protocol's allowlist (checked by isSidebarCommand).
        try {
          await (cmd.runId === undefined ? vscode.commands.executeCommand(cmd.command) : vscode.commands.executeCommand(cmd.command, cmd.runId));
        } catch (err) {
          const message = errorMessage(err);
          this.log.error(`Sidebar: ${cmd.command} failed: ${message}`);
          void vscode.window.showErrorMessage(`RLHF: ${message}`);
        }
        return;
    }
  }

  dispose(): void {
    if (this.postTimer) clearTimeout(this.postTimer);
    this.disposeView();
  }
}
