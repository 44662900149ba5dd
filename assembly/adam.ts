// One AdamW step over a parameter's n floats in tfjs-wasm's heap (see matmul.ts for the memory
// contract), reading p, g, m, v and writing the new values to pOut, mOut, vOut (new tensors:
// nothing tfjs holds is changed in place). Same arithmetic as src/core/train/optim.ts:
//   g ← g·clip;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p·decay − lr · (m / bc1) / (√(v / bc2) + eps)

export function adamW(
  p: usize, g: usize, m: usize, v: usize, pOut: usize, mOut: usize, vOut: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, decay: f32, clip: f32,
): void {
  const b1 = f32x4.splat(beta1), b1c = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), b2c = f32x4.splat(1 - beta2);
  const ibc1 = f32x4.splat(1 / bc1), ibc2 = f32x4.splat(1 / bc2);
  const vlr = f32x4.splat(lr), veps = f32x4.splat(eps), vdecay = f32x4.splat(decay), vclip = f32x4.splat(clip);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const gi = f32x4.mul(v128.load(g + o), vclip);
    const mi = f32x4.add(f32x4.mul(v128.load(m + o), b1), f32x4.mul(gi, b1c));
    const vi = f32x4.add(f32x4.mul(v128.load(v + o), b2), f32x4.mul(f32x4.mul(gi, gi), b2c));
    const step = f32x4.div(f32x4.mul(mi, ibc1), f32x4.add(f32x4.sqrt(f32x4.mul(vi, ibc2)), veps));
    v128.store(pOut + o, f32x4.sub(f32x4.mul(v128.load(p + o), vdecay), f32x4.mul(step, vlr)));
    v128.store(mOut + o, mi);
    v128.store(vOut + o, vi);
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const gi = load<f32>(g + o) * clip;
    const mi = load<f32>(m + o) * beta1 + gi * (1 - beta1);
    const vi = load<f32>(v + o) * beta2 + gi * gi * (1 - beta2);
    const step = (mi * (1 / bc1)) / (Mathf.sqrt(vi * (1 / bc2)) + eps);
    store<f32>(pOut + o, load<f32>(p + o) * decay - step * lr);
    store<f32>(mOut + o, mi);
    store<f32>(vOut + o, vi);
  }
}

/** Σ x[i]² over n floats (a gradient's squared norm), accumulated in f64 per lane. */
export function sumSquares(x: usize, n: i32): f64 {
  let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const xi = v128.load(x + ((<usize>i) << 2));
    const sq = f32x4.mul(xi, xi);
    acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(sq));
    acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(i32x4.shuffle(sq, sq, 2, 3, 0, 1)));
  }
  let s = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1) + f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1);
  for (; i < n; i++) {
    const xi = <f64>load<f32>(x + ((<usize>i) << 2));
    s += xi * xi;
  }
  return s;
}
