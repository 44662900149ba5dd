/**
 * The training stages, each declared once: its name, what people call it, what it starts from
 * and needs, whether run control (the editor) offers it, and the metrics it emits. Every side
 * derives from this: the CLI's `rlhf train <stage>`, the engine's presets and JSON schemas, the
 * run-control picks, the sidebar and the curves. How each stage trains (its config file schema
 * and job) is declared beside it in src/core/train/stages/registry.ts, keyed by these names.
 */

export const STAGE_NAMES = ['pretrain', 'sft', 'reward', 'dpo', 'ppo', 'rloo', 'grpo'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export const isStageName = (v: unknown): v is StageName => typeof v === 'string' && (STAGE_NAMES as readonly string[]).includes(v);

/** Metrics every optimising stage reports. */
const OPTIMIZER_METRICS = ['lr', 'grad_norm', 'tokens_per_second'] as const;
/** PPO and RLOO's (TRL's names), and their time split per iteration (seconds). */
const POLICY_METRICS = [
  'objective/kl',
  'objective/kl_coef',
  'objective/entropy',
  'objective/non_score_reward',
  'objective/rlhf_reward',
  'objective/scores',
  'policy/approxkl',
  'policy/clipfrac',
  'loss/policy',
  'time/rollout',
  'time/scoring',
  'time/update',
] as const;

export interface StageInfo {
  /** As a title: "SFT", "reward model". */
  readonly title: string;
  /** What the stage trains, for `rlhf train <stage>`'s summary. */
  readonly what: string;
  /** What its "model" starts from: fresh weights (or any model), the base model, or the SFT model. */
  readonly startsFrom: 'scratch' | 'base' | 'sft';
  /** Whether it scores against a reward model ("rewardModel" in its config). */
  readonly rewardModel: boolean;
  /** Offered by run control in the editor (presets, the train commands). */
  readonly runControl: boolean;
  /** Trains the policy (RLHF's last step); with what it does, for the algorithm pick. */
  readonly policy?: string;
  /** The metric the status bar shows while it trains (a loss, accuracy or score). */
  readonly headline: string;
  /** The metric names it emits (TRL/cleanrl names). */
  readonly metrics: readonly string[];
}

export const STAGE_INFO = {
  pretrain: {
    title: 'pretraining',
    what: 'base model (pretraining)',
    startsFrom: 'scratch',
    rewardModel: false,
    runControl: false,
    headline: 'pretrain/loss',
    metrics: ['pretrain/loss', 'pretrain/eval_loss', ...OPTIMIZER_METRICS],
  },
  sft: { title: 'SFT', what: 'SFT model', startsFrom: 'base', rewardModel: false, runControl: true, headline: 'sft/loss', metrics: ['sft/loss', 'sft/eval_loss', ...OPTIMIZER_METRICS] },
  reward: {
    title: 'reward model',
    what: 'reward model',
    startsFrom: 'sft',
    rewardModel: false,
    runControl: true,
    headline: 'reward/accuracy',
    metrics: ['reward/loss', 'reward/accuracy', 'reward/margin', 'reward/chosen', 'reward/rejected', 'reward/eval_loss', 'reward/eval_accuracy', ...OPTIMIZER_METRICS],
  },
  dpo: {
    title: 'DPO',
    what: 'policy by DPO on the rankings',
    startsFrom: 'sft',
    rewardModel: false,
    runControl: true,
    policy: 'directly on the rankings (no reward model)',
    headline: 'rewards/accuracies',
    metrics: ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'loss/dpo', 'eval/rewards/accuracies', 'eval/loss/dpo', ...OPTIMIZER_METRICS],
  },
  ppo: {
    title: 'PPO',
    what: 'policy by PPO against a reward model',
    startsFrom: 'sft',
    rewardModel: true,
    runControl: true,
    policy: 'against the reward model, with a value head and KL penalty',
    headline: 'objective/scores',
    metrics: [...POLICY_METRICS, 'loss/value', 'val/vpred', 'val/explained_variance', 'val/ratio', ...OPTIMIZER_METRICS],
  },
  rloo: {
    title: 'RLOO',
    what: 'policy by RLOO against a reward model',
    startsFrom: 'sft',
    rewardModel: true,
    runControl: true,
    policy: 'REINFORCE leave-one-out against the reward model (no value head)',
    headline: 'objective/scores',
    metrics: [...POLICY_METRICS, ...OPTIMIZER_METRICS],
  },
  grpo: {
    title: 'GRPO',
    what: 'policy by GRPO against reward functions and the reward model',
    startsFrom: 'sft',
    rewardModel: true,
    runControl: true,
    policy: 'group-relative, against reward functions and/or the reward model (no value head)',
    headline: 'reward',
    // TRL's GRPOTrainer names; each reward function adds rewards/<name>/mean (metrics.ts).
    metrics: [
      'reward',
      'reward_std',
      'frac_reward_zero_std',
      'kl',
      'clip_ratio',
      'completions/mean_length',
      'completions/clipped_ratio',
      'loss',
      'time/rollout',
      'time/scoring',
      'time/update',
      ...OPTIMIZER_METRICS,
    ],
  },
} as const satisfies Readonly<Record<StageName, StageInfo>>;

/** The stages run control offers (all but pretraining). */
export type RunControlStage = { [S in StageName]: (typeof STAGE_INFO)[S]['runControl'] extends true ? S : never }[StageName];
export const RUN_CONTROL_STAGES = STAGE_NAMES.filter((s): s is RunControlStage => STAGE_INFO[s].runControl);

/** The stages that train the policy (PPO, RLOO, DPO), in declaration order. */
export type PolicyStage = { [S in StageName]: (typeof STAGE_INFO)[S] extends { readonly policy: string } ? S : never }[StageName];
export const isPolicyStage = (v: unknown): v is PolicyStage => isStageName(v) && 'policy' in STAGE_INFO[v];
export const POLICY_STAGES = STAGE_NAMES.filter(isPolicyStage);
