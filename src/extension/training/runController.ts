/**
 * The host side of training runs: starts one run at a time in the engine (a `training.start`
 * request that stays pending while it trains), stops it by cancelling that request, tracks the
 * live stage/step/reward from the engine's `training.event` stream, and tells its listeners (the
 * curves panel, the status bar, the sidebar) about every event. Nothing heavy runs here: the
 * events are small and the panel batches them.
 */
import { errorMessage } from '../../protocol/guards';
import * as vscode from 'vscode';
import { projectFolder } from '../project/workspace';
import type { LiveRun } from '../../protocol/curves';
import type { EngineNotifications } from '../../protocol/engine';
import type { RunKind, StartRunParams } from '../../protocol/engineTraining';
import { STAGE_INFO } from '../../protocol/stages';
import type { StageName } from '../../protocol/stages';
import { EngineRequestError } from '../engineClient';
import type { FeatureDeps } from '../features';
import { formatStats } from '../eventLoop';

export type TrainingEventMessage = EngineNotifications['training.event'];

interface Active {
  runId: string | undefined;
  readonly kind: RunKind | 'resume';
  /** Known once the engine says (a resumed run's stage comes with its run-start). */
  stage: StageName | undefined;
  step: number;
  reward?: number;
  readonly controller: AbortController;
}

export const TRAINING_ACTIVE_CONTEXT = 'rlhf.trainingActive';

export class RunController implements vscode.Disposable {
  private active: Active | undefined;
  private readonly events = new vscode.EventEmitter<TrainingEventMessage>();
  private readonly changes = new vscode.EventEmitter<void>();
  private readonly subscription: vscode.Disposable;
  /** Every engine event of the runs, in order. */
  readonly onEvent = this.events.event;
  /** The live run changed (started, stage/step/reward moved, ended). */
  readonly onDidChangeLive = this.changes.event;

  private readonly eventLoop: FeatureDeps['eventLoop'];

  constructor(private readonly deps: FeatureDeps) {
    this.eventLoop = deps.eventLoop;
    // The engine client times each message's handling (this included) on the monitor.
    const sub = deps.engine.onNotification('training.event', (m) => this.onEngineEvent(m));
    this.subscription = new vscode.Disposable(() => sub.dispose());
    void vscode.commands.executeCommand('setContext', TRAINING_ACTIVE_CONTEXT, false);
  }

  get live(): LiveRun | undefined {
    const a = this.active;
    if (!a?.runId || !a.stage) return undefined;
    return { runId: a.runId, stage: a.stage, step: a.step, ...(a.reward === undefined ? {} : { reward: a.reward }) };
  }

  get busy(): boolean {
    return this.active !== undefined;
  }

  /**
   * Start a run (or resume one) with a cancellable progress notification; resolves when it has
   * ended. Cancelling the notification, RLHF: Stop Run and the panel's Stop all stop it.
   */
  async start(params: Omit<StartRunParams, 'workspace'>, label: string): Promise<void> {
    if (this.active) {
      void vscode.window.showWarningMessage(`RLHF: run ${this.active.runId ?? ''} is training; stop it first (RLHF: Stop Run).`);
      return;
    }
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('RLHF: training is off in an untrusted workspace (it loads models and runs code paths from the folder). Trust the workspace to train.');
      return;
    }
    const workspace = projectFolder();
    if (!workspace) {
      void vscode.window.showErrorMessage('RLHF: open a folder first; runs live in its .rlhf/ folder.');
      return;
    }
    const controller = new AbortController();
    const active: Active = { runId: params.resume, kind: params.resume ? 'resume' : (params.kind ?? 'demo'), stage: params.kind === 'demo' ? 'sft' : params.kind, step: 0, controller };
    this.active = active;
    this.eventLoop.reset(`since ${label} started`);
    await vscode.commands.executeCommand('setContext', TRAINING_ACTIVE_CONTEXT, true);
    this.changes.fire();
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `RLHF: ${label}`, cancellable: true }, async (progress, token) => {
      token.onCancellationRequested(() => controller.abort());
      const onEvent = this.events.event((m) => {
        if (m.runId !== active.runId) return;
        if (m.event.type === 'stage-start') progress.report({ message: `${m.event.stage}${m.event.resumedAtStep ? ` (resumed at step ${m.event.resumedAtStep})` : ''}` });
        else if (m.event.type === 'checkpoint') progress.report({ message: `${m.event.stage} step ${m.event.step} (checkpoint saved)` });
      });
      try {
        const result = await this.deps.engine.request('training.start', { ...params, workspace, trusted: vscode.workspace.isTrusted }, { signal: controller.signal });
        this.deps.log.info(`Run ${result.runId} completed. ${formatStats(this.eventLoop.stats(), this.eventLoop.stalls())}`);
        void vscode.window.showInformationMessage(`RLHF: run ${result.runId} completed.`, 'Show Curves').then((c) => c && vscode.commands.executeCommand('rlhf.showCurves', result.runId));
      } catch (err) {
        const id = active.runId ?? '(not started)';
        if (err instanceof EngineRequestError && err.cancelled) {
          this.deps.log.info(`Run ${id} stopped at ${active.stage ?? 'its first'} step ${active.step}. ${formatStats(this.eventLoop.stats(), this.eventLoop.stalls())}`);
          void vscode.window.showInformationMessage(`RLHF: run ${id} stopped at ${active.stage ?? 'its first'} step ${active.step}. RLHF: Resume Run continues it from its last checkpoint.`);
        } else {
          const message = errorMessage(err);
          this.deps.log.error(`Run ${id} failed: ${message}`);
          void vscode.window.showErrorMessage(`RLHF: ${label} failed: ${message}`);
        }
      } finally {
        onEvent.dispose();
        this.eventLoop.idle();
        this.active = undefined;
        await vscode.commands.executeCommand('setContext', TRAINING_ACTIVE_CONTEXT, false);
        this.changes.fire();
        this.deps.refreshSidebar();
      }
    });
  }

  /** Stop the live run (only when it is `runId`, if given). Returns whether one was stopped. */
  stop(runId?: string): boolean {
    const a = this.active;
    if (!a || (runId !== undefined && a.runId !== runId)) return false;
    a.controller.abort();
    return true;
  }

  private onEngineEvent(m: TrainingEventMessage): void {
    const a = this.active;
    if (a && (a.runId === undefined || a.runId === m.runId)) {
      a.runId = m.runId;
      const e = m.event;
      if (e.type === 'stage-start') this.eventLoop.reset(`since ${e.stage} of run ${m.runId} ${e.resumedAtStep ? `resumed at step ${e.resumedAtStep}` : 'started'}`);
      if (e.type === 'run-start' || e.type === 'stage-start') {
        a.stage = e.stage;
        a.step = e.type === 'stage-start' ? e.resumedAtStep : a.step;
        a.reward = undefined;
      } else if (e.type === 'metrics') {
        a.stage = e.point.stage;
        a.step = e.point.step;
        const v = e.point.values[STAGE_INFO[e.point.stage].headline];
        if (typeof v === 'number') a.reward = v;
      }
      if (e.type !== 'log' && e.type !== 'samples') this.changes.fire();
      if (e.type === 'run-start' || e.type === 'stage-start' || e.type === 'stage-end' || e.type === 'checkpoint') this.deps.refreshSidebar();
    }
    if (m.event.type === 'log') this.deps.log.info(`[${m.runId}] ${m.event.message}`);
    this.events.fire(m);
  }

  dispose(): void {
    this.active?.controller.abort();
    this.subscription.dispose();
    this.events.dispose();
    this.changes.dispose();
  }
}
