/**
 * Fused model kernels of our own for the tfjs wasm backend (assembly/xent.ts, assembly/norm.ts),
 * registered by wasmKernels.ts under the names below. No tfjs op has them: src/core/model/ops.ts
 * runs them with tf.engine().runKernel where tf.getKernel(name, backend) finds them, inside a
 * customGrad, and falls back to plain tfjs ops elsewhere (cpu, tfjs-wasm without our module).
 * Each replaces a chain of ~10 elementwise and reduction ops (each a dispatch, an allocation
 * and a pass over memory) by one pass.
 *
 *  TOKEN_LOGPROBS       {logits [N, V], targets [N] int32}        → [logp [N], lse [N]]
 *  TOKEN_LOGPROBS_GRAD  {logits, targets, lse, dy [N]}            → dlogits [N, V]
 *  LAYER_NORM           {x [N, C], weight [C], bias [C]}, {eps}   → [y [N, C], mean [N], rstd [N]]
 *  LAYER_NORM_GRAD      {x, mean, rstd, weight, dy [N, C]}        → [dx [N, C], dweight [C], dbias [C]]
 *  GELU                 {x}                                       → gelu_new(x)
 *  GELU_GRAD            {x, dy}                                   → dy · gelu_new′(x)
 *  SOFTMAX_GRAD         {probs [.., C], dprobs [.., C]}           → probs ⊙ (dprobs − Σ_C dprobs ⊙ probs)
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { Ours } from './wasmKernels';
import { offset, size } from './wasmHeap';

export const TOKEN_LOGPROBS_KERNEL = 'RlhfTokenLogProbs';
export const TOKEN_LOGPROBS_GRAD_KERNEL = 'RlhfTokenLogProbsGrad';
export const LAYER_NORM_KERNEL = 'RlhfLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'RlhfLayerNormGrad';
export const GELU_KERNEL = 'RlhfGelu';
export const GELU_GRAD_KERNEL = 'RlhfGeluGrad';
export const SOFTMAX_GRAD_KERNEL = 'RlhfSoftmaxGrad';

type Inputs<K extends string> = Record<K, tfTypes.TensorInfo>;

/** Throws unless every tensor has the dtype and shape expected (our own callers pass them right). */
function expect(kernel: string, checks: [tfTypes.TensorInfo, 'float32' | 'int32', readonly number[]][]): void {
  for (const [t, dtype, shape] of checks) {
    if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${kernel}: expected ${dtype} [${shape}], got ${t.dtype} [${t.shape}]`);
    }
  }
}

const tokenLogProbs: Ours = (kernels, backend, args) => {
  const { logits, targets } = args.inputs as Inputs<'logits' | 'targets'>;
  const [N, V] = logits.shape as [number, number];
  expect(TOKEN_LOGPROBS_KERNEL, [
    [logits, 'float32', [N, V]],
    [targets, 'int32', [N]],
  ]);
  const logp = backend.makeOutput([N], 'float32');
  const lse = backend.makeOutput([N], 'float32');
  kernels.tokenLogProbs(offset(backend, logits), offset(backend, targets), offset(backend, logp), offset(backend, lse), N, V);
  return [logp, lse];
};

const tokenLogProbsGrad: Ours = (kernels, backend, args) => {
  const { logits, targets, lse, dy } = args.inputs as Inputs<'logits' | 'targets' | 'lse' | 'dy'>;
  const [N, V] = logits.shape as [number, number];
  expect(TOKEN_LOGPROBS_GRAD_KERNEL, [
    [logits, 'float32', [N, V]],
    [targets, 'int32', [N]],
    [lse, 'float32', [N]],
    [dy, 'float32', [N]],
  ]);
  const dlogits = backend.makeOutput([N, V], 'float32');
  kernels.tokenLogProbsGrad(offset(backend, logits), offset(backend, targets), offset(backend, lse), offset(backend, dy), offset(backend, dlogits), N, V);
  return dlogits;
};

const layerNorm: Ours = (kernels, backend, args) => {
  const { x, weight, bias } = args.inputs as Inputs<'x' | 'weight' | 'bias'>;
  const { eps } = args.attrs as unknown as { eps: number };
  const [N, C] = x.shape as [number, number];
  expect(LAYER_NORM_KERNEL, [
    [x, 'float32', [N, C]],
    [weight, 'float32', [C]],
    [bias, 'float32', [C]],
  ]);
  const y = backend.makeOutput([N, C], 'float32');
  const mean = backend.makeOutput([N], 'float32');
  const rstd = backend.makeOutput([N], 'float32');
  kernels.layerNorm(offset(backend, x), offset(backend, weight), offset(backend, bias), offset(backend, y), offset(backend, mean), offset(backend, rstd), N, C, eps);
  return [y, mean, rstd];
};

const layerNormGrad: Ours = (kernels, backend, args) => {
  const { x, mean, rstd, weight, dy } = args.inputs as Inputs<'x' | 'mean' | 'rstd' | 'weight' | 'dy'>;
  const [N, C] = x.shape as [number, number];
  expect(LAYER_NORM_GRAD_KERNEL, [
    [x, 'float32', [N, C]],
    [mean, 'float32', [N]],
    [rstd, 'float32', [N]],
    [weight, 'float32', [C]],
    [dy, 'float32', [N, C]],
  ]);
  const [dx, dw, db] = [[N, C], [C], [C]].map((shape) => backend.makeOutput(shape, 'float32')) as [tfTypes.TensorInfo, tfTypes.TensorInfo, tfTypes.TensorInfo];
  kernels.layerNormGrad(
    offset(backend, x),
    offset(backend, mean),
    offset(backend, rstd),
    offset(backend, weight),
    offset(backend, dy),
    offset(backend, dx),
    offset(backend, dw),
    offset(backend, db),
    N,
    C,
  );
  return [dx, dw, db];
};

const gelu: Ours = (kernels, backend, args) => {
  const { x } = args.inputs as Inputs<'x'>;
  expect(GELU_KERNEL, [[x, 'float32', x.shape]]);
  const y = backend.makeOutput([...x.shape], 'float32');
  kernels.gelu(offset(backend, x), offset(backend, y), size(x.shape));
  return y;
};

const geluGrad: Ours = (kernels, backend, args) => {
  const { x, dy } = args.inputs as Inputs<'x' | 'dy'>;
  expect(GELU_GRAD_KERNEL, [
    [x, 'float32', x.shape],
    [dy, 'float32', x.shape],
  ]);
  const dx = backend.makeOutput([...x.shape], 'float32');
  kernels.geluGrad(offset(backend, x), offset(backend, dy), offset(backend, dx), size(x.shape));
  return dx;
};

const softmaxGrad: Ours = (kernels, backend, args) => {
  const { probs, dprobs } = args.inputs as Inputs<'probs' | 'dprobs'>;
  expect(SOFTMAX_GRAD_KERNEL, [
    [probs, 'float32', probs.shape],
    [dprobs, 'float32', probs.shape],
  ]);
  const C = probs.shape[probs.shape.length - 1] ?? 1;
  const ds = backend.makeOutput([...probs.shape], 'float32');
  kernels.softmaxGrad(offset(backend, probs), offset(backend, dprobs), offset(backend, ds), size(probs.shape) / C, C);
  return ds;
};

/** Our kernel name → its implementation, for the wasm backend. */
export const MODEL_KERNELS: Record<string, Ours> = {
  [TOKEN_LOGPROBS_KERNEL]: tokenLogProbs,
  [TOKEN_LOGPROBS_GRAD_KERNEL]: tokenLogProbsGrad,
  [LAYER_NORM_KERNEL]: layerNorm,
  [LAYER_NORM_GRAD_KERNEL]: layerNormGrad,
  [GELU_KERNEL]: gelu,
  [GELU_GRAD_KERNEL]: geluGrad,
  [SOFTMAX_GRAD_KERNEL]: softmaxGrad,
};
