/**
 * The "command" reward: a shell command run once per sample on the completion written to a temp
 * file (a type check, a unit test, a linter), rewarding 1 on exit code 0 and 0 otherwise. It runs
 * in the workspace folder, in a process group of its own so that a timeout (or a cancelled run)
 * kills everything it started, not just the shell. At most os.availableParallelism() commands run
 * at once, across every command reward in the process.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorMessage } from '../../protocol/guards';
import { DEFAULT_COMMAND_TIMEOUT_MS } from './config';
import type { CommandRewardSpec } from './config';
import type { RewardFunction, RewardProblem, RewardSample } from './types';

/** The prompt also travels in env RLHF_PROMPT up to this length (an environment string is limited, 128 KiB on Linux). */
const MAX_ENV_PROMPT = 32 * 1024;
/** How long a killed command's shell may take to be reaped before the call gives up waiting. */
const REAP_GRACE_MS = 5_000;

/** Quoted for the platform's shell, so a path with spaces or quotes stays one argument. */
function shellQuote(p: string): string {
  return process.platform === 'win32' ? `"${p.replace(/"/g, '""')}"` : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** Runs `task`s at most `limit` at a time. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

const slot = limiter(Math.max(1, os.availableParallelism()));

/** Kills the process group led by `pid` (the shell and all it started). */
function killGroup(pid: number): void {
  try {
    if (process.platform === 'win32') spawnSync('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true });
    else process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

type Run = { readonly kind: 'exit'; readonly code: number | null } | { readonly kind: 'timeout' } | { readonly kind: 'error'; readonly message: string };

/** One sample's run: the completion in a fresh temp folder, the command, then the folder removed. */
async function runOnce(spec: CommandRewardSpec, sample: RewardSample, cwd: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Run> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'rlhf-reward-'));
  try {
    const file = path.join(dir, `completion${spec.extension ?? '.txt'}`);
    const promptFile = path.join(dir, 'prompt.txt');
    await fs.promises.writeFile(file, sample.completion);
    await fs.promises.writeFile(promptFile, sample.prompt);
    signal?.throwIfAborted();
    const env: NodeJS.ProcessEnv = { ...process.env, RLHF_COMPLETION_FILE: file, RLHF_PROMPT_FILE: promptFile };
    if (sample.prompt.length <= MAX_ENV_PROMPT) env.RLHF_PROMPT = sample.prompt;
    else delete env.RLHF_PROMPT;
    const command = spec.command.split('{file}').join(shellQuote(file));
    return await new Promise<Run>((resolve, reject) => {
      const child = spawn(command, { shell: true, cwd, env, detached: process.platform !== 'win32', stdio: 'ignore', windowsHide: true });
      let settled = false;
      let timedOut = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        clearTimeout(reapTimer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      let reapTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) killGroup(child.pid);
        // Settled when the shell is reaped ('exit' below), so no process outlives the call; in case it never is:
        reapTimer = setTimeout(() => settle() && resolve({ kind: 'timeout' }), REAP_GRACE_MS);
      }, timeoutMs);
      const onAbort = (): void => {
        if (child.pid !== undefined) killGroup(child.pid);
        // As signal.throwIfAborted() would.
        if (settle()) reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (err) => {
        if (settle()) resolve({ kind: 'error', message: errorMessage(err) });
      });
      child.on('exit', (code) => {
        // Whatever the command left running in the background goes with it.
        if (!timedOut && child.pid !== undefined && process.platform !== 'win32') killGroup(child.pid);
        if (settle()) resolve(timedOut ? { kind: 'timeout' } : { kind: 'exit', code });
      });
    });
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** The command reward as a RewardFunction; the workspace folder is its working directory. */
export function commandReward(spec: CommandRewardSpec, name: string, weight: number, workspaceRoot: string): RewardFunction {
  const timeoutMs = spec.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return {
    name,
    weight,
    score: async (samples, report: (problem: RewardProblem) => void, signal) => {
      signal?.throwIfAborted();
      return Promise.all(
        samples.map((sample, i) =>
          slot(async () => {
            const run = await runOnce(spec, sample, workspaceRoot, timeoutMs, signal);
            if (run.kind === 'exit') return run.code === 0 ? 1 : 0;
            const why = run.kind === 'timeout' ? `did not finish within ${timeoutMs} ms ("timeoutMs"); its process group was killed` : `could not run (${run.message})`;
            report({ name, source: 'command', sample: i, message: `\`${spec.command}\` ${why}; the sample is skipped` });
            return null;
          }),
        ),
      );
    },
    dispose: async () => undefined,
  };
}
