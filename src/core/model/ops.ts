/**
 * The tfjs ops the GPT-2 forward and every training stage are built from (the tfjs engine),
 * written so that training works on the wasm backend and is not needlessly slow there:
 *  - tfjs-wasm has no UnsortedSegmentSum, so tf.gather has no gradient there: `embedding`'s
 *    gradient is a one-hot matmul where the backend lacks it;
 *  - tfjs-wasm's matmul is 10–50× slower with a transposed operand, and tfjs's matMul gradient
 *    uses them: on wasm `matMulT` transposes explicitly instead;
 *  - wasm's Tanh is ~10× slower than its Sigmoid: `geluNew` uses x·σ(2z) (equal to
 *    0.5x(1+tanh z)); its Sum over axis 0 is slow too (`columnSum`);
 *  - `layerNorm` and `geluNew` have closed-form gradients: fewer ops than tfjs's chain rule.
 * Gradient functions use only their inputs and save()d tensors (tfjs's rule for customGrad).
 * The same code runs on every backend; on cpu it is checked against the plain tfjs ops.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; every op here is trained through.
import '@tensorflow/tfjs-core/dist/register_all_gradients';

type GradSave = (tensors: tf.Tensor[]) => void;
type Grad = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];

/** tf.customGrad with the inputs as an array and the save function apart (tfjs passes it last). */
function withGrad(f: (inputs: tf.Tensor[], save: GradSave) => { value: tf.Tensor; gradFunc: Grad }): (...inputs: tf.Tensor[]) => tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | GradSave>) => {
    const save = args[args.length - 1] as GradSave;
    return f(args.slice(0, -1) as tf.Tensor[], save);
  });
  return (...inputs) => op(...inputs);
}

/** Whether the current backend has kernel `name`. */
function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * 2-D transpose through a 4-D one: wasm's rank-2 Transpose kernel is ~2× slower than the
 * same permutation expressed with unit dims.
 */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  const [M, N] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [1, M, N, 1]), [0, 2, 1, 3]), [N, M]); // [N, M]
}

/** Whether tf.matMul's transpose flags are fast on the current backend: everywhere except tfjs-wasm. */
export function fastTransposedMatMul(): boolean {
  return !slowWasm();
}

/** tfjs-wasm: its transposed matmuls and axis-0 sums are the slow ones. */
function slowWasm(): boolean {
  return tf.getBackend() === 'wasm';
}

/** op(a)·op(b) for 2-D operands, op = transpose where asked: by flag where fast, else explicitly. */
export function matMulT(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  if (fastTransposedMatMul()) return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? transpose2d(a) : a, transposeB ? transpose2d(b) : b);
}

/** [N, C] column sums as a [C] vector. tfjs-wasm's Sum over axis 0 is slow, so there this is a matmul by ones. */
function columnSum(x: tf.Tensor2D): tf.Tensor1D {
  if (!slowWasm()) return tf.sum(x, 0);
  const ones = tf.ones([1, x.shape[0]]);
  return tf.reshape(tf.matMul(ones, x), [x.shape[1]]); // [C]
}

const matMulImpl = withGrad(([a, b], save) => {
  save([a!, b!]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy, saved) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [matMulT(dy as tf.Tensor2D, sb, false, true), matMulT(sa, dy as tf.Tensor2D, true, false)];
    },
  };
});

/** a [M, K] · b [K, N] → [M, N], with a gradient that never asks for a transposed matmul. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulImpl(a, b) as tf.Tensor2D;
}

const matMulBTImpl = withGrad(([a, b], save) => {
  save([a!, b!]);
  return {
    value: matMulT(a as tf.Tensor2D, b as tf.Tensor2D, false, true),
    gradFunc: (dy, saved) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, sb), matMulT(dy as tf.Tensor2D, sa, true, false)];
    },
  };
});

/** a [M, K] · bᵀ for b [N, K] → [M, N] (the tied LM head: hidden · wteᵀ), gradients without transposes of their own. */
export function matMulBT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulBTImpl(a, b) as tf.Tensor2D;
}

const linearImpl = withGrad(([x, w, b], save) => {
  save([x!, w!]);
  return {
    value: tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b! }),
    gradFunc: (dy, saved) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [matMulT(g, sw, false, true), matMulT(sx, g, true, false), columnSum(g)];
    },
  };
});

/** HF Conv1D: x [N, in] · w [in, out] + b [out] → [N, out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return linearImpl(x, w, b) as tf.Tensor2D;
}

const embeddingImpl = withGrad(([table, ids], save) => {
  save([ids!]);
  const vocab = table!.shape[0] as number;
  return {
    value: tf.gather(table!, ids!),
    gradFunc: (dy, saved) => {
      const [sids] = saved as [tf.Tensor1D];
      // Row sums per id; tfjs-wasm has no UnsortedSegmentSum: there oneHotᵀ·dy.
      const dTable = hasKernel(tf.UnsortedSegmentSum) ? tf.unsortedSegmentSum(dy, sids, vocab) : matMulT(tf.oneHot(sids, vocab) as tf.Tensor2D, dy as tf.Tensor2D, true, false); // [V, C]
      return [dTable, tf.zerosLike(sids)];
    },
  };
});

/** Rows of table [V, C] at ids [N] (int32) → [N, C]; differentiable in the table on every backend. */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  return embeddingImpl(table, ids) as tf.Tensor2D;
}

/**
 * x [B·T, C] plus position rows start … start+T−1 of wpe [P, C], the same for each of the B
 * sequences. The common case (no padding, no explicit positions) needs no gather and no Tile
 * (slow on wasm): a broadcast add; the gradient to wpe is a sum over the batch
 * padded back to [P, C].
 */
export function addPositionEmbedding(x: tf.Tensor2D, wpe: tf.Tensor2D, start: number, B: number, T: number): tf.Tensor2D {
  const [P, C] = wpe.shape;
  const op = withGrad(([xs, table]) => ({
    value: tf.reshape(tf.add(tf.reshape(xs!, [B, T, C]), tf.slice(table!, [start, 0], [T, C])), [B * T, C]), // [B·T, C]
    gradFunc: (dy) => {
      const summed = columnSum(tf.reshape(dy, [B, T * C]) as tf.Tensor2D); // [T·C]
      return [
        dy,
        tf.pad(tf.reshape(summed, [T, C]), [
          [start, P - start - T],
          [0, 0],
        ]),
      ]; // [B·T, C], [P, C]
    },
  }));
  return op(x, wpe) as tf.Tensor2D;
}

const layerNormImpl = (eps: number) =>
  withGrad(([x, weight, bias], save) => {
    const xc = tf.sub(x!, tf.mean(x!, -1, true)); // [N, C]
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), eps)); // [N, 1]
    const xhat = tf.mul(xc, rstd);
    save([xhat, rstd, weight!]);
    return {
      value: tf.add(tf.mul(xhat, weight!), bias!),
      gradFunc: (dy, saved) => {
        const [sxhat, srstd, sw] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const g = dy as tf.Tensor2D;
        const dxhat = tf.mul(g, sw); // [N, C]
        // dx = rstd · (dxhat − mean(dxhat) − xhat · mean(dxhat · xhat)), row-wise.
        const dx = tf.mul(srstd, tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(sxhat, tf.mean(tf.mul(dxhat, sxhat), -1, true))));
        return [dx, columnSum(tf.mul(g, sxhat) as tf.Tensor2D), columnSum(g)];
      },
    };
  });

const layerNormByEps = new Map<number, ReturnType<typeof layerNormImpl>>();

/**
 * LayerNorm over the last axis, as torch.nn.LayerNorm (biased variance), x [N, C]. Its own
 * gradient: tfjs's would reduce over axis 0 (slow on wasm) and go through broadcasts.
 */
export function layerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  let op = layerNormByEps.get(eps);
  if (!op) layerNormByEps.set(eps, (op = layerNormImpl(eps)));
  return op(x, weight, bias) as tf.Tensor2D;
}

const GELU_C = Math.sqrt(2 / Math.PI);

const GELU_K = 0.044715;

const geluNewImpl = withGrad(([x], save) => {
  const xx = tf.mul(x!, x!);
  const z2 = tf.mul(tf.mul(x!, tf.add(tf.mul(xx, GELU_K), 1)), 2 * GELU_C); // 2z = 2c(x + k·x³)
  const s = tf.sigmoid(z2);
  save([x!, xx, s]);
  return {
    value: tf.mul(x!, s),
    gradFunc: (dy, saved) => {
      const [sx, sxx, ss] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      // d/dx [x·σ(2z)] = σ + x·σ(1−σ)·2c(1 + 3k·x²)
      const dz2 = tf.mul(tf.add(tf.mul(sxx, 3 * GELU_K), 1), 2 * GELU_C);
      const slope = tf.add(ss, tf.mul(tf.mul(sx, tf.mul(ss, tf.sub(1, ss))), dz2));
      return [tf.mul(dy, slope)];
    },
  };
});

/**
 * GPT-2's gelu_new, 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), computed as x·σ(2z): the same
 * function (0.5(1 + tanh z) = σ(2z)) without wasm's slow Tanh or pow, and with a closed-form
 * gradient instead of a chain of elementwise ops.
 */
export function geluNew(x: tf.Tensor): tf.Tensor {
  return geluNewImpl(x);
}

/** log σ(x) as −softplus(−x): tf.logSigmoid's gradient crashes on non-leaf inputs. */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/**
 * log p(target) for each row of logits [N, V] at targets [N] (int32) → [N], through a stable
 * log-softmax. The pick is a one-hot product, so it has a gradient on wasm too.
 */
export function tokenLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const logp = tf.logSoftmax(logits); // [N, V]
  const pick = tf.oneHot(targets, logits.shape[1]); // [N, V]
  return tf.sum(tf.mul(logp, pick), -1) as tf.Tensor1D;
}

/** Mean of x over the positions where mask is 1 (same shapes); 0 when the mask is empty. */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const m = tf.cast(mask, 'float32');
  return tf.div(tf.sum(tf.mul(x, m)), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
}

/** Next-token cross-entropy, mean over rows where mask is 1: logits [N, V], targets [N], mask [N]. */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, mask?: tf.Tensor1D): tf.Scalar {
  const lp = tokenLogProbs(logits, targets);
  return tf.neg(mask ? maskedMean(lp, mask) : tf.mean(lp)) as tf.Scalar;
}
