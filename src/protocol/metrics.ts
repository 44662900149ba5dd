/**
 * The one metric stream (DESIGN.md, "Metrics"): every name a stage may emit, declared once,
 * with TRL/cleanrl naming. Written to a run's metrics.jsonl, streamed to the CLI and the curves.
 */
export const METRIC_NAMES = [
  // pretraining and SFT
  'pretrain/loss',
  'pretrain/eval_loss',
  'sft/loss',
  'sft/eval_loss',
  // reward model
  'reward/loss',
  'reward/accuracy',
  'reward/margin',
  'reward/chosen',
  'reward/rejected',
  'reward/eval_loss',
  'reward/eval_accuracy',
  // PPO / RLOO (TRL names)
  'objective/kl',
  'objective/kl_coef',
  'objective/entropy',
  'objective/non_score_reward',
  'objective/rlhf_reward',
  'objective/scores',
  'policy/approxkl',
  'policy/clipfrac',
  'loss/policy',
  'loss/value',
  'val/vpred',
  'val/explained_variance',
  'val/ratio',
  // DPO (TRL names)
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'rewards/margins',
  'loss/dpo',
  'eval/rewards/accuracies',
  'eval/loss/dpo',
  // PPO/RLOO time split per iteration (seconds)
  'time/rollout',
  'time/scoring',
  'time/update',
  // every stage
  'lr',
  'grad_norm',
  'tokens_per_second',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

/** One point: the values a stage reports at one optimisation step. */
export interface MetricRecord {
  /** The stage that produced it (pretrain, sft, reward, ppo, rloo, dpo). */
  readonly stage: string;
  /** Global step within the stage (1-based, monotonic; resumed runs continue the count). */
  readonly step: number;
  /** Wall time, ms since the Unix epoch. */
  readonly time: number;
  readonly values: Partial<Record<MetricName, number>>;
}
