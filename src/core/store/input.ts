/**
 * Reading a file the user hands us for import (prompts, preferences): bounded in size, decoded
 * as strict UTF-8 line by line (so an error names its line), BOM skipped, CRLF accepted.
 */
import { errorMessage } from '../../protocol/guards';
import * as fs from 'node:fs';
import { UserError } from '../errors';
import { DEFAULT_LIMITS, decodeLine, lineSpans, parseChecked } from './jsonl';
import type { z } from 'zod';

/** Largest import file accepted (bytes). */
export const MAX_IMPORT_BYTES = 512 * 1024 * 1024;

export interface InputLine {
  readonly text: string;
  /** 1-based. */
  readonly line: number;
}

export function readInput(file: string): Buffer {
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new UserError(`${file} is not a file.`);
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} does not exist. Check the path.`);
    throw err;
  }
  if (size > MAX_IMPORT_BYTES) throw new UserError(`${file} is ${size} bytes, more than the ${MAX_IMPORT_BYTES} an import accepts. Split it into smaller files.`);
  return fs.readFileSync(file);
}

/** The non-blank lines of a text file, decoded. */
export function inputLines(file: string, maxLineBytes = DEFAULT_LIMITS.maxLineBytes): InputLine[] {
  const buf = readInput(file);
  const out: InputLine[] = [];
  let line = 0;
  for (const [start, end] of lineSpans(buf)) {
    line++;
    let text: string;
    try {
      text = decodeLine(buf.subarray(start, end), maxLineBytes);
    } catch (err) {
      throw new UserError(`${file}:${line}: ${errorMessage(err)}. Nothing was imported; fix that line and try again.`);
    }
    if (text.trim() !== '') out.push({ text, line });
  }
  return out;
}

/** The whole file as text (strict UTF-8, BOM removed), for formats that span lines (CSV). */
export function inputText(file: string): string {
  const lines: string[] = [];
  const buf = readInput(file);
  let line = 0;
  for (const [start, end, terminated] of lineSpans(buf)) {
    line++;
    try {
      // Keep the `\r` here: CSV quoting rules decide what a line ending means.
      lines.push(decodeLine(buf.subarray(start, end), MAX_IMPORT_BYTES) + (buf[end - 1] === 0x0d ? '\r' : '') + (terminated ? '\n' : ''));
    } catch (err) {
      throw new UserError(`${file}:${line}: ${errorMessage(err)}. Nothing was imported; fix that line and try again.`);
    }
  }
  return lines.join('');
}

/** Each non-blank line parsed as JSON (with the hostile-input checks) and validated. */
export function inputJsonl<T>(file: string, schema: z.ZodType<T>, what: string): { value: T; line: number }[] {
  return inputLines(file).map(({ text, line }) => {
    try {
      return { value: parseChecked(text, schema), line };
    } catch (err) {
      throw new UserError(`${file}:${line}: ${errorMessage(err)}. This is not ${what}; nothing was imported.`);
    }
  });
}
