// Row gather and scatter-add over f32 matrices in tfjs-wasm's heap (see matmul.ts for the
// memory contract): the embedding lookup and its gradient, without a one-hot matmul.

/** out [n, C] = rows ids[0..n) of table [V, C]. ids (i32) must be in [0, V); the caller checks. */
export function gatherRows(table: usize, ids: usize, out: usize, n: i32, C: i32): void {
  const rowBytes = (<usize>C) << 2;
  for (let i = 0; i < n; i++) {
    const src = table + (<usize>load<i32>(ids + ((<usize>i) << 2))) * rowBytes;
    memory.copy(out + (<usize>i) * rowBytes, src, rowBytes);
  }
}

/**
 * out [V, C] = Σ over i with ids[i] = v of x[i, :] (UnsortedSegmentSum on axis 0). Rows whose id
 * is outside [0, V) are dropped, as TensorFlow does.
 */
export function scatterAddRows(x: usize, ids: usize, out: usize, n: i32, C: i32, V: i32): void {
  const rowBytes = (<usize>C) << 2;
  memory.fill(out, 0, (<usize>V) * rowBytes);
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + ((<usize>i) << 2));
    if (id < 0 || id >= V) continue;
    const src = x + (<usize>i) * rowBytes;
    const dst = out + (<usize>id) * rowBytes;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = (<usize>c) << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (; c < C; c++) {
      const o = (<usize>c) << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  }
}

/** out [C] = Σ over r of x[r, :] for x [R, C] (a reduction over the leading axis), row by row. */
export function sumRows(x: usize, out: usize, R: i32, C: i32): void {
  const rowBytes = (<usize>C) << 2;
  memory.fill(out, 0, rowBytes);
  for (let r = 0; r < R; r++) {
    const src = x + (<usize>r) * rowBytes;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = (<usize>c) << 2;
      v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(src + o)));
    }
    for (; c < C; c++) {
      const o = (<usize>c) << 2;
      store<f32>(out + o, load<f32>(out + o) + load<f32>(src + o));
    }
  }
}

/** out = a + b over n floats (same shapes: no broadcasting). */
export function addArrays(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** out = a · b over n floats (same shapes: no broadcasting). */
export function mulArrays(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** Softmax backward per row of R rows × C: ds = p ⊙ (dp − Σ_c dp⊙p). */
export function softmaxGrad(p: usize, dp: usize, ds: usize, R: i32, C: i32): void {
  const rowBytes = (<usize>C) << 2;
  for (let r = 0; r < R; r++) {
    const pr = p + (<usize>r) * rowBytes;
    const dr = dp + (<usize>r) * rowBytes;
    const sr = ds + (<usize>r) * rowBytes;
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = (<usize>c) << 2;
      acc = f32x4.add(acc, f32x4.mul(v128.load(pr + o), v128.load(dr + o)));
    }
    let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; c < C; c++) s += load<f32>(pr + ((<usize>c) << 2)) * load<f32>(dr + ((<usize>c) << 2));
    const sv = f32x4.splat(s);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = (<usize>c) << 2;
      v128.store(sr + o, f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(dr + o), sv)));
    }
    for (; c < C; c++) {
      const o = (<usize>c) << 2;
      store<f32>(sr + o, load<f32>(pr + o) * (load<f32>(dr + o) - s));
    }
  }
}
