/**
 * Request handlers of the engine process, one per method of `EngineRequests`. Each receives
 * params validated by their zod schema (params.ts), an AbortSignal that fires when the client cancels, and a progress callback.
 */
import type { CoreRequests, EngineMethod, EngineNotifications, ModelRequests, ParamsOf, ResultOf } from '../protocol/engine';
import { BACKEND_PREFERENCES, isBackendPreference } from '../protocol/backend';
import { computeReport } from '../core/compute/backend';
import { trainingEngine } from '../core/train/engine';
import { trainingReport } from '../core/train/ort/device';
import { UserError } from '../core/errors';
import { inspectModelFolder } from '../core/hub/folder';
import { pullModel } from '../core/hub/pull';
import { hasProject, openProject, workspaceOf } from './project/projects';
import { checkParams } from './params';
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

/** Every handler, behind the one params check (params.ts): a handler only ever sees valid params. */
export function createHandlers(options: EngineOptions): Handlers {
  const all: Handlers = { ...coreHandlers(options.defaultBackend), ...modelHandlers(options), ...projectHandlers(options), ...trainingHandlers(options) };
  const checked =
    <M extends EngineMethod>(method: M): Handler<M> =>
    async (params, ctx) =>
      all[method](checkParams(method, params), ctx);
  return Object.fromEntries(Object.keys(all).map((m) => [m, checked(m as EngineMethod)])) as Handlers;
}

function coreHandlers(defaultBackend: string | undefined): HandlersFor<CoreRequests> {
  return {
    async status(params) {
      const requested = params.backend ?? defaultBackend ?? 'auto';
      if (!isBackendPreference(requested)) throw new UserError(`Unknown backend '${requested}': use ${BACKEND_PREFERENCES.join(', ')}.`);
      // tfjs is loaded only for the tfjs engine or a tfjs backend named explicitly: the default engine never loads it.
      const engine = trainingEngine().name;
      const report = await computeReport(engine === 'tfjs' || requested !== 'auto', requested);
      // The training device as it resolves (a device that fails is reported, not thrown: the backend report still shows).
      return { ...report, training: await trainingReport(engine, report.backend ?? requested, true) };
    },
    async wait(params, ctx) {
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

const mib = (n: number): string => `${(n / 1024 ** 2).toFixed(1)} MiB`;

function modelHandlers(options: EngineOptions): HandlersFor<ModelRequests> {
  return {
    async 'model.download'(params, ctx) {
      const r = await pullModel({
        repo: params.repo,
        ...(params.revision !== undefined ? { revision: params.revision } : {}),
        signal: ctx.signal,
        progressEveryMs: 250,
        onProgress: (p) => ctx.progress(`${p.file}: ${mib(p.fileDone)} of ${mib(p.fileTotal)} (all files: ${mib(p.done)} of ${mib(p.total)})`, p.total ? p.done / p.total : undefined),
      });
      return { ...r, files: r.files.map((f) => ({ path: f.path, size: f.size, status: f.status })) };
    },
    async 'model.useFolder'(params) {
      const info = inspectModelFolder(params.dir);
      if (params.workspace === undefined) return info;
      const ws = workspaceOf(params.workspace);
      if (!hasProject(ws)) throw new UserError(`${ws} has no RLHF project (.rlhf/): create one first, then pick the model folder.`);
      const project = await openProject(ws, options.labeler);
      await project.updateMeta((m) => ({ ...m, models: { ...m.models, base: info.dir } }));
      return { ...info, setAsBase: true };
    },
  };
}
