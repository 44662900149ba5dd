import type { GPT2Config } from '../../../../src/core/model/config';

/** A tiny GPT-2 for tests: every code path, milliseconds per forward. */
export const TEST_CONFIG: GPT2Config = {
  vocab_size: 37,
  n_positions: 24,
  n_embd: 16,
  n_layer: 2,
  n_head: 4,
  n_inner: null,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
  bos_token_id: 36,
  eos_token_id: 36,
  scale_attn_weights: true,
};

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}
