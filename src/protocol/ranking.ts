/**
 * The ranking panel's message protocol: the only file both the host and the ranking app import.
 * The host sends the full panel state (`didChangeState`) after every change; the page keeps
 * only its own drafts (ranks being assigned) and says `ready`, `submit`, `undoSubmit`,
 * `generate`. Messages from the page are untrusted: the host accepts them only through
 * `isRankingCommand`, which checks every field.
 */
import { hasKeys, isRecord, isSafeId } from './guards';
import type { RankingItem } from './engineProject';

export type { RankingItem };

/** Most completions one batch may hold (the store's MAX_K). */
export const MAX_RANK_K = 64;
export const MAX_NOTE_LENGTH = 10_000;

export type SaveState =
  | { readonly state: 'idle' }
  | { readonly state: 'saving'; readonly batchId: string }
  | { readonly state: 'saved'; readonly batchId: string }
  | { readonly state: 'failed'; readonly batchId: string; readonly error: string };

export interface Tally {
  readonly ranked: number;
  readonly allBad: number;
  readonly skipped: number;
}

/** Full state of the panel, bootstrapped into the page and resent whole on every change. */
export interface RankingState {
  /**
   * loading: fetching or generating (see `message`); ready: `item` is to rank; empty: nothing
   * left to rank; error: `message` says what failed; untrusted: the workspace is not trusted.
   */
  readonly status: 'loading' | 'ready' | 'empty' | 'error' | 'untrusted';
  readonly message?: string;
  readonly item?: RankingItem;
  /** Batches ranked so far, and all batches (the panel shows "n of N"). */
  readonly progress: { readonly done: number; readonly total: number };
  readonly guidelines: string;
  /** The model new completions come from (the current policy), for the header. */
  readonly policy?: string;
  readonly save: SaveState;
  /** What this panel has submitted since it opened, by verdict (a skip is not a ranking). */
  readonly tally?: Tally;
  /** The ranking submitted last, which Ctrl/Cmd+Z can take back. */
  readonly lastSubmitted?: { readonly batchId: string; readonly eventId: string };
  /**
   * Rank Completions for Selection: `current` while the selection's batch is shown; `ranked` once
   * it is submitted and the panel has gone on to the project's queue (or found it empty).
   */
  readonly selection?: 'current' | 'ranked';
}

export interface ReadyCommand {
  readonly type: 'ready';
}
export interface SubmitCommand {
  readonly type: 'submit';
  readonly batchId: string;
  readonly verdict: 'ranked' | 'skip' | 'allBad';
  readonly completionIds: readonly string[];
  /** One rank per completion id (1 = best, equal = tie); only with verdict 'ranked'. */
  readonly ranks?: readonly number[];
  readonly note?: string;
}
export interface UndoSubmitCommand {
  readonly type: 'undoSubmit';
  readonly eventId: string;
}
export interface GenerateCommand {
  readonly type: 'generate';
}
export type RankingCommand = ReadyCommand | SubmitCommand | UndoSubmitCommand | GenerateCommand;

export interface DidChangeStateNotification {
  readonly type: 'didChangeState';
  readonly state: RankingState;
}
export type RankingNotification = DidChangeStateNotification;

/** Narrow an untrusted message from the page: a known type, exactly its fields, each valid. */
export function isRankingCommand(msg: unknown): msg is RankingCommand {
  if (!isRecord(msg)) return false;
  switch (msg.type) {
    case 'ready':
    case 'generate':
      return hasKeys(msg, ['type']);
    case 'undoSubmit':
      return hasKeys(msg, ['type', 'eventId']) && isSafeId(msg.eventId);
    case 'submit':
      return isSubmit(msg);
    default:
      return false;
  }
}

function isSubmit(msg: Record<string, unknown>): boolean {
  if (!hasKeys(msg, ['type', 'batchId', 'verdict', 'completionIds'], ['ranks', 'note'])) return false;
  if (!isSafeId(msg.batchId)) return false;
  const ids = msg.completionIds;
  if (!Array.isArray(ids) || ids.length < 2 || ids.length > MAX_RANK_K || !ids.every(isSafeId) || new Set(ids).size !== ids.length) return false;
  if (msg.note !== undefined && (typeof msg.note !== 'string' || msg.note.length > MAX_NOTE_LENGTH)) return false;
  if (msg.verdict === 'skip' || msg.verdict === 'allBad') return msg.ranks === undefined;
  if (msg.verdict !== 'ranked') return false;
  const ranks = msg.ranks;
  return Array.isArray(ranks) && ranks.length === ids.length && ranks.every((r) => Number.isInteger(r) && (r as number) >= 1 && (r as number) <= ids.length);
}

export function isRankingNotification(msg: unknown): msg is RankingNotification {
  return isRecord(msg) && msg.type === 'didChangeState' && isRecord(msg.state);
}
