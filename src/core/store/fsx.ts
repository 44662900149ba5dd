/**
 * The three ways the store touches the disk, each durable before it returns:
 * - `writeFileAtomic`: whole files (project.json, run.json, config.json) via temp + fsync + rename,
 *   so a reader sees the old file or the new one, never half of either;
 * - `appendDurable`: one JSONL line in one write(2) on an O_APPEND descriptor, then fsync;
 * - `quarantineTail`: moves the bad bytes at the end of a log into `<file>.corrupt` (appended,
 *   never overwritten) before cutting them off the log, so nothing is ever deleted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** fsync a directory so a created or renamed entry survives a power cut. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    // Some filesystems refuse fsync on directories; the data itself is already synced.
    if ((err as NodeJS.ErrnoException).code !== 'EISDIR' && (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDir(dir);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Appends whole lines. `sync: false` leaves the data in the OS cache (metrics: many lines, a lost
 * tail is acceptable); labels always use `sync: true`.
 */
export function appendDurable(file: string, lines: readonly string[], sync = true): void {
  if (lines.length === 0) return;
  const created = !fs.existsSync(file);
  const fd = fs.openSync(file, 'a', 0o644);
  try {
    // One write call: O_APPEND makes it land after everything else, never interleaved.
    fs.writeSync(fd, Buffer.from(lines.map((l) => l + '\n').join(''), 'utf8'));
    if (sync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (created && sync) fsyncDir(path.dirname(file));
}

/** Whether the file is empty or ends with a newline (i.e. has no torn tail). */
export function endsWithNewline(file: string): boolean {
  const size = fs.statSync(file).size;
  if (size === 0) return true;
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Copies bytes [offset, end) of `file` to the end of `<file>.corrupt`, syncs that, then truncates
 * `file` to `offset`. Returns the quarantine file's path and how many bytes moved.
 */
export function quarantineTail(file: string, offset: number): { movedTo: string; bytes: number } {
  const size = fs.statSync(file).size;
  const bad = Buffer.alloc(size - offset);
  const fd = fs.openSync(file, 'r+');
  try {
    fs.readSync(fd, bad, 0, bad.length, offset);
    const movedTo = `${file}.corrupt`;
    const parts = bad.length > 0 && bad[bad.length - 1] !== 0x0a ? [bad, Buffer.from('\n')] : [bad];
    const cfd = fs.openSync(movedTo, 'a', 0o644);
    try {
      for (const p of parts) fs.writeSync(cfd, p);
      fs.fsyncSync(cfd);
    } finally {
      fs.closeSync(cfd);
    }
    fsyncDir(path.dirname(file));
    // Only now that the bytes are safe elsewhere is the log cut.
    fs.ftruncateSync(fd, offset);
    fs.fsyncSync(fd);
    return { movedTo, bytes: bad.length };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A file's identity for change detection, `ino:mtimeMs:size`: a file replaced atomically
 * (writeFileAtomic) gets a new inode, one rewritten in place a new mtime or size. Throws
 * (ENOENT) when there is no such file, as fs.statSync.
 */
export function fileStamp(file: string): string {
  const st = fs.statSync(file);
  return `${st.ino}:${st.mtimeMs}:${st.size}`;
}

/** Adds the missing final newline after a valid last record (a hand-edited file, say). */
export function terminateLastLine(file: string): void {
  appendDurable(file, [''], true);
}
