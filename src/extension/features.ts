/**
 * What each group of extension features receives at activation: the extension context, the
 * engine client, the log, and a way to refresh the sidebar. Each group lives in its own
 * module (projectFeatures.ts: project, ranking, editor; trainingFeatures.ts: runs, curves).
 */
import type * as vscode from 'vscode';
import type { EngineClient } from './engineClient';

export interface FeatureDeps {
  readonly context: vscode.ExtensionContext;
  readonly engine: EngineClient;
  readonly log: vscode.LogOutputChannel;
  /** Re-send the sidebar's full state (after anything it shows changed). */
  readonly refreshSidebar: () => void;
}
