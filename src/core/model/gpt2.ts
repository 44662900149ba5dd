/**
 * GPT-2 in tfjs ops, the forward a pure function of a params object whose keys and layouts
 * are exactly Hugging Face's GPT2Model (`parameterShapes`), so a checkpoint maps 1:1. The LM
 * head is tied to `wte`. Optional heads: TRL's value head and GPT2ForSequenceClassification's
 * scalar score (see heads.ts). Ops come from ops.ts, which keeps training fast on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { headDim } from './config';
import type { GPT2Config } from './config';
import type { Weights } from './checkpoint';
import { initWeights } from './init';
import type { NamedTensor } from './safetensors';
import { attend } from './attention';
import { embedding, geluNew, layerNorm, linear, matMul, matMulBT, addPositionEmbedding } from './ops';

/** Tensors keyed by HF names (`wte.weight`, `h.0.attn.c_attn.weight`, … and optional head names). */
export type Params = Record<string, tf.Tensor>;

// Output types are type aliases (not interfaces) so tf.tidy can return them as TensorContainers.
/** One layer's cached keys and values, [B, H, T_past, D] each (HF's layout). */
export type LayerKV = { readonly k: tf.Tensor4D; readonly v: tf.Tensor4D };
/** One entry per layer. The caller owns it: dispose with `disposeCache` when replaced. */
export type KVCache = LayerKV[];

export interface ForwardInput {
  /** Token ids [B, T], int32. */
  readonly ids: tf.Tensor2D;
  /** [B, T_past + T]: 1 = real token, 0 = padding (left padding for batched prompts). Default: all real. */
  readonly attentionMask?: tf.Tensor2D;
  /** [B, T] int32. Default: count of real tokens before each position (HF generate's rule), else past + arange(T). */
  readonly positionIds?: tf.Tensor2D;
  /** Keys/values of earlier positions; not disposed here. */
  readonly past?: KVCache;
  /** Compute logits [B, T, V] (default true); reward and value passes only need hidden states. */
  readonly logits?: boolean;
  /** Return the updated cache (default false). */
  readonly cache?: boolean;
  /**
   * wteᵀ [C, V], computed once by a caller that runs many inference forwards (the sampler), so
   * each step skips the transpose. Gradients do not reach wte through it: never pass it when training.
   */
  readonly wteT?: tf.Tensor2D;
}

export type ForwardOutput = {
  /** Final hidden states after ln_f, [B, T, C]. */
  readonly hidden: tf.Tensor3D;
  /** hidden · wteᵀ, [B, T, V]; absent when `logits: false`. */
  readonly logits?: tf.Tensor3D;
  /** past + this call's keys/values; present when `cache: true`. */
  readonly present?: KVCache;
};

/** Large negative added to masked attention scores: exp() underflows to exactly 0, no NaN on all-masked rows. */
const MASKED = -1e9;

/**
 * The GPT-2 forward. Pure: reads params, returns new tensors. Call it inside tf.tidy (or keep
 * the outputs and dispose them); the returned cache survives a tidy only if returned from it.
 */
export function forward(params: Params, config: GPT2Config, input: ForwardInput): ForwardOutput {
  const [B, T] = input.ids.shape;
  const C = config.n_embd;
  const H = config.n_head;
  const D = headDim(config);
  const pastLen = input.past?.[0]?.k.shape[2] ?? 0;
  const Tk = pastLen + T;
  if (Tk > config.n_positions) throw new Error(`forward: ${Tk} positions exceed n_positions ${config.n_positions}`);
  const p = (name: string): tf.Tensor => {
    const t = params[name];
    if (!t) throw new Error(`forward: parameter '${name}' is missing`);
    return t;
  };

  const tok = embedding(p('wte.weight') as tf.Tensor2D, tf.reshape(input.ids, [B * T]) as tf.Tensor1D); // [N, C]
  const wpe = p('wpe.weight') as tf.Tensor2D;
  // Without padding or explicit positions every row is at past + arange(T): no gather needed.
  let x =
    !input.positionIds && !input.attentionMask
      ? addPositionEmbedding(tok, wpe, pastLen, B, T)
      : (tf.add(tok, embedding(wpe, tf.reshape(input.positionIds ?? maskedPositions(B, T, pastLen, input.attentionMask!), [B * T]) as tf.Tensor1D)) as tf.Tensor2D); // [N, C], N = B·T
  const bias = attentionBias(B, T, pastLen, input.attentionMask); // [B, 1, T, Tk]
  const scale = config.scale_attn_weights ? 1 / Math.sqrt(D) : 1;
  const present: LayerKV[] = [];
  const toHeads = (t: tf.Tensor): tf.Tensor4D => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]); // [B, H, T, D]

  for (let i = 0; i < config.n_layer; i++) {
    const l = `h.${i}.`;
    const h1 = layerNorm(x, p(`${l}ln_1.weight`) as tf.Tensor1D, p(`${l}ln_1.bias`) as tf.Tensor1D, config.layer_norm_epsilon);
    const qkv = linear(h1, p(`${l}attn.c_attn.weight`) as tf.Tensor2D, p(`${l}attn.c_attn.bias`) as tf.Tensor1D); // [N, 3C]
    const [q2, k2, v2] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]; // 3 × [N, C]
    const q = toHeads(tf.mul(q2, scale)); // [B, H, T, D]
    let k = toHeads(k2);
    let v = toHeads(v2);
    const past = input.past?.[i];
    if (past) {
      k = tf.concat([past.k, k], 2); // [B, H, Tk, D]
      v = tf.concat([past.v, v], 2);
    }
    if (input.cache) present.push({ k, v });
    const y = attend(q, k, v, bias); // [B, H, T, D]
    const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D; // [N, C]
    x = tf.add(x, linear(merged, p(`${l}attn.c_proj.weight`) as tf.Tensor2D, p(`${l}attn.c_proj.bias`) as tf.Tensor1D));
    const h2 = layerNorm(x, p(`${l}ln_2.weight`) as tf.Tensor1D, p(`${l}ln_2.bias`) as tf.Tensor1D, config.layer_norm_epsilon);
    const up = geluNew(linear(h2, p(`${l}mlp.c_fc.weight`) as tf.Tensor2D, p(`${l}mlp.c_fc.bias`) as tf.Tensor1D)) as tf.Tensor2D; // [N, F]
    x = tf.add(x, linear(up, p(`${l}mlp.c_proj.weight`) as tf.Tensor2D, p(`${l}mlp.c_proj.bias`) as tf.Tensor1D));
  }

  const hidden2 = layerNorm(x, p('ln_f.weight') as tf.Tensor1D, p('ln_f.bias') as tf.Tensor1D, config.layer_norm_epsilon); // [N, C]
  const hidden = tf.reshape(hidden2, [B, T, C]) as tf.Tensor3D; // [B, T, C]
  const out: { hidden: tf.Tensor3D; logits?: tf.Tensor3D; present?: KVCache } = { hidden };
  if (input.logits !== false) {
    // Tied head: hidden · wteᵀ, or hidden · wteT when the caller transposed wte once.
    const logits2 = input.wteT ? matMul(hidden2, input.wteT) : matMulBT(hidden2, p('wte.weight') as tf.Tensor2D); // [N, V]
    out.logits = tf.reshape(logits2, [B, T, config.vocab_size]) as tf.Tensor3D; // [B, T, V]
  }
  if (input.cache) out.present = present;
  return out;
}

/** Positions as HF generate computes them from the mask: real tokens counted from 0, padding at 0. */
function maskedPositions(B: number, T: number, pastLen: number, mask: tf.Tensor2D): tf.Tensor2D {
  const counted = tf.maximum(tf.sub(tf.cumsum(tf.cast(mask, 'float32'), 1), 1), 0); // [B, Tk]
  return tf.cast(tf.slice(counted, [0, pastLen], [B, T]), 'int32') as tf.Tensor2D; // [B, T]
}

/** Additive attention bias [B, 1, T, Tk]: causal (query i sees keys ≤ past + i) and padding. */
function attentionBias(B: number, T: number, pastLen: number, mask: tf.Tensor2D | undefined): tf.Tensor4D {
  const Tk = pastLen + T;
  const causal = new Float32Array(T * Tk);
  for (let i = 0; i < T; i++) for (let j = pastLen + i + 1; j < Tk; j++) causal[i * Tk + j] = MASKED;
  const causal4 = tf.tensor4d(causal, [1, 1, T, Tk]);
  if (!mask) return causal4;
  const pad = tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASKED); // [B, Tk]
  return tf.add(causal4, tf.reshape(pad, [B, 1, 1, Tk])) as tf.Tensor4D; // [B, 1, T, Tk]
}

export function disposeCache(cache: KVCache | undefined): void {
  if (!cache) return;
  for (const { k, v } of cache) tf.dispose([k, v]);
}

/**
 * Fresh GPT-2 parameters as trainable tf.Variables: init.ts's initialisation (the same seed gives
 * the same weights on either engine). Dispose with tf.dispose(Object.values(p)).
 */
export function initParams(config: GPT2Config, seed: number): Record<string, tf.Variable> {
  return variables(initWeights(config, seed));
}

/** Trainable variables of plain weights (copied). */
export function variables(weights: ReadonlyMap<string, NamedTensor>): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const [name, w] of weights) {
    const t = tf.tensor(w.data, [...w.shape], 'float32');
    out[name] = tf.variable(t);
    t.dispose(); // the variable holds its own reference to the data
  }
  return out;
}

/** Checkpoint weights → Params (new tensors; the caller disposes them). */
export function weightsToParams(weights: ReadonlyMap<string, NamedTensor>): Params {
  const params: Params = {};
  for (const [name, t] of weights) params[name] = tf.tensor(t.data, [...t.shape], 'float32');
  return params;
}

/** Params (or tf.Variables) → checkpoint weights, read back from the backend. */
export async function paramsToWeights(params: Readonly<Record<string, tf.Tensor>>): Promise<Weights> {
  const weights: Weights = new Map();
  for (const [name, t] of Object.entries(params)) weights.set(name, { shape: t.shape, data: Float32Array.from(await t.data()) });
  return weights;
}
