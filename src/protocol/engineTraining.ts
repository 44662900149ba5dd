/**
 * Engine requests and notifications about training runs: start (or resume), list, read a run's
 * metrics and samples, and the live event stream for the curves and the status bar. Declared
 * here once; the engine implements them in src/engine/trainingHandlers.ts. Plain types only:
 * the curves webview imports some of them too.
 *
 * One run trains at a time. `training.start` stays pending until the run ends; cancelling that
 * request stops the run (the runner leaves a checkpoint, the run's state becomes 'cancelled').
 */

import { RUN_CONTROL_STAGES } from './stages';
import type { RunControlStage, StageName } from './stages';

/** What a run trains: the demo pipeline, or one stage (those run control offers) from a config file. */
export const RUN_KINDS = ['demo', ...RUN_CONTROL_STAGES] as const;
export type RunKind = 'demo' | RunControlStage;

export type RunStateName = 'running' | 'completed' | 'failed' | 'cancelled';

/** One metrics.jsonl line on the wire: tagged with its stage and step (steps count per stage). */
export interface MetricPoint {
  readonly stage: StageName;
  readonly step: number;
  /** Wall time, ms since the Unix epoch. */
  readonly time: number;
  /** Metric name → value; null for a non-finite value. */
  readonly values: Readonly<Record<string, number | null>>;
}

/** One sampled completion of a policy iteration, with its reward and KL to the reference. */
export interface SamplePoint {
  readonly stage: StageName;
  readonly iteration: number;
  readonly time: number;
  readonly prompt: string;
  readonly completion: string;
  readonly score: number | null;
  readonly kl: number | null;
  /** Each reward function's value (GRPO), by function name; null: it could not score this one. */
  readonly rewards?: Readonly<Record<string, number | null>>;
}

/** A run as the UI lists it. */
export interface RunInfo {
  readonly id: string;
  /** Stages, joined by '+', e.g. 'sft+reward+ppo'. */
  readonly stage: string;
  readonly state: RunStateName;
  /** The newest checkpoint's step. */
  readonly step: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly message?: string;
  /** Training now, in this engine. */
  readonly active: boolean;
  /** Not completed, not training now, and the engine knows how to start it again. */
  readonly resumable: boolean;
}

export interface StartRunParams {
  /** The workspace folder holding `.rlhf/`. */
  readonly workspace: string;
  /** A new run of this kind; ignored when `resume` is set. */
  readonly kind?: RunKind;
  /** A stage's JSON config file (absolute path). */
  readonly configFile?: string;
  /**
   * A preset name instead of a file: for the demo, a DemoConfig preset; for a stage, the engine
   * writes `.rlhf/configs/<stage>-<preset>.json` (models filled in from the project) and runs it.
   */
  readonly preset?: string;
  /** Resume this run from its last checkpoint, with the settings it was started with. */
  readonly resume?: string;
  /**
   * The workspace is trusted (the editor's workspace trust): only then does a run load reward
   * modules from .rlhf/rewards/ or run command rewards. Absent: not trusted.
   */
  readonly trusted?: boolean;
}

export interface StartRunResult {
  readonly runId: string;
  readonly state: RunStateName;
  /** The final checkpoint folder of each stage that finished. */
  readonly finals: Readonly<Record<string, string>>;
  /** The config file the run used (stage runs). */
  readonly configFile?: string;
}

export interface PresetInfo {
  readonly name: string;
  readonly description: string;
  /** The preset's config file in the workspace's project was edited by the user: it runs as saved. */
  readonly edited?: boolean;
}

/** What the engine streams while a run trains; every event names its run. */
export type TrainingEvent =
  | { readonly type: 'run-start'; readonly kind: RunKind; readonly stage: StageName; readonly resumed: boolean; readonly configFile?: string }
  | { readonly type: 'run-end'; readonly state: RunStateName; readonly message?: string }
  | { readonly type: 'stage-start'; readonly stage: StageName; readonly resumedAtStep: number }
  | { readonly type: 'stage-end'; readonly stage: StageName; readonly final: string }
  | { readonly type: 'checkpoint'; readonly stage: StageName; readonly step: number }
  | { readonly type: 'metrics'; readonly point: MetricPoint }
  | { readonly type: 'samples'; readonly samples: readonly SamplePoint[] }
  | { readonly type: 'log'; readonly message: string };

export interface TrainingRequests {
  /** Start a run (or resume one) and wait for its end. Cancel the request to stop the run. */
  'training.start': { params: StartRunParams; result: StartRunResult };
  /** Every run in the project, oldest first. */
  'training.runs': { params: { workspace: string }; result: { runs: RunInfo[] } };
  /** A run's metrics.jsonl, in order (a resumed run repeats steps: later lines replace earlier). */
  'training.metrics': { params: { workspace: string; runId: string }; result: { points: MetricPoint[]; warning?: string } };
  /** A run's samples.jsonl, the newest `limit` lines (default 400). */
  'training.samples': { params: { workspace: string; runId: string; limit?: number }; result: { samples: SamplePoint[] } };
  /** The presets for the demo and for each stage (with `workspace`: which preset files the user edited there). */
  'training.presets': { params: { workspace?: string }; result: { presets: Record<RunKind, PresetInfo[]> } };
}

export interface TrainingNotifications {
  'training.event': { readonly runId: string; readonly event: TrainingEvent };
}
