/**
 * Direct Preference Optimization (Rafailov et al. 2023): the policy learns from preference pairs
 * directly, with no reward model. A completion's implicit reward is β·(log π − log π_ref), the
 * log-probs summed over its tokens; the loss is TRL's "sigmoid" loss −log σ(r_chosen − r_rejected),
 * with optional label smoothing ε for noisy labels (conservative DPO):
 * −(1−ε)·log σ(βΔ) − ε·log σ(−βΔ).
 *
 * The reference is frozen, so its log-probs of every pair are computed once, before the first
 * step, and kept as plain numbers: a step is then one forward/backward of the policy only.
 */
import { UserError } from '../../errors';
import * as tf from '@tensorflow/tfjs-core';
import { sequenceLogProbs } from '../../model/heads';
import { logSigmoid } from '../../model/ops';
import type { AdamW } from '../optim';
import { DEFAULT_OPTIM } from '../optim';
import { batchRandom, sampleBatch } from '../data/batches';
import { chunk } from './sft';
import { due, metrics, optimStep } from '../stage';
import type { LoopConfig, StageEvent, TrainModel } from '../stage';

export interface DpoConfig extends LoopConfig {
  /** Longest prompt+completion in tokens (≤ n_positions); batchSize counts pairs (2 sequences each). */
  readonly maxLen: number;
  /** β: how strongly the policy is held to the reference (TRL default 0.1; higher = closer). */
  readonly beta: number;
  /** ε: the assumed chance that a label is flipped (conservative DPO; TRL default 0, must be < 0.5). */
  readonly labelSmoothing: number;
}

export const DEFAULT_DPO: DpoConfig = {
  steps: 100,
  batchSize: 4,
  maxLen: 96,
  beta: 0.1,
  labelSmoothing: 0,
  evalEvery: 25,
  checkpointEvery: 50,
  seed: 5,
  // TRL's lr 1e-6 suits billion-parameter models; the tiny default model needs a larger step.
  // No weight decay (TRL's default): it would pull the policy away from the reference.
  optim: { ...DEFAULT_OPTIM, lr: 5e-5, warmupSteps: 10, totalSteps: 100, weightDecay: 0 },
};

/** One preference: a prompt and two completions, as token ids (completions end with EOS). */
export interface DpoPair {
  readonly prompt: readonly number[];
  readonly chosen: readonly number[];
  readonly rejected: readonly number[];
}

export interface DpoData {
  readonly train: readonly DpoPair[];
  readonly eval: readonly DpoPair[];
  /** Token used to pad rows (the EOS token); also stands in for an empty prompt. */
  readonly pad: number;
}

export interface DpoBatch {
  /** Pairs; sequences 0..B−1 are prompt+chosen, B..2B−1 prompt+rejected (TRL's concatenated forward). */
  readonly B: number;
  readonly T: number;
  /** [2B, T] right padded with `pad`. */
  readonly ids: Int32Array;
  /** [2B, T − 1] 1 where log-prob entry t (it scores token t+1) is a completion token. */
  readonly mask: Float32Array;
  /** Real (non-pad) tokens in the batch. */
  readonly tokens: number;
}

/**
 * 2B right-padded sequences with a completion mask. A sequence longer than `maxLen` keeps the end
 * of its prompt (at least one token, so the first completion token is scored) and as much
 * completion as fits; an empty prompt becomes [pad] (EOS as BOS, GPT-2's convention).
 */
export function dpoBatch(pairs: readonly DpoPair[], maxLen: number, pad: number): DpoBatch {
  if (maxLen < 2) throw new Error(`dpo: maxLen ${maxLen} leaves no room for a prompt token and a completion token`);
  const row = (prompt: readonly number[], completion: readonly number[]): { seq: number[]; start: number } => {
    const p = prompt.length ? prompt : [pad];
    const c = completion.slice(0, maxLen - 1);
    const kept = p.slice(Math.max(0, p.length - (maxLen - c.length)));
    return { seq: [...kept, ...c], start: kept.length };
  };
  const rows = [...pairs.map((p) => row(p.prompt, p.chosen)), ...pairs.map((p) => row(p.prompt, p.rejected))];
  const S = rows.length;
  const T = Math.max(2, ...rows.map((r) => r.seq.length));
  const ids = new Int32Array(S * T).fill(pad);
  const mask = new Float32Array(S * (T - 1));
  let tokens = 0;
  rows.forEach((r, s) => {
    ids.set(r.seq, s * T);
    tokens += r.seq.length;
    for (let t = r.start - 1; t + 1 < r.seq.length; t++) mask[s * (T - 1) + t] = 1;
  });
  return { B: pairs.length, T, ids, mask, tokens };
}

/** Summed completion log-probs of each sequence under `model`, [2B] (a tensor: call inside a tidy). */
export function completionLogProbs(model: TrainModel, batch: DpoBatch): tf.Tensor1D {
  const S = 2 * batch.B;
  const ids = tf.tensor2d(batch.ids, [S, batch.T], 'int32');
  // Right padding: causal attention already keeps real tokens from seeing the pads after them.
  const lp = sequenceLogProbs(model.params, model.config, ids); // [2B, T-1]
  return tf.sum(tf.mul(lp, tf.tensor2d(batch.mask, [S, batch.T - 1])), -1) as tf.Tensor1D; // [2B]
}

export interface DpoTerms {
  readonly loss: tf.Scalar;
  /** Means over pairs of β(π_c − ref_c), β(π_r − ref_r), [chosen > rejected], and their gap. */
  readonly chosen: tf.Scalar;
  readonly rejected: tf.Scalar;
  readonly accuracy: tf.Scalar;
  readonly margin: tf.Scalar;
}

/** The loss and TRL's statistics from policy log-probs [2B] and the reference's (chosen first, then rejected). */
export function dpoTerms(policy: tf.Tensor1D, reference: Float32Array, B: number, config: Pick<DpoConfig, 'beta' | 'labelSmoothing'>): DpoTerms {
  const ratio = tf.mul(tf.sub(policy, tf.tensor1d(reference)), config.beta); // [2B]
  const chosen = tf.slice(ratio, [0], [B]); // [B]
  const rejected = tf.slice(ratio, [B], [B]); // [B]
  const z = tf.sub(chosen, rejected); // βΔ
  const eps = config.labelSmoothing;
  const perPair = tf.sub(tf.mul(logSigmoid(z), -(1 - eps)), tf.mul(logSigmoid(tf.neg(z)), eps));
  return {
    loss: tf.mean(perPair) as tf.Scalar,
    chosen: tf.mean(chosen) as tf.Scalar,
    rejected: tf.mean(rejected) as tf.Scalar,
    accuracy: tf.mean(tf.cast(tf.greater(chosen, rejected), 'float32')) as tf.Scalar,
    margin: tf.mean(z) as tf.Scalar,
  };
}

/** A pair with its reference log-probs, cached as numbers. */
export interface ScoredPair {
  readonly pair: DpoPair;
  readonly refChosen: number;
  readonly refRejected: number;
}

/** The frozen reference's completion log-probs of every pair, in batches, without gradients. */
export function scoreReference(reference: TrainModel, pairs: readonly DpoPair[], config: Pick<DpoConfig, 'maxLen' | 'batchSize'>, pad: number): ScoredPair[] {
  return chunk(pairs, config.batchSize).flatMap((part) => {
    const lp = tf.tidy(() => completionLogProbs(reference, dpoBatch(part, config.maxLen, pad)).dataSync());
    return part.map((pair, i) => ({ pair, refChosen: lp[i] as number, refRejected: lp[part.length + i] as number }));
  });
}

const referenceOf = (part: readonly ScoredPair[]): Float32Array => Float32Array.from([...part.map((s) => s.refChosen), ...part.map((s) => s.refRejected)]);

/** Held-out loss and preference accuracy, pair-weighted, without gradients. */
export function evaluateDpo(policy: TrainModel, pairs: readonly ScoredPair[], config: DpoConfig, pad: number): { loss: number; accuracy: number; pairs: number } {
  let loss = 0;
  let correct = 0;
  for (const part of chunk(pairs, config.batchSize)) {
    const [l, a] = tf.tidy(() => {
      const t = dpoTerms(
        completionLogProbs(
          policy,
          dpoBatch(
            part.map((s) => s.pair),
            config.maxLen,
            pad,
          ),
        ),
        referenceOf(part),
        part.length,
        config,
      );
      return [t.loss.dataSync()[0] as number, t.accuracy.dataSync()[0] as number];
    });
    loss += (l as number) * part.length;
    correct += (a as number) * part.length;
  }
  return pairs.length ? { loss: loss / pairs.length, accuracy: correct / pairs.length, pairs: pairs.length } : { loss: NaN, accuracy: NaN, pairs: 0 };
}

export async function* dpo(policy: TrainModel, reference: TrainModel, optimizer: AdamW, data: DpoData, config: DpoConfig, signal?: AbortSignal): AsyncGenerator<StageEvent> {
  if (config.maxLen > policy.config.n_positions) throw new UserError(`dpo: maxLen ${config.maxLen} exceeds the model's n_positions ${policy.config.n_positions}; lower maxLen in the config.`);
  if (reference.config.vocab_size !== policy.config.vocab_size) throw new Error('dpo: the reference model has a different vocabulary from the policy');
  if (!(config.beta > 0)) throw new Error(`dpo: beta must be > 0, got ${config.beta}`);
  if (!(config.labelSmoothing >= 0 && config.labelSmoothing < 0.5)) throw new Error(`dpo: labelSmoothing must be in [0, 0.5), got ${config.labelSmoothing}`);
  if (data.train.length === 0) throw new Error('dpo: no preference pairs to train on');
  const started = performance.now();
  const train = scoreReference(reference, data.train, config, data.pad);
  const held = scoreReference(reference, data.eval, config, data.pad);
  yield { type: 'log', message: `dpo: reference log-probs of ${train.length + held.length} pairs in ${((performance.now() - started) / 1000).toFixed(1)} s` };
  while (optimizer.step < config.steps) {
    if (signal?.aborted) {
      yield { type: 'checkpoint', step: optimizer.step, reason: 'cancel' };
      signal.throwIfAborted();
    }
    const step = optimizer.step + 1;
    const part = sampleBatch(train, config.batchSize, batchRandom(config.seed, step));
    const batch = dpoBatch(
      part.map((s) => s.pair),
      config.maxLen,
      data.pad,
    );
    const ref = referenceOf(part);
    const t0 = performance.now();
    const r = optimStep('dpo', policy, optimizer, () => {
      const t = dpoTerms(completionLogProbs(policy, batch), ref, batch.B, config);
      return { loss: t.loss, extras: { chosen: t.chosen, rejected: t.rejected, accuracy: t.accuracy, margin: t.margin } };
    });
    const seconds = (performance.now() - t0) / 1000;
    yield metrics('dpo', step, {
      'loss/dpo': r.loss,
      'rewards/chosen': r.extras.chosen as number,
      'rewards/rejected': r.extras.rejected as number,
      'rewards/accuracies': r.extras.accuracy as number,
      'rewards/margins': r.extras.margin as number,
      lr: r.lr,
      grad_norm: r.gradNorm,
      tokens_per_second: batch.tokens / seconds,
    });
    if (held.length && (due(step, config.evalEvery) || step === config.steps)) {
      const e = evaluateDpo(policy, held, config, data.pad);
      yield metrics('dpo', step, { 'eval/loss/dpo': e.loss, 'eval/rewards/accuracies': e.accuracy });
    }
    if (due(step, config.checkpointEvery) && step < config.steps) yield { type: 'checkpoint', step, reason: 'interval' };
  }
  yield { type: 'checkpoint', step: optimizer.step, reason: 'final' };
}
