// LayerNorm over the last axis (torch.nn.LayerNorm: biased variance) and GPT-2's gelu_new,
// forward and backward each in one pass, over f32 arrays in tfjs-wasm's heap (see matmul.ts
// for the memory contract). Replaces ~10 tfjs ops per LayerNorm and per GELU each way.
import { exp4 } from './exp';

function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * y [N, C] = (x − μ) · rstd · w + b per row, rstd = 1/√(var + eps); writes each row's μ and
 * rstd ([N] each) for the backward.
 */
export function layerNorm(x: usize, w: usize, b: usize, y: usize, mean: usize, rstd: usize, N: i32, C: i32, eps: f32): void {
  const rowBytes = (<usize>C) << 2;
  const invC: f32 = 1 / <f32>C;
  for (let i = 0; i < N; i++) {
    const xr = x + (<usize>i) * rowBytes;
    const yr = y + (<usize>i) * rowBytes;
    let sv = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= C; j += 4) sv = f32x4.add(sv, v128.load(xr + ((<usize>j) << 2)));
    let s = hsum(sv);
    for (; j < C; j++) s += load<f32>(xr + ((<usize>j) << 2));
    const mu = s * invC;
    const muv = f32x4.splat(mu);
    let qv = f32x4.splat(0);
    j = 0;
    for (; j + 4 <= C; j += 4) {
      const d = f32x4.sub(v128.load(xr + ((<usize>j) << 2)), muv);
      qv = f32x4.add(qv, f32x4.mul(d, d));
    }
    let q = hsum(qv);
    for (; j < C; j++) {
      const d = load<f32>(xr + ((<usize>j) << 2)) - mu;
      q += d * d;
    }
    const r: f32 = 1 / Mathf.sqrt(q * invC + eps);
    store<f32>(mean + ((<usize>i) << 2), mu);
    store<f32>(rstd + ((<usize>i) << 2), r);
    const rv = f32x4.splat(r);
    j = 0;
    for (; j + 4 <= C; j += 4) {
      const o = (<usize>j) << 2;
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rv);
      v128.store(yr + o, f32x4.add(f32x4.mul(xhat, v128.load(w + o)), v128.load(b + o)));
    }
    for (; j < C; j++) {
      const o = (<usize>j) << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - mu) * r * load<f32>(w + o) + load<f32>(b + o));
    }
  }
}

/**
 * LayerNorm's gradient from x, the saved μ and rstd, w and dy [N, C]: with x̂ = (x − μ)·rstd and
 * g = dy·w, dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)) per row; dw = Σ_rows dy·x̂, db = Σ_rows dy.
 */
export function layerNormGrad(x: usize, mean: usize, rstd: usize, w: usize, dy: usize, dx: usize, dw: usize, db: usize, N: i32, C: i32): void {
  const rowBytes = (<usize>C) << 2;
  const invC: f32 = 1 / <f32>C;
  memory.fill(dw, 0, rowBytes);
  memory.fill(db, 0, rowBytes);
  for (let i = 0; i < N; i++) {
    const xr = x + (<usize>i) * rowBytes;
    const gr = dy + (<usize>i) * rowBytes;
    const dr = dx + (<usize>i) * rowBytes;
    const mu = load<f32>(mean + ((<usize>i) << 2));
    const r = load<f32>(rstd + ((<usize>i) << 2));
    const muv = f32x4.splat(mu), rv = f32x4.splat(r);
    let av = f32x4.splat(0), bv = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= C; j += 4) {
      const o = (<usize>j) << 2;
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rv);
      const d = v128.load(gr + o);
      const g = f32x4.mul(d, v128.load(w + o));
      av = f32x4.add(av, g);
      bv = f32x4.add(bv, f32x4.mul(g, xhat));
      v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.mul(d, xhat)));
      v128.store(db + o, f32x4.add(v128.load(db + o), d));
    }
    let a = hsum(av), bb = hsum(bv);
    for (; j < C; j++) {
      const o = (<usize>j) << 2;
      const xhat = (load<f32>(xr + o) - mu) * r;
      const d = load<f32>(gr + o);
      const g = d * load<f32>(w + o);
      a += g;
      bb += g * xhat;
      store<f32>(dw + o, load<f32>(dw + o) + d * xhat);
      store<f32>(db + o, load<f32>(db + o) + d);
    }
    a *= invC;
    bb *= invC;
    const aa = f32x4.splat(a), bbv = f32x4.splat(bb);
    j = 0;
    for (; j + 4 <= C; j += 4) {
      const o = (<usize>j) << 2;
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rv);
      const g = f32x4.mul(v128.load(gr + o), v128.load(w + o));
      v128.store(dr + o, f32x4.mul(rv, f32x4.sub(f32x4.sub(g, aa), f32x4.mul(xhat, bbv))));
    }
    for (; j < C; j++) {
      const o = (<usize>j) << 2;
      const xhat = (load<f32>(xr + o) - mu) * r;
      const g = load<f32>(gr + o) * load<f32>(w + o);
      store<f32>(dr + o, r * (g - a - xhat * bb));
    }
  }
}

const GELU_C2: f32 = 1.5957691216057308; // 2·√(2/π)
const GELU_K: f32 = 0.044715;

/** σ(2z), 2z = 2c(x + k·x³), for four lanes: 1 / (1 + e^(−2z)). */
function gate4(x: v128): v128 {
  const xx = f32x4.mul(x, x);
  const z2 = f32x4.mul(f32x4.mul(x, f32x4.add(f32x4.mul(xx, f32x4.splat(GELU_K)), f32x4.splat(1))), f32x4.splat(GELU_C2));
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(z2))));
}

/** y = x · σ(2z) = gelu_new(x), over n floats. */
export function gelu(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const xv = v128.load(x + o);
    v128.store(y + o, f32x4.mul(xv, gate4(xv)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const xv = f32x4.splat(load<f32>(x + o));
    store<f32>(y + o, f32x4.extract_lane(f32x4.mul(xv, gate4(xv)), 0));
  }
}

/** dx = dy · (s + x·s(1 − s)·2c(1 + 3k·x²)), s = σ(2z): the derivative of x·σ(2z). */
function geluSlope4(xv: v128): v128 {
  const s = gate4(xv);
  const dz2 = f32x4.mul(f32x4.add(f32x4.mul(f32x4.mul(xv, xv), f32x4.splat(3 * GELU_K)), f32x4.splat(1)), f32x4.splat(GELU_C2));
  return f32x4.add(s, f32x4.mul(f32x4.mul(xv, f32x4.mul(s, f32x4.sub(f32x4.splat(1), s))), dz2));
}

export function geluGrad(x: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), geluSlope4(v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(dx + o, load<f32>(dy + o) * f32x4.extract_lane(geluSlope4(f32x4.splat(load<f32>(x + o))), 0));
  }
}
