// Log-probabilities of target tokens through a stable log-softmax, and their gradient, over
// logits [N, V] in tfjs-wasm's heap (see matmul.ts for the memory contract). One pass per row
// instead of the max/sub/exp/sum/log/one-hot/mul/sum chain of tfjs ops and its backward.
import { exp4 } from './exp';

const LN2: f64 = 0.6931471805599453;

/**
 * Natural log of a positive finite f64 (a sum of exponentials, ≥ 1 here), to ~1e-15 relative:
 * x = m·2^e with m in [√½, √2), then log m = 2·atanh(s), s = (m − 1)/(m + 1), |s| < 0.172,
 * by its series to s^17. No lookup table (it would need a data section, see build.mjs).
 */
export function logPositive(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000); // [1, 2)
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let p: f64 = 1.0 / 17;
  p = p * s2 + 1.0 / 15;
  p = p * s2 + 1.0 / 13;
  p = p * s2 + 1.0 / 11;
  p = p * s2 + 1.0 / 9;
  p = p * s2 + 1.0 / 7;
  p = p * s2 + 1.0 / 5;
  p = p * s2 + 1.0 / 3;
  p = p * s2 + 1;
  return 2 * s * p + <f64>e * LN2;
}

/**
 * For each row i of logits [N, V]: lse[i] = log Σ_j exp(logits[i, j]) and
 * logp[i] = logits[i, t_i] − lse[i] for the int32 target t_i; a target outside [0, V) gives
 * logp 0 (as a one-hot pick of nothing). lse is kept for the gradient.
 */
export function tokenLogProbs(logits: usize, targets: usize, logp: usize, lse: usize, N: i32, V: i32): void {
  const rowBytes = (<usize>V) << 2;
  for (let i = 0; i < N; i++) {
    const x = logits + (<usize>i) * rowBytes;
    let j = 0;
    let mv = f32x4.splat(-Infinity);
    for (; j + 4 <= V; j += 4) mv = f32x4.max(mv, v128.load(x + ((<usize>j) << 2)));
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; j < V; j++) m = max(m, load<f32>(x + ((<usize>j) << 2)));
    const ms = f32x4.splat(m);
    let sv = f32x4.splat(0);
    j = 0;
    for (; j + 4 <= V; j += 4) sv = f32x4.add(sv, exp4(f32x4.sub(v128.load(x + ((<usize>j) << 2)), ms)));
    let s = <f64>f32x4.extract_lane(sv, 0) + <f64>f32x4.extract_lane(sv, 1) + <f64>f32x4.extract_lane(sv, 2) + <f64>f32x4.extract_lane(sv, 3);
    for (; j < V; j++) s += <f64>f32x4.extract_lane(exp4(f32x4.splat(load<f32>(x + ((<usize>j) << 2)) - m)), 0);
    const l = <f32>(<f64>m + logPositive(s));
    store<f32>(lse + ((<usize>i) << 2), l);
    const t = load<i32>(targets + ((<usize>i) << 2));
    store<f32>(logp + ((<usize>i) << 2), t >= 0 && t < V ? load<f32>(x + ((<usize>t) << 2)) - l : 0);
  }
}

/**
 * The gradient of tokenLogProbs: dlogits[i, j] = dy[i] · (δ(j, t_i) − exp(logits[i, j] − lse[i])),
 * and 0 on a row whose target is outside [0, V).
 */
export function tokenLogProbsGrad(logits: usize, targets: usize, lse: usize, dy: usize, dlogits: usize, N: i32, V: i32): void {
  const rowBytes = (<usize>V) << 2;
  for (let i = 0; i < N; i++) {
    const x = logits + (<usize>i) * rowBytes;
    const d = dlogits + (<usize>i) * rowBytes;
    const t = load<i32>(targets + ((<usize>i) << 2));
    if (t < 0 || t >= V) {
      memory.fill(d, 0, rowBytes);
      continue;
    }
    const g = load<f32>(dy + ((<usize>i) << 2));
    const l = load<f32>(lse + ((<usize>i) << 2));
    const ls = f32x4.splat(l);
    const ng = f32x4.splat(-g);
    let j = 0;
    for (; j + 4 <= V; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(d + o, f32x4.mul(ng, exp4(f32x4.sub(v128.load(x + o), ls))));
    }
    for (; j < V; j++) {
      const o = (<usize>j) << 2;
      store<f32>(d + o, -g * f32x4.extract_lane(exp4(f32x4.splat(load<f32>(x + o) - l)), 0));
    }
    const o = (<usize>t) << 2;
    store<f32>(d + o, load<f32>(d + o) + g);
  }
}
