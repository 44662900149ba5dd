/**
 * Scaled-dot-product attention core, softmax(q·kᵀ + bias)·v over all heads, with its own
 * gradient: the softmax backward is one row-wise formula instead of tfjs's op-by-op chain.
 * Every product is a batched matmul over the B·H heads. Transposed operands are passed by flag,
 * except on tfjs-wasm, whose kernel is 10–50× slower on them: there each transpose is explicit.
 * Measured and rejected: one 2-D matmul per head on sliced row blocks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fastTransposedMatMul } from './ops';

/** op(a_g)·op(b_g) for each of the G matrices of a [G, ·, ·] and b [G, ·, ·]. */
function batchMatMul(a: tf.Tensor3D, b: tf.Tensor3D, transposeA: boolean, transposeB: boolean): tf.Tensor3D {
  if (fastTransposedMatMul()) return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
}

/** [G, R, S] → [G, S, R]. */
function swapLast(x: tf.Tensor3D): tf.Tensor3D {
  return tf.transpose(x, [0, 2, 1]);
}

type GradSave = (tensors: tf.Tensor[]) => void;

const attendOp = tf.customGrad((...args: Array<tf.Tensor | GradSave>) => {
  const [q, k, v, bias] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const save = args[4] as GradSave;
  const [B, H, T, D] = q.shape;
  const Tk = k.shape[2];
  const G = B * H;
  const q3 = tf.reshape(q, [G, T, D]) as tf.Tensor3D;
  const k3 = tf.reshape(k, [G, Tk, D]) as tf.Tensor3D;
  const v3 = tf.reshape(v, [G, Tk, D]) as tf.Tensor3D;
  const scores = batchMatMul(q3, k3, false, true); // [G, T, Tk]
  const probs = tf.softmax(tf.add(tf.reshape(scores, [B, H, T, Tk]), bias)) as tf.Tensor4D; // [B, H, T, Tk]
  const y = batchMatMul(tf.reshape(probs, [G, T, Tk]) as tf.Tensor3D, v3, false, false); // [G, T, D]
  save([q3, k3, v3, probs, bias]);
  return {
    value: tf.reshape(y, [B, H, T, D]),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sq, sk, sv, sp, sbias] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor4D, tf.Tensor4D];
      const dy3 = tf.reshape(dy, [G, T, D]) as tf.Tensor3D; // [G, T, D]
      const p3 = tf.reshape(sp, [G, T, Tk]) as tf.Tensor3D; // [G, T, Tk]
      const dp = batchMatMul(dy3, sv, false, true); // [G, T, Tk]
      const dv = batchMatMul(p3, dy3, true, false); // [G, Tk, D]
      // Softmax backward, row-wise: dS = P ⊙ (dP − Σ dP⊙P).
      const ds = tf.mul(p3, tf.sub(dp, tf.sum(tf.mul(dp, p3), -1, true))) as tf.Tensor3D; // [G, T, Tk]
      const dq = batchMatMul(ds, sk, false, false); // [G, T, D]
      const dk = batchMatMul(ds, sq, true, false); // [G, Tk, D]
      return [tf.reshape(dq, [B, H, T, D]), tf.reshape(dk, [B, H, Tk, D]), tf.reshape(dv, [B, H, Tk, D]), tf.zerosLike(sbias)];
    },
  };
});

/**
 * softmax(q·kᵀ + bias)·v. q [B, H, T, D] (already scaled), k and v [B, H, Tk, D], bias
 * broadcastable to [B, H, T, Tk] (0 where allowed, a large negative where masked) → [B, H, T, D].
 * Differentiable in q, k and v.
 */
export function attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D): tf.Tensor4D {
  return attendOp(q, k, v, bias) as tf.Tensor4D;
}
