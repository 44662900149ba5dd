/**
 * The one metric stream: every name a stage may emit, with TRL/cleanrl
 * naming, declared with its stage in stages.ts. Written to a run's metrics.jsonl, streamed to the
 * CLI and the curves.
 */
import type { STAGE_INFO } from './stages';
import type { StageName } from './stages';

type StageMetric<S extends StageName> = (typeof STAGE_INFO)[S]['metrics'][number];

/** A reward function's mean (GRPO): one per function of the run, so not declared with the stage. */
export type RewardFunctionMetric = `rewards/${string}/mean`;

export type MetricName = { [S in StageName]: StageMetric<S> }[StageName] | RewardFunctionMetric;

export const rewardFunctionMetric = (name: string): RewardFunctionMetric => `rewards/${name}/mean`;

/** One point: the values a stage reports at one optimisation step. */
export interface MetricRecord {
  /** The stage that produced it. */
  readonly stage: StageName;
  /** Global step within the stage (1-based, monotonic; resumed runs continue the count). */
  readonly step: number;
  /** Wall time, ms since the Unix epoch. */
  readonly time: number;
  readonly values: Partial<Record<MetricName, number>>;
}
