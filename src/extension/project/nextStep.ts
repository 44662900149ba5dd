/**
 * The sidebar's suggested next step: always one that can run from where the project is, with
 * the command that runs it (and, where there is a choice, a second one). The RLHF loop
 * (Christiano et al.): rank → (SFT on the best-ranked completions, optional) → reward model →
 * policy → sample from the new policy and rank again → retrain the reward model → …
 */
import type { ProjectOverview } from '../../protocol/engineProject';
import type { NextStep } from '../../protocol/sidebar';

/** Enough human rankings to train a reward model on (pairs come from them). */
export const MIN_RANKED_FOR_REWARD = 8;

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function nextStep(o: ProjectOverview): NextStep {
  if (o.prompts === 0) return { label: 'Import prompts', reason: 'The project has no prompts yet.', command: 'rlhf.importPrompts' };
  const { rewardAt, policyAt, rankedSinceReward } = o.loop;
  if (!o.models.reward) {
    if (o.unranked > 0)
      return { label: `Rank ${o.unranked} waiting`, reason: `${plural(o.unranked, 'prompt')} ${o.unranked === 1 ? 'has' : 'have'} completions to rank.`, command: 'rlhf.startRanking' };
    if (o.ranked < MIN_RANKED_FOR_REWARD || o.pairs === 0) {
      return { label: 'Generate completions', reason: `${o.ranked} of at least ${MIN_RANKED_FOR_REWARD} prompts ranked: sample more to rank.`, command: 'rlhf.generateCompletions' };
    }
    if (!o.models.sft) {
      return {
        label: 'Train SFT',
        reason: `Fine-tune on your best-ranked completions first, or go straight to the reward model (${plural(o.pairs, 'pair')} ready).`,
        command: 'rlhf.trainSft',
        alternative: { label: 'Train reward model', command: 'rlhf.trainReward' },
      };
    }
    return { label: 'Train reward model', reason: `${plural(o.pairs, 'preference pair')} ${o.pairs === 1 ? 'is' : 'are'} ready.`, command: 'rlhf.trainReward' };
  }
  // A reward model exists: align the policy against it once per reward model.
  const waiting = o.unranked > 0 ? { label: `Rank ${o.unranked} waiting`, command: 'rlhf.startRanking' as const } : undefined;
  if (policyAt === undefined || (rewardAt !== undefined && policyAt < rewardAt)) {
    return { label: 'Train policy', reason: 'A reward model is ready: align the policy (PPO, RLOO or DPO).', command: 'rlhf.trainPolicy', ...(waiting ? { alternative: waiting } : {}) };
  }
  // Then the next round: rank (what is waiting, or fresh samples from the new policy), retrain.
  if (rankedSinceReward >= MIN_RANKED_FOR_REWARD) {
    return {
      label: 'Retrain reward model',
      reason: `${plural(rankedSinceReward, 'prompt')} ranked since the last reward model: train the next round's reward model on all rankings.`,
      command: 'rlhf.trainReward',
    };
  }
  const progress = `${rankedSinceReward} of ${MIN_RANKED_FOR_REWARD} ranked for the next round`;
  if (waiting) {
    return {
      ...waiting,
      reason: `Next round: rank what is waiting, or sample from the new policy (${progress}).`,
      alternative: { label: 'Generate completions', command: 'rlhf.generateCompletions' },
    };
  }
  return { label: 'Generate completions', reason: `Next round: sample from the new policy and rank again (${progress}).`, command: 'rlhf.generateCompletions' };
}
