/**
 * Plain statistics over rollout arrays, shared by the policy stages (stages/ppo.ts,
 * stages/rloo.ts): sums and means, the population variance, masked selections of a [B, R]
 * token grid, and advantage whitening. Float64 arithmetic, in array order.
 */

/** Σ xs (0 for none). */
export function sum(xs: readonly number[] | Float32Array): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/** The mean of xs; 0 for none. */
export function mean(xs: readonly number[]): number {
  return xs.length ? sum(xs) / xs.length : 0;
}

/** The population variance of xs (divided by n); 0 for none. */
export function variance(xs: readonly number[]): number {
  const m = mean(xs);
  return mean(xs.map((x) => (x - m) * (x - m)));
}

/** The entries of xs where mask > 0, in order. */
export function masked(xs: Float32Array | readonly number[], mask: Float32Array): number[] {
  return Array.from(xs).filter((_, i) => (mask[i] as number) > 0);
}

/** Σ of row `row` of xs [·, width] over the positions its mask keeps. */
export function rowSumMasked(xs: Float32Array, mask: Float32Array, row: number, width: number): number {
  let s = 0;
  for (let t = 0; t < width; t++) if (mask[row * width + t]) s += xs[row * width + t] as number;
  return s;
}

/** Whitened xs: (x − mean) / √(variance + 1e-8), zero mean and unit variance. */
export function whiten(xs: readonly number[]): number[] {
  const m = mean(xs);
  const sd = Math.sqrt(variance(xs) + 1e-8);
  return xs.map((x) => (x - m) / sd);
}

/**
 * Whiten the entries of xs that mask keeps among themselves, in place, and zero the others.
 * Fewer than two kept entries: xs is left as it is.
 */
export function whitenMasked(xs: Float32Array, mask: Float32Array): void {
  const kept = masked(xs, mask);
  if (kept.length < 2) return;
  const white = whiten(kept);
  let j = 0;
  for (let i = 0; i < xs.length; i++) xs[i] = (mask[i] as number) > 0 ? (white[j++] as number) : 0;
}
