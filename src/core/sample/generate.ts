/**
 * Generating completions for ranking: K samples per prompt from a model folder at varied
 * temperatures (so the K differ in kind, not just by chance), through onnxruntime, stored as
 * one completion batch per prompt with everything needed to reproduce it.
 */
import { loadCheckpoint } from '../model/checkpoint';
import type { Project } from '../store/project';
import type { BatchRecord, PromptRecord } from '../store/schemas';
import { promptInputText } from '../tokenizer/chat';
import { OrtSampler } from './ortSampler';
import { DEFAULT_SAMPLING } from './types';
import type { Completion, SamplingOptions } from './types';

export interface GenerateConfig {
  /** Completions per prompt. */
  readonly k: number;
  /** One temperature per completion index (cycled when shorter than k). */
  readonly temperatures: readonly number[];
  readonly maxNewTokens: number;
  readonly topP: number;
  readonly seed: number;
  /** Stop a completion at these texts (e.g. a sentence end or a blank line). */
  readonly stopStrings: readonly string[];
}

export const DEFAULT_GENERATE: GenerateConfig = {
  k: 4,
  temperatures: [0.7, 0.9, 1.1, 1.3],
  maxNewTokens: 48,
  topP: 0.95,
  seed: 0,
  stopStrings: ['\n\n'],
};

export interface GenerateResult {
  readonly batches: BatchRecord[];
  readonly tokens: number;
  readonly seconds: number;
  readonly provider: string;
}

/**
 * Sample and store a batch for each prompt. `checkpoint` labels where the model came from
 * (e.g. `<run>/sft/final`). Cancellable between temperatures.
 */
export async function generateCompletions(
  project: Project,
  modelDir: string,
  prompts: readonly PromptRecord[],
  config: GenerateConfig = DEFAULT_GENERATE,
  options: { checkpoint?: string; signal?: AbortSignal } = {},
): Promise<GenerateResult> {
  const ckpt = loadCheckpoint(modelDir);
  const sampler = await OrtSampler.create({ config: ckpt.config, weights: ckpt.weights });
  const started = performance.now();
  let tokens = 0;
  try {
    // A chat prompt is the conversation through the model's template, as SFT and the reward model read it.
    const encoded = prompts.map((p) => ckpt.tokenizer.encode(promptInputText(p, ckpt.tokenizer)));
    const decode = (ids: readonly number[]): string => ckpt.tokenizer.decode(ids);
    // perIndex[j][i]: completion j of prompt i, sampled with temperature j.
    const perIndex: { sampling: SamplingOptions; out: Completion[] }[] = [];
    for (let j = 0; j < config.k; j++) {
      options.signal?.throwIfAborted();
      const sampling: SamplingOptions = {
        ...DEFAULT_SAMPLING,
        temperature: config.temperatures[j % config.temperatures.length] as number,
        topP: config.topP,
        maxNewTokens: config.maxNewTokens,
        eosTokenId: ckpt.tokenizer.eosTokenId,
        stopTokenIds: ckpt.tokenizer.stopTokenIds,
        stopStrings: config.stopStrings,
        seed: config.seed * 1000 + j,
      };
      const out = await sampler.sample(encoded, sampling, decode, options.signal);
      tokens += out.reduce((s, c) => s + c.tokens.length, 0);
      perIndex.push({ sampling, out });
    }
    const batches = await project.completions.addBatches(
      prompts.map((p, i) => ({
        promptId: p.id,
        model: { path: modelDir, ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}) },
        sampling: samplingRecord(perIndex[0]!.sampling),
        seed: config.seed,
        completions: perIndex.map(({ sampling, out }) => {
          const c = out[i]!;
          return { text: c.text, tokens: [...c.tokens], logprobs: [...c.logprobs], finishReason: c.finishReason, sampling: { temperature: sampling.temperature } };
        }),
      })),
    );
    return { batches, tokens, seconds: (performance.now() - started) / 1000, provider: sampler.provider };
  } finally {
    await sampler.dispose();
  }
}

function samplingRecord(s: SamplingOptions) {
  return { temperature: s.temperature, topK: s.topK, topP: s.topP, maxNewTokens: s.maxNewTokens, eosTokenId: s.eosTokenId, stopStrings: [...s.stopStrings] };
}
