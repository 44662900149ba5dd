/**
 * Layout kernels for the tfjs wasm backend, registered by wasmKernels.ts in place of
 * tfjs-wasm's. Each moves contiguous rows (assembly/copy.ts) or moves nothing:
 *  - Identity shares the input's buffer (a reference count, as tfjs's cpu and webgl backends
 *    do; tensors are immutable). tfjs-wasm copies, and the engine clones every tensor a
 *    gradient saves, so that was a copy per saved tensor per step;
 *  - SplitV on any axis (tfjs-wasm slices each part through a slow generic path: splitting
 *    attention's q, k, v out of [512, 384] took ~5 ms) and Concat on any axis (its gradient);
 *  - Transpose when the permutation only swaps two blocks of axes in front of a fixed last
 *    axis of ≥ 4 floats (the head split and merge of attention, [0, 2, 1, 3]).
 * Other cases go to tfjs-wasm's kernel (null).
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { Ours } from './wasmKernels';
import { elementPtr, offset, size } from './wasmHeap';

const identity: Ours = (_kernels, backend, args) => {
  const { x } = args.inputs as { x: tfTypes.TensorInfo };
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** The sizes of tf.split's parts on an axis of length n: equal parts, or the list with one −1 inferred. */
function splitSizes(numOrSizeSplits: number | number[], n: number): number[] {
  if (!Array.isArray(numOrSizeSplits)) return Array<number>(numOrSizeSplits).fill(n / numOrSizeSplits);
  const known = numOrSizeSplits.reduce((s, x) => (x === -1 ? s : s + x), 0);
  return numOrSizeSplits.map((x) => (x === -1 ? n - known : x));
}

const splitV: Ours = (kernels, backend, args) => {
  const { x } = args.inputs as { x: tfTypes.TensorInfo };
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  if (x.dtype !== 'float32') return null;
  const ax = normAxis(axis, x.shape.length);
  const n = x.shape[ax]!;
  const outer = size(x.shape.slice(0, ax));
  const inner = size(x.shape.slice(ax + 1));
  const parts = splitSizes(numOrSizeSplits, n);
  const src = offset(backend, x);
  let at = 0;
  return parts.map((s) => {
    const out = backend.makeOutput(
      x.shape.map((d, i) => (i === ax ? s : d)),
      'float32',
    );
    if (s * inner * outer > 0) kernels.copyRows(elementPtr(src, at * inner), n * inner, offset(backend, out), s * inner, outer, s * inner);
    at += s;
    return out;
  });
};

const concat: Ours = (kernels, backend, args) => {
  const inputs = args.inputs as unknown as tfTypes.TensorInfo[];
  const first = inputs[0];
  if (!first || inputs.some((t) => t.dtype !== 'float32' || t.shape.length !== first.shape.length)) return null;
  const { axis } = args.attrs as unknown as { axis: number };
  const ax = normAxis(axis, first.shape.length);
  const total = inputs.reduce((s, t) => s + t.shape[ax]!, 0);
  const outShape = first.shape.map((d, i) => (i === ax ? total : d));
  const outer = size(first.shape.slice(0, ax));
  const inner = size(first.shape.slice(ax + 1));
  const out = backend.makeOutput(outShape, 'float32');
  const dst = offset(backend, out);
  let at = 0;
  for (const t of inputs) {
    const s = t.shape[ax]!;
    if (s * inner * outer > 0) kernels.copyRows(offset(backend, t), s * inner, elementPtr(dst, at * inner), total * inner, outer, s * inner);
    at += s;
  }
  return out;
};

/**
 * A permutation with unit axes dropped and runs of axes that stay adjacent merged:
 * e.g. [8, 64, 4, 32] by [0, 2, 1, 3] stays itself, [1, M, N, 1] by [0, 2, 1, 3] becomes [M, N] by [1, 0].
 */
export function collapsePermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = perm.filter((p) => shape[p] !== 1);
  const order = [...kept].sort((a, b) => a - b);
  const rank = new Map(order.map((p, i) => [p, i]));
  const ranked = kept.map((p) => rank.get(p)!); // a permutation of 0 … k−1
  const dims = order.map((p) => shape[p]!);
  // Runs in the output order whose input axes are consecutive merge into one axis.
  const runs: number[][] = [];
  for (const p of ranked) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1]! + 1 === p) last.push(p);
    else runs.push([p]);
  }
  const byInput = [...runs].sort((a, b) => a[0]! - b[0]!);
  const index = new Map(byInput.map((r, i) => [r[0]!, i]));
  return {
    shape: byInput.map((r) => r.reduce((s, p) => s * dims[p]!, 1)),
    perm: runs.map((r) => index.get(r[0]!)!),
  };
}

const transpose: Ours = (kernels, backend, args) => {
  const { x } = args.inputs as { x: tfTypes.TensorInfo };
  const { perm } = args.attrs as unknown as { perm: number[] };
  if (x.dtype !== 'float32') return null;
  const c = collapsePermutation(x.shape, perm);
  let dims: [number, number, number, number];
  if (c.perm.join() === '1,0,2') dims = [1, c.shape[0]!, c.shape[1]!, c.shape[2]!];
  else if (c.perm.join() === '0,2,1,3') dims = c.shape as [number, number, number, number];
  else return null;
  if (dims[3] < 4) return null;
  const out = backend.makeOutput(
    perm.map((p) => x.shape[p]!),
    'float32',
  );
  kernels.swapMiddle(offset(backend, x), offset(backend, out), ...dims);
  return out;
};

/** tfjs kernel name → our version, for the wasm backend. */
export const LAYOUT_KERNELS: Record<string, Ours> = {
  Identity: identity,
  SplitV: splitV,
  Concat: concat,
  Transpose: transpose,
};
