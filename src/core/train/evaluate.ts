/**
 * Measuring a policy the way the demo reports it: sample from it on fixed prompts with a fixed
 * seed, score the texts with a scorer, and measure the KL to a reference on those samples
 * (Σ over response tokens of log π − log π_ref, the k1 estimate of KL(π‖π_ref)).
 */
import { DEFAULT_SAMPLING } from '../sample/types';
import { disposeModel, loadModel } from './model';
import { ortRolloutSampler } from './rollout/samplers';
import { allRows, buildRollout } from './rollout/rollout';
import type { Rollout } from './rollout/rollout';
import { ortFrozenLogProbs } from './rollout/ortPolicy';
import { trainingEngine } from './engine';
import { loadCheckpoint } from '../model/checkpoint';
import type { Checkpoint, Weights } from '../model/checkpoint';
import type { NamedTensor } from '../model/safetensors';
import { OrtSampler } from '../sample/ortSampler';
import { fitPrompt, promptRoom } from '../sample/types';
import type { Completion, SamplingOptions } from '../sample/types';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { contextLength } from '../model/modelConfig';
import { modelParameterShapes } from '../model/modelConfig';
import { promptInputText } from '../tokenizer/chat';

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
  if (trainingEngine().name === 'ort') return evaluateOnOrt(policyDir, referenceDir, prompts, score, options);
  const { sequenceKl } = await import('./tfjs/rollout');
  const policy = loadModel(policyDir, 'lm');
  const reference = loadModel(referenceDir, 'lm');
  const decode = (ids: readonly number[]): string => policy.tokenizer.decode(ids);
  const sampler = await ortRolloutSampler(policy, decode);
  try {
    const { rows, completions, rollout } = await sample(policy.tokenizer, contextLength(policy.config), (p, o) => sampler.sample(p, o), prompts, options);
    return summary(rows, completions, sequenceKl(policy, reference, rollout, options.temperature), score);
  } finally {
    await sampler.dispose();
    disposeModel(policy);
    disposeModel(reference);
  }
}

/** The same on ONNX Runtime alone: the sampler and both models' log-probs from the checkpoints' weights, no tfjs. */
async function evaluateOnOrt(policyDir: string, referenceDir: string, prompts: readonly string[], score: (text: string) => number, options: EvaluateOptions): Promise<PolicyEvaluation> {
  const policy = loadCheckpoint(policyDir);
  const reference = loadCheckpoint(referenceDir);
  const lm = (c: Checkpoint): Weights => new Map([...modelParameterShapes(c.config).keys()].map((name) => [name, c.weights.get(name) as NamedTensor]));
  const decode = (ids: readonly number[]): string => policy.tokenizer.decode(ids);
  const sampler = await OrtSampler.create({ config: policy.config, weights: lm(policy) });
  const p = await ortFrozenLogProbs(policy.config, lm(policy), options.temperature);
  const q = await ortFrozenLogProbs(reference.config, lm(reference), options.temperature);
  try {
    const { rows, completions, rollout } = await sample(policy.tokenizer, contextLength(policy.config), (ids, o) => sampler.sample(ids, o, decode), prompts, options);
    const all = allRows(rollout.B);
    const lp = await p.logp(rollout, all);
    const lq = await q.logp(rollout, all);
    const kl = all.map((b) => {
      let s = 0;
      for (let j = 0; j < rollout.R; j++) s += ((lp[b * rollout.R + j] as number) - (lq[b * rollout.R + j] as number)) * (rollout.responseMask[b * rollout.R + j] as number);
      return s;
    });
    return summary(rows, completions, kl, score);
  } finally {
    await sampler.dispose();
    await p.release();
    await q.release();
  }
}

/** `options.n` samples per prompt with a fixed seed, laid out as a rollout. */
async function sample(
  tokenizer: Tokenizer,
  nPositions: number,
  run: (prompts: readonly (readonly number[])[], options: SamplingOptions) => Promise<Completion[]>,
  prompts: readonly string[],
  options: EvaluateOptions,
): Promise<{ rows: { text: string; ids: number[] }[]; completions: Completion[]; rollout: Rollout }> {
  // A prompt longer than the context leaves room for keeps its end, as the sampler does (so the rollout is what was sampled).
  const room = promptRoom(nPositions, options.maxNewTokens);
  const rows = prompts.flatMap((text) => Array.from({ length: options.n }, () => ({ text, ids: [...fitPrompt(tokenizer.encode(promptInputText({ text }, tokenizer)), room)] })));
  const eos = tokenizer.eosTokenId;
  const completions = await run(
    rows.map((r) => r.ids),
    { ...DEFAULT_SAMPLING, temperature: options.temperature, maxNewTokens: options.maxNewTokens, eosTokenId: eos, stopTokenIds: tokenizer.stopTokenIds, seed: options.seed },
  );
  const rollout = buildRollout(
    rows.map((r) => r.ids),
    completions,
    eos ?? 0,
    eos,
  );
  return { rows, completions, rollout };
}

function summary(rows: readonly { text: string }[], completions: readonly Completion[], kl: readonly number[], score: (text: string) => number): PolicyEvaluation {
  const samples = completions.map((c, i) => ({ prompt: rows[i]!.text, completion: c.text, score: score(c.text) }));
  const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
  return { meanScore: mean(samples.map((s) => s.score)), meanKl: mean(kl), samples };
}
