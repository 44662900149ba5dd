/**
 * One dispatch from a model's config to its family's graphs: GPT-2's (gptGraph.ts) or the Llama
 * family's (llamaGraph.ts). Both give the same inputs and outputs, so the stages, the sampler and
 * the export build their graphs here and never ask which family a model is.
 */
import type { ModelConfig } from '../model/modelConfig';
import { isLlama } from '../model/modelConfig';
import type { NamedTensor } from '../model/safetensors';
import type { GraphOptions, ModelGraph, ModelGraphOptions, TrainGraphOptions } from './gptGraph';
import { buildGptGraph, loraOptions, buildLmTrainGraph, buildRewardTrainGraph, modelGraph, rewardTrainGraph } from './gptGraph';
import { buildLlamaGraph, buildLlamaLmTrainGraph, llamaModelGraph } from './llamaGraph';

/** The model over input_ids (parameters as inputs, or fixed weights), for training and scoring graphs. */
export function familyModelGraph(config: ModelConfig, idsDims: readonly [string, string], options: ModelGraphOptions = {}): ModelGraph {
  return isLlama(config) ? llamaModelGraph(config, idsDims, options) : modelGraph(config, idsDims, options);
}

/** The LM with a KV cache (sampling, `rlhf export onnx`), weights as initializers. */
export function buildInferenceGraph(config: ModelConfig, weights: ReadonlyMap<string, NamedTensor>, options: GraphOptions = {}): Uint8Array {
  return isLlama(config) ? buildLlamaGraph(config, weights, options) : buildGptGraph(config, weights, options);
}

/** The LM loss (SFT, pretraining) with or without gradients. */
export function buildLmLossGraph(config: ModelConfig, options: TrainGraphOptions = {}): Uint8Array {
  return isLlama(config) ? buildLlamaLmTrainGraph(config, options) : buildLmTrainGraph(config, options);
}

/**
 * The reward model's pairwise loss: GPT2ForSequenceClassification's, or the Llama family's
 * XForSequenceClassification (`score.weight` [1, C], no bias, read at the last real token).
 */
export function buildRewardLossGraph(config: ModelConfig, options: TrainGraphOptions = {}): Uint8Array {
  if (!isLlama(config)) return buildRewardTrainGraph(config, options);
  const m = llamaModelGraph(config, ['seqs', 'seq'], { extra: new Map([['score.weight', [1, config.hidden_size]]]), ...loraOptions(options) });
  const train = options.gradients !== false;
  const what = `${config.architecture} reward model pairwise loss (${config.num_hidden_layers} layers, width ${config.hidden_size})`;
  return rewardTrainGraph(m, `${config.architecture}_reward_${train ? 'train' : 'loss'}`, what, train);
}
