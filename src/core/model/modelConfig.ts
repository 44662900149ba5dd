/**
 * One notion of "a model's configuration" over the families the workbench runs: GPT-2
 * (config.ts, HF's GPT2Config names) and the Llama family (llamaConfig.ts: Llama 3.x, SmolLM2,
 * Qwen2/2.5, Qwen3). The two keep their own HF field names, so a config.json reads and writes as
 * is; the accessors here give what sizing and dispatch need without caring which one it is.
 */
import { UserError } from '../errors';
import type { GPT2Config } from './config';
import { parameterShapes } from './config';
import type { LlamaConfig } from './llamaConfig';
import { llamaParameterShapes } from './llamaConfig';

export type ModelConfig = GPT2Config | LlamaConfig;

export type ModelFamily = 'gpt2' | 'llama';

/** A Llama-family config (it names its architecture; GPT-2's does not). */
export const isLlama = (c: ModelConfig): c is LlamaConfig => 'hidden_size' in c;

export const familyOf = (c: ModelConfig): ModelFamily => (isLlama(c) ? 'llama' : 'gpt2');

/** Width of the residual stream (the hidden states heads read). */
export const modelWidth = (c: ModelConfig): number => (isLlama(c) ? c.hidden_size : c.n_embd);

/** The longest sequence the model takes: GPT-2's position table, a Llama's max_position_embeddings. */
export const contextLength = (c: ModelConfig): number => (isLlama(c) ? c.max_position_embeddings : c.n_positions);

export const layerCount = (c: ModelConfig): number => (isLlama(c) ? c.num_hidden_layers : c.n_layer);

/** The transformer's parameters (and the LM head when untied) by HF name, with HF shapes. */
export const modelParameterShapes = (c: ModelConfig): Map<string, readonly number[]> => (isLlama(c) ? llamaParameterShapes(c) : parameterShapes(c));

/** How many values the transformer holds (heads excluded). */
export function parameterCount(c: ModelConfig): number {
  let n = 0;
  for (const shape of modelParameterShapes(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** The config's end-of-sequence ids (a Llama's may be a list; none when null). */
export function eosIds(c: ModelConfig): number[] {
  const e = c.eos_token_id;
  return e === null ? [] : typeof e === 'number' ? [e] : [...e];
}

/** The token an empty prompt conditions on: bos, else the first eos, else 0. */
export const startTokenId = (c: ModelConfig): number => c.bos_token_id ?? eosIds(c)[0] ?? 0;

/** GPT-2's config, or a UserError naming `what` runs on GPT-2 only (the tfjs engine). */
export function gpt2Only(c: ModelConfig, what: string): GPT2Config {
  if (isLlama(c)) throw new UserError(`${what} runs GPT-2 models only; this is a ${c.architecture} model. Use the ONNX Runtime engine (engine: "ort").`);
  return c;
}
