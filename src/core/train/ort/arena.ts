/**
 * One WebAssembly memory that holds every training buffer of the ONNX Runtime engine — the
 * parameters, their gradients and AdamW's m and v — so that ONNX Runtime reads the parameters
 * and writes the gradients there without a copy, and the project's SIMD AdamW kernel
 * (assembly/adam.ts, in dist/kernels.wasm) updates them in place: one pass over memory per
 * step instead of a JavaScript loop. The memory is sized once and never grows (growing would
 * detach every view). A wasm32 memory holds at most 4 GiB: a model whose buffers need more
 * (full fine-tuning past ~250 M parameters) gets plain Float32Arrays, and the same kernel updates
 * them chunk by chunk through a small memory of its own (a copy in and out per chunk, still
 * several times faster than the JavaScript loop). Without the kernel file: the JavaScript update.
 */
import * as fs from 'node:fs';
import { findKernelFile, writingSection } from '../../compute/adamKernel';
import type { AdamWAttrs } from '../../compute/adamKernel';

const PAGE = 64 * 1024;
const MAX_PAGES = 65536;

// The WebAssembly JS API as used here (the project's lib setting has no WebAssembly types).
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: unknown };
};

interface AdamKernel {
  adamW(
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    bc1: number,
    bc2: number,
    decay: number,
    clip: number,
  ): void;
}

export interface Arena {
  /** A zeroed buffer of n floats (aligned to 16 bytes). */
  alloc(n: number): Float32Array;
  /** p, m, v updated in place from g. */
  adamW(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, u: AdamWAttrs): void;
  /** 'wasm' (one memory, the SIMD kernel) or 'js' (separate arrays, a JavaScript loop), and why. */
  readonly kind: 'wasm' | 'js';
  readonly detail: string;
}

/** Floats per buffer in a chunked arena's staging memory (4 buffers: 16 MiB). */
const CHUNK_FLOATS = 1 << 20;

/** The kernel module's bytes, or why it cannot be used. */
function kernelCode(): Uint8Array | string {
  const file = findKernelFile();
  if (!file) return 'dist/kernels.wasm not found (run npm run build)';
  const code = fs.readFileSync(file);
  const section = writingSection(code);
  return section ? `${file} has a ${section} section` : code;
}

const instantiate = (code: Uint8Array, memory: { readonly buffer: ArrayBuffer }): AdamKernel => new WebAssembly.Instance(new WebAssembly.Module(code), { env: { memory } }).exports as AdamKernel;

/** An arena for `floats` floats in all (padded per buffer to 4 floats). */
export function createArena(floats: number, buffers: number): Arena {
  const bytes = (floats + 4 * buffers) * 4;
  const pages = Math.ceil(bytes / PAGE) + 1;
  const code = kernelCode();
  if (typeof code === 'string') return createJsArena(code);
  if (pages > MAX_PAGES) return createChunkedArena(code, `the buffers need ${(bytes / 1024 ** 3).toFixed(1)} GiB, more than one wasm memory holds`);
  let memory: { readonly buffer: ArrayBuffer };
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  } catch (err) {
    return createChunkedArena(code, `a ${(bytes / 1024 ** 3).toFixed(1)} GiB wasm memory could not be made (${(err as Error).message})`);
  }
  const kernel = instantiate(code, memory);
  let next = 16; // byte 0 stays unused: no buffer at address 0
  return {
    kind: 'wasm',
    detail: `${(bytes / 1024 ** 2).toFixed(0)} MiB in one wasm memory, SIMD AdamW`,
    alloc(n) {
      const view = new Float32Array(memory.buffer, next, n);
      next += Math.ceil((n * 4) / 16) * 16;
      if (next > memory.buffer.byteLength) throw new Error('arena: out of space (a sizing bug)');
      return view;
    },
    adamW(p, g, m, v, u) {
      kernel.adamW(p.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, p.byteOffset, m.byteOffset, v.byteOffset, p.length, u.lr, u.beta1, u.beta2, u.eps, u.bc1, u.bc2, u.decay, u.clip);
    },
  };
}

/**
 * Plain Float32Arrays, updated by the SIMD kernel `chunk` floats at a time: each chunk of p, g, m, v
 * is copied into a small wasm memory, updated there, and p, m, v copied back (`why`: why the
 * buffers do not live in one wasm memory). `code` defaults to the built kernel (tests pass small chunks).
 */
export function createChunkedArena(code: Uint8Array | undefined, why: string, chunk = CHUNK_FLOATS): Arena {
  const bytes = code ?? kernelCode();
  if (typeof bytes === 'string') return createJsArena(bytes);
  const pages = Math.ceil((4 * chunk * 4 + 64) / PAGE) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const kernel = instantiate(bytes, memory);
  const [P, G, M, V] = [0, 1, 2, 3].map((i) => new Float32Array(memory.buffer, 16 + i * chunk * 4, chunk)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  return {
    kind: 'wasm',
    detail: `${why}: plain arrays, SIMD AdamW over chunks of ${chunk} floats`,
    alloc: (n) => new Float32Array(n),
    adamW(p, g, m, v, u) {
      for (let s = 0; s < p.length; s += chunk) {
        const n = Math.min(chunk, p.length - s);
        P.set(p.subarray(s, s + n));
        G.set(g.subarray(s, s + n));
        M.set(m.subarray(s, s + n));
        V.set(v.subarray(s, s + n));
        kernel.adamW(P.byteOffset, G.byteOffset, M.byteOffset, V.byteOffset, P.byteOffset, M.byteOffset, V.byteOffset, n, u.lr, u.beta1, u.beta2, u.eps, u.bc1, u.bc2, u.decay, u.clip);
        p.set(P.subarray(0, n), s);
        m.set(M.subarray(0, n), s);
        v.set(V.subarray(0, n), s);
      }
    },
  };
}

/** Plain Float32Arrays and the JavaScript update (`why`: the reason, when a wasm arena was wanted). */
export function createJsArena(why = 'asked for'): Arena {
  return {
    kind: 'js',
    detail: `${why}: plain arrays, AdamW in JavaScript`,
    alloc: (n) => new Float32Array(n),
    adamW(p, g, m, v, u) {
      const { lr, beta1, beta2, eps, bc1, bc2, decay, clip } = u;
      for (let i = 0; i < p.length; i++) {
        const gi = (g[i] as number) * clip;
        const mi = beta1 * (m[i] as number) + (1 - beta1) * gi;
        const vi = beta2 * (v[i] as number) + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = (p[i] as number) * decay - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
      }
    },
  };
}
