/** Shared pieces of the PPO/RLOO toy tasks: a tiny policy and reference, prompts, a reward. */
import * as tf from '@tensorflow/tfjs-core';
import { TINY_CONFIG } from '../../../../src/core/model/config';
import { initParams } from '../../../../src/core/model/gpt2';
import { initHead } from '../../../../src/core/model/heads';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import { tokenizerFromJson } from '../../../../src/core/tokenizer/tokenizer';
import type { RolloutData } from '../../../../src/core/train/rollout/rollout';
import type { StageEvent, TrainModel } from '../../../../src/core/train/stage';

export const tokenizer = tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level');
export const toyConfig = { ...TINY_CONFIG, n_embd: 48, n_head: 2, n_layer: 1, n_positions: 48 };

/** The toy reward: the share of lowercase letters in the response (≈ 0.1 for a random byte model). */
export const lowercaseShare = (text: string): number => (text.length ? [...text].filter((c) => c >= 'a' && c <= 'z').length / text.length : 0);

export function toyModels(seed: number, valueHead: boolean): { policy: TrainModel; reference: TrainModel; dispose(): void } {
  const policy = { config: toyConfig, params: { ...initParams(toyConfig, seed), ...(valueHead ? initHead(toyConfig, 'value', seed) : {}) } };
  const reference = { config: toyConfig, params: initParams(toyConfig, seed) };
  for (const v of Object.values(reference.params)) v.trainable = false;
  return { policy, reference, dispose: () => tf.dispose([...Object.values(policy.params), ...Object.values(reference.params)]) };
}

export const toyData: RolloutData = {
  prompts: ['The sea ', 'A whale ', 'Ahab ', 'We sail '].map((text) => ({ text, ids: tokenizer.encode(text) })),
  decode: (ids) => tokenizer.decode(ids),
  eos: null,
  pad: 256,
};

/** Values of one metric over the run, in order. */
export function series(events: readonly StageEvent[], name: string): number[] {
  return events.flatMap((e) => {
    const v = e.type === 'metrics' ? (e.record.values as Record<string, number | undefined>)[name] : undefined;
    return v === undefined ? [] : [v];
  });
}

export const meanOf = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;
