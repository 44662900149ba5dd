/** One config notion over GPT-2 and the Llama family: sizes against the published parameter counts, and what runs on GPT-2 only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TINY_CONFIG } from '../../../../src/core/model/config';
import { parseModelConfig } from '../../../../src/core/model/architecture';
import { contextLength, eosIds, familyOf, gpt2Only, layerCount, modelWidth, parameterCount, startTokenId } from '../../../../src/core/model/modelConfig';
import { isUserError } from '../../../../src/core/errors';

/** config.json of Qwen/Qwen2.5-0.5B-Instruct (the fields that size it). */
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  rope_theta: 1000000.0,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
  bos_token_id: 151643,
  eos_token_id: 151645,
};

/** config.json of meta-llama/Llama-3.2-1B-Instruct. */
const LLAMA32_1B = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 128256,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  max_position_embeddings: 131072,
  rope_theta: 500000.0,
  rope_scaling: { rope_type: 'llama3', factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 },
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
};

test('parameter counts match the published ones (Qwen2.5-0.5B: 494,032,768; Llama 3.2 1B: 1,235,814,400; GPT-2 small: 124,439,808)', () => {
  const qwen = parseModelConfig(QWEN25_05B, 'qwen/config.json').config;
  assert.equal(parameterCount(qwen), 494_032_768);
  const llama = parseModelConfig(LLAMA32_1B, 'llama/config.json').config;
  assert.equal(parameterCount(llama), 1_235_814_400);
  const gpt2 = parseModelConfig({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }, 'gpt2/config.json').config;
  assert.equal(parameterCount(gpt2), 124_439_808);
});

test('the accessors read each family’s own field names', () => {
  const llama = parseModelConfig(LLAMA32_1B, 'llama/config.json').config;
  assert.deepEqual([familyOf(llama), modelWidth(llama), contextLength(llama), layerCount(llama)], ['llama', 2048, 131072, 16]);
  assert.deepEqual(eosIds(llama), [128001, 128008, 128009]);
  assert.equal(startTokenId(llama), 128000);
  assert.deepEqual([familyOf(TINY_CONFIG), modelWidth(TINY_CONFIG), contextLength(TINY_CONFIG), layerCount(TINY_CONFIG)], ['gpt2', 128, 128, 2]);
  assert.deepEqual(eosIds(TINY_CONFIG), [256]);
  const noBos = parseModelConfig({ ...QWEN25_05B, bos_token_id: null }, 'qwen/config.json').config;
  assert.equal(startTokenId(noBos), 151645);
});

test('what runs GPT-2 only (the tfjs engine) refuses a Llama-family model by name', () => {
  assert.equal(gpt2Only(TINY_CONFIG, 'The tfjs engine'), TINY_CONFIG);
  const qwen = parseModelConfig(QWEN25_05B, 'qwen/config.json').config;
  assert.throws(
    () => gpt2Only(qwen, 'The tfjs engine'),
    (e) => isUserError(e) && /The tfjs engine runs GPT-2 models only; this is a qwen2 model\. Use the ONNX Runtime engine/.test(e.message),
  );
});
