/**
 * Request handlers of the engine process, one per method of `EngineRequests`. Each receives
 * validated params, an AbortSignal that fires when the client cancels, and a progress callback.
 */
import type { EngineMethod, ParamsOf, ResultOf } from '../protocol/engine';
import { isBackendPreference } from '../protocol/backend';
import { initCompute } from '../core/compute/backend';
import { UserError } from '../core/errors';

export interface HandlerContext {
  readonly signal: AbortSignal;
  readonly progress: (message: string, fraction?: number) => void;
}

type Handler<M extends EngineMethod> = (params: ParamsOf<M>, ctx: HandlerContext) => Promise<ResultOf<M>>;
export type Handlers = { [M in EngineMethod]: Handler<M> };

/** The backend this engine was started with (from the setting, via argv). */
export function createHandlers(defaultBackend: string | undefined): Handlers {
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
