/**
 * The built-in reward functions that run no user code: a regex/format match and a length
 * penalty. Both score on the main thread (a completion is short) and never report problems.
 */
import { DEFAULT_LENGTH_TARGET } from './config';
import type { LengthRewardSpec, RegexRewardSpec } from './config';
import type { RewardFunction, RewardSample } from './types';

/** A RewardFunction from a per-sample score that cannot fail. */
function perSample(name: string, weight: number, scoreOne: (s: RewardSample) => number): RewardFunction {
  return {
    name,
    weight,
    score: async (samples, _report, signal) => {
      signal?.throwIfAborted();
      return samples.map(scoreOne);
    },
    dispose: async () => undefined,
  };
}

/** 1 when the completion matches the pattern (anywhere, or as a whole with match "full"), else 0. */
export function regexReward(spec: RegexRewardSpec, name: string, weight: number): RewardFunction {
  const re = spec.match === 'full' ? new RegExp(`^(?:${spec.pattern})$`, spec.flags) : new RegExp(spec.pattern, spec.flags);
  return perSample(name, weight, (s) => (re.test(s.completion) ? 1 : 0));
}

/**
 * A length penalty in [-1, 0]: 0 while the completion is at most `target` long, then falling
 * linearly to -1 at `max` (default 2 × target), and -1 beyond. Length in Unicode code points
 * ("chars") or runs of non-whitespace ("words").
 */
export function lengthReward(spec: LengthRewardSpec, name: string, weight: number): RewardFunction {
  const target = spec.target ?? DEFAULT_LENGTH_TARGET;
  const max = spec.max ?? 2 * target;
  const measure = spec.unit === 'words' ? (t: string) => t.split(/\s+/).filter(Boolean).length : (t: string) => [...t].length;
  return perSample(name, weight, (s) => lengthPenalty(measure(s.completion), target, max));
}

function lengthPenalty(length: number, target: number, max: number): number {
  if (length <= target) return 0;
  if (length >= max) return -1;
  return -(length - target) / (max - target);
}
