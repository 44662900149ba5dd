/**
 * When a sequence is finished, and what its text is: EOS, then stop strings. Shared by both
 * samplers (ortSampler.ts, tfjsSampler.ts), so they end sequences and cut texts alike.
 */
import type { Completion, SamplingOptions } from './types';

/** A finished sequence: by EOS, or by a stop string with its text cut before the first one found. */
export type Stopped = { readonly reason: 'eos' } | { readonly reason: 'stop'; readonly text: string };

type StopOptions = Pick<SamplingOptions, 'eosTokenId' | 'stopStrings' | 'stopTokenIds'>;

/**
 * Whether a sequence is finished after emitting the last of `tokens`: EOS first, then the
 * stop strings searched in its decoded completion. Undefined: go on.
 */
export function stopAfter(tokens: readonly number[], options: StopOptions, decode: (ids: readonly number[]) => string): Stopped | undefined {
  const last = tokens[tokens.length - 1];
  if (last !== undefined && ((options.eosTokenId !== null && last === options.eosTokenId) || options.stopTokenIds?.includes(last))) return { reason: 'eos' };
  if (options.stopStrings.length === 0) return undefined;
  const text = decode(tokens);
  const cut = firstStop(text, options.stopStrings);
  return cut === undefined ? undefined : { reason: 'stop', text: text.slice(0, cut) };
}

/** Index where the earliest (non-empty) stop string starts, if any. */
function firstStop(text: string, stops: readonly string[]): number | undefined {
  let best: number | undefined;
  for (const s of stops) {
    if (s.length === 0) continue;
    const at = text.indexOf(s);
    if (at >= 0 && (best === undefined || at < best)) best = at;
  }
  return best;
}

/** A sequence's completion text: cut before its stop string, else all its tokens decoded but EOS. */
export function completionText(tokens: readonly number[], stopped: Stopped | undefined, decode: (ids: readonly number[]) => string): string {
  if (stopped?.reason === 'stop') return stopped.text;
  return decode(stopped?.reason === 'eos' ? tokens.slice(0, -1) : tokens);
}

/** The finish reason of a sequence: how it stopped, else it ran to its length. */
export function finishReason(stopped: Stopped | undefined): Completion['finishReason'] {
  return stopped?.reason ?? 'length';
}
