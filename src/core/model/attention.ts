/**
 * Scaled-dot-product attention core, softmax(q·kᵀ + bias)·v over all heads, with its own
 * gradient: tfjs's would ask for transposed matmul operands (10–50× slower on wasm) and
 * differentiate softmax op by op; here every transpose is explicit and the softmax backward
 * is one row-wise formula.
 * Measured and rejected: one 2-D matmul per head on sliced row blocks. wasm's 2-D MatMul is
 * ~7× faster than its batched one, but 3·B·H extra ops cost more than that saves here.
 */
import * as tf from '@tensorflow/tfjs-core';

/** G independent products a_g [M, K] · b_g [K, N], the g-th row blocks of a [G·M, K] and b [G·K, N] → [G·M, N]. */
function groupMatMul(a: tf.Tensor2D, b: tf.Tensor2D, G: number, M: number, K: number, N: number): tf.Tensor2D {
  const out = tf.matMul(tf.reshape(a, [G, M, K]) as tf.Tensor3D, tf.reshape(b, [G, K, N]) as tf.Tensor3D); // [G, M, N]
  return tf.reshape(out, [G * M, N]);
}

/** [B, H, R, S] → [B·H·S, R]: each head's matrix transposed, stacked as row blocks. */
function headsTransposed(x: tf.Tensor4D): tf.Tensor2D {
  const [B, H, R, S] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 1, 3, 2]), [B * H * S, R]); // [G·S, R]
}

type GradSave = (tensors: tf.Tensor[]) => void;

const attendOp = tf.customGrad((...args: Array<tf.Tensor | GradSave>) => {
  const [q, k, v, bias] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const save = args[4] as GradSave;
  const [B, H, T, D] = q.shape;
  const Tk = k.shape[2];
  const G = B * H;
  const scores = groupMatMul(tf.reshape(q, [G * T, D]), headsTransposed(k), G, T, D, Tk); // [G·T, Tk]
  const probs = tf.softmax(tf.add(tf.reshape(scores, [B, H, T, Tk]), bias)) as tf.Tensor4D; // [B, H, T, Tk]
  const y = groupMatMul(tf.reshape(probs, [G * T, Tk]), tf.reshape(v, [G * Tk, D]), G, T, Tk, D); // [G·T, D]
  save([q, k, v, probs, bias]);
  return {
    value: tf.reshape(y, [B, H, T, D]),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sq, sk, sv, sp, sbias] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const dy2 = tf.reshape(dy, [G * T, D]) as tf.Tensor2D; // [G·T, D]
      const p2 = tf.reshape(sp, [G * T, Tk]) as tf.Tensor2D; // [G·T, Tk]
      const dp = groupMatMul(dy2, headsTransposed(sv), G, T, D, Tk); // [G·T, Tk]
      const dv = groupMatMul(headsTransposed(sp), dy2, G, Tk, T, D); // [G·Tk, D]
      // Softmax backward, row-wise: dS = P ⊙ (dP − Σ dP⊙P).
      const ds = tf.mul(p2, tf.sub(dp, tf.sum(tf.mul(dp, p2), -1, true))) as tf.Tensor2D; // [G·T, Tk]
      const dq = groupMatMul(ds, tf.reshape(sk, [G * Tk, D]), G, T, Tk, D); // [G·T, D]
      const dk = groupMatMul(headsTransposed(tf.reshape(ds, [B, H, T, Tk])), tf.reshape(sq, [G * T, D]), G, Tk, T, D); // [G·Tk, D]
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
