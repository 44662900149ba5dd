/**
 * The GPT-2 forward as an ONNX graph with a KV cache (opset 17, LayerNormalization), built
 * from a config and the current weights, named as Hugging Face Optimum names its exports:
 *
 *   inputs   input_ids [B, T] int64, attention_mask [B, P+T] int64, position_ids [B, T] int64,
 *            past_key_values.{i}.key / .value [B, H, P, D] float32 (P may be 0)
 *   outputs  logits [B, T, V] (or [B, 1, V], see GraphOptions), present.{i}.key / .value [B, H, P+T, D]
 *
 * Math matches gpt2.ts: causal + padding mask as a −1e9 additive bias, gelu_new (tanh form,
 * which ORT fuses), tied LM head. Initializers carry the HF parameter names; note that the
 * query columns of each `attn.c_attn` weight and bias are stored pre-scaled by 1/sqrt(D).
 *
 * With `fused` (the sampler's sessions), the same math goes through ONNX Runtime's contrib
 * ops instead: one MultiHeadAttention per layer (bias, head split, cache concat, causal and
 * padding masks from `unidirectional` and the int32 attention_mask, scaled softmax and merge in
 * one node, writing the present.* outputs directly), SkipLayerNormalization
 * for each residual add + LayerNorm, FastGelu for gelu_new with its bias. About 15 nodes
 * instead of 90 for a 6-layer model, which is most of a decode step's overhead.
 */
import type { GPT2Config } from '../model/config';
import { headDim, innerDim } from '../model/config';
import type { NamedTensor } from '../model/safetensors';
import { UserError } from '../errors';
import { GraphBuilder } from './graphBuilder';

/** Large negative added to masked scores; exp() underflows to 0 without NaN on all-masked rows. */
const MASKED = -1e9;
/** Serialized protobufs cannot exceed 2 GiB; stay clear of it. */
const MAX_WEIGHT_BYTES = 1.8 * 1024 ** 3;

export const pastKeyName = (layer: number): string => `past_key_values.${layer}.key`;
export const pastValueName = (layer: number): string => `past_key_values.${layer}.value`;
export const presentKeyName = (layer: number): string => `present.${layer}.key`;
export const presentValueName = (layer: number): string => `present.${layer}.value`;

export interface GraphOptions {
  /**
   * 'all' (default, the exported graph): logits [B, T, V]. 'last': logits [B, 1, V] for the
   * last position only, what sampling needs; it skips a T×C×V matmul in the prefill.
   */
  readonly logits?: 'all' | 'last';
  /**
   * Use ONNX Runtime's contrib ops (com.microsoft MultiHeadAttention with the KV cache,
   * SkipLayerNormalization, FastGelu): far fewer nodes per decode step, so sampling is faster,
   * but only ONNX Runtime runs the graph. The sampler's sessions use it; the export does not.
   */
  readonly fused?: boolean;
}

/** ONNX bytes of the GPT-2 LM with KV cache. `weights` are keyed by GPT2Model names. */
export function buildGptGraph(config: GPT2Config, weights: ReadonlyMap<string, NamedTensor>, options: GraphOptions = {}): Uint8Array {
  const C = config.n_embd;
  const H = config.n_head;
  const D = headDim(config);
  const F = innerDim(config);
  let bytes = 0;
  const g = new GraphBuilder();
  const w = (name: string, expect: readonly number[], transform?: (data: Float32Array) => Float32Array): string => {
    const t = weights.get(name);
    if (!t) throw new Error(`buildGptGraph: weight '${name}' is missing`);
    if (t.shape.length !== expect.length || t.shape.some((d, i) => d !== expect[i])) {
      throw new Error(`buildGptGraph: weight '${name}' has shape [${t.shape}], expected [${expect}]`);
    }
    bytes += t.data.byteLength;
    return g.weight(name, transform ? transform(t.data) : t.data, t.shape);
  };

  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'total']);
  const positions = g.input('position_ids', 'int64', ['batch', 'seq']);
  const past = Array.from({ length: config.n_layer }, (_, i) => ({
    k: g.input(pastKeyName(i), 'float', ['batch', H, 'past', D]),
    v: g.input(pastValueName(i), 'float', ['batch', H, 'past', D]),
  }));

  const wte = w('wte.weight', [config.vocab_size, C]);
  let x = g.op('Add', [g.op('Gather', [wte, ids]), g.op('Gather', [w('wpe.weight', [config.n_positions, C]), positions])]); // [B, T, C]
  // Shapes for the head split and merge, made on first use (the fused graph has no such Reshape).
  let heads: string | undefined;
  let merge: string | undefined;
  const toHeads = (t: string): string => g.op('Transpose', [g.op('Reshape', [t, (heads ??= g.int64Const([0, 0, H, D]))])], { perm: [0, 2, 1, 3] }); // [B, T, C] → [B, H, T, D]
  const layerNorm = (input: string, prefix: string): string =>
    g.op('LayerNormalization', [input, w(`${prefix}.weight`, [C]), w(`${prefix}.bias`, [C])], { axis: -1, epsilon: config.layer_norm_epsilon }, { floats: ['epsilon'] });
  const linear = (input: string, prefix: string, inDim: number, outDim: number, scaleQ = false): string => {
    // 1/sqrt(D) is folded into the query columns of c_attn instead of scaling every score.
    const fold = scaleQ ? (d: Float32Array): Float32Array => scaleQuery(d, outDim, C, 1 / Math.sqrt(D)) : undefined;
    return g.op('Add', [g.op('MatMul', [input, w(`${prefix}.weight`, [inDim, outDim], fold)]), w(`${prefix}.bias`, [outDim], fold)]);
  };

  const last = options.logits === 'last';
  // The last position only (sampling): sliced before the final LayerNorm and the LM head.
  const lastOnly = (t: string): string => (last ? g.op('Slice', [t, g.int64Const([-1]), g.int64Const([Number.MAX_SAFE_INTEGER]), g.int64Const([1])]) : t); // [B, 1, C]
  const logitsOf = (h: string): string => g.op('MatMul', [h, g.op('Transpose', [wte], { perm: [1, 0] })]); // tied head; the transpose of an initializer is folded at load

  if (options.fused) {
    const MS = { domain: 'com.microsoft' };
    const eps = { epsilon: config.layer_norm_epsilon };
    const epsFloat = { ...MS, floats: ['epsilon'] };
    const matMul = (input: string, prefix: string, inDim: number, outDim: number): string => g.op('MatMul', [input, w(`${prefix}.weight`, [inDim, outDim])]);
    // residual + block output + that block's output bias, then LayerNorm: [normalized, _, _, sum]
    const skipNorm = (block: string, residual: string, ln: string, outBias: string, outputs: 1 | 4): string[] =>
      g.opN('SkipLayerNormalization', [block, residual, w(`${ln}.weight`, [C]), w(`${ln}.bias`, [C]), w(`${outBias}.bias`, [C])], eps, { ...epsFloat, outputs });
    let residual = x;
    let normed = g.op('LayerNormalization', [x, w('h.0.ln_1.weight', [C]), w('h.0.ln_1.bias', [C])], { axis: -1, ...eps }, { floats: ['epsilon'] });
    let mlpOut = '';
    let padMask: string | undefined;
    for (let i = 0; i < config.n_layer; i++) {
      const l = `h.${i}`;
      if (i > 0) [normed, , , residual] = skipNorm(mlpOut, residual, `${l}.ln_1`, `h.${i - 1}.mlp.c_proj`, 4) as [string, string, string, string];
      const [q, k, v] = g.opN('Split', [matMul(normed, `${l}.attn.c_attn`, C, 3 * C)], { axis: 2 }, { outputs: 3 }) as [string, string, string]; // 3 × [B, T, C]
      const { k: pastK, v: pastV } = past[i] as { k: string; v: string };
      const [attended] = g.opN(
        'MultiHeadAttention',
        [q, k, v, w(`${l}.attn.c_attn.bias`, [3 * C]), (padMask ??= g.op('Cast', [mask], { to: 6 })), '', pastK, pastV],
        { num_heads: H, unidirectional: 1 },
        { ...MS, outputs: 3, names: [undefined, presentKeyName(i), presentValueName(i)] },
      );
      [normed, , , residual] = skipNorm(matMul(attended as string, `${l}.attn.c_proj`, C, C), residual, `${l}.ln_2`, `${l}.attn.c_proj`, 4) as [string, string, string, string];
      const up = g.op('FastGelu', [matMul(normed, `${l}.mlp.c_fc`, C, F), w(`${l}.mlp.c_fc.bias`, [F])], {}, MS); // gelu_new
      mlpOut = matMul(up, `${l}.mlp.c_proj`, F, C);
    }
    const lastLayer = `h.${config.n_layer - 1}`;
    const [final] = skipNorm(lastOnly(mlpOut), lastOnly(residual), 'ln_f', `${lastLayer}.mlp.c_proj`, 1);
    return finish(logitsOf(final as string), []);
  }

  const bias = attentionBias(g, ids, mask); // [B, 1, T, P+T]
  const presents: { k: string; v: string }[] = [];
  for (let i = 0; i < config.n_layer; i++) {
    const l = `h.${i}`;
    const qkv = linear(layerNorm(x, `${l}.ln_1`), `${l}.attn.c_attn`, C, 3 * C, true); // [B, T, 3C]
    const [q, k, v] = g.opN('Split', [qkv], { axis: 2 }, { outputs: 3 }).map(toHeads) as [string, string, string]; // 3 × [B, H, T, D]
    const pastK = (past[i] as { k: string; v: string }).k;
    const pastV = (past[i] as { k: string; v: string }).v;
    const kAll = g.op('Concat', [pastK, k], { axis: 2 }); // [B, H, P+T, D]
    const vAll = g.op('Concat', [pastV, v], { axis: 2 });
    presents.push({ k: kAll, v: vAll });
    const scores = g.op('Add', [g.op('MatMul', [q, g.op('Transpose', [kAll], { perm: [0, 1, 3, 2] })]), bias]); // [B, H, T, P+T]
    const y = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), vAll]); // [B, H, T, D]
    const merged = g.op('Reshape', [g.op('Transpose', [y], { perm: [0, 2, 1, 3] }), (merge ??= g.int64Const([0, 0, C]))]); // [B, T, C]
    x = g.op('Add', [x, linear(merged, `${l}.attn.c_proj`, C, C)]);
    const up = geluNew(g, linear(layerNorm(x, `${l}.ln_2`), `${l}.mlp.c_fc`, C, F)); // [B, T, F]
    x = g.op('Add', [x, linear(up, `${l}.mlp.c_proj`, F, C)]);
  }
  return finish(logitsOf(layerNorm(lastOnly(x), 'ln_f')), presents); // [B, T or 1, V]

  /** Graph outputs: logits, then each layer's cache (`presents` names the values, else they already carry the names). */
  function finish(logits: string, presents: readonly { k: string; v: string }[]): Uint8Array {
    if (bytes > MAX_WEIGHT_BYTES) {
      throw new UserError(`The model's ${(bytes / 1024 ** 3).toFixed(2)} GiB of weights exceed what one ONNX file can hold (2 GiB); use the tfjs sampler (--sampler tfjs) for it.`);
    }
    g.output(logits, 'logits', 'float', ['batch', last ? 1 : 'seq', config.vocab_size]);
    for (let i = 0; i < config.n_layer; i++) {
      g.output(presents[i]?.k ?? presentKeyName(i), presentKeyName(i), 'float', ['batch', H, 'total', D]);
      g.output(presents[i]?.v ?? presentValueName(i), presentValueName(i), 'float', ['batch', H, 'total', D]);
    }
    return g.model('gpt2_with_past', `GPT-2 LM (${config.n_layer} layers, width ${C}, vocab ${config.vocab_size}) with KV cache${options.fused ? ' (ONNX Runtime contrib ops)' : ''}`);
  }
}

/**
 * Additive bias [B, 1, T, P+T]: query t (absolute position P+t) sees keys ≤ P+t, and no
 * key whose attention_mask is 0.
 */
function attentionBias(g: GraphBuilder, ids: string, mask: string): string {
  const zero = g.int64Const([0], []);
  const one = g.int64Const([1], []);
  const total = g.op('Gather', [g.op('Shape', [mask]), one], { axis: 0 }); // scalar P+T
  const seq = g.op('Gather', [g.op('Shape', [ids]), one], { axis: 0 }); // scalar T
  const keyPos = g.op('Unsqueeze', [g.op('Range', [zero, total, one]), g.int64Const([0])]); // [1, P+T]
  const queryPos = g.op('Unsqueeze', [g.op('Range', [g.op('Sub', [total, seq]), total, one]), g.int64Const([1])]); // [T, 1]
  const future = g.op('Cast', [g.op('Greater', [keyPos, queryPos])], { to: 1 }); // [T, P+T], 1 where the key is in the future
  const causal = g.op('Mul', [future, g.floatConst([MASKED], [])]); // [T, P+T]
  const masked = g.op('Sub', [g.floatConst([1], []), g.op('Cast', [mask], { to: 1 })]); // [B, P+T], 1 at padding
  const padding = g.op('Unsqueeze', [g.op('Mul', [masked, g.floatConst([MASKED], [])]), g.int64Const([1, 2])]); // [B, 1, 1, P+T]
  return g.op('Add', [padding, causal]); // [B, 1, T, P+T]
}

/** gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), written as ORT's fusion expects. */
function geluNew(g: GraphBuilder, x: string): string {
  const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.floatConst([0.044715], [])])]), g.floatConst([Math.sqrt(2 / Math.PI)], [])]);
  const gate = g.op('Add', [g.op('Tanh', [inner]), g.floatConst([1], [])]);
  return g.op('Mul', [g.op('Mul', [x, g.floatConst([0.5], [])]), gate]);
}

/** Copy of c_attn's weight [C, 3C] (or bias [3C]) with the first C (query) columns scaled. */
function scaleQuery(data: Float32Array, cols: number, C: number, scale: number): Float32Array {
  const out = Float32Array.from(data);
  for (let i = 0; i < out.length; i++) if (i % cols < C) out[i] = (out[i] as number) * scale;
  return out;
}
