/**
 * What PPO and RLOO plug in: the ORT sampler kept in step with the training policy, and
 * scorers — a reward model read at the last response token, or any function of the text.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parameterShapes } from '../model/config';
import type { Weights } from '../model/checkpoint';
import { forward } from '../model/gpt2';
import { rewardHead } from '../model/heads';
import { OrtSampler } from '../sample/ortSampler';
import type { Rollout, RolloutSampler, Scorer } from './rollout';
import type { TrainModel } from './stage';

/** The policy's LM weights only (no value head), as the ONNX graph wants them. */
function lmWeights(model: TrainModel): Weights {
  const out: Weights = new Map();
  for (const name of parameterShapes(model.config).keys()) {
    const v = model.params[name];
    if (!v) throw new Error(`policy: parameter '${name}' is missing`);
    out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  }
  return out;
}

/** An ORT KV-cache sampler rebuilt from the policy's weights after every update. */
export async function ortRolloutSampler(policy: TrainModel, decode: (ids: readonly number[]) => string): Promise<RolloutSampler & { dispose(): Promise<void> }> {
  const sampler = await OrtSampler.create({ config: policy.config, weights: lmWeights(policy) });
  return {
    sample: (prompts, options, signal) => sampler.sample(prompts, options, decode, signal),
    refresh: (p) => sampler.refresh(lmWeights(p)),
    dispose: () => sampler.dispose(),
  };
}

/** Scores each row of the rollout with a reward model (GPT2ForSequenceClassification) at its last real token. */
export function rewardModelScorer(rm: TrainModel): Scorer {
  return async (_prompts, _responses, r: Rollout) =>
    tf.tidy(() => {
      const T = r.P + r.R;
      const ids = tf.tensor2d(r.ids, [r.B, T], 'int32');
      const mask = tf.tensor2d(r.mask, [r.B, T]);
      const { hidden } = forward(rm.params, rm.config, { ids, attentionMask: mask, logits: false });
      return Array.from(rewardHead(rm.params, hidden, mask).dataSync());
    });
}

/** Scores each response text with a plain function (simulated labelers, toy tasks). */
export function textScorer(score: (text: string) => number): Scorer {
  return async (_prompts, responses) => responses.map(score);
}
