/**
 * The engine process: forked by the extension host, it owns all heavy work (ONNX Runtime, and
 * tfjs when that engine is chosen) so the host thread never trains or samples, and it runs at a
 * lower CPU priority than the editor (priority.ts). It speaks the protocol in
 * src/protocol/engine.ts over the Node IPC channel and exits when the channel closes.
 */
import { setTrainingEngine } from '../core/train/engine';
import { isOrtDevice } from '../protocol/backend';
import type { ClientMessage, EngineErrorPayload, EngineMessage, EngineNotifications, RequestMessage } from '../protocol/engine';
import { isClientMessage } from '../protocol/engine';
import { isAbortError, isUserError } from '../core/errors';
import { createHandlers } from './handlers';
import type { HandlerContext, Handlers } from './handlers';
import { lowerEnginePriority } from './priority';

const send = (message: EngineMessage): void => {
  process.send?.(message);
};

function notify<N extends keyof EngineNotifications>(method: N, params: EngineNotifications[N]): void {
  send({ kind: 'notification', method, params });
}

function toErrorPayload(err: unknown): EngineErrorPayload {
  if (isAbortError(err)) return { message: 'Cancelled.', code: 'cancelled' };
  if (isUserError(err)) return { message: err.message, code: 'user' };
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: e.message, code: 'internal', ...(e.stack ? { stack: e.stack } : {}) };
}

function main(): void {
  if (!process.send) {
    console.error('The RLHF engine is started by the extension over IPC; use the `rlhf` CLI to run it by hand.');
    process.exit(2);
  }
  // First, before any ONNX Runtime session makes its threads: they inherit the lowered priority.
  lowerEnginePriority();
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const labeler = arg('labeler');
  // What trains every stage: ONNX Runtime unless the host asks for tfjs;
  // its device (rlhf.engine.device; resolved on first use) and threads (--threads, else the
  // physical cores minus rlhf.engine.reservedCores).
  const device = arg('device');
  const count = (name: string, min: number): number | undefined => {
    const n = Number(arg(name));
    return arg(name) !== undefined && Number.isInteger(n) && n >= min ? n : undefined;
  };
  const threads = count('threads', 1);
  const reservedCores = count('reserved-cores', 0);
  setTrainingEngine(arg('engine') === 'tfjs' ? 'tfjs' : 'ort', {
    device: isOrtDevice(device) ? device : 'auto',
    ...(threads === undefined ? {} : { threads }),
    ...(reservedCores === undefined ? {} : { reservedCores }),
  });
  const handlers = createHandlers({ defaultBackend: arg('backend'), ...(labeler ? { labeler } : {}) });
  const running = new Map<number, AbortController>();

  process.on('message', (raw: unknown) => {
    if (!isClientMessage(raw)) {
      notify('log', { level: 'warn', message: `Ignored a malformed message: ${JSON.stringify(raw).slice(0, 200)}` });
      return;
    }
    handle(raw, handlers, running);
  });
  // The host went away: nothing left to serve.
  process.on('disconnect', () => process.exit(0));
}

function handle(msg: ClientMessage, handlers: Handlers, running: Map<number, AbortController>): void {
  if (msg.kind === 'cancel') {
    running.get(msg.id)?.abort();
    return;
  }
  void run(msg, handlers, running);
}

async function run(msg: RequestMessage, handlers: Handlers, running: Map<number, AbortController>): Promise<void> {
  const handler = (handlers as Record<string, unknown>)[msg.method] as ((params: unknown, ctx: HandlerContext) => Promise<unknown>) | undefined;
  if (typeof handler !== 'function' || !Object.hasOwn(handlers, msg.method)) {
    send({ kind: 'response', id: msg.id, ok: false, error: { message: `Unknown engine method '${msg.method}'.`, code: 'unknown-method' } });
    return;
  }
  const controller = new AbortController();
  running.set(msg.id, controller);
  const ctx: HandlerContext = {
    signal: controller.signal,
    notify,
    progress: (message, fraction) => notify('progress', { id: msg.id, message, ...(fraction === undefined ? {} : { fraction }) }),
  };
  try {
    const result = await handler(msg.params, ctx);
    send({ kind: 'response', id: msg.id, ok: true, result });
  } catch (err) {
    send({ kind: 'response', id: msg.id, ok: false, error: toErrorPayload(err) });
  } finally {
    running.delete(msg.id);
  }
}

main();
