/**
 * The ranking being assigned to one batch, as plain data with pure operations: the page keeps a
 * history of drafts for undo and persists them with setState, so every change returns a new one.
 */
export type Verdict = 'ranked' | 'skip' | 'allBad';

export interface Draft {
  readonly batchId: string;
  /** Display order: position → completion index (drag handles reorder it). */
  readonly order: readonly number[];
  /** Rank per completion index (1 = best, equal = tie); null while unranked. */
  readonly ranks: readonly (number | null)[];
  readonly verdict: Verdict;
  /** The rank assigned last, which T ties the next completion to. */
  readonly lastRank: number | null;
  readonly note: string;
}

export function newDraft(batchId: string, k: number): Draft {
  return { batchId, order: Array.from({ length: k }, (_, i) => i), ranks: Array.from({ length: k }, () => null), verdict: 'ranked', lastRank: null, note: '' };
}

/** Give completion `index` rank `rank` (1..K). */
export function assign(d: Draft, index: number, rank: number): Draft {
  const k = d.ranks.length;
  if (index < 0 || index >= k || !Number.isInteger(rank) || rank < 1 || rank > k) return d;
  const ranks = d.ranks.slice();
  ranks[index] = rank;
  return { ...d, ranks, verdict: 'ranked', lastRank: rank };
}

/** Tie completion `index` with the rank assigned last; unchanged when none was. */
export function tie(d: Draft, index: number): Draft {
  return d.lastRank === null ? d : assign(d, index, d.lastRank);
}

/** Skip or all-bad; the same verdict again goes back to ranking. */
export function toggleVerdict(d: Draft, verdict: 'skip' | 'allBad'): Draft {
  return { ...d, verdict: d.verdict === verdict ? 'ranked' : verdict };
}

/** Move the completion at display position `from` to `to`; ranks then follow the new order (1..K, top first). */
export function reorder(d: Draft, from: number, to: number): Draft {
  const k = d.order.length;
  if (from === to || from < 0 || to < 0 || from >= k || to >= k) return d;
  const order = d.order.slice();
  const [moved] = order.splice(from, 1);
  order.splice(to, 0, moved as number);
  const ranks = d.ranks.slice();
  order.forEach((index, position) => (ranks[index] = position + 1));
  return { ...d, order, ranks, verdict: 'ranked', lastRank: null };
}

export function withNote(d: Draft, note: string): Draft {
  return { ...d, note };
}

/** Ready to submit: a skip/all-bad verdict, or a rank for every completion. */
export function isComplete(d: Draft): boolean {
  return d.verdict !== 'ranked' || d.ranks.every((r) => r !== null);
}

/** The submission for a complete draft, in the batch's completion order. */
export function toSubmission(d: Draft, completionIds: readonly string[]): { verdict: Verdict; completionIds: string[]; ranks?: number[]; note?: string } {
  const note = d.note.trim() === '' ? {} : { note: d.note };
  if (d.verdict !== 'ranked') return { verdict: d.verdict, completionIds: [...completionIds], ...note };
  return { verdict: 'ranked', completionIds: [...completionIds], ranks: d.ranks.map((r) => r as number), ...note };
}
