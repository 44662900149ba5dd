/**
 * Where a tensor lives in tfjs-wasm's heap, and how big it is: the pointer, size and byte
 * arithmetic every kernel of ours (wasmKernels.ts, wasmLayoutKernels.ts, wasmModelKernels.ts)
 * uses to hand operands to the module. Pointers are byte offsets into the heap; our kernels
 * take f32 (or i32) elements, 4 bytes each.
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { WasmBackendView } from './wasmKernels';

/** Bytes per element of the f32 and i32 tensors our kernels take. */
const ELEMENT_BYTES = 4;

/** The heap byte offset of a tensor's data. */
export const offset = (backend: WasmBackendView, t: tfTypes.TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset;

/** The number of elements of a shape (1 for a scalar). */
export const size = (shape: readonly number[]): number => shape.reduce((p, x) => p * x, 1);

/** The bytes taken by n elements. */
export const bytes = (n: number): number => n * ELEMENT_BYTES;

/** The pointer to element i of the array at ptr. */
export const elementPtr = (ptr: number, i: number): number => ptr + bytes(i);

/** A tensor's int32 data as a view of the heap (valid until the next allocation). */
export function heapInt32(backend: WasmBackendView, t: tfTypes.TensorInfo): Int32Array {
  return new Int32Array(backend.wasm.HEAPU8.buffer, offset(backend, t), size(t.shape));
}
