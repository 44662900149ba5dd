/**
 * Reading records the store did not necessarily write itself: every line is checked for size,
 * UTF-8, nesting depth and `__proto__` keys before JSON.parse, then schema-validated. Errors
 * name the file, the line and the field. A bad *last* line is not an error here: it is returned
 * as `tail` so the caller can report it and, under the project lock, quarantine it.
 */
import { errorMessage } from '../../protocol/guards';
import * as fs from 'node:fs';
import type { z } from 'zod';
import { UserError } from '../errors';

export interface JsonlLimits {
  /** Longest accepted line in bytes (default 4 MiB: a completion batch with log-probs fits). */
  readonly maxLineBytes: number;
  /** Deepest accepted nesting of objects/arrays (default 16; our records need 4). */
  readonly maxDepth: number;
}

export const DEFAULT_LIMITS: JsonlLimits = { maxLineBytes: 4 * 1024 * 1024, maxDepth: 16 };

export interface LineRecord<T> {
  readonly value: T;
  /** 1-based line number in the file. */
  readonly line: number;
}

export interface BadTail {
  /** Byte offset where the bad last line starts. */
  readonly offset: number;
  readonly line: number;
  readonly reason: string;
  /** The last line was complete (newline-terminated) but invalid, rather than torn. */
  readonly terminated: boolean;
}

export interface JsonlRead<T> {
  readonly records: LineRecord<T>[];
  /** The last line, when it was torn or invalid; not included in `records`. */
  readonly tail?: BadTail;
  /** The last line is a valid record without its final newline (hand-edited file). */
  readonly unterminated: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Where a problem is: `file:line`. */
export function where(file: string, line: number): string {
  return `${file}:${line}`;
}

/** Rejects nesting deeper than `maxDepth` without recursing (JSON.parse would recurse). */
function checkDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) throw new Error(`nesting deeper than ${maxDepth} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

class ForbiddenKey extends Error {}

function rejectProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new ForbiddenKey(`forbidden key '__proto__'`);
  return value;
}

/** The readable form of the first schema issue: `field 'ranks.2': Invalid input …`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid record';
  const field = issue.path.length ? issue.path.map(String).join('.') : '(record)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `'${k}'`).join(', ');
    return `unknown field${issue.keys.length === 1 ? '' : 's'} ${keys} ${issue.path.length ? `in '${field}'` : 'at the top level'}: remove or rename it`;
  }
  return `field '${field}': ${issue.message}`;
}

/** Parses one JSON text with the hostile-input checks, then the schema. Throws a plain Error. */
export function parseChecked<T>(text: string, schema: z.ZodType<T>, limits: JsonlLimits = DEFAULT_LIMITS): T {
  checkDepth(text, limits.maxDepth);
  let raw: unknown;
  try {
    raw = JSON.parse(text, rejectProtoKeys);
  } catch (err) {
    if (err instanceof ForbiddenKey) throw err;
    throw new Error(`not valid JSON (${errorMessage(err)})`, { cause: err });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(describeIssue(parsed.error));
  return parsed.data;
}

/** Decodes one line's bytes (fatal on invalid UTF-8), without its `\r`. */
export function decodeLine(bytes: Uint8Array, maxLineBytes: number): string {
  if (bytes.length > maxLineBytes) throw new Error(`line is ${bytes.length} bytes, more than the ${maxLineBytes} allowed`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new Error('not valid UTF-8');
  }
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** Splits a buffer into lines (a leading UTF-8 BOM is skipped): [start, end, terminated]. */
export function* lineSpans(buf: Uint8Array, skipBom = true): Generator<[number, number, boolean]> {
  let start = skipBom && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    if (nl === -1) {
      yield [start, buf.length, false];
      return;
    }
    yield [start, nl, true];
    start = nl + 1;
  }
}

/** Where parsing of a file starts (or resumes): a byte offset at a line start, and that line's number − 1. */
export interface JsonlPosition {
  readonly offset: number;
  readonly lines: number;
}

export interface JsonlChunk<T> extends JsonlRead<T> {
  /** How far the records are final: a resumed read may start here. Never past a bad or unterminated line. */
  readonly consumed: JsonlPosition;
}

/**
 * Parses the bytes of a JSONL file from `from` on (`buf` holds exactly those bytes). A bad line
 * before the last is a UserError naming `file:line`; a bad last line becomes `tail`.
 */
export function parseJsonl<T>(buf: Uint8Array, file: string, schema: z.ZodType<T>, limits: JsonlLimits = DEFAULT_LIMITS, from: JsonlPosition = { offset: 0, lines: 0 }): JsonlChunk<T> {
  const spans = [...lineSpans(buf, from.offset === 0)];
  // The last non-blank line is the one a crash can tear.
  let lastIdx = spans.length - 1;
  while (lastIdx >= 0 && isBlank(buf, spans[lastIdx] as [number, number, boolean])) lastIdx--;
  const records: LineRecord<T>[] = [];
  let consumed = from;
  for (let i = 0; i < spans.length; i++) {
    const [start, end, terminated] = spans[i] as [number, number, boolean];
    const line = from.lines + i + 1;
    if (!isBlank(buf, [start, end, terminated])) {
      try {
        const text = decodeLine(buf.subarray(start, end), limits.maxLineBytes);
        const value = parseChecked(text, schema, limits);
        records.push({ value, line });
        // Valid but unterminated: kept, yet not final (a writer may still be adding to it).
        if (!terminated) return { records, unterminated: true, consumed };
      } catch (err) {
        const reason = errorMessage(err);
        if (i === lastIdx) return { records, tail: { offset: from.offset + start, line, reason, terminated }, unterminated: false, consumed };
        throw new UserError(`${where(file, line)}: ${reason}. The file is not changed; fix or remove that line (a backup first) and try again.`);
      }
    }
    if (terminated) consumed = { offset: from.offset + end + 1, lines: line };
  }
  return { records, unterminated: false, consumed };
}

/** Reads and validates a whole JSONL file; a missing file reads as empty. */
export function readJsonl<T>(file: string, schema: z.ZodType<T>, limits: JsonlLimits = DEFAULT_LIMITS): JsonlRead<T> {
  if (!fs.existsSync(file)) return { records: [], unterminated: false };
  return parseJsonl(fs.readFileSync(file), file, schema, limits);
}

function isBlank(buf: Uint8Array, [start, end]: [number, number, boolean]): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/** Reads one whole JSON file (project.json, run.json) with the same checks. */
export function readJsonFile<T>(file: string, schema: z.ZodType<T>, limits: JsonlLimits = DEFAULT_LIMITS): T {
  let text: string;
  try {
    text = decodeLine(fs.readFileSync(file), limits.maxLineBytes * 4);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return parseChecked(text, schema, limits);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} does not exist.`);
    throw new UserError(`${file}: ${errorMessage(err)}. Fix the file (or restore it from version control) and try again.`);
  }
}
