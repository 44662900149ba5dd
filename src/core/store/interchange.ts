/**
 * Preferences to and from TRL (standard, conversational) and HH-RLHF files. Every row of an
 * import becomes its own batch of two completions ranked 1 and 2 by the importing labeler
 * (source 'imported'); batch ids are derived from the content, so importing a file twice adds
 * nothing, and an import cut short (a crash between its prompts, batches and rankings) is
 * completed by running it again. Nothing is guessed and nothing is dropped silently: rows the
 * project cannot hold are listed in `skipped`; what a format cannot hold is counted in `notHeld`.
 */
import type { ChatMessage } from '../../protocol/chat';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { UserError } from '../errors';
import { writeFileAtomic } from './fsx';
import { hhFromPair, hhRow, pairFromHh, HH_FIELDS } from './hh';
import { inputJsonl } from './input';
import { derivePairs, rankingPairs, trainingSources } from './pairs';
import type { Project } from './project';
import type { RankingFilter } from './rankings';
import { pairFromTrl, trlFromPair, trlRow, TRL_FIELDS } from './trl';

export type PreferenceFormat = 'trl' | 'hh';

export interface TextPair {
  /** The prompt's text (for a chat prompt, unused on import: the store renders its transcript). */
  readonly prompt: string;
  /** Set for a chat prompt: its messages. */
  readonly messages?: readonly ChatMessage[];
  readonly chosen: string;
  readonly rejected: string;
}

/** Something a file or a format could not hold, and how often. */
export interface NotHeld {
  readonly count: number;
  readonly message: string;
}

export interface PreferenceImport {
  readonly format: PreferenceFormat;
  readonly rows: number;
  /** Rows stored (new or already present). */
  readonly pairs: number;
  readonly skipped: { line: number; reason: string }[];
  readonly notHeld: NotHeld[];
  readonly added: { prompts: number; batches: number; rankings: number };
  readonly labeler: string;
}

export interface ImportOptions {
  readonly format: PreferenceFormat;
  /** Default `imported:<file name>`. */
  readonly labeler?: string;
}

export async function importPreferences(project: Project, file: string, options: ImportOptions): Promise<PreferenceImport> {
  const name = path.basename(file);
  const rows = parseRows(file, options.format);
  const pairs: TextPair[] = [];
  const lines: number[] = [];
  const skipped: { line: number; reason: string }[] = [];
  const extra = new Map<string, number>();
  for (const { pair, line, unknownKeys } of rows) {
    if ('skip' in pair) skipped.push({ line, reason: pair.skip });
    else {
      pairs.push(pair);
      lines.push(line);
    }
    for (const key of unknownKeys) extra.set(key, (extra.get(key) ?? 0) + 1);
  }
  const notHeld = [...extra].map(([key, count]) => ({ count, message: `field '${key}' is not kept (the project has no place for it)` }));
  const labeler = options.labeler ?? `imported:${name}`.slice(0, 200);
  const where = (i: number) => `${file}:${lines[i]}`;
  const { ids, added: promptsAdded } = await project.prompts.add(
    pairs.map((p) => (p.messages ? { messages: p.messages } : p.prompt)),
    `${options.format}:${name}`,
    where,
  );
  const batches = await project.completions.addBatches(
    pairs.map((p, i) => ({
      id: importedBatchId(ids[i] as string, p),
      promptId: ids[i] as string,
      model: { path: `import:${options.format}:${name}` },
      completions: [{ text: p.chosen }, { text: p.rejected }],
    })),
  );
  const ranked = project.rankings.currentFor(labeler, 'imported');
  const toRank = [...new Set(pairs.map((p, i) => importedBatchId(ids[i] as string, p)))].filter((id) => !ranked.has(id));
  const events = await project.rankings.submitMany(
    toRank.map((batchId) => ({ batchId, ranks: [1, 2] })),
    { labeler, source: 'imported' },
  );
  return { format: options.format, rows: rows.length, pairs: pairs.length, skipped, notHeld, added: { prompts: promptsAdded, batches: batches.length, rankings: events.length }, labeler };
}

interface ParsedRow {
  readonly line: number;
  readonly pair: TextPair | { skip: string };
  /** Fields of the row the format does not define (kept nowhere, so reported). */
  readonly unknownKeys: string[];
}

function parseRows(file: string, format: PreferenceFormat): ParsedRow[] {
  if (format === 'trl') {
    return inputJsonl(file, trlRow, 'a TRL preference row ({prompt, chosen, rejected})').map(({ value, line }) => ({
      line,
      pair: pairFromTrl(value),
      unknownKeys: Object.keys(value).filter((k) => !TRL_FIELDS.includes(k)),
    }));
  }
  return inputJsonl(file, hhRow, 'an HH-RLHF row ({chosen, rejected})').map(({ value, line }) => ({
    line,
    pair: pairFromHh(value),
    unknownKeys: Object.keys(value).filter((k) => !HH_FIELDS.includes(k)),
  }));
}

function importedBatchId(promptId: string, p: TextPair): string {
  return 'b-imp-' + createHash('sha256').update(`${promptId}\u0000${p.chosen}\u0000${p.rejected}`, 'utf8').digest('hex').slice(0, 20);
}

export interface ExportOptions {
  readonly format: PreferenceFormat;
  /** TRL only: messages instead of plain strings. */
  readonly conversational?: boolean;
  /** Default: the project's training sources (implicit labels only when enabled). */
  readonly filter?: RankingFilter;
}

export interface PreferenceExport {
  readonly rows: number;
  readonly notHeld: NotHeld[];
}

/** The rows of an export and what they could not hold. */
export function preferenceRows(project: Project, options: ExportOptions): { rows: Record<string, unknown>[]; notHeld: NotHeld[] } {
  const filter: RankingFilter = { sources: trainingSources(project.meta), ...options.filter };
  const pairs = derivePairs(project, filter);
  const current = project.rankings.current(filter);
  const count = (n: number, message: string): NotHeld[] => (n > 0 ? [{ count: n, message }] : []);
  const k = (e: (typeof current)[number]['event']) => e.completionIds.length;
  const tiedPairs = current.reduce((n, c) => n + (c.event.verdict === 'ranked' ? (k(c.event) * (k(c.event) - 1)) / 2 - rankingPairs(c.event).length : 0), 0);
  const notHeld: NotHeld[] = [
    ...count(tiedPairs, 'tied completion pairs (a tie is not a preference in these formats; no row written)'),
    ...count(current.filter((c) => c.event.verdict === 'allBad').length, 'all-bad rankings (no row written)'),
    ...count(current.filter((c) => c.event.verdict === 'skip').length, 'skipped rankings (no row written)'),
    ...count(current.filter((c) => c.event.verdict === 'ranked' && k(c.event) > 2).length, 'rankings of more than 2 completions, flattened into their pairs (the full order and rank gaps are lost)'),
    ...count(current.filter((c) => c.event.note !== undefined).length, 'ranking notes (not kept)'),
    ...count(new Set(pairs.map((p) => p.labeler)).size > 1 ? new Set(pairs.map((p) => p.labeler)).size : 0, 'labelers, merged (rows do not say who labeled)'),
    ...count(project.rankings.current().length - current.length, 'rankings left out by source or labeler (implicit ones are exported only when enabled)'),
    ...count(
      sampledBatches(
        project,
        pairs.map((p) => p.batchId),
      ),
      'batches whose model, sampling parameters, seed, tokens and log-probs are not kept',
    ),
  ];
  const prompts = project.prompts.byId();
  const chats = pairs.filter((p) => prompts.get(p.promptId)?.messages !== undefined).length;
  if (options.format === 'trl') {
    const conversational = options.conversational ?? false;
    if (!conversational) notHeld.push(...count(chats, 'chat prompts written as their plain transcript (system: …/user: …/assistant:); export with --conversational to keep their messages'));
    return { rows: pairs.map((p) => trlFromPair({ ...p, ...(conversational ? { messages: prompts.get(p.promptId)?.messages } : {}) }, conversational)), notHeld };
  }
  notHeld.push(...count(chats, 'chat prompts written as their plain transcript (system: …/user: …/assistant:)'));
  let wrapped = 0;
  let spaced = 0;
  const rows = pairs.map((p) => {
    const hh = hhFromPair(p);
    wrapped += Number(hh.wrapped);
    spaced += hh.spaced;
    return hh.row;
  });
  notHeld.push(...count(wrapped, "prompts wrapped as '\\n\\nHuman: …\\n\\nAssistant:' (they import back as that transcript)"));
  notHeld.push(...count(spaced, "completions given a leading space after 'Assistant:'"));
  return { rows, notHeld };
}

/** How many of these batches carry sampling metadata a row cannot hold (imported ones carry none). */
function sampledBatches(project: Project, batchIds: readonly string[]): number {
  const batches = project.completions.byId();
  return [...new Set(batchIds)].filter((id) => {
    const b = batches.get(id);
    return b !== undefined && (b.sampling !== undefined || b.completions.some((c) => c.logprobs !== undefined || c.tokens !== undefined));
  }).length;
}

/** Writes the export atomically (the old file stays whole until the new one is complete). */
export function exportPreferences(project: Project, out: string, options: ExportOptions): PreferenceExport {
  if (options.conversational && options.format !== 'trl') throw new UserError('--conversational applies to the TRL format only.');
  const { rows, notHeld } = preferenceRows(project, options);
  writeFileAtomic(path.resolve(out), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  return { rows: rows.length, notHeld };
}
