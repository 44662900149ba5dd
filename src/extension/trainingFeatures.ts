/**
 * The training features (UI issue II): run control commands, the curves panel (restored after
 * a reload by its serializer) and the status bar item.
 */
import * as vscode from 'vscode';
import type { FeatureDeps } from './features';
import { registerRunCommands } from './training/commands';
import { CURVES_VIEW_TYPE, CurvesPanel } from './training/curvesPanel';
import { RunController } from './training/runController';
import { TrainingStatusBar } from './training/statusBar';

export function registerTrainingFeatures(deps: FeatureDeps): RunController {
  const runs = new RunController(deps);
  deps.context.subscriptions.push(
    runs,
    new TrainingStatusBar(runs, deps.eventLoop),
    ...registerRunCommands(deps, runs),
    vscode.window.registerWebviewPanelSerializer(CURVES_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state: unknown) => CurvesPanel.revive(panel, deps, runs, state),
    }),
  );
  return runs;
}
