// One AdamW step over a parameter's n floats in the memory the module imports (the ONNX Runtime
// engine's arena, src/core/train/ort/arena.ts, which passes byte offsets and updates in place:
// pOut = p, mOut = m, vOut = v). The module keeps no state of its own in that memory: no data
// segments, globals or start function (scripts/build.mjs checks). Same arithmetic as
// src/core/train/optim.ts and ort/adamw.ts's JavaScript loop:
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
