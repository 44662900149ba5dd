// The project's WebAssembly kernel: AdamW with SIMD over the ONNX Runtime engine's arena
// (src/core/train/ort/arena.ts), built by scripts/build.mjs into dist/kernels.wasm.
export { adamW } from './adam';
