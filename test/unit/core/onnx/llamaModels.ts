/** Tiny random Llama-family models for the graph tests: real (seeded) weights, not mocks. */
import type { LlamaConfig } from '../../../../src/core/model/llamaConfig';
import { llamaParameterShapes } from '../../../../src/core/model/llamaConfig';
import type { NamedTensor } from '../../../../src/core/model/safetensors';
import { seededRandom } from '../../../../src/core/sample/pick';

const BASE = {
  vocab_size: 61,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  hidden_act: 'silu',
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: null,
} as const;

/** Llama 3 style: llama3 rope scaling (that moves the middle frequencies at these sizes), untied head, GQA 4:2, q/k/v/o and MLP biases. */
export const TINY_LLAMA: LlamaConfig = {
  ...BASE,
  architecture: 'llama',
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  // θ 500: of the four frequencies one is kept, one blended (smooth ≈ 0.4) and two divided by 8.
  rope_theta: 500,
  rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
  attention_bias: true,
  mlp_bias: true,
  tie_word_embeddings: false,
};

/** Qwen2.5 style: q/k/v biases (no o bias), tied head, linear rope scaling, GQA 4:1. */
export const TINY_QWEN2: LlamaConfig = {
  ...BASE,
  architecture: 'qwen2',
  num_attention_heads: 4,
  num_key_value_heads: 1,
  head_dim: 8,
  rope_theta: 1e6,
  rope_scaling: { rope_type: 'linear', factor: 2 },
  attention_bias: true,
  mlp_bias: false,
  tie_word_embeddings: true,
};

/** Qwen3 style: per-head q/k RMSNorm, head_dim 16 ≠ hidden / heads, GQA 4:2, no biases, untied. */
export const TINY_QWEN3: LlamaConfig = {
  ...BASE,
  architecture: 'qwen3',
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
  rope_theta: 1e6,
  rope_scaling: null,
  attention_bias: false,
  mlp_bias: false,
  tie_word_embeddings: false,
};

/** Weights with spread `scale` (norm gains near 1), seeded. */
export function randomLlamaWeights(config: LlamaConfig, seed = 1, scale = 0.3): Map<string, NamedTensor> {
  const random = seededRandom(seed);
  const weights = new Map<string, NamedTensor>();
  for (const [name, shape] of llamaParameterShapes(config)) {
    const isGain = /norm\.weight$/.test(name);
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (isGain ? 1 : 0) + (random() * 2 - 1) * scale);
    weights.set(name, { shape, data });
  }
  return weights;
}
