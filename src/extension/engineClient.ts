/**
 * The host side of the engine IPC: forks the engine on first need, sends typed requests,
 * routes responses and progress, cancels on request, and turns a crash into clear errors for
 * every pending request. The next request after a crash starts a fresh engine.
 * No `vscode` import: the extension adapts it, and unit tests drive it directly.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { EngineErrorPayload, EngineMethod, EngineNotifications, ParamsOf, RequestMessage, ResultOf } from '../protocol/engine';
import { isEngineMessage } from '../protocol/engine';

export type EngineState =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'starting'; readonly pid: number | undefined }
  | { readonly kind: 'running'; readonly pid: number | undefined }
  | { readonly kind: 'crashed'; readonly reason: string };

export interface EngineClientOptions {
  /** Path of the engine script (dist/engine.js, or src/engine/main.ts under tsx in tests). */
  readonly enginePath: string;
  /** Extra Node flags for the child (tests pass `--import tsx`). */
  readonly execArgv?: readonly string[];
  /** Arguments for the engine, e.g. `--backend=wasm`; read at each start so a setting change applies. */
  readonly engineArgs?: () => readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Runs the handling of each message from the engine, named (the extension times it). */
  readonly track?: <T>(what: string, fn: () => T) => T;
}

export interface RequestOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: EngineNotifications['progress']) => void;
}

/** A request failed inside the engine (the message comes from there). */
export class EngineRequestError extends Error {
  override readonly name = 'EngineRequestError';
  constructor(
    readonly method: string,
    readonly payload: EngineErrorPayload,
  ) {
    super(payload.message);
  }
  get cancelled(): boolean {
    return this.payload.code === 'cancelled';
  }
}

/** The engine process ended while the request was pending. */
export class EngineExitedError extends Error {
  override readonly name = 'EngineExitedError';
}

interface Pending {
  readonly method: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly onProgress: RequestOptions['onProgress'];
}

type Listener<T> = (value: T) => void;

export class EngineClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stderrTail: string[] = [];
  private stateValue: EngineState = { kind: 'stopped' };
  private readonly stateListeners = new Set<Listener<EngineState>>();
  private readonly logListeners = new Set<Listener<EngineNotifications['log']>>();
  private readonly notificationListeners = new Map<string, Set<Listener<unknown>>>();
  private disposed = false;

  constructor(private readonly options: EngineClientOptions) {}

  get state(): EngineState {
    return this.stateValue;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  onDidChangeState(listener: Listener<EngineState>): { dispose(): void } {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  onLog(listener: Listener<EngineNotifications['log']>): { dispose(): void } {
    this.logListeners.add(listener);
    return { dispose: () => this.logListeners.delete(listener) };
  }

  /** Listen to one notification method from the engine (any engine instance, across restarts). */
  onNotification<N extends keyof EngineNotifications>(method: N, listener: Listener<EngineNotifications[N]>): { dispose(): void } {
    let set = this.notificationListeners.get(method);
    if (!set) this.notificationListeners.set(method, (set = new Set()));
    set.add(listener as Listener<unknown>);
    return { dispose: () => set.delete(listener as Listener<unknown>) };
  }

  request<M extends EngineMethod>(method: M, params: ParamsOf<M>, options: RequestOptions = {}): Promise<ResultOf<M>> {
    if (this.disposed) return Promise.reject(new Error('The RLHF engine client has been disposed.'));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new EngineRequestError(method, { message: 'Cancelled.', code: 'cancelled' }));
    const child = this.ensureStarted();
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.pending.has(id) && child.connected) child.send({ kind: 'cancel', id });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        method,
        resolve: (v) => {
          cleanup();
          resolve(v as ResultOf<M>);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
        onProgress: options.onProgress,
      });
      const message: RequestMessage<M> = { kind: 'request', id, method, params };
      child.send(message, (err) => {
        if (err) this.settle(id, (p) => p.reject(new EngineExitedError(`Could not send '${method}' to the RLHF engine: ${err.message}`)));
      });
    });
  }

  /** Stop the current engine (if any); the next request starts a new one. */
  async restart(): Promise<void> {
    await this.stop('The RLHF engine was restarted.');
    this.setState({ kind: 'stopped' });
  }

  dispose(): void {
    this.disposed = true;
    void this.stop('The RLHF engine was shut down.');
  }

  private async stop(reason: string): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    this.failAll(reason);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
  }

  private ensureStarted(): ChildProcess {
    if (this.child) return this.child;
    this.stderrTail = [];
    const child = fork(this.options.enginePath, [...(this.options.engineArgs?.() ?? [])], {
      execArgv: [...(this.options.execArgv ?? [])],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: this.options.env ?? process.env,
      serialization: 'json',
    });
    this.child = child;
    this.setState({ kind: 'starting', pid: child.pid });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail.push(...chunk.split('\n').filter((l) => l.trim() !== ''));
      this.stderrTail = this.stderrTail.slice(-20);
    });
    child.stdout?.resume();
    const track = this.options.track ?? ((_what, fn) => fn());
    child.on('message', (raw: unknown) => track(messageName(raw), () => this.onMessage(raw)));
    child.once('spawn', () => {
      if (this.child === child) this.setState({ kind: 'running', pid: child.pid });
    });
    child.once('error', (err) => this.onExit(child, `could not start: ${err.message}`));
    child.once('exit', (code, signal) => {
      this.onExit(child, signal ? `killed by ${signal}` : `exited with code ${code ?? 'unknown'}`);
    });
    return child;
  }

  private onExit(child: ChildProcess, how: string): void {
    if (this.child !== child) return; // an engine we stopped on purpose
    this.child = undefined;
    const lastErr = this.stderrTail
      .filter((l) => !/^\s*at /.test(l))
      .slice(-3)
      .join(' | ');
    const reason = `The RLHF engine stopped unexpectedly (${how})${lastErr ? `: ${lastErr}` : ''}. It will restart on the next request.`;
    this.failAll(reason);
    this.setState({ kind: 'crashed', reason });
  }

  private failAll(reason: string): void {
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      p.reject(new EngineExitedError(`${reason} (request '${p.method}' did not finish)`));
    }
  }

  private onMessage(raw: unknown): void {
    if (!isEngineMessage(raw)) return;
    if (raw.kind === 'response') {
      const { id } = raw;
      if (raw.ok) this.settle(id, (p) => p.resolve(raw.result));
      else this.settle(id, (p) => p.reject(new EngineRequestError(p.method, raw.error)));
      return;
    }
    if (raw.method === 'progress') {
      const params = raw.params as EngineNotifications['progress'];
      this.pending.get(params.id)?.onProgress?.(params);
    } else if (raw.method === 'log') {
      const params = raw.params as EngineNotifications['log'];
      for (const l of this.logListeners) l(params);
    }
    for (const l of this.notificationListeners.get(raw.method) ?? []) l(raw.params);
  }

  private settle(id: number, action: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    action(p);
  }

  private setState(state: EngineState): void {
    this.stateValue = state;
    for (const l of this.stateListeners) l(state);
  }
}

/** What a message from the engine is, for the host's timing of its own work. */
function messageName(raw: unknown): string {
  const m = raw as { kind?: unknown; method?: unknown } | null;
  return typeof m?.method === 'string' ? `engine ${m.method}` : 'engine response';
}
