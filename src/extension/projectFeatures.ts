/**
 * The project, ranking and editor features (UI issue I): the project commands, RLHF: New Reward
 * Function, the ranking panel (restored by a serializer), the sidebar's project section, the
 * inline completion provider, and a watcher that refreshes the sidebar when the project's files
 * change (the CLI, another window, a training run).
 */
import * as vscode from 'vscode';
import type { FeatureDeps } from './features';
import { registerProjectCommands } from './project/commands';
import { registerInlineCompletions } from './project/inlineProvider';
import { registerModelCommands } from './project/modelCommands';
import { RANKING_VIEW_TYPE, RankingPanel } from './project/rankingPanel';
import { registerRewardCommands } from './project/rewardCommands';
import { watchWorkspace } from './project/sidebarProject';

/** Quiet time before a burst of file changes refreshes the sidebar. */
const REFRESH_DEBOUNCE_MS = 500;

export function registerProjectFeatures(deps: FeatureDeps): void {
  let timer: NodeJS.Timeout | undefined;
  const refreshSoon = (): void =>
    deps.eventLoop.track('file watcher', () => {
      clearTimeout(timer);
      timer = setTimeout(() => deps.eventLoop.track('sidebar refresh', () => deps.refreshSidebar()), REFRESH_DEBOUNCE_MS);
    });
  // Metrics are left out: a training run appends them many times a second.
  const watcher = vscode.workspace.createFileSystemWatcher('**/.rlhf/{project.json,prompts.jsonl,completions.jsonl,rankings/*.jsonl,runs/*/run.json}');
  deps.context.subscriptions.push(
    ...registerProjectCommands(deps),
    ...registerModelCommands(deps),
    ...registerRewardCommands(),
    ...registerInlineCompletions(deps),
    ...watchWorkspace(() =>
      deps.eventLoop.track('workspace change', () => {
        deps.projectSection.prime();
        deps.refreshSidebar();
      }),
    ),
    vscode.window.registerWebviewPanelSerializer(RANKING_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel) => RankingPanel.revive(panel, deps),
    }),
    watcher,
    watcher.onDidCreate(refreshSoon),
    watcher.onDidChange(refreshSoon),
    watcher.onDidDelete(refreshSoon),
    { dispose: () => clearTimeout(timer) },
  );
}
