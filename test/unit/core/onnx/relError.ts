/**
 * max |a − b| / max |b|, with max |b| floored at 1e-4: a gradient that is zero in exact arithmetic
 * (ln_f.bias under the pairwise loss: every pair adds to one score what it takes from another)
 * is rounding noise in both implementations.
 */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / Math.max(scale, 1e-4);
}
