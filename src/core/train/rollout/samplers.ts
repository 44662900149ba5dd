/**
 * What PPO and RLOO plug in: the ORT sampler kept in step with the training policy, and a scorer
 * of the text (the reward-model scorers: ortPolicy.ts, and tfjs/rollout.ts on the tfjs engine).
 */
import type { Weights } from '../../model/checkpoint';
import { OrtSampler } from '../../sample/ortSampler';
import type { RolloutSampler, Scorer } from './rollout';
import type { TrainModel } from '../stage';
import { modelParameterShapes } from '../../model/modelConfig';

/** The policy's LM weights only (no value head), as the ONNX graph wants them (the tfjs engine's policy). */
export function lmWeights(model: TrainModel): Weights {
  const out: Weights = new Map();
  const plain = model.plain?.();
  for (const name of modelParameterShapes(model.config).keys()) {
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
  // A LoRA policy's sampler reads the weights by reference (live): the base is never copied, and
  // each refresh rewrites the merged buffers in place (loraRun.ts mergedView).
  const sampler = await OrtSampler.create({ config: policy.config, weights: lmWeights(policy) }, { live: policy.lora !== undefined });
  return {
    sample: (prompts, options, signal) => sampler.sample(prompts, options, decode, signal),
    refresh: (weights) => sampler.refresh(weights),
    dispose: () => sampler.dispose(),
  };
}

/** Scores each response text with a plain function (simulated labelers, toy tasks). */
export function textScorer(score: (text: string) => number): Scorer {
  return async (_prompts, responses) => responses.map(score);
}
