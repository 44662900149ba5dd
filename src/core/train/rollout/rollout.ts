/**
 * Rollouts for PPO and RLOO: sampled responses laid out for recomputation by the training
 * model, their per-token log-probs, entropies and values, the reference log-probs, the KL
 * estimators, and scoring. Layout: each row is [left-padded prompt | response right-padded],
 * so response token i sits at column P + i and is predicted from column P + i − 1. The scoring
 * passes run on the engine (ortPolicy.ts on ONNX Runtime, tfjs/rollout.ts on tfjs).
 */
import type { Weights } from '../../model/checkpoint';
import type { Completion, SamplingOptions } from '../../sample/types';
import { shuffle } from '../data/batches';

export interface Rollout {
  readonly B: number;
  /** Padded prompt length and response length. */
  readonly P: number;
  readonly R: number;
  /** [B, P + R] token ids and attention mask (1 = real). */
  readonly ids: Int32Array;
  readonly mask: Float32Array;
  /** [B, R] 1 for response tokens (through EOS), 0 for padding. */
  readonly responseMask: Float32Array;
  /** [B, R] the response tokens (pad where masked). */
  readonly responseIds: Int32Array;
  readonly containsEos: readonly boolean[];
  readonly responses: readonly (readonly number[])[];
}

export function buildRollout(prompts: readonly (readonly number[])[], completions: readonly Completion[], pad: number, eos: number | null): Rollout {
  const B = prompts.length;
  const responses = completions.map((c) => c.tokens);
  const P = Math.max(1, ...prompts.map((p) => p.length));
  const R = Math.max(1, ...responses.map((r) => r.length));
  const T = P + R;
  const ids = new Int32Array(B * T).fill(pad);
  const mask = new Float32Array(B * T);
  const responseMask = new Float32Array(B * R);
  const responseIds = new Int32Array(B * R).fill(pad);
  for (let b = 0; b < B; b++) {
    const p = prompts[b] as readonly number[];
    const r = responses[b] as readonly number[];
    for (let i = 0; i < p.length; i++) {
      ids[b * T + P - p.length + i] = p[i] as number;
      mask[b * T + P - p.length + i] = 1;
    }
    for (let i = 0; i < r.length; i++) {
      ids[b * T + P + i] = r[i] as number;
      mask[b * T + P + i] = 1;
      responseIds[b * R + i] = r[i] as number;
      responseMask[b * R + i] = 1;
    }
  }
  return { B, P, R, ids, mask, responseMask, responseIds, responses, containsEos: responses.map((r) => eos !== null && r.includes(eos)) };
}

/**
 * Per-token KL estimators of π against the reference from log-probs (Schulman's k1 = log π/π_ref,
 * and k3 = (r − 1) − log r with r = π_ref/π: unbiased, always ≥ 0, lower variance).
 */
export function klEstimateNumber(logp: number, refLogp: number, estimator: 'k1' | 'k3'): number {
  const lr = logp - refLogp;
  return estimator === 'k1' ? lr : Math.exp(-lr) - 1 + lr;
}

/** klEstimateNumber over a rollout's [B·R] log-probs and the reference's. */
export function klEstimates(logp: Float32Array, refLogp: Float32Array, estimator: 'k1' | 'k3'): Float32Array {
  return logp.map((lp, i) => klEstimateNumber(lp, refLogp[i] as number, estimator));
}

/** Rows [0, n). */
export const allRows = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Scores for a batch of responses (reward model or a function of the text), one per row. */
export type Scorer = (prompts: readonly string[], responses: readonly string[], rollout: Rollout) => Promise<number[]>;

/** Produces rollouts from the current policy; `refresh` is called after every policy update. */
export interface RolloutSampler {
  sample(prompts: readonly (readonly number[])[], options: SamplingOptions, signal?: AbortSignal): Promise<Completion[]>;
  /** The policy's LM weights after an update (HF names). */
  refresh(weights: Weights): Promise<void>;
}

export interface PromptItem {
  readonly text: string;
  readonly ids: readonly number[];
}

export interface RolloutData {
  readonly prompts: readonly PromptItem[];
  readonly decode: (ids: readonly number[]) => string;
  readonly eos: number | null;
  /** Further tokens that end a completion (the tokenizer's stopTokenIds: end-of-turn, the configs' eos lists). */
  readonly stops?: readonly number[];
  readonly pad: number;
}

/** `n` prompts for one iteration: a shuffled pass, topped up at random when there are fewer. */
export function pickPrompts(prompts: readonly PromptItem[], n: number, random: () => number): PromptItem[] {
  const chosen = shuffle([...prompts], random).slice(0, n);
  while (chosen.length < n) chosen.push(prompts[Math.floor(random() * prompts.length)] as PromptItem);
  return chosen;
}

export interface Collected {
  readonly rollout: Rollout;
  /** [B·R] old log-probs, entropies, reference log-probs; values when asked for. */
  readonly oldLogp: Float32Array;
  readonly entropy: Float32Array;
  readonly refLogp: Float32Array;
  readonly values?: Float32Array;
  readonly texts: string[];
  readonly rawScores: number[];
  readonly rolloutSeconds: number;
  readonly scoreSeconds: number;
}

/** A rollout's per-token arrays [n·R] for its rows: log-probs, entropies, and values when asked for. */
export interface TokenArrays {
  readonly logp: Float32Array;
  readonly entropy: Float32Array;
  readonly values?: Float32Array;
}

/** The rollout's scoring passes (no gradients), at the rollout's sampling temperature. */
export interface RolloutScoring {
  /** The policy's statistics of rows `rows` (values from its value head). */
  policy(r: Rollout, rows: readonly number[], withValues: boolean): Promise<TokenArrays>;
  /** The frozen reference's log-probs of rows `rows`. */
  reference(r: Rollout, rows: readonly number[]): Promise<Float32Array>;
}

/** Sample from the policy, recompute its statistics and the reference's, and score (no gradients). */
export async function collectRollout(
  scoring: RolloutScoring,
  sampler: RolloutSampler,
  scorer: Scorer,
  data: RolloutData,
  chosen: readonly PromptItem[],
  sampling: SamplingOptions,
  withValues: boolean,
  signal?: AbortSignal,
): Promise<Collected> {
  const started = performance.now();
  const completions = await sampler.sample(
    chosen.map((p) => p.ids),
    sampling,
    signal,
  );
  const rollout = buildRollout(
    chosen.map((p) => p.ids),
    completions,
    data.pad,
    data.eos,
  );
  const rolloutSeconds = (performance.now() - started) / 1000;
  const scoreStart = performance.now();
  const rows = allRows(rollout.B);
  const pol = await scoring.policy(rollout, rows, withValues);
  const refLogp = await scoring.reference(rollout, rows);
  const texts = rollout.responses.map((r) => data.decode(r));
  const rawScores = await scorer(
    chosen.map((p) => p.text),
    texts,
    rollout,
  );
  return {
    rollout,
    oldLogp: pol.logp,
    entropy: pol.entropy,
    refLogp,
    ...(pol.values ? { values: pol.values } : {}),
    texts,
    rawScores,
    rolloutSeconds,
    scoreSeconds: (performance.now() - scoreStart) / 1000,
  };
}
