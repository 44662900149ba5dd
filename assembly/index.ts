// The WebAssembly kernels the tfjs wasm backend runs with (src/core/compute/wasmKernels.ts).
export { gemm, pack } from './matmul';
export { gatherRows, scatterAddRows, sumRows, addArrays, mulArrays, softmaxGrad } from './rows';
export { expArray } from './exp';
export { adamW, sumSquares } from './adam';
export { copyRows, swapMiddle } from './copy';
export { tokenLogProbs, tokenLogProbsGrad } from './xent';
export { layerNorm, layerNormGrad, gelu, geluGrad } from './norm';
