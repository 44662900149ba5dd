/**
 * Measuring a policy the way the demo reports it: sample from it on fixed prompts with a fixed
 * seed, score the texts with a scorer, and measure the KL to a reference on those samples
 * (Σ over response tokens of log π − log π_ref, the k1 estimate of KL(π‖π_ref)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_SAMPLING } from '../sample/types';
import { disposeModel, loadModel } from './model';
import { ortRolloutSampler } from './rollout/samplers';
import { allRows, buildRollout, responseStats } from './rollout/rollout';

export interface PolicyEvaluation {
  readonly meanScore: number;
  /** Mean over samples of the summed per-token log-ratio to the reference. */
  readonly meanKl: number;
  readonly samples: readonly { readonly prompt: string; readonly completion: string; readonly score: number }[];
}

export interface EvaluateOptions {
  readonly temperature: number;
  readonly maxNewTokens: number;
  readonly seed: number;
  /** Samples per prompt. */
  readonly n: number;
}

export async function evaluatePolicy(policyDir: string, referenceDir: string, prompts: readonly string[], score: (text: string) => number, options: EvaluateOptions): Promise<PolicyEvaluation> {
  const policy = loadModel(policyDir, 'lm');
  const reference = loadModel(referenceDir, 'lm');
  const decode = (ids: readonly number[]): string => policy.tokenizer.decode(ids);
  const sampler = await ortRolloutSampler(policy, decode);
  try {
    const rows = prompts.flatMap((text) => Array.from({ length: options.n }, () => ({ text, ids: policy.tokenizer.encode(text) })));
    const completions = await sampler.sample(
      rows.map((r) => r.ids),
      { ...DEFAULT_SAMPLING, temperature: options.temperature, maxNewTokens: options.maxNewTokens, eosTokenId: policy.tokenizer.eosTokenId, seed: options.seed },
    );
    const eos = policy.tokenizer.eosTokenId;
    const rollout = buildRollout(
      rows.map((r) => r.ids),
      completions,
      eos ?? 0,
      eos,
    );
    const kl = tf.tidy(() => {
      const all = allRows(rollout.B);
      const p = responseStats(policy.params, policy.config, rollout, all, options.temperature, false).logprobs;
      const q = responseStats(reference.params, reference.config, rollout, all, options.temperature, false).logprobs;
      return Array.from(tf.sum(tf.mul(tf.sub(p, q), tf.tensor2d(rollout.responseMask, [rollout.B, rollout.R])), 1).dataSync());
    });
    const samples = completions.map((c, i) => ({ prompt: rows[i]!.text, completion: c.text, score: score(c.text) }));
    const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
    return { meanScore: mean(samples.map((s) => s.score)), meanKl: mean(kl), samples };
  } finally {
    await sampler.dispose();
    disposeModel(policy);
    disposeModel(reference);
  }
}
