/**
 * How the metrics are grouped on the panel, in order. Names come from src/protocol/metrics.ts;
 * a metric no group lists lands in "Other", so a new metric still shows. GRPO's per-function
 * rewards (`rewards/<name>/mean`, one per reward function of the run) have a group of their own.
 */
export interface MetricGroup {
  readonly id: string;
  readonly title: string;
  readonly metrics: readonly string[];
}

export const GROUPS: readonly MetricGroup[] = [
  {
    id: 'policy',
    title: 'Policy (PPO / RLOO)',
    metrics: [
      'objective/scores',
      'objective/rlhf_reward',
      'objective/kl',
      'objective/entropy',
      'objective/non_score_reward',
      'objective/kl_coef',
      'policy/approxkl',
      'policy/clipfrac',
      'loss/policy',
      'loss/value',
      'val/explained_variance',
      'val/vpred',
      'val/ratio',
    ],
  },
  {
    id: 'grpo',
    title: 'GRPO',
    metrics: ['reward', 'reward_std', 'frac_reward_zero_std', 'kl', 'clip_ratio', 'completions/mean_length', 'completions/clipped_ratio', 'loss'],
  },
  { id: 'rewardFunctions', title: 'Reward functions', metrics: [] },
  { id: 'reward', title: 'Reward model', metrics: ['reward/loss', 'reward/accuracy', 'reward/margin', 'reward/eval_loss', 'reward/eval_accuracy', 'reward/chosen', 'reward/rejected'] },
  { id: 'dpo', title: 'DPO', metrics: ['loss/dpo', 'rewards/accuracies', 'rewards/margins', 'rewards/chosen', 'rewards/rejected', 'eval/loss/dpo', 'eval/rewards/accuracies'] },
  { id: 'lm', title: 'SFT / pretraining', metrics: ['sft/loss', 'sft/eval_loss', 'pretrain/loss', 'pretrain/eval_loss'] },
  { id: 'other', title: 'Optimizer and speed', metrics: ['lr', 'grad_norm', 'tokens_per_second', 'time/rollout', 'time/scoring', 'time/update'] },
];

const KNOWN = new Map(GROUPS.flatMap((g) => g.metrics.map((m) => [m, g.id] as const)));

/** A reward function's mean (GRPO): `rewards/<name>/mean`. DPO's `rewards/chosen` etc. have no `/mean`. */
const isRewardFunctionMetric = (m: string): boolean => /^rewards\/.+\/mean$/.test(m);

/** The groups with the metrics present (in the group's order, unknown names last in "other"). */
export function groupMetrics(present: ReadonlySet<string>): { group: MetricGroup; metrics: string[] }[] {
  const out = GROUPS.map((group) => ({ group, metrics: group.metrics.filter((m) => present.has(m)) }));
  const other = out.find((g) => g.group.id === 'other');
  const functions = out.find((g) => g.group.id === 'rewardFunctions');
  for (const m of [...present].sort()) if (!KNOWN.has(m)) (isRewardFunctionMetric(m) ? functions : other)?.metrics.push(m);
  return out.filter((g) => g.metrics.length > 0);
}
