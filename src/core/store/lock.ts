/**
 * The project write lock: every change to `.rlhf/` happens while holding it, so two writers (two
 * VS Code windows, the UI and the CLI) take turns. It is a `mkdir` lock (proper-lockfile) whose
 * mtime the holder refreshes; a lock left by a crashed process goes stale and is taken over.
 * Readers never lock: logs are append-only and files are replaced atomically.
 */
import * as lockfile from 'proper-lockfile';
import { UserError } from '../errors';

export interface LockConfig {
  /** A lock not refreshed for this long is stale and may be taken over (ms; proper-lockfile min 2000). */
  readonly staleMs: number;
  /** How long to keep retrying before giving up (ms). */
  readonly waitMs: number;
}

export const DEFAULT_LOCK: LockConfig = { staleMs: 10_000, waitMs: 30_000 };

/** Runs `fn` holding the lock `<dir>/lock`. `fn` may be sync or async. */
export async function withLock<T>(dir: string, fn: () => T | Promise<T>, config: LockConfig = DEFAULT_LOCK): Promise<T> {
  let compromised: Error | undefined;
  const deadline = Date.now() + config.waitMs;
  let release: (() => Promise<void>) | undefined;
  let pause = 2;
  while (!release) {
    try {
      release = await lockfile.lock(dir, {
        lockfilePath: `${dir}/lock`,
        realpath: false,
        stale: config.staleMs,
        onCompromised: (err) => {
          compromised = err;
        },
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      if (Date.now() >= deadline) {
        throw new UserError(
          `${dir} is locked by another writer (another VS Code window or an rlhf command) for more than ${config.waitMs / 1000} s. Let it finish, or remove ${dir}/lock if no such process is running.`,
        );
      }
      // A short, growing, jittered pause: a burst of writers clears within milliseconds.
      await new Promise((r) => setTimeout(r, pause * (0.5 + Math.random())));
      pause = Math.min(pause * 1.5, 100);
    }
  }
  try {
    const result = await fn();
    // Our own bug or a frozen process: another writer may have taken over, so say so loudly.
    if (compromised) throw new Error(`The project lock at ${dir}/lock was lost while writing: ${compromised.message}`);
    return result;
  } finally {
    await release().catch((err: Error) => {
      if (!compromised) throw err;
    });
  }
}
