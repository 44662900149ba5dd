/**
 * Choosing the next token from one row of logits: temperature, top-k, top-p, greedy, with a
 * seeded generator so the same seed gives the same completions. Shared by both samplers so
 * they differ only in how they compute logits.
 */
import type { SamplingOptions } from './types';

/** mulberry32: a small, fast, seedable PRNG; one per sequence keeps batches reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Distinct, reproducible streams for each sequence of a batch from one user seed. */
export function sequenceSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/** log-softmax of one row, in float64 for stability. */
export function logSoftmax(logits: Float32Array | readonly number[]): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = (logits[i] as number) - lse;
  return out;
}

export interface Picked {
  readonly token: number;
  /** log p(token) under the unmodified model distribution (temperature 1, no filtering). */
  readonly logprob: number;
}

export type PickOptions = Pick<SamplingOptions, 'temperature' | 'topK' | 'topP'>;

/** log Σ exp(logits), in float64 (what logSoftmax subtracts). */
function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) > max) max = logits[i] as number;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) - max);
  return max + Math.log(sum);
}

export function pickToken(logits: Float32Array, options: PickOptions, random: () => number): Picked {
  const n = logits.length;
  // Only the chosen token's log-prob is needed: logit − logsumexp, as logSoftmax computes it.
  const logprob = (token: number, lse = logSumExp(logits)): number => (logits[token] as number) - lse;
  if (options.temperature <= 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
    return { token: best, logprob: logprob(best) };
  }
  if (options.topK <= 0 && options.topP >= 1) {
    const { token, lse } = sampleFull(logits, options.temperature, random);
    return { token, logprob: logprob(token, lse) };
  }
  const base = logSoftmax(logits);
  // Candidates sorted by logit, highest first; top-k then top-p cut the tail.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => (logits[y] as number) - (logits[x] as number));
  let keep = options.topK > 0 ? Math.min(options.topK, n) : n;
  const scaled = new Float64Array(keep);
  let max = -Infinity;
  for (let j = 0; j < keep; j++) {
    scaled[j] = (logits[order[j] as number] as number) / options.temperature;
    if ((scaled[j] as number) > max) max = scaled[j] as number;
  }
  let total = 0;
  for (let j = 0; j < keep; j++) {
    scaled[j] = Math.exp((scaled[j] as number) - max);
    total += scaled[j] as number;
  }
  if (options.topP < 1) {
    let cumulative = 0;
    for (let j = 0; j < keep; j++) {
      cumulative += (scaled[j] as number) / total;
      if (cumulative >= options.topP) {
        keep = j + 1;
        break;
      }
    }
    total = 0;
    for (let j = 0; j < keep; j++) total += scaled[j] as number;
  }
  let r = random() * total;
  let chosen = order[keep - 1] as number;
  for (let j = 0; j < keep; j++) {
    r -= scaled[j] as number;
    if (r <= 0) {
      chosen = order[j] as number;
      break;
    }
  }
  return { token: chosen, logprob: base[chosen] as number };
}

/**
 * Plain temperature sampling over the whole vocabulary: no sort (GPT-2 has 50k tokens). At
 * temperature 1 the sampling weights are the softmax's own terms, so the logsumexp comes free.
 */
function sampleFull(logits: Float32Array, temperature: number, random: () => number): { token: number; lse: number | undefined } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) > max) max = logits[i] as number;
  let total = 0;
  const weights = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) total += weights[i] = Math.exp(((logits[i] as number) - max) / temperature);
  const lse = temperature === 1 ? max + Math.log(total) : undefined;
  let r = random() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i] as number;
    if (r <= 0) return { token: i, lse };
  }
  return { token: logits.length - 1, lse };
}

/** Validate user-supplied sampling options; returns a message naming the bad field, or undefined. */
export function checkSamplingOptions(o: SamplingOptions): string | undefined {
  if (!Number.isFinite(o.temperature) || o.temperature < 0) return `temperature must be ≥ 0, got ${o.temperature}`;
  if (!Number.isInteger(o.topK) || o.topK < 0) return `topK must be a non-negative integer, got ${o.topK}`;
  if (!Number.isFinite(o.topP) || o.topP <= 0 || o.topP > 1) return `topP must be in (0, 1], got ${o.topP}`;
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) return `maxNewTokens must be a positive integer, got ${o.maxNewTokens}`;
  if (!Number.isInteger(o.seed)) return `seed must be an integer, got ${o.seed}`;
  return undefined;
}
