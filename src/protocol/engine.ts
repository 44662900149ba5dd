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

/** A model pulled from the Hugging Face Hub into the HF cache (core/hub/pull.ts). */
export interface PulledModel {
  readonly repo: string;
  readonly revision: string;
  readonly commit: string;
  readonly endpoint: string;
  /** snapshots/<commit> in the HF cache: the model folder. */
  readonly snapshot: string;
  readonly files: readonly { readonly path: string; readonly size: number; readonly status: 'cached' | 'downloaded' | 'resumed' }[];
  readonly totalBytes: number;
  readonly downloadedBytes: number;
  /** The endpoint was unreachable (or HF_HUB_OFFLINE set) and the cached snapshot was used. */
  readonly offline: boolean;
}

/** A model folder on disk: its architecture and size, and whether the workbench can load it. */
export interface ModelFolderView {
  readonly dir: string;
  readonly modelType?: string;
  readonly architectures: readonly string[];
  readonly sizeBytes: number;
  readonly files: number;
  readonly supported: boolean;
  readonly problem?: string;
  /** Set when the request named a workspace: the project's models.base is now `dir`. */
  readonly setAsBase?: boolean;
}

export interface ModelRequests {
  /** Downloads ORG/NAME at `revision` (default main) from HF_ENDPOINT into the HF cache (HF_HOME), with progress; cancellable, resumable. */
  'model.download': { params: { repo: string; revision?: string }; result: PulledModel };
  /** Describes a model folder (config.json required); with `workspace`, also sets the project's models.base to it. */
  'model.useFolder': { params: { dir: string; workspace?: string }; result: ModelFolderView };
}

/** Every request: core, models, project/store/sampling (engineProject.ts), training (engineTraining.ts). */
export type EngineRequests = CoreRequests & ModelRequests & ProjectRequests & TrainingRequests;

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
