/**
 * PPO and RLOO's scorers as reward functions (src/core/rewards/types.ts), for GRPO: the reward
 * model trained on the human rankings (the `rewardModel` kind, and GRPO's whole reward when a
 * config lists no reward functions), and a plain function of the completion's text (`builtin:afinn`).
 */
import type { RewardFunction, RewardSample } from '../rewards/types';
import { ortRewardModelScorer } from './rollout/ortPolicy';
import { buildRollout } from './rollout/rollout';
import type { TrainModel } from './stage';

/** A sample's tokens as the reward model was trained on them: the prompt's, then the completion's. */
export type SampleTokens = (sample: RewardSample) => { readonly prompt: readonly number[]; readonly response: readonly number[] };

/**
 * The reward model (GPT2ForSequenceClassification) as a reward function: each completion, tokenized
 * after its prompt, scored at its last token with EOS appended (as in training and in PPO), on
 * ONNX Runtime. The model's tfjs tensors are freed once its session holds them; `dispose` frees the session.
 */
export async function rewardModelFunction(rm: TrainModel, tokens: SampleTokens, eos: number | null, options: { readonly name: string; readonly weight: number }): Promise<RewardFunction> {
  const scorer = await ortRewardModelScorer(rm, eos);
  const pad = eos ?? 0;
  return {
    name: options.name,
    weight: options.weight,
    score: async (samples, _report, signal) => {
      signal?.throwIfAborted();
      if (samples.length === 0) return [];
      const encoded = samples.map(tokens);
      const rollout = buildRollout(
        encoded.map((e) => e.prompt),
        encoded.map((e, i) => ({ promptIndex: i, tokens: e.response, text: '', logprobs: [], finishReason: 'length' as const })),
        pad,
        eos,
      );
      return scorer([], [], rollout);
    },
    dispose: () => scorer.release(),
  };
}

/** A function of the completion's text as a reward function (the simulated labeler's AFINN sentiment, toy tasks). */
export function textRewardFunction(name: string, weight: number, score: (text: string) => number): RewardFunction {
  return {
    name,
    weight,
    score: async (samples, report, signal) => {
      signal?.throwIfAborted();
      return samples.map((s, i) => {
        const v = score(s.completion);
        if (Number.isFinite(v)) return v;
        report({ name, source: 'built-in', sample: i, message: `the score is ${v}` });
        return null;
      });
    },
    dispose: async () => undefined,
  };
}
