// f32 matrix products with WebAssembly SIMD (f32x4), compiled by AssemblyScript
// (scripts/build.mjs → dist/kernels.wasm). The module imports tfjs-backend-wasm's memory, so
// it reads and writes tensors where they lie: every argument is a byte address in that heap.
// It owns no memory: no data segment, no allocator, no globals (the build checks).
//
// gemm computes one product C = A·B, C [M, N] row-major. A's element (i, k) is at
// a + 4(i·ai + k·ak), so a transposed or row-major A is only a choice of strides; B's rows
// must be contiguous (element (k, j) at b + 4(k·bk + j)): a transposed B is first copied
// into that layout with `pack`. The core is a 4-row × 8-column tile held in eight f32x4
// accumulators: per k, two vector loads of B and four splat loads of A feed 64 flops.
// (Measured on the 2-core EPYC: ~51 GFLOP/s on 512×512×128; load32_splat instead of a load
// and a splat gained 20%; unrolling k by two lost a third, from register spills.)

/** dst[r·C + c] = src element (r, c) at src + 4(r·rs + c·cs), for an R × C matrix. */
export function pack(src: usize, rs: i32, cs: i32, dst: usize, R: i32, C: i32): void {
  for (let r = 0; r < R; r++) {
    let s = src + ((<usize>(r * rs)) << 2);
    let d = dst + ((<usize>(r * C)) << 2);
    const step = (<usize>cs) << 2;
    for (let c = 0; c < C; c++) {
      store<f32>(d, load<f32>(s));
      s += step;
      d += 4;
    }
  }
}

/** C = A·B, plus the row vector bias [N] on every row when bias is not 0. */
export function gemm(a: usize, ai: i32, ak: i32, b: usize, bk: i32, c: usize, M: i32, K: i32, N: i32, bias: usize): void {
  let i = 0;
  for (; i + 4 <= M; i += 4) rows4(a + ((<usize>(i * ai)) << 2), ai, ak, b, bk, c + ((<usize>(i * N)) << 2), K, N, bias);
  for (; i < M; i++) rows1(a + ((<usize>(i * ai)) << 2), ak, b, bk, c + ((<usize>(i * N)) << 2), K, N, bias);
}

/** Four floats of the bias from column j on (0 without a bias). */
@inline function bias4(bias: usize, j: i32): v128 {
  return bias ? v128.load(bias + ((<usize>j) << 2)) : f32x4.splat(0);
}

@inline function bias1(bias: usize, j: i32): f32 {
  return bias ? load<f32>(bias + ((<usize>j) << 2)) : 0;
}

/** Four rows of C: 8-column tiles, then a 4-column one, then single columns. */
function rows4(a: usize, ai: i32, ak: i32, b: usize, bk: i32, c: usize, K: i32, N: i32, bias: usize): void {
  const sa = (<usize>ak) << 2;
  const sb = (<usize>bk) << 2;
  const r1 = (<usize>ai) << 2;
  const r2 = r1 << 1;
  const r3 = r1 + r2;
  const rowC = (<usize>N) << 2;
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    const bj0 = bias4(bias, j), bj1 = bias4(bias, j + 4);
    let c00 = bj0, c01 = bj1;
    let c10 = bj0, c11 = bj1;
    let c20 = bj0, c21 = bj1;
    let c30 = bj0, c31 = bj1;
    let pa = a;
    let pb = b + ((<usize>j) << 2);
    for (let k = 0; k < K; k++) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      const x0 = v128.load32_splat(pa);
      const x1 = v128.load32_splat(pa + r1);
      const x2 = v128.load32_splat(pa + r2);
      const x3 = v128.load32_splat(pa + r3);
      c00 = f32x4.add(c00, f32x4.mul(x0, b0));
      c01 = f32x4.add(c01, f32x4.mul(x0, b1));
      c10 = f32x4.add(c10, f32x4.mul(x1, b0));
      c11 = f32x4.add(c11, f32x4.mul(x1, b1));
      c20 = f32x4.add(c20, f32x4.mul(x2, b0));
      c21 = f32x4.add(c21, f32x4.mul(x2, b1));
      c30 = f32x4.add(c30, f32x4.mul(x3, b0));
      c31 = f32x4.add(c31, f32x4.mul(x3, b1));
      pa += sa;
      pb += sb;
    }
    const pc = c + ((<usize>j) << 2);
    v128.store(pc, c00);
    v128.store(pc, c01, 16);
    v128.store(pc + rowC, c10);
    v128.store(pc + rowC, c11, 16);
    v128.store(pc + 2 * rowC, c20);
    v128.store(pc + 2 * rowC, c21, 16);
    v128.store(pc + 3 * rowC, c30);
    v128.store(pc + 3 * rowC, c31, 16);
  }
  for (; j + 4 <= N; j += 4) {
    const bj = bias4(bias, j);
    let c0 = bj, c1 = bj, c2 = bj, c3 = bj;
    let pa = a;
    let pb = b + ((<usize>j) << 2);
    for (let k = 0; k < K; k++) {
      const b0 = v128.load(pb);
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), b0));
      c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(pa + r1), b0));
      c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(pa + r2), b0));
      c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(pa + r3), b0));
      pa += sa;
      pb += sb;
    }
    const pc = c + ((<usize>j) << 2);
    v128.store(pc, c0);
    v128.store(pc + rowC, c1);
    v128.store(pc + 2 * rowC, c2);
    v128.store(pc + 3 * rowC, c3);
  }
  for (; j < N; j++) {
    const bj = bias1(bias, j);
    let s0 = bj, s1 = bj, s2 = bj, s3 = bj;
    let pa = a;
    let pb = b + ((<usize>j) << 2);
    for (let k = 0; k < K; k++) {
      const bv = load<f32>(pb);
      s0 += load<f32>(pa) * bv;
      s1 += load<f32>(pa + r1) * bv;
      s2 += load<f32>(pa + r2) * bv;
      s3 += load<f32>(pa + r3) * bv;
      pa += sa;
      pb += sb;
    }
    const pc = c + ((<usize>j) << 2);
    store<f32>(pc, s0);
    store<f32>(pc + rowC, s1);
    store<f32>(pc + 2 * rowC, s2);
    store<f32>(pc + 3 * rowC, s3);
  }
}

/** One row of C (the rows left over when M is not a multiple of 4). */
function rows1(a: usize, ak: i32, b: usize, bk: i32, c: usize, K: i32, N: i32, bias: usize): void {
  const sa = (<usize>ak) << 2;
  const sb = (<usize>bk) << 2;
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    let c0 = bias4(bias, j), c1 = bias4(bias, j + 4);
    let pa = a;
    let pb = b + ((<usize>j) << 2);
    for (let k = 0; k < K; k++) {
      const x = v128.load32_splat(pa);
      c0 = f32x4.add(c0, f32x4.mul(x, v128.load(pb)));
      c1 = f32x4.add(c1, f32x4.mul(x, v128.load(pb, 16)));
      pa += sa;
      pb += sb;
    }
    const pc = c + ((<usize>j) << 2);
    v128.store(pc, c0);
    v128.store(pc, c1, 16);
  }
  for (; j + 4 <= N; j += 4) {
    let c0 = bias4(bias, j);
    let pa = a;
    let pb = b + ((<usize>j) << 2);
    for (let k = 0; k < K; k++) {
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
      pa += sa;
      pb += sb;
    }
    v128.store(c + ((<usize>j) << 2), c0);
  }
  for (; j < N; j++) {
    let s = bias1(bias, j);
    let pa = a;
    let pb = b + ((<usize>j) << 2);
    for (let k = 0; k < K; k++) {
      s += load<f32>(pa) * load<f32>(pb);
      pa += sa;
      pb += sb;
    }
    store<f32>(c + ((<usize>j) << 2), s);
  }
}
