/**
 * What the Llama-family benchmarks share: Qwen2.5-0.5B's config.json, random weights of that shape
 * from a fast seeded generator, and the optimizer settings that match PyTorch's plain Adam.
 */
import type { LlamaConfig } from '../src/core/model/llamaConfig';
import { llamaParameterShapes } from '../src/core/model/llamaConfig';
import type { NamedTensor } from '../src/core/model/safetensors';
import { DEFAULT_OPTIM } from '../src/core/train/optim';

/** Qwen2.5-0.5B's config.json. */
export const QWEN25_05B: LlamaConfig = {
  architecture: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  head_dim: 64,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1e6,
  rope_scaling: null,
  attention_bias: true,
  mlp_bias: false,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 151643,
  eos_token_id: 151645,
  pad_token_id: null,
};

/** torch.optim.Adam(lr 1e-4) as the trainer's AdamW: constant lr, no decay, no clipping. */
export const PLAIN_ADAM = { ...DEFAULT_OPTIM, lr: 1e-4, minLrRatio: 1, warmupSteps: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0 };

/** Random weights: std ≈ 0.02 (uniform), norm gains 1, from a fast seeded generator (2 GB at full size). */
export function randomWeights(config: LlamaConfig): Map<string, NamedTensor> {
  let state = 12345;
  const weights = new Map<string, NamedTensor>();
  for (const [name, shape] of llamaParameterShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('norm.weight')) data.fill(1);
    else
      for (let i = 0; i < data.length; i++) {
        state = (Math.imul(state, 1664525) + 1013904223) | 0;
        data[i] = (state / 2 ** 31) * 0.035;
      }
    weights.set(name, { shape, data });
  }
  return weights;
}
