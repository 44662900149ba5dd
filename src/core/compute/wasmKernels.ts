/**
 * Our own f32 kernels for the tfjs wasm backend (assembly/, built into dist/kernels.wasm),
 * registered in place of tfjs-wasm's where those are slow, and where it has none:
 *  - BatchMatMul and _FusedMatMul (bias, no activation): tfjs-wasm's is fast only for one
 *    untransposed 2-D product (XNNPACK); with a batch dimension > 1 or a transposed operand it
 *    runs a naive loop at ~1.5 GFLOP/s, and that was most of a GPT train step. Ours is faster
 *    than XNNPACK's on the 2-D products of a train step as well.
 *  - Exp (scalar libm there), same-shape Add and Multiply, Sum over leading axes (slow there), GatherV2 on axis 0 (the embedding lookup, ~2 ms for 512 rows);
 *  - UnsortedSegmentSum, which tfjs-wasm lacks: the embedding gradient (and tf.gather's);
 *  - Identity, SplitV, Concat and head Transposes as row moves (wasmLayoutKernels.ts);
 *  - fused model kernels of our own: token log-probs, LayerNorm, gelu_new, each with its
 *    gradient (wasmModelKernels.ts, used by src/core/model/ops.ts where registered).
 * The module imports tfjs-wasm's own memory, so it reads operands and writes results in
 * place, with no copies. Each kernel hands the cases it does not cover to tfjs's.
 *
 * If the module cannot be found or instantiated, tfjs's kernels stay and the reason is
 * reported (never a crash).
 */
import { errorMessage } from '../../protocol/guards';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';
import { LAYOUT_KERNELS } from './wasmLayoutKernels';
import { MODEL_KERNELS } from './wasmModelKernels';
import { bytes, elementPtr, heapInt32, offset, size } from './wasmHeap';

type Tf = typeof tfTypes;

// The WebAssembly JS API as used here (the project's lib setting has no WebAssembly types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
declare const WebAssembly: {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: unknown };
};

/** The parts of tfjs-backend-wasm's BackendWasm (and its Emscripten module) used here. */
export interface WasmBackendView {
  readonly wasm: {
    readonly HEAPU8: Uint8Array;
    readonly asm?: { readonly memory?: WasmMemory };
    _malloc(bytes: number): number;
    _free(ptr: number): void;
  };
  readonly dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number, values?: Float32Array): tfTypes.TensorInfo;
  incRef(dataId: object): void;
}

export type KernelArgs = Parameters<tfTypes.KernelFunc>[0];
/** Our version of a kernel: its result, or null to hand the call to tfjs-wasm's own. */
export type Ours = (kernels: KernelExports, backend: WasmBackendView, args: KernelArgs) => tfTypes.TensorInfo | tfTypes.TensorInfo[] | null;
export type MultiOutput = (kernels: KernelExports, backend: WasmBackendView, args: KernelArgs) => tfTypes.TensorInfo[];

export interface KernelExports {
  /** C [M, N] = A·B; A (i, k) at a + 4(i·ai + k·ak); B (k, j) at b + 4(k·bk + j). */
  gemm(a: number, ai: number, ak: number, b: number, bk: number, c: number, M: number, K: number, N: number, bias: number): void;
  /** dst [R, C] row-major from src (r, c) at src + 4(r·rs + c·cs). */
  pack(src: number, rs: number, cs: number, dst: number, R: number, C: number): void;
  /** out [n, C] = rows ids[0..n) (i32, in range) of table [·, C]. */
  gatherRows(table: number, ids: number, out: number, n: number, C: number): void;
  /** out [V, C] = per-id sums of the rows of x [n, C]; ids outside [0, V) dropped. */
  scatterAddRows(x: number, ids: number, out: number, n: number, C: number, V: number): void;
  /** out [C] = Σ_r x[r, :] for x [R, C]. */
  sumRows(x: number, out: number, R: number, C: number): void;
  /** out = a + b, out = a · b over n floats. */
  addArrays(a: number, b: number, out: number, n: number): void;
  mulArrays(a: number, b: number, out: number, n: number): void;
  /** ds = p ⊙ (dp − rowsum(dp ⊙ p)) over R rows of C. */
  softmaxGrad(p: number, dp: number, ds: number, R: number, C: number): void;
  /** out[i] = exp(x[i]) for n floats. */
  expArray(x: number, out: number, n: number): void;
  /** One AdamW step over n floats into pOut, mOut, vOut (assembly/adam.ts). */
  adamW(p: number, g: number, m: number, v: number, pOut: number, mOut: number, vOut: number, n: number, ...hyper: AdamWAttrsTuple): void;
  /** Σ x² over n floats. */
  sumSquares(x: number, n: number): number;
  /** rows × rowFloats floats from src to dst, row strides in floats. */
  copyRows(src: number, srcStride: number, dst: number, dstStride: number, rows: number, rowFloats: number): void;
  /** out [A, C, B, D] = x [A, B, C, D]. */
  swapMiddle(x: number, out: number, A: number, B: number, C: number, D: number): void;
  /** logp [N] and lse [N] of logits [N, V] at int32 targets (assembly/xent.ts). */
  tokenLogProbs(logits: number, targets: number, logp: number, lse: number, N: number, V: number): void;
  tokenLogProbsGrad(logits: number, targets: number, lse: number, dy: number, dlogits: number, N: number, V: number): void;
  /** LayerNorm rows of x [N, C] → y, with each row's mean and rstd (assembly/norm.ts). */
  layerNorm(x: number, w: number, b: number, y: number, mean: number, rstd: number, N: number, C: number, eps: number): void;
  layerNormGrad(x: number, mean: number, rstd: number, w: number, dy: number, dx: number, dw: number, db: number, N: number, C: number): void;
  /** gelu_new over n floats, and its gradient. */
  gelu(x: number, y: number, n: number): void;
  geluGrad(x: number, dy: number, dx: number, n: number): void;
}

/**
 * Kernels of our own (no tfjs op has them), run with tf.engine().runKernel where registered
 * (tf.getKernel(name, backend)); src/core/train/optim.ts falls back to tfjs ops elsewhere.
 * ADAMW: inputs {p, g, m, v}, attrs `AdamWAttrs` → [p′, m′, v′]. SUM_SQUARES: inputs {x0, x1, …}
 * (any number) → a scalar, the sum of all their squared elements.
 */
export const ADAMW_KERNEL = 'RlhfAdamW';
export const SUM_SQUARES_KERNEL = 'RlhfSumSquares';

export interface AdamWAttrs {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Bias corrections 1 − β^t. */
  readonly bc1: number;
  readonly bc2: number;
  /** Multiplier of p before the step (1 − lr·weightDecay, or 1). */
  readonly decay: number;
  /** Multiplier of g (global-norm clipping, or 1). */
  readonly clip: number;
}
type AdamWAttrsTuple = [lr: number, beta1: number, beta2: number, eps: number, bc1: number, bc2: number, decay: number, clip: number];

export interface KernelInstall {
  readonly ok: boolean;
  /** Where the module came from, or why it is not in use. */
  readonly detail: string;
}

const KERNEL_FILE = 'kernels.wasm';

/**
 * The built module: next to the bundle (dist/kernels.wasm beside dist/engine.js), or, when
 * running from sources (tests, benchmarks under tsx), in the package's dist/.
 */
export function findKernelFile(): string | undefined {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = path.dirname(dir)) {
    for (const p of [path.join(dir, KERNEL_FILE), path.join(dir, 'dist', KERNEL_FILE)]) if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/**
 * The first section of a wasm binary that would write memory or state on instantiation (data,
 * data count, global, start), or undefined. scripts/build.mjs refuses such a module; this
 * re-checks whatever file is found at run time.
 */
export function writingSection(bytes: Uint8Array): string | undefined {
  const names: Record<number, string> = { 6: 'global', 8: 'start', 11: 'data', 12: 'data count' };
  for (let at = 8; at < bytes.length;) {
    const id = bytes[at++]!;
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++]!;
      size += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) break;
    }
    if (names[id]) return names[id];
    at += size;
  }
  return undefined;
}

function asWasmBackend(backend: unknown): WasmBackendView | undefined {
  const b = backend as Partial<WasmBackendView> | undefined;
  const memory = b?.wasm?.asm?.memory;
  if (!b?.wasm || !b.dataIdMap || typeof b.makeOutput !== 'function' || !(memory instanceof WebAssembly.Memory)) return undefined;
  if (memory.buffer !== b.wasm.HEAPU8.buffer) return undefined;
  return b as WasmBackendView;
}

let installed: KernelInstall | undefined;

/** Whether our kernels replaced tfjs-wasm's (so transposed and batched products are fast there). */
export function wasmKernelsActive(): boolean {
  return installed?.ok === true;
}

/**
 * Register our kernels for the wasm backend, once it is initialised. Idempotent; returns what
 * happened so the backend report can show it. Only an uninitialised backend is retried later.
 */
export function installWasmKernels(tf: Tf): KernelInstall {
  if (installed) return installed;
  if (!asWasmBackend(tf.findBackend('wasm'))) {
    return { ok: false, detail: "tfjs-backend-wasm is not initialised or does not expose its memory; using tfjs-wasm's kernels" };
  }
  installed = tryInstall(tf);
  return installed;
}

function tryInstall(tf: Tf): KernelInstall {
  try {
    const backend = asWasmBackend(tf.findBackend('wasm'))!;
    const file = findKernelFile();
    if (!file) return { ok: false, detail: `${KERNEL_FILE} not found (run npm run build); using tfjs-wasm's kernels` };
    const bytes = fs.readFileSync(file);
    const section = writingSection(bytes);
    if (section) return { ok: false, detail: `${file} has a ${section} section, which would write into tfjs's heap; using tfjs-wasm's kernels` };
    const module = new WebAssembly.Module(bytes);
    const memory = backend.wasm.asm!.memory!;
    const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as KernelExports;
    const replace = (kernelName: string, ours: Ours | MultiOutput): void => {
      const original = tf.getKernel(kernelName, 'wasm');
      if (original) tf.unregisterKernel(kernelName, 'wasm');
      tf.registerKernel({
        kernelName,
        backendName: 'wasm',
        ...(original?.setupFunc ? { setupFunc: original.setupFunc } : {}),
        kernelFunc: (args) => {
          const out = ours(kernels, args.backend as unknown as WasmBackendView, args);
          if (out) return out;
          if (!original) throw new Error(`${kernelName} on wasm: this case is not supported`);
          return original.kernelFunc(args) as tfTypes.TensorInfo;
        },
      });
    };
    replace(tf.BatchMatMul, batchMatMul);
    replace(tf._FusedMatMul, fusedMatMul);
    replace(tf.Exp, exp);
    replace(tf.Add, binary('addArrays'));
    replace(tf.Multiply, binary('mulArrays'));
    replace(tf.Sum, sum);
    replace(tf.GatherV2, gatherV2);
    replace(tf.UnsortedSegmentSum, unsortedSegmentSum);
    replace(ADAMW_KERNEL, adamW);
    replace(SUM_SQUARES_KERNEL, sumSquares);
    for (const [name, kernel] of Object.entries(LAYOUT_KERNELS)) replace(name, kernel);
    for (const [name, kernel] of Object.entries(MODEL_KERNELS)) replace(name, kernel);
    const names = ['BatchMatMul', '_FusedMatMul', 'Exp', 'Add', 'Multiply', 'Sum', 'GatherV2', 'UnsortedSegmentSum', 'AdamW', ...Object.keys(LAYOUT_KERNELS), ...Object.keys(MODEL_KERNELS)];
    return { ok: true, detail: `${names.join(', ')} from ${file}` };
  } catch (err) {
    return { ok: false, detail: `${KERNEL_FILE} failed to load (${errorMessage(err)}); using tfjs-wasm's kernels` };
  }
}

const batchMatMul: Ours = (kernels, backend, args) => {
  const { a, b } = args.inputs as { a: tfTypes.TensorInfo; b: tfTypes.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const plan = planBatchMatMul(a.shape, b.shape, transposeA, transposeB);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  return runBatchMatMul(kernels, backend, a, b, plan);
};

/** tf.fused.matMul with a bias of one value per output column (or none) and no activation; else tfjs's. */
const fusedMatMul: Ours = (kernels, backend, args) => {
  const { a, b, bias, preluActivationWeights } = args.inputs as Partial<Record<'a' | 'b' | 'bias' | 'preluActivationWeights', tfTypes.TensorInfo>>;
  const { transposeA, transposeB, activation } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string };
  if (!a || !b || preluActivationWeights || (activation !== undefined && activation !== 'linear')) return null;
  const plan = planBatchMatMul(a.shape, b.shape, transposeA, transposeB);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (bias && (bias.dtype !== 'float32' || size(bias.shape) !== plan.N || bias.shape[bias.shape.length - 1] !== plan.N)) return null;
  return runBatchMatMul(kernels, backend, a, b, plan, bias);
};

/** Add or Multiply of two float32 tensors of one shape (residual sums, gradient accumulation); broadcasts go to tfjs's. */
const binary =
  (kernel: 'addArrays' | 'mulArrays'): Ours =>
  (kernels, backend, args) => {
    const { a, b } = args.inputs as { a: tfTypes.TensorInfo; b: tfTypes.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return null;
    const out = backend.makeOutput([...a.shape], 'float32');
    kernels[kernel](offset(backend, a), offset(backend, b), offset(backend, out), size(a.shape));
    return out;
  };

const exp: Ours = (kernels, backend, args) => {
  const { x } = args.inputs as { x: tfTypes.TensorInfo };
  if (x.dtype !== 'float32') return null;
  const out = backend.makeOutput([...x.shape], 'float32');
  kernels.expArray(offset(backend, x), offset(backend, out), size(x.shape));
  return out;
};

/** tf.sum of a float32 x over its leading axes 0 … k−1 (column sums); other reductions go to tfjs's kernel. */
const sum: Ours = (kernels, backend, args) => {
  const { x } = args.inputs as { x: tfTypes.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  const k = axes.length;
  if (x.dtype !== 'float32' || k === 0 || k === rank || axes.some((a, i) => a !== i)) return null;
  const rest = x.shape.slice(k);
  const out = backend.makeOutput(keepDims ? [...Array<number>(k).fill(1), ...rest] : rest, 'float32');
  kernels.sumRows(offset(backend, x), offset(backend, out), size(x.shape.slice(0, k)), size(rest));
  return out;
};

/** tf.gather(x, indices) on axis 0 of a float32 x, every index in range; else tfjs's kernel. */
const gatherV2: Ours = (kernels, backend, args) => {
  const { x, indices } = args.inputs as { x: tfTypes.TensorInfo; indices: tfTypes.TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
  const rows = x.shape[0] ?? 0;
  if (x.dtype !== 'float32' || indices.dtype !== 'int32' || x.shape.length < 1 || (axis !== 0 && axis !== -x.shape.length) || batchDims !== 0) return null;
  const ids = heapInt32(backend, indices);
  for (const id of ids) if (id < 0 || id >= rows) return null;
  const rowSize = size(x.shape.slice(1));
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], 'float32');
  kernels.gatherRows(offset(backend, x), offset(backend, indices), offset(backend, out), ids.length, rowSize);
  return out;
};

/** Sums of the rows of x [n, …] per segment id [n] → [numSegments, …]; ids out of range dropped (as TensorFlow). */
const unsortedSegmentSum: Ours = (kernels, backend, args) => {
  const { x, segmentIds } = args.inputs as { x: tfTypes.TensorInfo; segmentIds: tfTypes.TensorInfo };
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  if (x.dtype !== 'float32' || segmentIds.dtype !== 'int32' || segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) {
    throw new Error(`UnsortedSegmentSum on wasm takes float32 x [n, …] and int32 ids [n]; got ${x.dtype} [${x.shape}] and ${segmentIds.dtype} [${segmentIds.shape}]`);
  }
  const rowSize = size(x.shape.slice(1));
  const out = backend.makeOutput([numSegments, ...x.shape.slice(1)], 'float32');
  kernels.scatterAddRows(offset(backend, x), offset(backend, segmentIds), offset(backend, out), x.shape[0] ?? 0, rowSize, numSegments);
  return out;
};

const adamW: MultiOutput = (kernels, backend, args) => {
  const { p, g, m, v } = args.inputs as Record<'p' | 'g' | 'm' | 'v', tfTypes.TensorInfo>;
  const a = args.attrs as unknown as AdamWAttrs;
  for (const t of [p, g, m, v]) {
    if (t.dtype !== 'float32' || size(t.shape) !== size(p.shape)) throw new Error(`${ADAMW_KERNEL}: p, g, m, v must be float32 of one shape`);
  }
  const outs = [0, 1, 2].map(() => backend.makeOutput([...p.shape], 'float32'));
  const [pOut, mOut, vOut] = outs.map((t) => offset(backend, t)) as [number, number, number];
  kernels.adamW(offset(backend, p), offset(backend, g), offset(backend, m), offset(backend, v), pOut, mOut, vOut, size(p.shape), a.lr, a.beta1, a.beta2, a.eps, a.bc1, a.bc2, a.decay, a.clip);
  return outs;
};

const sumSquares: Ours = (kernels, backend, args) => {
  let total = 0;
  for (const t of Object.values(args.inputs) as tfTypes.TensorInfo[]) {
    if (t.dtype !== 'float32') throw new Error(`${SUM_SQUARES_KERNEL}: inputs must be float32`);
    total += kernels.sumSquares(offset(backend, t), size(t.shape));
  }
  return backend.makeOutput([], 'float32', undefined, Float32Array.of(total));
};

/**
 * One product's geometry. Every float32 product runs on our gemm: measured in a reference train
 * step, it (with the bias in its accumulators) beat XNNPACK's 2-D untransposed products too
 * (~9.6 vs ~13.5 ms per step).
 */
export interface MatMulPlan {
  readonly M: number;
  readonly K: number;
  readonly N: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  /** The output's shape: broadcast batch dims then [M, N]. */
  readonly outShape: number[];
  /** For each output batch, the index of its A and B matrices (numpy broadcasting). */
  readonly aIndex: Int32Array;
  readonly bIndex: Int32Array;
}

export function planBatchMatMul(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean): MatMulPlan {
  const ra = aShape.length;
  const rb = bShape.length;
  const M = transposeA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const K = transposeA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const Kb = transposeB ? bShape[rb - 1]! : bShape[rb - 2]!;
  const N = transposeB ? bShape[rb - 2]! : bShape[rb - 1]!;
  if (K !== Kb) {
    throw new Error(`matMul: inner dimensions ${K} and ${Kb} of shapes [${aShape}] and [${bShape}] (transposeA=${transposeA}, transposeB=${transposeB}) differ`);
  }
  const aOuter = aShape.slice(0, -2);
  const bOuter = bShape.slice(0, -2);
  const rank = Math.max(aOuter.length, bOuter.length);
  const outOuter: number[] = [];
  for (let d = 0; d < rank; d++) {
    const da = aOuter[d - (rank - aOuter.length)] ?? 1;
    const db = bOuter[d - (rank - bOuter.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`matMul: batch dimensions of shapes [${aShape}] and [${bShape}] do not broadcast`);
    outOuter.push(da === 1 ? db : da);
  }
  const batch = size(outOuter);
  const aIndex = new Int32Array(batch);
  const bIndex = new Int32Array(batch);
  for (let g = 0; g < batch; g++) {
    // Walk the output batch index from the last dim, accumulating each operand's flat index.
    let rest = g;
    let ia = 0,
      sa = 1,
      ib = 0,
      sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const dim = outOuter[d]!;
      const coord = rest % dim;
      rest = Math.floor(rest / dim);
      const da = aOuter[d - (rank - aOuter.length)] ?? 1;
      const db = bOuter[d - (rank - bOuter.length)] ?? 1;
      if (da !== 1) ia += coord * sa;
      if (db !== 1) ib += coord * sb;
      sa *= da;
      sb *= db;
    }
    aIndex[g] = ia;
    bIndex[g] = ib;
  }
  return { M, K, N, transposeA, transposeB, outShape: [...outOuter, M, N], aIndex, bIndex };
}

function runBatchMatMul(kernels: KernelExports, backend: WasmBackendView, a: tfTypes.TensorInfo, b: tfTypes.TensorInfo, plan: MatMulPlan, bias?: tfTypes.TensorInfo): tfTypes.TensorInfo {
  const { M, K, N, transposeA, transposeB, aIndex, bIndex } = plan;
  const out = backend.makeOutput(plan.outShape, 'float32');
  const pa = offset(backend, a);
  const pb = offset(backend, b);
  const pc = offset(backend, out);
  const biasPtr = bias ? offset(backend, bias) : 0;
  const matA = M * K;
  const matB = K * N;
  // A stored [M, K] (or [K, M] when transposed): element (i, k) at i·ai + k·ak.
  const ai = transposeA ? 1 : K;
  const ak = transposeA ? M : 1;
  // A transposed B ([N, K]) is repacked to [K, N] once per distinct B matrix.
  const scratch = transposeB && matB > 0 ? backend.wasm._malloc(bytes(matB)) : 0;
  try {
    let packed = -1;
    for (let g = 0; g < aIndex.length; g++) {
      const bg = bIndex[g]!;
      let bPtr = elementPtr(pb, bg * matB);
      if (transposeB) {
        if (packed !== bg) kernels.pack(bPtr, 1, K, scratch, K, N);
        packed = bg;
        bPtr = scratch;
      }
      kernels.gemm(elementPtr(pa, aIndex[g]! * matA), ai, ak, bPtr, N, elementPtr(pc, g * M * N), M, K, N, biasPtr);
    }
  } finally {
    if (scratch) backend.wasm._free(scratch);
  }
  return out;
}
