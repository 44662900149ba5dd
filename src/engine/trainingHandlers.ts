/**
 * Handlers for the training requests declared in src/protocol/engineTraining.ts. The engine
 * trains one run at a time; `training.start` stays pending while it trains and streams
 * `training.event` notifications. Reads (runs, metrics, samples) work while a run trains.
 */
import * as path from 'node:path';
import { initCompute } from '../core/compute/backend';
import { trainingEngine } from '../core/train/engine';
import { UserError } from '../core/errors';
import { Project } from '../core/store/project';
import { isBackendPreference } from '../protocol/backend';
import type { MetricPoint, PresetInfo, RunInfo, RunKind, SamplePoint, TrainingRequests } from '../protocol/engineTraining';
import type { EngineOptions, HandlersFor } from './handlers';
import { readLaunch } from './training/launch';
import { DEMO_PRESETS, STAGE_PRESETS } from './training/presets';
import { presetEdited } from './training/stageConfigs';
import { isStageName, RUN_CONTROL_STAGES, STAGE_NAMES } from '../protocol/stages';
import type { RunControlStage, StageName } from '../protocol/stages';
import { startRun } from './training/startRun';

const ms = (iso: string): number => Date.parse(iso);

/** The stage of a metrics or samples line written without one: its run's (first) stage, from run.json ('sft+reward+ppo' for the demo). */
function runStageOf(project: Project, runId: string): StageName {
  const label = project.runs.get(runId).stage;
  const first = label.split('+')[0];
  if (!isStageName(first)) throw new UserError(`${path.join(project.runs.dir(runId), 'run.json')}: stage '${label}' is not a training stage (${STAGE_NAMES.join(', ')}).`);
  return first;
}

export function trainingHandlers(options: EngineOptions): HandlersFor<TrainingRequests> {
  let active: string | undefined;
  let starting = false;

  const resumable = (project: Project, id: string): boolean => {
    try {
      readLaunch(project, id);
      return true;
    } catch {
      return false;
    }
  };

  return {
    async 'training.start'(params, ctx) {
      const workspace = params.workspace;
      if (active !== undefined || starting) throw new UserError(`Run ${active ?? '(starting)'} is training: stop it first (RLHF: Stop Run). One run trains at a time.`);
      starting = true;
      try {
        // The tfjs engine's backend (the setting); ONNX Runtime never loads tfjs.
        const backend = options.defaultBackend ?? 'auto';
        if (trainingEngine().name === 'tfjs') await initCompute(isBackendPreference(backend) ? backend : 'auto');
        // The demo creates its project; stage runs need one.
        const project = params.kind === 'demo' && params.resume === undefined ? await openOrCreate(workspace) : await Project.open(workspace);
        return await startRun(params, {
          project,
          signal: ctx.signal,
          onRunId: (id) => {
            active = id;
            starting = false;
          },
          emit: (runId, event) => ctx.notify('training.event', { runId, event }),
        });
      } finally {
        active = undefined;
        starting = false;
      }
    },

    async 'training.runs'(params) {
      const workspace = params.workspace;
      const project = await tryOpen(workspace);
      if (!project) return { runs: [] };
      const runs: RunInfo[] = project.runs.list().map((r) => {
        const record = project.runs.get(r.id);
        const isActive = r.id === active;
        // A 'running' run that is not training here was interrupted (killed engine, crash).
        return {
          ...r,
          ...(record.message ? { message: record.message } : {}),
          active: isActive,
          resumable: !isActive && r.state !== 'completed' && resumable(project, r.id),
        };
      });
      return { runs };
    },

    async 'training.metrics'(params) {
      const project = await Project.open(params.workspace);
      const runId = params.runId;
      const read = project.runs.readMetrics(runId);
      let runStage: StageName | undefined;
      const points: MetricPoint[] = read.records.map((r) => ({ stage: r.stage ?? (runStage ??= runStageOf(project, runId)), step: r.step, time: ms(r.time), values: r.values }));
      return { points, ...(read.tail ? { warning: `${path.join(project.runs.dir(runId), 'metrics.jsonl')}: a torn last line was skipped.` } : {}) };
    },

    async 'training.samples'(params) {
      const project = await Project.open(params.workspace);
      const runId = params.runId;
      const limit = params.limit ?? 400;
      const records = project.runs.readSamples(runId).records.slice(-limit);
      let runStage: StageName | undefined;
      const samples: SamplePoint[] = records.map((s) => ({
        stage: s.stage ?? (runStage ??= runStageOf(project, runId)),
        iteration: s.iteration,
        time: ms(s.time),
        prompt: s.prompt,
        completion: s.completion,
        score: s.score ?? null,
        kl: s.kl ?? null,
        ...(s.rewards ? { rewards: s.rewards } : {}),
      }));
      return { samples };
    },

    async 'training.presets'(params) {
      const project = params.workspace === undefined ? undefined : await Project.open(params.workspace).catch(() => undefined);
      const list = (o: Readonly<Record<string, { readonly description: string }>>, stage?: RunControlStage): PresetInfo[] =>
        Object.entries(o).map(([name, p]) => ({ name, description: p.description, ...(project && stage && presetEdited(project, stage, name) ? { edited: true } : {}) }));
      const presets = Object.fromEntries([['demo', list(DEMO_PRESETS)], ...RUN_CONTROL_STAGES.map((s) => [s, list(STAGE_PRESETS[s], s)])]) as Record<RunKind, PresetInfo[]>;
      return { presets };
    },
  };
}

async function tryOpen(workspace: string): Promise<Project | undefined> {
  try {
    return await Project.open(workspace);
  } catch (err) {
    if (err instanceof UserError && /No RLHF project/.test(err.message)) return undefined;
    throw err;
  }
}

async function openOrCreate(workspace: string): Promise<Project> {
  return (await tryOpen(workspace)) ?? Project.create(workspace, { name: 'RLHF Workbench demo', guidelines: 'Prefer continuations that are positive in tone (the demo ranks by AFINN sentiment).' });
}
