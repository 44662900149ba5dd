/**
 * The sidebar's next step from a project's overview: always runnable from where the project is
 * (SFT optional, with a way straight to the reward model), and after a policy run the loop goes
 * on: sample from the new policy and rank again, then retrain the reward model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProjectOverview } from '../../../../src/protocol/engineProject';
import { MIN_RANKED_FOR_REWARD, nextStep } from '../../../../src/extension/project/nextStep';

const model = { path: '/m', from: 'run x' };
const project = (o: Partial<ProjectOverview> = {}): ProjectOverview => ({
  workspace: '/w',
  models: { base: model, policy: model },
  prompts: 20,
  batches: 10,
  ranked: 10,
  skipped: 0,
  unranked: 0,
  pairs: 40,
  implicit: 0,
  includeImplicit: false,
  labeler: 'me',
  labelers: ['me'],
  loop: { rankedSinceReward: 0 },
  runs: [],
  repairs: [],
  ...o,
});
const step = (o: Partial<ProjectOverview>): [string, string, string | undefined] => {
  const n = nextStep(project(o));
  return [n.label, n.command, n.alternative?.command];
};

test('before a reward model: import, rank, generate more, then SFT on the best-ranked completions or straight to the reward model', () => {
  assert.deepEqual(step({ prompts: 0 }), ['Import prompts', 'rlhf.importPrompts', undefined]);
  assert.deepEqual(step({ unranked: 3 }), ['Rank 3 waiting', 'rlhf.startRanking', undefined]);
  assert.deepEqual(step({ ranked: MIN_RANKED_FOR_REWARD - 1 }), ['Generate completions', 'rlhf.generateCompletions', undefined]);
  assert.deepEqual(step({ pairs: 0 }), ['Generate completions', 'rlhf.generateCompletions', undefined]);
  assert.deepEqual(step({}), ['Train SFT', 'rlhf.trainSft', 'rlhf.trainReward']);
  assert.deepEqual(step({ models: { base: model, sft: model, policy: model } }), ['Train reward model', 'rlhf.trainReward', undefined]);
});

test('after the reward model and PPO (the demo), SFT is never suggested again: the loop samples from the new policy', () => {
  const models = { base: model, reward: model, policy: model }; // e.g. reward and PPO trained without SFT
  assert.deepEqual(step({ models, loop: { rewardAt: '2026-01-01T01:00:00Z', rankedSinceReward: 0 } }), ['Train policy', 'rlhf.trainPolicy', undefined]);
  const afterPolicy = { models, loop: { rewardAt: '2026-01-01T01:00:00Z', policyAt: '2026-01-01T02:00:00Z', rankedSinceReward: 0 } };
  assert.deepEqual(step(afterPolicy), ['Generate completions', 'rlhf.generateCompletions', undefined]);
  assert.match(nextStep(project(afterPolicy)).reason, /Next round: sample from the new policy and rank again \(0 of 8 ranked/);
  // Batches waiting (e.g. the demo's, ranked only by its simulated labeler) can be ranked, or fresh ones sampled.
  assert.deepEqual(step({ ...afterPolicy, unranked: 4 }), ['Rank 4 waiting', 'rlhf.startRanking', 'rlhf.generateCompletions']);
  // A reward model waiting for its policy comes first, ranking second.
  assert.deepEqual(step({ models, unranked: 4, loop: { rewardAt: '2026-01-01T01:00:00Z', rankedSinceReward: 0 } }), ['Train policy', 'rlhf.trainPolicy', 'rlhf.startRanking']);
  const ranked = { models, loop: { ...afterPolicy.loop, rankedSinceReward: MIN_RANKED_FOR_REWARD } };
  assert.deepEqual(step(ranked), ['Retrain reward model', 'rlhf.trainReward', undefined]);
  // A newer reward model than the policy: train the policy against it.
  assert.deepEqual(step({ models, loop: { rewardAt: '2026-01-01T03:00:00Z', policyAt: '2026-01-01T02:00:00Z', rankedSinceReward: 0 } }), ['Train policy', 'rlhf.trainPolicy', undefined]);
});
