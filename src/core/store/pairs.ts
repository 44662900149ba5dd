/**
 * Training pairs from rankings. A ranking of K completions gives up to C(K,2) pairs (chosen =
 * the better rank). Tied completions give no pair between them; a skipped or all-bad ranking
 * gives none (all-bad says nothing about which is better; it is counted in stats instead).
 * Two labelers ranking the same batch each contribute their pairs, even when they disagree:
 * the reward model sees the disagreement, agreement.ts measures it.
 */
import { UserError } from '../errors';
import type { Project } from './project';
import type { CurrentRanking, RankingFilter } from './rankings';
import type { BatchRecord, LabelSource, ProjectRecord, RankEvent } from './schemas';

export interface RankedPair {
  readonly chosenId: string;
  readonly rejectedId: string;
  /** rank(rejected) − rank(chosen) ≥ 1: how clearly the labeler preferred it. */
  readonly margin: number;
}

export interface PreferencePair extends RankedPair {
  readonly promptId: string;
  readonly prompt: string;
  readonly batchId: string;
  readonly chosen: string;
  readonly rejected: string;
  readonly labeler: string;
  readonly source: LabelSource;
  /** The rank event the pair comes from. */
  readonly eventId: string;
  readonly note?: string;
}

/** All pairs of one prompt, kept together as one reward-model batch element. */
export interface PromptPairs {
  readonly promptId: string;
  readonly prompt: string;
  readonly pairs: PreferencePair[];
}

/** The pairs one rank event implies, best-ranked chosen first; none for skip and all-bad. */
export function rankingPairs(event: Pick<RankEvent, 'verdict' | 'completionIds' | 'ranks'>): RankedPair[] {
  if (event.verdict !== 'ranked' || !event.ranks) return [];
  const items = event.completionIds.map((id, i) => ({ id, rank: event.ranks?.[i] as number }));
  items.sort((a, b) => a.rank - b.rank);
  const out: RankedPair[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i] as { id: string; rank: number };
      const b = items[j] as { id: string; rank: number };
      if (a.rank < b.rank) out.push({ chosenId: a.id, rejectedId: b.id, margin: b.rank - a.rank });
    }
  }
  return out;
}

/** The label sources training uses by default: implicit ones only when the project enables them. */
export function trainingSources(meta: ProjectRecord): LabelSource[] {
  return ['human', 'imported', ...(meta.settings.includeSimulated ? (['simulated'] as const) : []), ...(meta.settings.includeImplicit ? (['implicit'] as const) : [])];
}

/** Every pair from the rankings in force (default: the project's training sources). */
export function derivePairs(project: Project, filter: RankingFilter = {}): PreferencePair[] {
  const prompts = project.prompts.byId();
  const batches = project.completions.byId();
  const current = project.rankings.current({ sources: trainingSources(project.meta), ...filter });
  return current.flatMap((c) => pairsOf(c, batches.get(c.event.batchId), prompts.get(c.event.promptId)?.text));
}

function pairsOf(c: CurrentRanking, batch: BatchRecord | undefined, prompt: string | undefined): PreferencePair[] {
  const e = c.event;
  const at = `${c.file}:${c.line}`;
  if (!batch) throw new UserError(`${at}: the ranking refers to batch ${e.batchId}, which is not in completions.jsonl. Restore that batch or undo the ranking.`);
  if (prompt === undefined || batch.promptId !== e.promptId) {
    throw new UserError(`${at}: the ranking refers to prompt ${e.promptId}, which is not batch ${e.batchId}'s prompt or not in prompts.jsonl.`);
  }
  const texts = new Map(batch.completions.map((x) => [x.id, x.text]));
  return rankingPairs(e).map((p) => {
    const chosen = texts.get(p.chosenId);
    const rejected = texts.get(p.rejectedId);
    if (chosen === undefined || rejected === undefined) {
      throw new UserError(`${at}: the ranking names a completion that batch ${e.batchId} does not have.`);
    }
    return {
      ...p,
      promptId: e.promptId,
      prompt,
      batchId: e.batchId,
      chosen,
      rejected,
      labeler: e.labeler,
      source: e.source,
      eventId: e.id,
      ...(e.note !== undefined ? { note: e.note } : {}),
    };
  });
}

/** What the reward model trains on: the pairs of each prompt together. */
export function promptPairs(project: Project, filter: RankingFilter = {}): PromptPairs[] {
  return groupByPrompt(derivePairs(project, filter));
}

/** Pairs grouped per prompt, prompts in first-seen order. */
export function groupByPrompt(pairs: readonly PreferencePair[]): PromptPairs[] {
  const groups = new Map<string, PromptPairs>();
  for (const p of pairs) {
    let g = groups.get(p.promptId);
    if (!g) groups.set(p.promptId, (g = { promptId: p.promptId, prompt: p.prompt, pairs: [] }));
    g.pairs.push(p);
  }
  return [...groups.values()];
}
