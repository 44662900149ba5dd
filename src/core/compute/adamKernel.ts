/**
 * The project's one WebAssembly kernel: AdamW over f32 buffers with SIMD (assembly/adam.ts,
 * built into dist/kernels.wasm by scripts/build.mjs), which the ONNX Runtime engine's arena
 * (train/ort/arena.ts) runs on its parameters in place. Here: its settings, and where the built
 * module is and whether it is safe to instantiate over memory the arena owns.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One AdamW update's factors (optim.ts's adamwFactors), as the kernel takes them. */
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
 * data count, global, start), or undefined. scripts/build.mjs refuses such a module (it would
 * write into the arena's buffers); this re-checks whatever file is found at run time.
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
