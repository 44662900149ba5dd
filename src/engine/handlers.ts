/**
 * Request handlers of the engine process, one per method of `EngineRequests`. Each receives
 * validated params, an AbortSignal that fires when the client cancels, and a progress callback.
 */
import type { CoreRequests, EngineMethod, EngineNotifications, ParamsOf, ResultOf } from '../protocol/engine';
import { isBackendPreference } from '../protocol/backend';
import { initCompute } from '../core/compute/backend';
import { UserError } from '../core/errors';
import { projectHandlers } from './projectHandlers';
import { trainingHandlers } from './trainingHandlers';

export interface HandlerContext {
  readonly signal: AbortSignal;
  readonly progress: (message: string, fraction?: number) => void;
  /** Send a notification to the host (e.g. live training metrics). */
  readonly notify: <N extends keyof EngineNotifications>(method: N, params: EngineNotifications[N]) => void;
}

export type Handler<M extends EngineMethod> = (params: ParamsOf<M>, ctx: HandlerContext) => Promise<ResultOf<M>>;
export type Handlers = { [M in EngineMethod]: Handler<M> };
export type HandlersFor<R> = { [M in keyof R & EngineMethod]: Handler<M> };

/** The engine's settings, from its command line. */
export interface EngineOptions {
  /** The backend the engine was started with (the setting, via argv). */
  readonly defaultBackend: string | undefined;
  /** Who rankings from this engine are recorded as (the rlhf.labeler setting, via argv); unset: project.json, git, OS user. */
  readonly labeler?: string;
}

export function createHandlers(options: EngineOptions): Handlers {
  return { ...coreHandlers(options.defaultBackend), ...projectHandlers(options), ...trainingHandlers(options) };
}

function coreHandlers(defaultBackend: string | undefined): HandlersFor<CoreRequests> {
  return {
    async status(params) {
      const requested = params.backend ?? defaultBackend ?? 'auto';
      if (!isBackendPreference(requested)) {
        throw new UserError(`Unknown backend '${String(requested)}': use auto, tensorflow, wasm or cpu.`);
      }
      return (await initCompute(requested)).report;
    },
    async wait(params, ctx) {
      if (!Number.isFinite(params.ms) || params.ms < 0) throw new UserError(`wait: 'ms' must be a non-negative number.`);
      const started = Date.now();
      while (Date.now() - started < params.ms) {
        ctx.signal.throwIfAborted();
        ctx.progress(`waited ${Date.now() - started} ms`, (Date.now() - started) / params.ms);
        await new Promise((r) => setTimeout(r, Math.min(50, params.ms)));
      }
      return { waitedMs: Date.now() - started };
    },
  };
}
