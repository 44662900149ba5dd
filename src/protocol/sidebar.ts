/**
 * The Workbench sidebar's message protocol: the only file both the host and the sidebar app
 * import. Commands go webview→host; notifications (`DidChange…`) go host→webview. Messages from
 * the webview are untrusted: the host accepts them only through `isSidebarCommand`.
 */
import type { BackendReport } from './backend';

/** The engine as the sidebar shows it. */
export type EngineView =
  | { readonly state: 'stopped' }
  | { readonly state: 'starting'; readonly pid?: number }
  | { readonly state: 'running'; readonly pid?: number; readonly report?: BackendReport }
  | { readonly state: 'crashed'; readonly reason: string };

/** Full state, bootstrapped into the page and resent whole on every change (no bare deltas). */
export interface SidebarState {
  readonly engine: EngineView;
  /** The last engine error a user action ran into, if any. */
  readonly lastError?: string;
  /** Extension activation time, measured in activate(). */
  readonly activationMs: number;
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
export type SidebarCommand = ReadyCommand | ShowEngineStatusCommand | RestartEngineCommand;

export interface DidChangeStateNotification {
  readonly type: 'didChangeState';
  readonly state: SidebarState;
}
export type SidebarNotification = DidChangeStateNotification;

const COMMAND_TYPES: ReadonlySet<string> = new Set<SidebarCommand['type']>(['ready', 'showEngineStatus', 'restartEngine']);

/** Narrow an untrusted webview message: a plain object with a known `type` and no other keys. */
export function isSidebarCommand(msg: unknown): msg is SidebarCommand {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return false;
  const keys = Object.keys(msg);
  const type = (msg as { type?: unknown }).type;
  return keys.length === 1 && typeof type === 'string' && COMMAND_TYPES.has(type);
}

export function isSidebarNotification(msg: unknown): msg is SidebarNotification {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'didChangeState';
}
