/**
 * The training features (UI issue II): run control commands, the curves panel (restored after
 * a reload by its serializer), the status bar item, and the extension host's event-loop monitor.
 */
import * as vscode from 'vscode';
import type { FeatureDeps } from './features';
import { registerRunCommands } from './training/commands';
import { CURVES_VIEW_TYPE, CurvesPanel } from './training/curvesPanel';
import { EventLoopMonitor } from './training/eventLoop';
import { RunController } from './training/runController';
import { TrainingStatusBar } from './training/statusBar';

export function registerTrainingFeatures(deps: FeatureDeps): void {
  const eventLoop = new EventLoopMonitor();
  const runs = new RunController(deps, eventLoop);
  deps.context.subscriptions.push(
    eventLoop,
    runs,
    new TrainingStatusBar(runs),
    ...registerRunCommands(deps, runs, eventLoop),
    vscode.window.registerWebviewPanelSerializer(CURVES_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state: unknown) => CurvesPanel.revive(panel, deps, runs, state),
    }),
  );
}
