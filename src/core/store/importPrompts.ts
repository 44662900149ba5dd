/**
 * Prompts from a file: `.txt` (one prompt per line), `.jsonl` (a string, or an object with a
 * `prompt` or `text` string, per line) or `.csv` (a header row with a `prompt` or `text` column;
 * quoted fields may span lines). Every prompt is checked before any is stored.
 */
import { errorMessage } from '../../protocol/guards';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { UserError } from '../errors';
import { inputJsonl, inputLines, inputText } from './input';
import type { Project } from './project';
import type { AddPromptsResult } from './prompts';
import { checkPromptText } from './prompts';

export type PromptFormat = 'txt' | 'jsonl' | 'csv';

export interface FilePrompt {
  readonly text: string;
  /** `file:line` for messages. */
  readonly where: string;
}

export interface PromptImport extends AddPromptsResult {
  readonly format: PromptFormat;
  readonly read: number;
  /** The prompts read, with where each came from. */
  readonly prompts: readonly FilePrompt[];
}

export function promptFormatOf(file: string, format?: string): PromptFormat {
  const f = (format ?? path.extname(file).slice(1)).toLowerCase();
  if (f === 'txt' || f === 'jsonl' || f === 'csv') return f;
  if (f === 'text') return 'txt';
  throw new UserError(`Cannot tell the prompt format of ${file}: use a .txt, .jsonl or .csv file, or pass the format (txt, jsonl, csv).`);
}

const jsonlPrompt = z.union([z.string(), z.looseObject({ prompt: z.string() }).transform((o) => o.prompt), z.looseObject({ text: z.string() }).transform((o) => o.text)]);

export function readPromptFile(file: string, format?: string): { format: PromptFormat; prompts: FilePrompt[] } {
  const f = promptFormatOf(file, format);
  const prompts =
    f === 'txt'
      ? inputLines(file).map(({ text, line }) => ({ text, where: `${file}:${line}` }))
      : f === 'jsonl'
        ? inputJsonl(file, jsonlPrompt, "a prompt (a JSON string or an object with a 'prompt' or 'text' string)").map(({ value, line }) => ({
            text: value,
            where: `${file}:${line}`,
          }))
        : csvPrompts(file);
  prompts.forEach((p) => checkPromptText(p.text, p.where));
  return { format: f, prompts };
}

function csvPrompts(file: string): FilePrompt[] {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    // Arrays, not column objects: a hostile header (`__proto__`) never becomes a key.
    rows = parse(inputText(file), { info: true, skip_empty_lines: true, max_record_size: 4 * 1024 * 1024 }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    throw new UserError(`${file}: not valid CSV (${errorMessage(err)}). Nothing was imported.`);
  }
  const [header, ...data] = rows;
  if (!header) return [];
  const names = header.record.map((h) => h.trim().toLowerCase());
  const col = names.indexOf('prompt') >= 0 ? names.indexOf('prompt') : names.indexOf('text');
  if (col < 0) throw new UserError(`${file}:1: the header has no 'prompt' or 'text' column (found: ${names.join(', ')}). Add one.`);
  return data.map((r) => ({ text: r.record[col] ?? '', where: `${file}:${r.info.lines}` }));
}

/** Reads, checks, and stores the prompts of a file (existing texts are not added twice). */
export async function importPrompts(project: Project, file: string, format?: string): Promise<PromptImport> {
  const { format: f, prompts } = readPromptFile(file, format);
  const result = await project.prompts.add(
    prompts.map((p) => p.text),
    path.basename(file),
    (i) => prompts[i]?.where ?? file,
  );
  return { ...result, format: f, read: prompts.length, prompts };
}
