/**
 * Rankings: one append-only event log per labeler, `rankings/<labeler>.jsonl`. Submitting,
 * editing (a new rank event for the same batch) and undoing are all appended events, fsync'd
 * before the call returns; the current state is derived by replaying them:
 * per (labeler, source, batch), the latest rank event that no undo event has taken back.
 * Sources stay apart: an implicit preference (inline completions) never edits or undoes a human
 * ranking by the same person, and vice versa.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { labelerFileStem, labelerSchema, newEventId } from './ids';
import { describeIssue } from './jsonl';
import { JsonlLog } from './log';
import { CompletionStore } from './completions';
import { PromptStore } from './prompts';
import type { StoreContext } from './project';
import { rankEvent, rankingEvent } from './schemas';
import type { BatchRecord, LabelSource, PromptRecord, RankEvent, RankingEvent, UndoEvent } from './schemas';

export interface RankInput {
  readonly batchId: string;
  /** The completions ranked (at least 2, all from the batch); default: all of the batch's. */
  readonly completionIds?: readonly string[];
  /** One rank per completion id, 1 = best, equal = tie. Required when the verdict is 'ranked'. */
  readonly ranks?: readonly number[];
  /** Default 'ranked'. */
  readonly verdict?: 'ranked' | 'skip' | 'allBad';
  readonly note?: string;
}

export interface WriteAs {
  /** Default: the project's labeler. */
  readonly labeler?: string;
  /** Default: 'human'. */
  readonly source?: LabelSource;
}

/** A rank event in force, with where it is written (for error messages). */
export interface CurrentRanking {
  readonly event: RankEvent;
  readonly file: string;
  readonly line: number;
}

export interface RankingFilter {
  readonly labelers?: readonly string[];
  readonly sources?: readonly LabelSource[];
}

export interface LoggedEvent {
  readonly event: RankingEvent;
  readonly file: string;
  readonly line: number;
}

export class RankingStore {
  constructor(
    private readonly ctx: StoreContext,
    private readonly defaultLabeler: () => string,
  ) {}

  logFor(labeler: string): JsonlLog<RankingEvent> {
    return new JsonlLog(path.join(this.ctx.paths.rankings, `${labelerFileStem(labeler)}.jsonl`), rankingEvent);
  }

  /** Every labeler log in the project. */
  logs(): JsonlLog<RankingEvent>[] {
    if (!fs.existsSync(this.ctx.paths.rankings)) return [];
    return fs
      .readdirSync(this.ctx.paths.rankings)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => new JsonlLog(path.join(this.ctx.paths.rankings, f), rankingEvent));
  }

  /** All events, file by file, in the order written. */
  events(): LoggedEvent[] {
    return this.logs().flatMap((log) => log.read().records.map((r) => ({ event: r.value, file: log.file, line: r.line })));
  }

  /** Ranks (or skips, or marks all-bad) a batch. Resubmitting for the same batch is an edit. */
  async submit(input: RankInput, as: WriteAs = {}): Promise<RankEvent> {
    const [event] = await this.submitMany([input], as);
    return event as RankEvent;
  }

  /** Several rankings by one labeler in one locked, fsync'd append (all or none are written). */
  async submitMany(inputs: readonly RankInput[], as: WriteAs = {}): Promise<RankEvent[]> {
    const labeler = this.labelerOf(as);
    return this.ctx.lock(() => {
      const batches = new CompletionStore(this.ctx).byId();
      const source = as.source ?? 'human';
      const inForce = new Map([...this.currentFor(labeler, source)].map(([batchId, c]) => [batchId, c.event.id]));
      const events = inputs.map((input) => {
        const event = buildRankEvent(input, batches.get(input.batchId), labeler, source, inForce.get(input.batchId));
        inForce.set(event.batchId, event.id);
        return event;
      });
      this.logFor(labeler).append(events);
      return events;
    });
  }

  /**
   * Takes back a rank event of this labeler and source (default: their latest one not yet undone).
   * Returns undefined when there is nothing to undo.
   */
  async undo(target?: string, as: WriteAs = {}): Promise<UndoEvent | undefined> {
    const labeler = this.labelerOf(as);
    const source = as.source ?? 'human';
    return this.ctx.lock(() => {
      const log = this.logFor(labeler);
      const events = log.read().records.map((r) => r.value);
      const undone = new Set(events.flatMap((e) => (e.type === 'undo' ? [e.target] : [])));
      const ranks = events.filter((e): e is RankEvent => e.type === 'rank' && e.labeler === labeler && e.source === source);
      let chosen: RankEvent | undefined;
      if (target === undefined) {
        chosen = [...ranks].reverse().find((e) => !undone.has(e.id));
        if (!chosen) return undefined;
      } else {
        chosen = ranks.find((e) => e.id === target);
        if (!chosen) throw new UserError(`No ${source} ranking event ${target} by ${labeler} to undo.`);
        if (undone.has(target)) throw new UserError(`Ranking event ${target} is already undone.`);
      }
      const event: UndoEvent = { v: 1, id: newEventId(), time: new Date().toISOString(), labeler, source, type: 'undo', target: chosen.id };
      log.append([event]);
      return event;
    });
  }

  /** The rankings in force, over all labelers (or those the filter names). */
  current(filter: RankingFilter = {}): CurrentRanking[] {
    const out: CurrentRanking[] = [];
    for (const log of this.logs()) {
      const records = log.read().records;
      const undone = new Set(records.flatMap((r) => (r.value.type === 'undo' ? [r.value.target] : [])));
      const latest = new Map<string, CurrentRanking>();
      for (const r of records) {
        const e = r.value;
        if (e.type !== 'rank' || undone.has(e.id)) continue;
        const key = `${e.labeler}\u0000${e.source}\u0000${e.batchId}`;
        latest.delete(key); // re-insert so the map keeps the order of the latest events
        latest.set(key, { event: e, file: log.file, line: r.line });
      }
      for (const c of latest.values()) {
        if (filter.labelers && !filter.labelers.includes(c.event.labeler)) continue;
        if (filter.sources && !filter.sources.includes(c.event.source)) continue;
        out.push(c);
      }
    }
    return out;
  }

  /** batchId → the ranking in force for one labeler and source. */
  currentFor(labeler: string, source: LabelSource = 'human'): Map<string, CurrentRanking> {
    return new Map(this.current({ labelers: [labeler], sources: [source] }).map((c) => [c.event.batchId, c]));
  }

  /** Batches this labeler has not ranked, skipped or marked all-bad yet (as `source`), oldest first. */
  unranked(labeler: string = this.defaultLabeler(), source: LabelSource = 'human'): BatchRecord[] {
    const done = this.currentFor(labeler, source);
    return new CompletionStore(this.ctx).list().filter((b) => !done.has(b.id));
  }

  /** The ranking queue for the UI: each unranked batch with its prompt, oldest first. */
  pending(labeler: string = this.defaultLabeler(), source: LabelSource = 'human'): { prompt: PromptRecord; batch: BatchRecord }[] {
    const prompts = new PromptStore(this.ctx).byId();
    return this.unranked(labeler, source).flatMap((batch) => {
      const prompt = prompts.get(batch.promptId);
      return prompt ? [{ prompt, batch }] : [];
    });
  }

  /** Distinct labelers with at least one event. */
  labelers(): string[] {
    return [...new Set(this.events().map((e) => e.event.labeler))].sort();
  }

  private labelerOf(as: WriteAs): string {
    const labeler = as.labeler ?? this.defaultLabeler();
    const parsed = labelerSchema.safeParse(labeler);
    if (!parsed.success) throw new UserError(`The labeler '${labeler}' is not usable: ${describeIssue(parsed.error)}.`);
    return labeler;
  }
}

function buildRankEvent(input: RankInput, batch: BatchRecord | undefined, labeler: string, source: LabelSource, replaces: string | undefined): RankEvent {
  if (!batch) throw new UserError(`Batch ${input.batchId} is not in the project; rank a batch that was generated or imported.`);
  const completionIds = input.completionIds ? [...input.completionIds] : batch.completions.map((c) => c.id);
  checkBelongs(completionIds, batch);
  const verdict = input.verdict ?? 'ranked';
  const candidate = {
    v: 1,
    id: newEventId(),
    time: new Date().toISOString(),
    labeler,
    source,
    type: 'rank',
    promptId: batch.promptId,
    batchId: batch.id,
    verdict,
    completionIds,
    ...(verdict === 'ranked' ? { ranks: input.ranks ? [...input.ranks] : undefined } : {}),
    ...(input.note !== undefined && input.note !== '' ? { note: input.note } : {}),
    ...(replaces !== undefined ? { replaces } : {}),
  };
  const parsed = rankEvent.safeParse(candidate);
  if (!parsed.success) throw new UserError(`The ranking of batch ${input.batchId} is invalid: ${describeIssue(parsed.error)}.`);
  return parsed.data;
}

function checkBelongs(completionIds: readonly string[], batch: BatchRecord): void {
  const known = new Set(batch.completions.map((c) => c.id));
  const stranger = completionIds.find((id) => !known.has(id));
  if (stranger !== undefined) throw new UserError(`Completion ${stranger} is not part of batch ${batch.id}; rank only that batch's completions.`);
}
