/**
 * config.json of the Llama family as the Hub ships it (Llama 3.2, SmolLM2, Qwen2.5, Qwen3): the
 * fields read, the parameters they imply (their counts are the published ones), transformers'
 * defaults, the refusals; and the dispatch over every supported family.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelConfig, SUPPORTED_ARCHITECTURES } from '../../../../src/core/model/architecture';
import { llamaHeadName, llamaParameterShapes, parseLlamaConfig } from '../../../../src/core/model/llamaConfig';
import type { LlamaConfig } from '../../../../src/core/model/llamaConfig';
import { UserError } from '../../../../src/core/errors';

const LLAMA_32_1B = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 128256,
};

const SMOLLM2_135M = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  vocab_size: 49152,
};

const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const count = (c: LlamaConfig): number => [...llamaParameterShapes(c).values()].reduce((s, dims) => s + dims.reduce((a, b) => a * b, 1), 0);

test('Llama 3.2 1B: llama3 rope scaling, GQA 32:8, tied head, three stop ids; 1,235,814,400 parameters', () => {
  const c = parseLlamaConfig(LLAMA_32_1B, 'config.json');
  assert.equal(c.architecture, 'llama');
  assert.deepEqual(c.rope_scaling, { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
  assert.equal(c.rope_theta, 500000);
  assert.deepEqual([c.num_attention_heads, c.num_key_value_heads, c.head_dim], [32, 8, 64]);
  assert.deepEqual(c.eos_token_id, [128001, 128008, 128009]);
  assert.equal(c.tie_word_embeddings, true);
  assert.equal(llamaHeadName(c), 'model.embed_tokens.weight');
  assert.equal(count(c), 1_235_814_400);
  assert.ok(!llamaParameterShapes(c).has('lm_head.weight'));
  assert.ok(!llamaParameterShapes(c).has('model.layers.0.self_attn.q_proj.bias'));
});

test('SmolLM2-135M: 9 heads of 64 on 3 KV heads; 134,515,008 parameters', () => {
  const c = parseLlamaConfig(SMOLLM2_135M, 'config.json');
  assert.equal(c.head_dim, 64);
  assert.equal(c.rope_scaling, null);
  assert.equal(count(c), 134_515_008);
});

test('Qwen2.5-0.5B: q/k/v biases and none on o, tied; 494,032,768 parameters', () => {
  const c = parseLlamaConfig(QWEN25_05B, 'config.json');
  assert.equal(c.architecture, 'qwen2');
  const shapes = llamaParameterShapes(c);
  assert.deepEqual(shapes.get('model.layers.3.self_attn.q_proj.bias'), [896]);
  assert.deepEqual(shapes.get('model.layers.3.self_attn.k_proj.weight'), [128, 896]);
  assert.deepEqual(shapes.get('model.layers.3.self_attn.v_proj.bias'), [128]);
  assert.ok(!shapes.has('model.layers.3.self_attn.o_proj.bias'));
  assert.equal(count(c), 494_032_768);
});

test('Qwen3-0.6B: head_dim 128 though hidden/heads is 64, per-head q/k norms; 596,049,920 parameters', () => {
  const c = parseLlamaConfig(QWEN3_06B, 'config.json');
  assert.equal(c.head_dim, 128);
  const shapes = llamaParameterShapes(c);
  assert.deepEqual(shapes.get('model.layers.0.self_attn.q_proj.weight'), [2048, 1024]);
  assert.deepEqual(shapes.get('model.layers.0.self_attn.o_proj.weight'), [1024, 2048]);
  assert.deepEqual(shapes.get('model.layers.0.self_attn.q_norm.weight'), [128]);
  assert.deepEqual(shapes.get('model.layers.27.self_attn.k_norm.weight'), [128]);
  assert.equal(count(c), 596_049_920);
});

test('an untied head is lm_head.weight [V, C]; Llama’s attention_bias puts biases on q, k, v and o, mlp_bias on the MLP', () => {
  const c = parseLlamaConfig({ ...SMOLLM2_135M, tie_word_embeddings: false, attention_bias: true, mlp_bias: true }, 'config.json');
  const shapes = llamaParameterShapes(c);
  assert.deepEqual(shapes.get('lm_head.weight'), [49152, 576]);
  assert.equal(llamaHeadName(c), 'lm_head.weight');
  for (const p of ['q', 'k', 'v', 'o']) assert.ok(shapes.has(`model.layers.0.self_attn.${p}_proj.bias`), p);
  for (const p of ['gate', 'up', 'down']) assert.ok(shapes.has(`model.layers.0.mlp.${p}_proj.bias`), p);
});

test('transformers’ defaults: KV heads = heads, head_dim = hidden / heads (Qwen3: 128), untied, rope θ 10000; model_type alone names the architecture', () => {
  const minimal = { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100 };
  const llama = parseLlamaConfig({ ...minimal, model_type: 'llama' }, 'config.json');
  assert.deepEqual([llama.num_key_value_heads, llama.head_dim, llama.tie_word_embeddings, llama.rope_theta, llama.rms_norm_eps, llama.max_position_embeddings], [4, 16, false, 10000, 1e-6, 2048]);
  assert.equal(parseLlamaConfig({ ...minimal, model_type: 'qwen3' }, 'config.json').head_dim, 128);
  assert.equal(parseLlamaConfig({ ...minimal, model_type: 'qwen2' }, 'config.json').max_position_embeddings, 32768);
});

test('transformers 5’s rope_parameters (θ inside) and the legacy `type` key of rope_scaling', () => {
  const { rope_scaling: _s, rope_theta: _t, ...rest } = LLAMA_32_1B;
  const c = parseLlamaConfig(
    { ...rest, rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
    'config.json',
  );
  assert.equal(c.rope_theta, 500000);
  assert.equal(c.rope_scaling?.rope_type, 'llama3');
  assert.deepEqual(parseLlamaConfig({ ...SMOLLM2_135M, rope_scaling: { type: 'linear', factor: 2 } }, 'c').rope_scaling, { rope_type: 'linear', factor: 2 });
  assert.equal(parseLlamaConfig({ ...SMOLLM2_135M, rope_scaling: { rope_type: 'default' } }, 'c').rope_scaling, null);
});

test('what cannot run is refused, naming the file and the field', () => {
  const refuses = (raw: Record<string, unknown>, pattern: RegExp): void => {
    assert.throws(
      () => parseLlamaConfig(raw, '/models/x/config.json'),
      (err: unknown) => err instanceof UserError && err.message.startsWith('/models/x/config.json: ') && pattern.test(err.message),
      pattern.source,
    );
  };
  refuses({ ...SMOLLM2_135M, hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/);
  refuses({ ...SMOLLM2_135M, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /rope_scaling type "yarn" is not supported \(supported: llama3, linear/);
  refuses({ ...LLAMA_32_1B, rope_scaling: { rope_type: 'llama3', factor: 32 } }, /rope_scaling\.low_freq_factor must be a positive number/);
  refuses({ ...QWEN25_05B, use_sliding_window: true }, /sliding-window attention/);
  refuses({ ...SMOLLM2_135M, num_key_value_heads: 4 }, /num_attention_heads \(9\) must be a multiple of num_key_value_heads \(4\)/);
  refuses({ ...SMOLLM2_135M, hidden_size: 577 }, /hidden_size \(577\) must be divisible by num_attention_heads/);
  refuses({ ...QWEN3_06B, head_dim: 127 }, /head_dim \(127\) must be even/);
  refuses({ ...QWEN25_05B, eos_token_id: 151936 }, /eos_token_id 151936 is outside the vocabulary/);
  refuses({ ...QWEN25_05B, eos_token_id: 'x' }, /eos_token_id must be a token id, a list of them, or null/);
  refuses({ ...QWEN25_05B, num_hidden_layers: 0 }, /num_hidden_layers must be an integer ≥ 1/);
  refuses({ ...QWEN25_05B, partial_rotary_factor: 0.5 }, /partial_rotary_factor 0\.5 is not supported/);
  refuses({ ...QWEN25_05B, architectures: ['MistralForCausalLM'], model_type: 'mistral' }, /"MistralForCausalLM" is not a Llama-family model/);
});

test('the dispatch: GPT-2 and the Llama family by class (causal LM or reward model), anything else named and refused with the supported list', () => {
  const gpt2 = parseModelConfig({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 64, n_head: 4, n_layer: 2, vocab_size: 100 }, 'config.json');
  assert.equal(gpt2.family, 'gpt2');
  assert.equal(gpt2.head, 'lm');
  assert.equal(gpt2.family === 'gpt2' && gpt2.config.n_embd, 64);
  assert.equal(parseModelConfig({ model_type: 'gpt2' }, 'config.json').family, 'gpt2');
  assert.equal(parseModelConfig({ model_type: 'gpt2', architectures: ['GPT2Model'] }, 'config.json').family, 'gpt2');
  const reward = parseModelConfig({ ...QWEN25_05B, architectures: ['Qwen2ForSequenceClassification'], id2label: { 0: 'LABEL_0' } }, 'config.json');
  assert.deepEqual([reward.family, reward.architecture, reward.head], ['llama', 'Qwen2ForSequenceClassification', 'reward']);
  for (const [raw, arch] of [
    [LLAMA_32_1B, 'llama'],
    [SMOLLM2_135M, 'llama'],
    [QWEN25_05B, 'qwen2'],
    [QWEN3_06B, 'qwen3'],
  ] as const) {
    const parsed = parseModelConfig(raw, 'config.json');
    assert.equal(parsed.family === 'llama' && parsed.config.architecture, arch);
  }
  const refused = (raw: Record<string, unknown>, named: string): void => {
    assert.throws(
      () => parseModelConfig(raw, 'm/config.json'),
      (err: unknown) => err instanceof UserError && err.message.includes(named) && SUPPORTED_ARCHITECTURES.every((a) => err.message.includes(a)),
      named,
    );
  };
  refused(
    { ...QWEN25_05B, architectures: ['MistralForCausalLM'], model_type: 'mistral' },
    'architecture MistralForCausalLM is not supported. Supported: GPT2LMHeadModel, GPT2ForSequenceClassification, LlamaForCausalLM',
  );
  refused({ model_type: 'phi3' }, 'model_type "phi3" is not supported');
  refused({}, 'names no architecture');
  assert.throws(() => parseModelConfig({ ...QWEN25_05B, architectures: ['Qwen2ForSequenceClassification'], id2label: { 0: 'bad', 1: 'good' } }, 'c'), /has 2 labels; a reward model has one/);
});
