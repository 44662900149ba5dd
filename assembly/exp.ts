// exp(x) over f32 arrays with f32x4 (tfjs-wasm's Exp is scalar libm, ~10× slower).
// Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2, a degree-7 polynomial for e^r, then 2^n put
// into the exponent bits. Within 2 ulp of the exact value over the normal range; below
// ln(2^-126) the result is 0 (no subnormals), above ln(FLT_MAX) +∞, NaN stays NaN.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const HI: f32 = 88.72283905206835; // ln(FLT_MAX)
const LO: f32 = -87.3365447504; // ln(2^-126)

export function expArray(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, exp4(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, f32x4.extract_lane(exp4(f32x4.splat(load<f32>(x + o))), 0));
  }
}

@inline export function exp4(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(HI)), f32x4.splat(LO)); // NaN: see the end
  const k = f32x4.nearest(f32x4.mul(xc, f32x4.splat(LOG2E)));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(k, f32x4.splat(LN2_HI))), f32x4.mul(k, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // 2^k = 2^h · 2^(k−h), h = k >> 1, each a normal float's bits ((e + 127) << 23): k ∈ [-126, 128].
  const ki = i32x4.trunc_sat_f32x4_s(k);
  const h = i32x4.shr_s(ki, 1);
  const bias = i32x4.splat(127);
  let y = f32x4.mul(f32x4.mul(p, i32x4.shl(i32x4.add(h, bias), 23)), i32x4.shl(i32x4.add(i32x4.sub(ki, h), bias), 23));
  y = v128.bitselect(f32x4.splat(0), y, f32x4.lt(x, f32x4.splat(LO)));
  y = v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, f32x4.splat(HI)));
  return v128.bitselect(x, y, f32x4.ne(x, x));
}
