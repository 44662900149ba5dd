/**
 * The status bar item while a run trains: stage, step and the latest reward (the stage's
 * headline metric). Clicking it opens the curves on that run. Updates are throttled to four a
 * second, so a fast stage cannot keep the host busy repainting it.
 */
import * as vscode from 'vscode';
import type { EventLoopMonitor } from '../eventLoop';
import type { RunController } from './runController';

const THROTTLE_MS = 250;

export class TrainingStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('rlhf.training', vscode.StatusBarAlignment.Left, 50);
  private readonly subscription: vscode.Disposable;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly runs: RunController,
    private readonly eventLoop: EventLoopMonitor,
  ) {
    this.item.name = 'RLHF training';
    this.subscription = runs.onDidChangeLive(() => this.schedule());
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.eventLoop.track('status bar', () => this.update());
    }, THROTTLE_MS);
  }

  private update(): void {
    const live = this.runs.live;
    if (!this.runs.busy) {
      this.item.hide();
      return;
    }
    if (!live) {
      this.item.text = '$(sync~spin) RLHF starting…';
      this.item.command = undefined;
    } else {
      const reward = live.reward === undefined ? '' : ` · ${live.stage === 'sft' ? 'loss' : 'reward'} ${live.reward.toFixed(3)}`;
      this.item.text = `$(sync~spin) RLHF ${live.stage} · step ${live.step}${reward}`;
      this.item.tooltip = `Run ${live.runId} is training (${live.stage}, step ${live.step}). Click to show the curves.`;
      this.item.command = { title: 'Show Curves', command: 'rlhf.showCurves', arguments: [live.runId] };
    }
    this.item.show();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subscription.dispose();
    this.item.dispose();
  }
}
