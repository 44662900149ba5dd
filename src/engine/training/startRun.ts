/**
 * Starting (or resuming) one run in the engine: the demo pipeline or one stage from a config
 * file, with the runner's events translated into `training.event` notifications tagged with the
 * run id (and, for metrics, the stage and step). The caller owns the AbortSignal: aborting stops
 * the run within one step, leaving a checkpoint and the state 'cancelled'.
 */
import { errorMessage } from '../../protocol/guards';
import * as path from 'node:path';
import { runDemo } from '../../core/demo/demo';
import type { DemoConfig, DemoEvent } from '../../core/demo/demo';
import { isGrpoDemo, pct, runGrpoDemo } from '../../core/demo/grpoDemo';
import type { GrpoDemoConfig } from '../../core/demo/grpoDemo';
import { isAbortError, UserError } from '../../core/errors';
import { newRunId } from '../../core/store/ids';
import type { Project } from '../../core/store/project';
import { jobFromConfigFile } from '../../core/train/run/configJobs';
import { runPipeline } from '../../core/train/run/runner';
import { RUN_KINDS } from '../../protocol/engineTraining';
import type { RunKind, StartRunParams, StartRunResult, TrainingEvent } from '../../protocol/engineTraining';
import type { StageName } from '../../protocol/stages';
import { demoConfigOf, isRunKind, readLaunch, writeLaunch } from './launch';
import { DEMO_PRESETS } from './presets';
import { writePresetConfig } from './stageConfigs';

export interface StartContext {
  readonly project: Project;
  readonly signal: AbortSignal;
  /** Called with the run id as soon as it is known (before training starts). */
  readonly onRunId: (runId: string) => void;
  readonly emit: (runId: string, event: TrainingEvent) => void;
}

interface Plan {
  readonly runId: string;
  readonly kind: RunKind;
  readonly resumed: boolean;
  readonly configFile?: string;
  readonly preset?: string;
  /** Said in the run's log before it starts (e.g. an edited preset file used as it is). */
  readonly notes?: readonly string[];
  readonly run: (onEvent: (e: DemoEvent) => void) => Promise<Readonly<Record<string, string>>>;
}

function plan(params: StartRunParams, project: Project, signal: AbortSignal): Plan {
  // The workspace's trust is the editor's now, also for a resumed run (absent: not trusted).
  const trusted = params.trusted === true;
  if (params.resume !== undefined) {
    const runId = params.resume;
    if (!project.runs.list().some((r) => r.id === runId)) throw new UserError(`No run ${runId} in ${project.runs.dir(runId)}: pick a run from the list.`);
    if (project.runs.get(runId).state === 'completed') throw new UserError(`Run ${runId} has completed: there is nothing to resume.`);
    const launch = readLaunch(project, runId);
    if (launch.kind === 'demo') {
      const config = demoConfigOf(project, runId);
      if (!config) throw new UserError(`${path.join(project.runs.dir(runId), 'config.json')}: no demo config to resume with.`);
      return { runId, kind: 'demo', resumed: true, run: (onEvent) => demo(project, config, runId, signal, onEvent, trusted) };
    }
    if (!launch.configFile) throw new UserError(`${path.join(project.runs.dir(runId), 'launch.json')}: no config file recorded.`);
    return stagePlan(launch.kind, launch.configFile, project, signal, runId, launch.preset, trusted);
  }
  const kind = params.kind;
  if (!isRunKind(kind)) throw new UserError(`training.start: 'kind' must be one of ${RUN_KINDS.join(', ')} (got ${JSON.stringify(kind)}).`);
  if (kind === 'demo') {
    const name = params.preset ?? 'default';
    const preset = DEMO_PRESETS[name];
    if (!preset) throw new UserError(`Unknown demo preset '${name}': use one of ${Object.keys(DEMO_PRESETS).join(', ')}.`);
    const runId = newRunId(isGrpoDemo(preset.config) ? 'demo-grpo' : 'demo');
    return { runId, kind, resumed: false, preset: name, run: (onEvent) => demo(project, preset.config, runId, signal, onEvent, trusted) };
  }
  if (params.configFile !== undefined && params.preset !== undefined) throw new UserError('training.start: give a config file or a preset, not both.');
  const fromPreset = params.configFile === undefined && params.preset !== undefined ? writePresetConfig(project, kind, params.preset) : undefined;
  const configFile = params.configFile ?? fromPreset?.file;
  if (configFile === undefined) throw new UserError(`training.start: a ${kind} run needs a config file or a preset.`);
  if (!path.isAbsolute(configFile)) throw new UserError(`training.start: the config file path must be absolute (got ${configFile}).`);
  const planned = stagePlan(kind, configFile, project, signal, undefined, params.preset, trusted);
  return fromPreset?.edited
    ? { ...planned, notes: [`${configFile}: you edited this preset's file, so it runs as you saved it (delete it to get the preset's settings and the project's newest models again).`] }
    : planned;
}

/** The demo's finals reach the caller as stage-end events; its summary goes to the log. */
async function demo(project: Project, config: DemoConfig | GrpoDemoConfig, runId: string, signal: AbortSignal, onEvent: (e: DemoEvent) => void, trusted: boolean): Promise<Record<string, string>> {
  if (isGrpoDemo(config)) {
    const g = await runGrpoDemo(project.paths.workspace, config, { runId, signal, onEvent, trusted });
    onEvent({
      type: 'demo',
      message: `demo done: reward ${g.before.reward.toFixed(3)} → ${g.after.reward.toFixed(3)}, passing both checks ${pct(g.before.passAll)} → ${pct(g.after.passAll)}, KL to SFT ${g.before.kl.toFixed(3)} → ${g.after.kl.toFixed(3)}`,
    });
    return { sft: g.sftFinal, grpo: g.policyFinal };
  }
  const s = await runDemo(project.paths.workspace, config, { runId, signal, onEvent });
  onEvent({ type: 'demo', message: `demo done: AFINN score ${s.before.score.toFixed(3)} → ${s.after.score.toFixed(3)}, KL to SFT ${s.before.kl.toFixed(3)} → ${s.after.kl.toFixed(3)}` });
  return { sft: s.sftFinal, reward: s.rewardFinal, ppo: s.policyFinal };
}

function stagePlan(kind: Exclude<RunKind, 'demo'>, configFile: string, project: Project, signal: AbortSignal, resumeId: string | undefined, preset: string | undefined, trusted: boolean): Plan {
  const configured = jobFromConfigFile(kind, configFile, project, resumeId, { trusted });
  const runId = configured.runId;
  const resumed = resumeId !== undefined || project.runs.list().some((r) => r.id === runId);
  return {
    runId,
    kind,
    resumed,
    configFile,
    ...(preset === undefined ? {} : { preset }),
    run: async (onEvent) => (await runPipeline(project, runId, [configured.job], configured.config, { signal, onEvent })).finals as Record<string, string>,
  };
}

/** Runs the plan to its end; resolves with the final state (cancelled and failed runs reject). */
export async function startRun(params: StartRunParams, ctx: StartContext): Promise<StartRunResult> {
  const p = plan(params, ctx.project, ctx.signal);
  ctx.onRunId(p.runId);
  const emit = (event: TrainingEvent): void => ctx.emit(p.runId, event);
  let stage: StageName = p.kind === 'demo' ? 'sft' : p.kind;
  let launched = false;
  const finals: Record<string, string> = {};
  emit({ type: 'run-start', kind: p.kind, stage, resumed: p.resumed, ...(p.configFile ? { configFile: p.configFile } : {}) });
  for (const message of p.notes ?? []) emit({ type: 'log', message });
  const onEvent = (e: DemoEvent): void => {
    if (e.type !== 'demo' && !launched) {
      // The runner has created the run folder by its first event.
      writeLaunch(ctx.project, p.runId, { kind: p.kind, ...(p.configFile ? { configFile: p.configFile } : {}), ...(p.preset ? { preset: p.preset } : {}) });
      launched = true;
    }
    switch (e.type) {
      case 'demo':
      case 'log':
        return emit({ type: 'log', message: e.message });
      case 'stage-start':
        stage = e.stage;
        return emit({ type: 'stage-start', stage: e.stage, resumedAtStep: e.resumedAtStep });
      case 'stage-skip':
        finals[e.stage] = e.final;
        return emit({ type: 'log', message: `${e.stage}: already finished (${e.final})` });
      case 'stage-end':
        finals[e.stage] = e.final;
        return emit({ type: 'stage-end', stage: e.stage, final: e.final });
      case 'checkpoint':
        return emit({ type: 'checkpoint', stage: e.stage, step: e.step });
      case 'metrics': {
        const r = e.record;
        const values: Record<string, number | null> = {};
        for (const [k, v] of Object.entries(r.values)) values[k] = typeof v === 'number' && Number.isFinite(v) ? v : null;
        return emit({ type: 'metrics', point: { stage: r.stage, step: r.step, time: r.time, values } });
      }
      case 'samples': {
        const time = Date.now();
        return emit({
          type: 'samples',
          samples: e.samples.map((s) => ({
            stage,
            iteration: s.iteration,
            time,
            prompt: s.prompt,
            completion: s.completion,
            score: finite(s.score),
            kl: finite(s.kl),
            ...(s.rewards ? { rewards: s.rewards } : {}),
          })),
        });
      }
    }
  };
  try {
    Object.assign(finals, await p.run(onEvent));
    emit({ type: 'run-end', state: 'completed' });
    return { runId: p.runId, state: 'completed', finals, ...(p.configFile ? { configFile: p.configFile } : {}) };
  } catch (err) {
    const cancelled = isAbortError(err);
    emit({ type: 'run-end', state: cancelled ? 'cancelled' : 'failed', message: cancelled ? 'Cancelled by the user.' : errorMessage(err) });
    throw err;
  }
}

const finite = (v: number | null): number | null => (v !== null && Number.isFinite(v) ? v : null);
