/**
 * What PPO and RLOO plug in: the ORT sampler kept in step with the training policy, and
 * scorers — a reward model read at the last response token, or any function of the text.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parameterShapes } from '../../model/config';
import type { Weights } from '../../model/checkpoint';
import { forward } from '../../model/gpt2';
import { rewardHead } from '../../model/heads';
import { OrtSampler } from '../../sample/ortSampler';
import type { Rollout, RolloutSampler, Scorer } from './rollout';
import type { TrainModel } from '../stage';

/** The policy's LM weights only (no value head), as the ONNX graph wants them (the tfjs engine's policy). */
export function lmWeights(model: TrainModel): Weights {
  const out: Weights = new Map();
  const plain = model.plain?.();
  for (const name of parameterShapes(model.config).keys()) {
    const w = plain?.get(name);
    if (w) {
      out.set(name, { shape: [...w.shape], data: w.data });
      continue;
    }
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
    refresh: (weights) => sampler.refresh(weights),
    dispose: () => sampler.dispose(),
  };
}

/**
 * Scores each row of the rollout with a reward model (GPT2ForSequenceClassification) at its last
 * real token, after appending EOS to responses that lack it — as the reward model was trained
 * (data/datasets.ts, withEos).
 */
export function rewardModelScorer(rm: TrainModel, eos: number | null): Scorer {
  return async (_prompts, _responses, r: Rollout) =>
    tf.tidy(() => {
      const T = r.P + r.R + 1;
      const ids = new Int32Array(r.B * T).fill(eos ?? 0);
      const mask = new Float32Array(r.B * T);
      for (let b = 0; b < r.B; b++) {
        ids.set(r.ids.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
        mask.set(r.mask.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
        const len = r.responses[b]?.length ?? 0;
        if (eos !== null && r.responses[b]?.[len - 1] !== eos) {
          ids[b * T + r.P + len] = eos;
          mask[b * T + r.P + len] = 1;
        }
      }
      // Prompts are fitted to the context before sampling (run/jobs.ts); should a row still be too
      // long, the reward model reads its last n_positions tokens (the response and the EOS).
      const keep = Math.min(T, rm.config.n_positions);
      const idsT = tf.slice(tf.tensor2d(ids, [r.B, T], 'int32'), [0, T - keep], [r.B, keep]) as tf.Tensor2D;
      const maskT = tf.slice(tf.tensor2d(mask, [r.B, T]), [0, T - keep], [r.B, keep]) as tf.Tensor2D;
      const { hidden } = forward(rm.params, rm.config, { ids: idsT, attentionMask: maskT, logits: false });
      return Array.from(rewardHead(rm.params, hidden, maskT).dataSync());
    });
}

/** Scores each response text with a plain function (simulated labelers, toy tasks). */
export function textScorer(score: (text: string) => number): Scorer {
  return async (_prompts, responses) => responses.map(score);
}
