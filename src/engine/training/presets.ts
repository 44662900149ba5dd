/**
 * Named training presets. The demo presets are DemoConfig objects (the whole pipeline on the
 * shipped tiny model); stage presets are config-file bodies (the fields of the stage's JSON
 * config, see src/core/train/run/configs.ts) that the engine writes to `.rlhf/configs/` so the user
 * can see, edit and re-run them. Model paths in stage presets are filled in from the project.
 */
import { DEFAULT_DEMO } from '../../core/demo/demo';
import type { DemoConfig } from '../../core/demo/demo';
import { DEFAULT_GRPO_DEMO } from '../../core/demo/grpoDemo';
import type { GrpoDemoConfig } from '../../core/demo/grpoDemo';
import type { RunControlStage } from '../../protocol/stages';

/**
 * `demo-quick`: the demo pipeline cut to a minute or two on two cores (for trying the UI and
 * for the e2e test): few SFT and reward steps, many small PPO iterations (a fraction of a
 * second each) with a checkpoint every 5, so a stop loses at most 4 iterations (redone
 * on resume). 200 of them: the e2e test stops, resumes, hides and shows the panel and stops
 * again before the run can finish.
 */
export const DEMO_QUICK: DemoConfig = {
  ...DEFAULT_DEMO,
  sft: { ...DEFAULT_DEMO.sft, steps: 16, evalEvery: 8, checkpointEvery: 8, optim: { ...DEFAULT_DEMO.sft.optim, totalSteps: 16 } },
  sftExamples: 160,
  generate: { ...DEFAULT_DEMO.generate, maxNewTokens: 24 },
  reward: { ...DEFAULT_DEMO.reward, steps: 16, evalEvery: 8, checkpointEvery: 8, optim: { ...DEFAULT_DEMO.reward.optim, totalSteps: 16 } },
  ppo: {
    ...DEFAULT_DEMO.ppo,
    iterations: 200,
    rolloutBatch: 8,
    miniBatches: 2,
    ppoEpochs: 1,
    maxNewTokens: 16,
    sampleEvery: 1,
    checkpointEvery: 5,
    optim: { ...DEFAULT_DEMO.ppo.optim, totalSteps: 200 * 2 },
  },
  evaluation: { ...DEFAULT_DEMO.evaluation, n: 1, maxNewTokens: 16 },
};

export const DEMO_PRESETS: Readonly<Record<string, { readonly description: string; readonly config: DemoConfig | GrpoDemoConfig }>> = {
  default: { description: 'The full demo: SFT 120 steps, reward model 150 steps, PPO 30 iterations (several minutes).', config: DEFAULT_DEMO },
  'demo-quick': { description: 'A short demo (a couple of minutes): SFT 16 steps, reward model 16 steps, PPO 200 small iterations.', config: DEMO_QUICK },
  grpo: {
    description:
      'GRPO with verifiable rewards, no ranking: SFT, then GRPO 40 iterations rewarded by a workspace reward function (.rlhf/rewards/nautical.ts: speaks of the sea) and a regex (ends a sentence).',
    config: DEFAULT_GRPO_DEMO,
  },
};

/** Stage presets: config-file fields besides the models (which come from the project). */
export const STAGE_PRESETS: Readonly<Record<RunControlStage, Readonly<Record<string, { readonly description: string; readonly fields: Readonly<Record<string, unknown>> }>>>> = {
  sft: {
    quick: { description: 'A short SFT run: 60 steps, batch 8.', fields: { steps: 60, batchSize: 8, maxLen: 64, evalEvery: 20, checkpointEvery: 20 } },
    default: { description: 'The SFT stage defaults.', fields: {} },
  },
  reward: {
    quick: { description: 'A short reward-model run: 60 steps, batch 4.', fields: { steps: 60, batchSize: 4, maxLen: 64, evalEvery: 20, checkpointEvery: 20 } },
    default: { description: 'The reward stage defaults.', fields: {} },
  },
  ppo: {
    quick: {
      description: 'PPO, 20 small iterations (rollouts of 8).',
      fields: { iterations: 20, rolloutBatch: 8, miniBatches: 2, ppoEpochs: 1, maxNewTokens: 16, sampleEvery: 1, checkpointEvery: 5 },
    },
    default: { description: 'The PPO stage defaults.', fields: {} },
  },
  rloo: {
    quick: { description: 'RLOO, 20 small iterations.', fields: { iterations: 20, promptsPerIteration: 4, k: 2, maxNewTokens: 16, sampleEvery: 1, checkpointEvery: 5 } },
    default: { description: 'The RLOO stage defaults.', fields: {} },
  },
  grpo: {
    quick: {
      description: 'GRPO against the reward model, 20 small iterations (4 prompts × 4 completions). Add reward functions under "rewards" in the written file.',
      fields: { iterations: 20, promptsPerIteration: 4, numGenerations: 4, maxNewTokens: 16, sampleEvery: 1, checkpointEvery: 5 },
    },
    default: { description: 'The GRPO stage defaults (rewards: the reward model; β = 0, token-mean loss, as TRL).', fields: {} },
  },
  dpo: {
    quick: { description: 'A short DPO run: 60 steps.', fields: { steps: 60, batchSize: 4, maxLen: 64, evalEvery: 20, checkpointEvery: 20 } },
    default: { description: 'The DPO stage defaults.', fields: {} },
  },
};
