/**
 * The typed IPC protocol between the extension host (client) and the forked engine process.
 * Each request method is declared once here with its params and result; both sides
 * import it.
 */
import type { BackendPreference, BackendReport } from './backend';
import { isRecord } from './guards';
import type { ProjectRequests } from './engineProject';
import type { TrainingNotifications, TrainingRequests } from './engineTraining';

export interface CoreRequests {
  /** Initialise compute (once) and report the backend in use. */
  status: { params: { backend?: BackendPreference }; result: BackendReport };
  /** Sleep, reporting progress, until done or cancelled (used to test cancellation end to end). */
  wait: { params: { ms: number }; result: { waitedMs: number } };
}

/** Every request: core, project/store/sampling (engineProject.ts), training (engineTraining.ts). */
export type EngineRequests = CoreRequests & ProjectRequests & TrainingRequests;

export type EngineMethod = keyof EngineRequests;
export type ParamsOf<M extends EngineMethod> = EngineRequests[M]['params'];
export type ResultOf<M extends EngineMethod> = EngineRequests[M]['result'];

export interface CoreNotifications {
  /** Progress of a running request, by its id. */
  progress: { id: number; message: string; fraction?: number };
  /** A line for the engine's output channel. */
  log: { level: 'info' | 'warn' | 'error'; message: string };
}

export type EngineNotifications = CoreNotifications & TrainingNotifications;
export type EngineNotificationMethod = keyof EngineNotifications;

export interface RequestMessage<M extends EngineMethod = EngineMethod> {
  readonly kind: 'request';
  readonly id: number;
  readonly method: M;
  readonly params: ParamsOf<M>;
}
export interface CancelMessage {
  readonly kind: 'cancel';
  readonly id: number;
}
export type ClientMessage = RequestMessage | CancelMessage;

export interface EngineErrorPayload {
  readonly message: string;
  /** `cancelled` when the request was cancelled; `user` for errors the user can fix; `internal` otherwise. */
  readonly code: 'cancelled' | 'user' | 'internal' | 'unknown-method';
  readonly stack?: string;
}

export type ResponseMessage =
  | { readonly kind: 'response'; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly kind: 'response'; readonly id: number; readonly ok: false; readonly error: EngineErrorPayload };

export interface NotificationMessage<N extends EngineNotificationMethod = EngineNotificationMethod> {
  readonly kind: 'notification';
  readonly method: N;
  readonly params: EngineNotifications[N];
}
export type EngineMessage = ResponseMessage | NotificationMessage;

export function isClientMessage(v: unknown): v is ClientMessage {
  if (!isRecord(v) || typeof v.id !== 'number') return false;
  if (v.kind === 'cancel') return true;
  return v.kind === 'request' && typeof v.method === 'string' && isRecord(v.params);
}

export function isEngineMessage(v: unknown): v is EngineMessage {
  if (!isRecord(v)) return false;
  if (v.kind === 'response') return typeof v.id === 'number' && typeof v.ok === 'boolean';
  return v.kind === 'notification' && typeof v.method === 'string' && isRecord(v.params);
}
