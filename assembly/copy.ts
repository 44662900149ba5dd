// Strided row copies in tfjs-wasm's heap (see matmul.ts for the memory contract): split,
// concat and the head transposes of attention are all moves of contiguous rows.

/**
 * rows × rowFloats floats: row r from src + 4·r·srcStride to dst + 4·r·dstStride
 * (strides in floats). SplitV and Concat on any axis are this with the right strides.
 */
export function copyRows(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, rowFloats: i32): void {
  const bytes = (<usize>rowFloats) << 2;
  const ss = (<usize>srcStride) << 2;
  const ds = (<usize>dstStride) << 2;
  for (let r = 0; r < rows; r++) {
    memory.copy(dst, src, bytes);
    src += ss;
    dst += ds;
  }
}

/** out [A, C, B, D] = x [A, B, C, D] with the middle two axes swapped (Transpose [0, 2, 1, 3]). */
export function swapMiddle(x: usize, out: usize, A: i32, B: i32, C: i32, D: i32): void {
  const row = (<usize>D) << 2;
  for (let a = 0; a < A; a++) {
    const xa = x + (<usize>a) * (<usize>(B * C)) * row;
    const oa = out + (<usize>a) * (<usize>(B * C)) * row;
    for (let b = 0; b < B; b++) {
      let src = xa + (<usize>(b * C)) * row;
      let dst = oa + (<usize>b) * row;
      for (let c = 0; c < C; c++) {
        memory.copy(dst, src, row);
        src += row;
        dst += (<usize>B) * row;
      }
    }
  }
}
