/**
 * Prompts from a file: `.txt` (one prompt per line), `.jsonl` (per line: a string, an object with
 * a `prompt` or `text` string, or a chat prompt: an object with a `messages` list, or TRL's
 * conversational `prompt` list, of {role, content} messages) or `.csv` (a header row with a
 * `prompt` or `text` column; quoted fields may span lines). Every prompt is checked before any is
 * stored.
 */
import { errorMessage } from '../../protocol/guards';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { UserError } from '../errors';
import { plainChatText } from '../tokenizer/chat';
import { inputJsonl, inputLines, inputText } from './input';
import type { Project } from './project';
import type { ChatMessage } from '../../protocol/chat';
import type { AddPromptsResult, PromptInput } from './prompts';
import { checkChatMessages, checkPromptText } from './prompts';

export type PromptFormat = 'txt' | 'jsonl' | 'csv';

export interface FilePrompt {
  /** The prompt's text (a chat prompt's plain transcript, as the store keeps it). */
  readonly text: string;
  /** A chat prompt's messages. */
  readonly messages?: readonly ChatMessage[];
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

/** A chat prompt's messages, checked by checkChatMessages (which names what is wrong). */
const messagesField = z.array(z.unknown()).max(10_000);
const jsonlPrompt = z.union([
  z.string(),
  z.looseObject({ messages: messagesField }).transform((o) => ({ messages: o.messages })),
  z.looseObject({ prompt: z.string() }).transform((o) => o.prompt),
  // TRL's conversational prompt-only rows: {"prompt": [{"role": "user", "content": "…"}]}.
  z.looseObject({ prompt: messagesField }).transform((o) => ({ messages: o.prompt })),
  z.looseObject({ text: z.string() }).transform((o) => o.text),
]);

export function readPromptFile(file: string, format?: string): { format: PromptFormat; prompts: FilePrompt[] } {
  const f = promptFormatOf(file, format);
  const prompts: FilePrompt[] =
    f === 'txt'
      ? inputLines(file).map(({ text, line }) => ({ text, where: `${file}:${line}` }))
      : f === 'jsonl'
        ? inputJsonl(file, jsonlPrompt, "a prompt (a JSON string, an object with a 'prompt' or 'text' string, or a 'messages' or 'prompt' list of chat messages)").map(({ value, line }) =>
            typeof value === 'string' ? { text: value, where: `${file}:${line}` } : chatPrompt(value.messages, `${file}:${line}`),
          )
        : csvPrompts(file);
  prompts.forEach((p) => checkPromptText(p.text, p.where));
  return { format: f, prompts };
}

function chatPrompt(messages: unknown, where: string): FilePrompt {
  const checked = checkChatMessages(messages, where);
  return { text: plainChatText(checked), messages: checked, where };
}

/** What the store adds for a prompt read from a file. */
function promptInput(p: FilePrompt): PromptInput {
  return p.messages === undefined ? p.text : { messages: p.messages };
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
  const result = await project.prompts.add(prompts.map(promptInput), path.basename(file), (i) => prompts[i]?.where ?? file);
  return { ...result, format: f, read: prompts.length, prompts };
}
