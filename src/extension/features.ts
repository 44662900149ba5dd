/**
 * What each group of extension features receives at activation: the extension context, the
 * engine client, the log, the event-loop monitor that times our host work, and a way to refresh
 * the sidebar. Each group lives in its own
 * module (projectFeatures.ts: project, ranking, editor; trainingFeatures.ts: runs, curves).
 */
import type * as vscode from 'vscode';
import type { EngineClient } from './engineClient';
import type { EventLoopMonitor } from './eventLoop';
import type { ProjectSectionSource } from './project/sidebarProject';

export interface FeatureDeps {
  readonly context: vscode.ExtensionContext;
  readonly engine: EngineClient;
  readonly log: vscode.LogOutputChannel;
  /** Our host work runs through `eventLoop.track` so the monitor can time it. */
  readonly eventLoop: EventLoopMonitor;
  /** Re-send the sidebar's full state (after anything it shows changed). */
  readonly refreshSidebar: () => void;
  /** The sidebar's project section (the project at a glance and the next step). */
  readonly projectSection: ProjectSectionSource;
}
