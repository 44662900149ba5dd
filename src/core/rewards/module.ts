/**
 * Reward functions written in the workspace (.rlhf/rewards/*.ts|js): bundled with esbuild (its
 * own imports included, Node built-ins left to require) and run in a worker thread with a JS heap
 * limit and a time limit per batch. One message per batch; the worker stays alive between
 * batches. Whatever the function does — throws, hangs, runs out of memory, returns NaN or the
 * wrong number of scores — becomes a RewardProblem naming the file, the export and (when the
 * fault is one sample's) the sample, and those samples are null; a worker that hung or died is
 * replaced by a fresh one for the next batch. Nothing here throws for the function's faults.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { errorMessage, isRecord } from '../../protocol/guards';
import { UserError } from '../errors';
import type { RewardFunction, RewardProblem, RewardSample } from './types';
import { WORKER_SOURCE } from './workerSource';

/** A module to run: its file, how problems name it, and its limits. */
export interface ModuleTarget {
  /** Absolute path of the .ts/.js file. */
  readonly file: string;
  /** The file as problems and errors name it (relative to the workspace when inside it). */
  readonly source: string;
  readonly exportName: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
}

/** Starting a worker (compiling the bundle, running the module's top level) may take this long beyond the batch limit. */
const STARTUP_GRACE_MS = 10_000;

/** The module and its imports as one CommonJS script with an inline source map; a UserError with esbuild's messages when it does not build. */
export async function bundleModule(file: string, source: string, workspaceRoot: string): Promise<string> {
  if (!fs.existsSync(file)) throw new UserError(`${source}: reward module not found. Create it (RLHF: New Reward Function) or fix "file" in the config's rewards.`);
  const esbuild = await import('esbuild');
  try {
    const out = await esbuild.build({
      entryPoints: [file],
      absWorkingDir: path.resolve(workspaceRoot),
      // Only a name for the source map's paths: nothing is written.
      outfile: path.join(path.dirname(file), '.reward-bundle.js'),
      write: false,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      sourcesContent: false,
      logLevel: 'silent',
    });
    const js = out.outputFiles.find((f) => f.path.endsWith('.js'));
    if (!js) throw new Error(`esbuild wrote no JavaScript for ${file}`);
    return js.text;
  } catch (err) {
    const errors = (err as { errors?: unknown }).errors;
    if (!Array.isArray(errors) || errors.length === 0) throw err;
    const lines = (errors as EsbuildMessage[]).slice(0, 5).map((m) => {
      const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
      return `  ${at}${m.text}${m.location?.lineText ? `\n      ${m.location.lineText.trim()}` : ''}`;
    });
    const more = errors.length > 5 ? `\n  … and ${errors.length - 5} more` : '';
    throw new UserError(`${source}: the reward module does not build:\n${lines.join('\n')}${more}`);
  }
}

interface EsbuildMessage {
  readonly text: string;
  readonly location: { readonly file: string; readonly line: number; readonly column: number; readonly lineText?: string } | null;
}

/** What became of one batch in the worker. */
type Outcome =
  | { readonly kind: 'scores'; readonly scores: readonly unknown[]; readonly bad: readonly (readonly [number, string])[] }
  | { readonly kind: 'fault' | 'threw' | 'died'; readonly message: string }
  | { readonly kind: 'timeout' };

/** One worker running the module; a batch at a time. */
class RewardWorker {
  private readonly worker: Worker;
  private pending: ((o: Outcome) => void) | undefined;
  private nextId = 0;
  /** The batch in flight; a late reply to an earlier one (timed out, cancelled) is dropped. */
  private expected = 0;
  private startup: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  /** Why the worker is gone (undefined while it runs). */
  ended: string | undefined;

  constructor(
    code: string,
    private readonly target: ModuleTarget,
  ) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { code, filename: target.file, exportName: target.exportName },
      resourceLimits: { maxOldGenerationSizeMb: target.memoryMb },
      // Not the parent's flags (a test runner's --import tsx, an inspector port).
      execArgv: [],
    });
    // A live worker alone does not keep the process running: a batch in flight holds a timer.
    this.worker.unref();
    this.worker.on('message', (m: unknown) => this.onMessage(m));
    this.worker.on('error', (err: Error & { code?: string }) =>
      this.end(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `ran out of memory (the worker's JS heap limit is ${target.memoryMb} MB; raise "memoryMb" if it needs more)`
          : `crashed its worker: ${err.name}: ${err.message}`,
      ),
    );
    this.worker.on('exit', (code) => this.end(`ended its worker (exit code ${code})`));
  }

  /** Resolves once the module is loaded and its export found; rejects with why not. */
  ready(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const limit = this.target.timeoutMs + STARTUP_GRACE_MS;
      const timer = setTimeout(() => fail(new Error(`did not load within ${limit} ms`)), limit);
      const onAbort = (): void => fail(signal?.reason);
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.startup = undefined;
      };
      const fail = (err: unknown): void => {
        done();
        void this.terminate();
        reject(err);
      };
      this.startup = {
        resolve: () => {
          done();
          resolve();
        },
        reject: fail,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.ended) fail(new Error(this.ended));
    });
  }

  /** Scores one batch within the time limit; a timeout or an abort stops the worker. */
  call(samples: readonly RewardSample[], signal: AbortSignal | undefined): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const id = ++this.nextId;
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending = undefined;
      };
      const timer = setTimeout(() => {
        finish();
        void this.terminate(`did not finish within ${this.target.timeoutMs} ms`);
        resolve({ kind: 'timeout' });
      }, this.target.timeoutMs);
      const onAbort = (): void => {
        finish();
        void this.terminate('cancelled');
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = (o) => {
        finish();
        resolve(o);
      };
      this.expected = id;
      try {
        this.worker.postMessage({ id, samples });
      } catch (err) {
        this.pending({ kind: 'fault', message: `got samples it cannot be sent (${errorMessage(err)})` });
      }
    });
  }

  /** A message from the worker's program, checked: the module's own code can post to the same port. */
  private onMessage(raw: unknown): void {
    if (!isRecord(raw)) return;
    const m = raw as Partial<WorkerMessage> & Record<string, unknown>;
    if (m.type === 'ready') return this.startup?.resolve();
    if (m.type === 'load-error') return this.startup?.reject(new UserError(String(m.message)));
    if (m.id !== this.expected || !this.pending) return; // a batch that already timed out or was cancelled
    if (m.type === 'scores' && Array.isArray(m.scores) && Array.isArray(m.bad) && m.bad.every(isBadEntry)) this.pending({ kind: 'scores', scores: m.scores, bad: m.bad });
    else if ((m.type === 'fault' || m.type === 'threw') && typeof m.message === 'string') this.pending({ kind: m.type, message: m.message });
    else this.pending({ kind: 'fault', message: 'sent a reply that is not scores (did the module post to the worker port itself?)' });
  }

  private end(why: string): void {
    this.ended ??= why;
    this.startup?.reject(new Error(this.ended));
    this.pending?.({ kind: 'died', message: this.ended });
  }

  async terminate(why = 'stopped'): Promise<void> {
    this.ended ??= why;
    await this.worker.terminate();
  }
}

const isBadEntry = (b: unknown): b is readonly [number, string] => Array.isArray(b) && Number.isInteger(b[0]) && typeof b[1] === 'string';

type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'load-error'; readonly message: string }
  | { readonly type: 'scores'; readonly id: number; readonly scores: readonly unknown[]; readonly bad: readonly (readonly [number, string])[] }
  | { readonly type: 'fault' | 'threw'; readonly id: number; readonly message: string };

/** A workspace module as a RewardFunction. Batches run one after another on its worker. */
export class ModuleReward implements RewardFunction {
  private worker: RewardWorker | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    readonly name: string,
    readonly weight: number,
    private readonly target: ModuleTarget,
    private readonly code: string,
    private readonly workspaceRoot: string,
  ) {}

  /** Bundles the module and starts its worker; a UserError when it does not build or load (missing export, a throw at its top level). */
  static async start(name: string, weight: number, target: ModuleTarget, workspaceRoot: string): Promise<ModuleReward> {
    const code = await bundleModule(target.file, target.source, workspaceRoot);
    const reward = new ModuleReward(name, weight, target, code, workspaceRoot);
    const worker = new RewardWorker(code, target);
    try {
      await worker.ready(undefined);
    } catch (err) {
      throw new UserError(`${target.source}: reward module ${reward.relative(errorMessage(err))}.`);
    }
    reward.worker = worker;
    return reward;
  }

  score(samples: readonly RewardSample[], report: (problem: RewardProblem) => void, signal?: AbortSignal): Promise<(number | null)[]> {
    if (this.disposed) return Promise.reject(new Error(`reward ${this.name}: score() after dispose()`));
    const run = this.queue.then(() => this.batch(samples, report, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async batch(samples: readonly RewardSample[], report: (problem: RewardProblem) => void, signal: AbortSignal | undefined): Promise<(number | null)[]> {
    signal?.throwIfAborted();
    if (samples.length === 0) return [];
    const fn = `${this.target.exportName}()`;
    const problem = (sample: number | null, message: string): void => report({ name: this.name, source: this.target.source, sample, message: this.relative(message) });
    const skipAll = (message: string): null[] => {
      problem(null, `${message}; ${samples.length === 1 ? 'the sample is' : `the batch's ${samples.length} samples are`} skipped`);
      return samples.map(() => null);
    };
    let worker = this.worker;
    if (!worker || worker.ended) {
      worker = this.worker = new RewardWorker(this.code, this.target);
      try {
        await worker.ready(signal);
      } catch (err) {
        this.worker = undefined;
        if (signal?.aborted) throw err;
        return skipAll(`${fn}: a fresh worker did not start (${errorMessage(err)})`);
      }
    }
    const o = await worker.call(samples, signal);
    switch (o.kind) {
      case 'scores': {
        if (o.scores.length !== samples.length) return skipAll(`${fn}: the worker sent ${o.scores.length} scores for ${samples.length} samples`);
        for (const [i, what] of o.bad) problem(i, `${fn} returned ${what} for sample ${i}, not a finite number; the sample is skipped`);
        return o.scores.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null));
      }
      case 'fault':
        return skipAll(`${fn} ${o.message}`);
      case 'threw':
        return skipAll(`${fn} threw ${o.message}`);
      case 'timeout':
        this.worker = undefined;
        return skipAll(`${fn} did not finish within ${this.target.timeoutMs} ms ("timeoutMs"); its worker was stopped and a fresh one scores the next batch`);
      case 'died':
        this.worker = undefined;
        return skipAll(`${fn} ${o.message}; a fresh worker scores the next batch`);
    }
  }

  /** Paths in a message relative to the workspace, as the user sees them. */
  private relative(message: string): string {
    const root = path.resolve(this.workspaceRoot) + path.sep;
    return message.split(root).join('');
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate('disposed');
  }
}
