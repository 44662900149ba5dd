/**
 * The pipeline runner: runs training stages one after another inside `.rlhf/runs/<id>/`, saving
 * checkpoints (HF folders + optimizer state) when a stage asks, appending metrics, and keeping
 * run.json's state current. A run killed at any point resumes from its last recorded
 * checkpoint; a cancelled one stops within one step and leaves a usable checkpoint.
 *
 * Layout: runs/<id>/checkpoints/<stage>/step-<N>/ (interval and cancel checkpoints) and
 * runs/<id>/checkpoints/<stage>/final/ (the stage's result). A checkpoint counts only once it
 * is recorded in run.json, which happens after its folder is completely written.
 */
import { errorMessage } from '../../../protocol/guards';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomic } from '../../store/fsx';
import type { MetricRecord } from '../../../protocol/metrics';
import type { HeadKind } from '../../model/checkpoint';
import type { Project } from '../../store/project';
import { isAbortError } from '../../errors';
import { AdamWState } from '../optim';
import type { Optimizer, OptimConfig } from '../optim';
import { disposeModel, restoreOptimizer, saveOptimizerState, saveTrainingCheckpoint } from '../model';
import { loadTrainingModel, saveLoraCheckpoint } from '../loraRun';
import type { LoraSettings } from '../../onnx/lora';
import type { LoadedModel } from '../model';
import { NonFiniteError } from '../stage';
import type { ResumePoint, SampleLine, StageEvent, TrainingSnapshot } from '../stage';
import type { StageName } from '../../../protocol/stages';

/** One stage of a pipeline, as the runner needs it. */
export interface StageJob {
  readonly stage: StageName;
  /** What the stage trains and saves (an LM, or a reward model). */
  readonly kind: HeadKind;
  readonly optim: OptimConfig;
  /** The checkpoint folder to start from, given the previous stage's final folder. */
  readonly from: (previous: string | undefined) => string;
  /** The stage's loop over the loaded model; `resume` is set when continuing from a checkpoint. */
  readonly loop: (model: LoadedModel, optimizer: Optimizer, signal: AbortSignal | undefined, resume: ResumePoint | undefined) => AsyncGenerator<StageEvent>;
  /** Kind saved in the final checkpoint when it differs (PPO trains with a value head, ships an LM). */
  readonly finalKind?: HeadKind;
  /** Seeds a fresh head when the starting checkpoint lacks one (and a fresh LoRA adapter). */
  readonly seed?: number;
  /** Train a LoRA adapter (and the heads) over the frozen starting model (loraRun.ts). */
  readonly lora?: LoraSettings;
  /**
   * Work before the stage first starts (not on resume), given the previous stage's final folder:
   * the demo samples completions and labels them here. Must be safe to repeat after a crash.
   */
  readonly prepare?: (previous: string | undefined, signal: AbortSignal | undefined) => Promise<void>;
}

export type RunnerEvent =
  | { readonly type: 'stage-start'; readonly stage: StageName; readonly from: string; readonly resumedAtStep: number }
  | { readonly type: 'metrics'; readonly record: MetricRecord }
  | { readonly type: 'checkpoint'; readonly stage: StageName; readonly step: number; readonly path: string }
  | { readonly type: 'stage-skip'; readonly stage: StageName; readonly final: string }
  | { readonly type: 'stage-end'; readonly stage: StageName; readonly final: string }
  | { readonly type: 'log'; readonly message: string }
  | { readonly type: 'samples'; readonly samples: readonly SampleLine[] };

export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: RunnerEvent) => void;
}

export interface RunResult {
  readonly runId: string;
  /** Each stage's final checkpoint folder. */
  readonly finals: Partial<Record<StageName, string>>;
}

const FINAL = 'final';
const TRAINER_STATE = 'trainer_state.json';

/** The stage state saved beside a checkpoint (absent in checkpoints written before it existed). */
function readTrainerState(dir: string): { state?: unknown } {
  const file = path.join(dir, TRAINER_STATE);
  if (!fs.existsSync(file)) return {};
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { state?: unknown };
  return parsed.state === undefined ? {} : { state: parsed.state };
}
const stepDir = (step: number): string => `step-${String(step).padStart(6, '0')}`;

/** Creates the run (if new) and runs or resumes every stage in order. */
export async function runPipeline(project: Project, runId: string, jobs: readonly StageJob[], config: unknown, options: RunOptions = {}): Promise<RunResult> {
  const runs = project.runs;
  const exists = runs.list().some((r) => r.id === runId);
  if (!exists) await runs.create(jobs.map((j) => j.stage).join('+'), config, runId);
  else await runs.update(runId, { state: 'running' });
  const emit = options.onEvent ?? (() => undefined);
  const writer = runs.metricsWriter(runId);
  if (writer.repair) emit({ type: 'log', message: `metrics.jsonl: a torn last line was moved to ${writer.repair.movedTo}` });
  const finals: Partial<Record<StageName, string>> = {};
  let previous: string | undefined;
  try {
    for (const job of jobs) {
      previous = await runStage(project, runId, job, previous, writer, emit, options.signal);
      finals[job.stage] = previous;
    }
    await runs.update(runId, { state: 'completed' });
    return { runId, finals };
  } catch (err) {
    const cancelled = isAbortError(err);
    await runs.update(runId, { state: cancelled ? 'cancelled' : 'failed', message: cancelled ? 'Cancelled by the user.' : errorMessage(err) });
    throw err;
  } finally {
    writer.close();
  }
}

async function runStage(
  project: Project,
  runId: string,
  job: StageJob,
  previous: string | undefined,
  writer: ReturnType<Project['runs']['metricsWriter']>,
  emit: (e: RunnerEvent) => void,
  signal: AbortSignal | undefined,
): Promise<string> {
  const runDir = project.runs.dir(runId);
  const stageDir = path.join(runDir, 'checkpoints', job.stage);
  const recorded = project.runs.get(runId).checkpoints.filter((c) => c.stage === job.stage);
  const finalRecord = recorded.find((c) => path.basename(c.path) === FINAL);
  if (finalRecord) {
    const final = path.resolve(runDir, finalRecord.path);
    emit({ type: 'stage-skip', stage: job.stage, final });
    return final;
  }
  const latest = recorded[recorded.length - 1];
  if (!latest && job.prepare) await job.prepare(previous, signal);
  const from = latest ? path.resolve(runDir, latest.path) : job.from(previous);
  const model = loadTrainingModel(from, job.kind, job.seed ?? 0, job.lora);
  // The optimizer's state as plain arrays (fresh, or the checkpoint's): the engine takes it over.
  const optimizer = new AdamWState(job.optim);
  try {
    if (latest && !restoreOptimizer(from, optimizer)) throw new Error(`${from}: the checkpoint has no optimizer state to resume from`);
    const resume: ResumePoint | undefined = latest ? { step: latest.step, ...readTrainerState(from) } : undefined;
    emit({ type: 'stage-start', stage: job.stage, from, resumedAtStep: resume?.step ?? 0 });
    for await (const event of job.loop(model, optimizer, signal, resume)) {
      if (event.type === 'metrics') {
        writer.append(event.record.step, event.record.values as Record<string, number>, event.record.stage);
        emit(event);
      } else if (event.type === 'log') {
        emit(event);
      } else if (event.type === 'samples') {
        await project.runs.appendSamples(
          runId,
          event.samples.map((x) => ({ stage: job.stage, ...x })),
        );
        emit(event);
      } else {
        const final = event.reason === 'final';
        const dir = path.join(stageDir, final ? FINAL : stepDir(event.step));
        const kind = (final && job.finalKind) || model.kind;
        const lora = event.snapshot?.lora;
        if (lora && model.lora) {
          // A LoRA run: an adapter folder (final: the merged model, the adapter beside it).
          await saveLoraCheckpoint(dir, model, model.lora, lora, event.snapshot?.weights ?? new Map(), kind, final);
          if (!final) saveOptimizerState(dir, (event.snapshot as TrainingSnapshot).optimizer);
        } else await saveTrainingCheckpoint(dir, model, final ? undefined : optimizer, event.snapshot, kind);
        if (!final) writeJsonAtomic(path.join(dir, TRAINER_STATE), { stage: job.stage, step: event.step, ...(event.state === undefined ? {} : { state: event.state }) });
        writer.flush();
        await project.runs.addCheckpoint(runId, { stage: job.stage, step: event.step, path: dir });
        emit({ type: 'checkpoint', stage: job.stage, step: event.step, path: dir });
        if (event.reason === 'final') {
          emit({ type: 'stage-end', stage: job.stage, final: dir });
          return dir;
        }
      }
    }
    throw new Error(`${job.stage}: the stage ended without a final checkpoint`);
  } catch (err) {
    if (err instanceof NonFiniteError) emit({ type: 'log', message: err.message });
    throw err;
  } finally {
    optimizer.dispose();
    disposeModel(model);
  }
}
