/**
 * One append-only JSONL log with its schema: read (validated, incrementally), repair a bad tail,
 * append.
 * Appends and repairs must run under the project lock; reads need no lock and skip a bad tail
 * (it may be a write still in flight) without touching the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { UserError } from '../errors';
import { appendDurable, endsWithNewline, quarantineTail, terminateLastLine } from './fsx';
import type { JsonlLimits, JsonlPosition, JsonlRead, LineRecord } from './jsonl';
import { DEFAULT_LIMITS, parseJsonl } from './jsonl';

/** What `repair` did to a log, for the user to be told. */
export interface Repair {
  readonly file: string;
  readonly line: number;
  /** Why the last line was bad (torn, invalid JSON, failed schema …). */
  readonly reason: string;
  readonly bytes: number;
  /** Where the bad bytes now are. */
  readonly movedTo: string;
}

export function formatRepair(r: Repair): string {
  return `${r.file}:${r.line}: the last line was damaged (${r.reason}); its ${r.bytes} bytes were moved to ${r.movedTo} and the rest of the file kept.`;
}

/** What the last read of a log established, to resume from. Keyed by file path. */
interface Cached<T> {
  readonly schema: unknown;
  readonly pos: JsonlPosition;
  readonly records: readonly LineRecord<T>[];
  /** The file's bytes up to `pos`: if any changed, the file was rewritten, not appended to. */
  readonly prefix: Buffer;
}

const cache = new Map<string, Cached<unknown>>();

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}

export class JsonlLog<T> {
  constructor(
    readonly file: string,
    private readonly schema: z.ZodType<T>,
    /** fsync each append (labels: yes; metrics: no). */
    private readonly sync: boolean = true,
    private readonly limits: JsonlLimits = DEFAULT_LIMITS,
  ) {}

  /**
   * Every valid record (frozen: they are shared with later reads). Logs only grow, so a read
   * parses just the bytes appended since the last one; if any earlier byte changed (a hand edit,
   * a git checkout) the file is parsed whole again.
   */
  read(): JsonlRead<T> {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      cache.delete(this.file);
      return { records: [], unterminated: false };
    }
    let known = cache.get(this.file) as Cached<T> | undefined;
    // Comparing bytes costs about a millisecond per MB; parsing and validating them costs ~50×.
    if (known && (known.schema !== this.schema || buf.length < known.pos.offset || !buf.subarray(0, known.pos.offset).equals(known.prefix))) {
      known = undefined;
    }
    const from = known?.pos ?? { offset: 0, lines: 0 };
    const chunk = parseJsonl(buf.subarray(from.offset), this.file, this.schema, this.limits, from);
    chunk.records.forEach(deepFreeze);
    const records = [...(known?.records ?? []), ...chunk.records];
    const final = records.slice(0, records.length - (chunk.unterminated ? 1 : 0));
    cache.set(this.file, { schema: this.schema, pos: chunk.consumed, records: final, prefix: buf.subarray(0, chunk.consumed.offset) });
    return { records, unterminated: chunk.unterminated, ...(chunk.tail ? { tail: chunk.tail } : {}) };
  }

  /** Under the lock: moves a torn or invalid last line aside, or adds a missing final newline. */
  repair(): Repair | undefined {
    if (!fs.existsSync(this.file)) return undefined;
    const read = this.read();
    if (read.unterminated) terminateLastLine(this.file);
    if (!read.tail) return undefined;
    const { movedTo, bytes } = quarantineTail(this.file, read.tail.offset);
    return { file: this.file, line: read.tail.line, reason: read.tail.reason, bytes, movedTo };
  }

  /**
   * Under the lock: validates, repairs the tail, then appends. Returns the repair it had to make
   * (if a crash left a torn line since the project was opened).
   */
  append(values: readonly T[]): Repair | undefined {
    // Validate everything first: a bad record must not leave half of a call's records written.
    const lines = values.map((v) => {
      const parsed = this.schema.safeParse(v);
      if (!parsed.success) throw new Error(`refusing to write an invalid record to ${this.file}: ${parsed.error.message}`);
      const line = JSON.stringify(parsed.data);
      // Never write what the reader would refuse.
      if (Buffer.byteLength(line, 'utf8') > this.limits.maxLineBytes) {
        throw new UserError(`A record for ${this.file} is ${Buffer.byteLength(line, 'utf8')} bytes, more than the ${this.limits.maxLineBytes} a line may hold. Use fewer or shorter completions.`);
      }
      return line;
    });
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    // Fast path: a log ending in a newline has no torn tail (a terminated bad line was caught on open).
    const repair = fs.existsSync(this.file) && !endsWithNewline(this.file) ? this.repair() : undefined;
    appendDurable(this.file, lines, this.sync);
    return repair;
  }
}
