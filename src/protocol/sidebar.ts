/**
 * The Workbench sidebar's message protocol: the only file both the host and the sidebar app
 * import. Commands go webview→host; notifications (`DidChange…`) go host→webview. Messages from
 * the webview are untrusted: the host accepts them only through `isSidebarCommand`.
 */
import { hasKeys, isRecord, isSafeId } from './guards';
import type { BackendReport } from './backend';
import type { LiveRun } from './curves';
import type { ProjectOverview } from './engineProject';

export type { ProjectOverview };

/** The engine as the sidebar shows it. */
export type EngineView =
  | { readonly state: 'stopped' }
  | { readonly state: 'starting'; readonly pid?: number }
  | { readonly state: 'running'; readonly pid?: number; readonly report?: BackendReport }
  | { readonly state: 'crashed'; readonly reason: string };

/**
 * Commands the sidebar may ask the host to run (stage buttons, run rows). The host runs only
 * these; the training ones are registered by the training features.
 */
export const SIDEBAR_COMMANDS = [
  'rlhf.createProject',
  'rlhf.openDemoProject',
  'rlhf.importPrompts',
  'rlhf.generateCompletions',
  'rlhf.startRanking',
  'rlhf.trainSft',
  'rlhf.trainReward',
  'rlhf.trainPolicy',
  'rlhf.runDemo',
  'rlhf.stopRun',
  'rlhf.resumeRun',
  'rlhf.showCurves',
  'rlhf.exportPreferences',
  'rlhf.exportModel',
  'rlhf.openProjectFile',
] as const;
export type SidebarCommandId = (typeof SIDEBAR_COMMANDS)[number];

/** The suggested next step: what to do, why, and the command that does it (and another way on, if there is one). */
export interface NextStep {
  readonly label: string;
  readonly reason: string;
  readonly command: SidebarCommandId;
  readonly alternative?: { readonly label: string; readonly command: SidebarCommandId };
}

/** The project section of the sidebar. */
export type ProjectSection =
  /** No folder is open: offer to create a project in a chosen folder, or the demo. */
  | { readonly kind: 'noFolder' }
  /** A folder without `.rlhf/`. */
  | { readonly kind: 'none'; readonly workspace: string }
  | { readonly kind: 'loading'; readonly workspace: string }
  /** The project could not be read; `projectFile` when project.json is what is wrong (offered to open). */
  | { readonly kind: 'error'; readonly workspace: string; readonly message: string; readonly projectFile?: boolean }
  | { readonly kind: 'open'; readonly overview: ProjectOverview; readonly next: NextStep };

/** Full state, bootstrapped into the page and resent whole on every change (no bare deltas). */
export interface SidebarState {
  readonly engine: EngineView;
  /** The workspace project (absent until the project features have loaded). */
  readonly project?: ProjectSection;
  /** False in an untrusted workspace: no training, sampling or model loading. */
  readonly trusted?: boolean;
  /** The last engine error a user action ran into, if any. */
  readonly lastError?: string;
  /** Extension activation time, measured in activate(). */
  readonly activationMs: number;
  /** The run training now, with its live stage and step (the run rows show this step). */
  readonly live?: LiveRun;
}

export interface ReadyCommand {
  readonly type: 'ready';
}
export interface ShowEngineStatusCommand {
  readonly type: 'showEngineStatus';
}
export interface RestartEngineCommand {
  readonly type: 'restartEngine';
}
/** Run one of SIDEBAR_COMMANDS; `runId` names the run for the run rows' buttons. */
export interface RunCommandCommand {
  readonly type: 'runCommand';
  readonly command: SidebarCommandId;
  readonly runId?: string;
}
export type SidebarCommand = ReadyCommand | ShowEngineStatusCommand | RestartEngineCommand | RunCommandCommand;

export interface DidChangeStateNotification {
  readonly type: 'didChangeState';
  readonly state: SidebarState;
}
export type SidebarNotification = DidChangeStateNotification;

const COMMAND_TYPES: ReadonlySet<string> = new Set<SidebarCommand['type']>(['ready', 'showEngineStatus', 'restartEngine']);

const ALLOWED_COMMANDS: ReadonlySet<string> = new Set(SIDEBAR_COMMANDS);

/**
 * Narrow an untrusted webview message: a plain object with a known `type` and no other keys;
 * `runCommand` only with an allowlisted command id and a well-formed run id.
 */
export function isSidebarCommand(msg: unknown): msg is SidebarCommand {
  if (!isRecord(msg)) return false;
  if (msg.type === 'runCommand') {
    return hasKeys(msg, ['type', 'command'], ['runId']) && typeof msg.command === 'string' && ALLOWED_COMMANDS.has(msg.command) && (msg.runId === undefined || isSafeId(msg.runId));
  }
  return hasKeys(msg, ['type']) && typeof msg.type === 'string' && COMMAND_TYPES.has(msg.type);
}

export function isSidebarNotification(msg: unknown): msg is SidebarNotification {
  return isRecord(msg) && msg.type === 'didChangeState';
}
