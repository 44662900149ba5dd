/**
 * The Llama family (Llama 3.x, SmolLM2, Qwen2/2.5, Qwen3), written once (`llama` below, against the
 * autodiff tape), and the graphs made from it, with gptGraph.ts's names and conventions so the
 * sampler, the trainer and the policy graphs drive either family the same way:
 *
 * - Inference with a KV cache (`buildLlamaGraph`; `buildExternalLlamaGraph` reads the weights
 *   from the caller's buffers at session creation, so no 2 GiB protobuf limit):
 *     inputs   input_ids [B, T] int64, attention_mask [B, P+T] int64, position_ids [B, T] int64,
 *              past_key_values.{i}.key / .value [B, KV, P, D] float32 (KV heads, not query heads)
 *     outputs  logits [B, T, V] (or [B, 1, V]), present.{i}.key / .value [B, KV, P+T, D]
 *   Left padding as the GPT-2 graph: padding masked by attention_mask, positions as fed.
 *   With `fused` the tape writes ONNX Runtime's contrib ops (GroupQueryAttention with the cache,
 *   RotaryEmbedding, SimplifiedLayerNormalization, SkipSimplifiedLayerNormalization): measured at
 *   8 layers of width 256 on 2 cores, 1.3× the plain graph's decode tokens/s at batch 1 (the
 *   attention and the rotary op each ~1.15×, the norms ~1.03×) and 1.15× at batch 8 (mostly the
 *   rotary op); without any one of them it is slower. Only ORT runs it. GroupQueryAttention
 *   continues a cache one token per step when the batch has several rows (as the sampler does:
 *   the prompts whole, then a token a step); a head width that is not a multiple of 8 keeps the
 *   plain attention.
 * - `llamaModelGraph`: the model over input_ids [B, T] as modelGraph gives GPT-2 (parameters as
 *   inputs or fixed weights, optional left-padding mask, extra head parameters), for the training
 *   graphs; `buildLlamaLmTrainGraph` is buildLmTrainGraph's twin (same inputs and outputs).
 *
 * Math as transformers' modeling_llama / qwen2 / qwen3: RMSNorm before attention and MLP, rotary
 * embeddings on q and k (after Qwen3's per-head q/k RMSNorm), attention scaled by 1/√head_dim,
 * SwiGLU MLP, final RMSNorm, LM head tied or not.
 */
import { onnx } from 'onnx-proto';
import type { LlamaConfig } from '../model/llamaConfig';
import { attentionBiases, llamaHeadName, llamaParameterShapes } from '../model/llamaConfig';
import type { NamedTensor } from '../model/safetensors';
import { Tape } from './autodiff';
import type { LayerCache, RotaryTable } from './autodiff';
import { declareParams } from './lora';
import type { GraphOptions, ModelGraph, ModelGraphOptions, TrainGraphOptions } from './gptGraph';
import { loraOptions, MASKED, attentionBias, cachedGraphInputs, gradName } from './gptGraph';
import type { GraphBuilder } from './graphBuilder';

/** What the model reads besides its parameters. */
interface LlamaInputs {
  /** Token ids [B, T] int64. */
  readonly ids: string;
  /** Positions and their rotary tables. */
  readonly rotary: RotaryTable;
  /** Additive attention bias [.., 1, T, P+T]: causal, and padding when there is a mask. */
  readonly bias: string;
  /** Per layer, with a KV cache (inference). */
  readonly cache?: readonly LayerCache[];
  /** Only the last position's hidden state (sampling). */
  readonly lastOnly?: boolean;
}

/**
 * The model: token embedding, num_hidden_layers pre-norm blocks (grouped-query attention with
 * rotary q/k, SwiGLU MLP, each added to the residual stream), and the final RMSNorm. `p(name)` is
 * a parameter by its HF name. Returns the hidden states [B, T, C] (or [B, 1, C] with `lastOnly`).
 */
function llama(t: Tape, c: LlamaConfig, p: (name: string) => string, io: LlamaInputs): string {
  const C = c.hidden_size;
  const H = c.num_attention_heads;
  const KV = c.num_key_value_heads;
  const D = c.head_dim;
  const F = c.intermediate_size;
  const eps = c.rms_norm_eps;
  const bias = attentionBiases(c);
  const maybe = (name: string, has: boolean): string | undefined => (has ? p(name) : undefined);
  /** Qwen3's RMSNorm over each head of x [B, T, n·D]. */
  const headNorm = (x: string, gamma: string, n: number): string => t.reshape(t.rmsNorm(t.reshape(x, [0, 0, n, D]), gamma, D, eps), [0, 0, n * D]);
  let x = t.gather(p('model.embed_tokens.weight'), io.ids, C); // [B, T, C]
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `model.layers.${i}.`;
    const h = t.rmsNorm(x, p(`${l}input_layernorm.weight`), C, eps);
    const proj = (name: string, out: number): string => t.linearT(h, p(`${l}self_attn.${name}_proj.weight`), maybe(`${l}self_attn.${name}_proj.bias`, bias.qkv), C, out);
    let q = proj('q', H * D); // [B, T, H·D]
    let k = proj('k', KV * D); // [B, T, KV·D]
    const v = proj('v', KV * D);
    if (c.architecture === 'qwen3') {
      q = headNorm(q, p(`${l}self_attn.q_norm.weight`), H);
      k = headNorm(k, p(`${l}self_attn.k_norm.weight`), KV);
    }
    const y = t.groupedAttention(t.rotary(q, io.rotary, H, D), t.rotary(k, io.rotary, KV, D), v, io.bias, { H, KV, D }, 1 / Math.sqrt(D), io.cache?.[i]); // [B, T, H·D]
    x = t.add(x, t.linearT(y, p(`${l}self_attn.o_proj.weight`), maybe(`${l}self_attn.o_proj.bias`, bias.o), H * D, C));
    const h2 = t.rmsNorm(x, p(`${l}post_attention_layernorm.weight`), C, eps);
    const mlp = (name: string, inDim: number, outDim: number, input: string): string =>
      t.linearT(input, p(`${l}mlp.${name}_proj.weight`), maybe(`${l}mlp.${name}_proj.bias`, c.mlp_bias), inDim, outDim);
    const up = t.swiglu(mlp('gate', C, F, h2), mlp('up', C, F, h2)); // [B, T, F]
    x = t.add(x, mlp('down', F, C, up));
  }
  if (io.lastOnly) x = t.lastPosition(x); // [B, 1, C]: skips the rest of the positions' head
  return t.rmsNorm(x, p('model.norm.weight'), C, eps);
}

/**
 * RoPE's inverse frequencies [head_dim / 2], rescaled as `rope_scaling` says (transformers' rope
 * init functions; their attention scaling is 1 for all of these).
 */
function ropeInverseFrequencies(c: LlamaConfig): Float32Array {
  const D = c.head_dim;
  const inv = Array.from({ length: D / 2 }, (_, i) => 1 / Math.pow(c.rope_theta, (2 * i) / D));
  const s = c.rope_scaling;
  if (!s) return Float32Array.from(inv);
  if (s.rope_type === 'linear') return Float32Array.from(inv, (f) => f / s.factor);
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  return Float32Array.from(inv, (f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f; // high frequencies kept
    if (wavelen > lowWavelen) return f / s.factor; // low ones interpolated
    const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/** cos and sin of the rotary angles [count, D/2] for positions 0..count−1 (count: an int64 scalar), read at `positions`. */
function rotaryTable(g: GraphBuilder, c: LlamaConfig, positions: string, count: string): RotaryTable {
  const range = g.op('Cast', [g.op('Range', [g.int64Const([0], []), count, g.int64Const([1], [])])], { to: 1 }); // [count]
  const angles = g.op('Mul', [g.op('Unsqueeze', [range, g.int64Const([1])]), g.floatConst(Array.from(ropeInverseFrequencies(c)))]); // [count, D/2], float32 as transformers
  return { positions, cos: g.op('Cos', [angles]), sin: g.op('Sin', [angles]) };
}

/** ONNX bytes of the Llama-family LM with KV cache. `weights` are keyed by HF names. */
export function buildLlamaGraph(config: LlamaConfig, weights: ReadonlyMap<string, NamedTensor>, options: GraphOptions = {}): Uint8Array {
  const KV = config.num_key_value_heads;
  const D = config.head_dim;
  const t = new Tape({ fused: options.fused === true });
  const g = t.g;
  const { p, checkSize, ids, mask, positions, cache, outputCache } = cachedGraphInputs(t, 'buildLlamaGraph', weights, llamaParameterShapes(config), {
    layers: config.num_hidden_layers,
    heads: KV,
    headDim: D,
  });
  const last = options.logits === 'last';
  const total = g.op('Gather', [g.op('Shape', [mask]), g.int64Const([1], [])], { axis: 0 }); // P+T: every position fed is below it
  const io: LlamaInputs = { ids, rotary: rotaryTable(g, config, positions, total), bias: attentionBias(t, ids, mask), cache, lastOnly: last };
  const hidden = llama(t, config, p, io); // [B, T or 1, C]
  const logits = g.op('MatMul', [hidden, g.op('Transpose', [p(llamaHeadName(config))], { perm: [1, 0] })]); // the transpose of an initializer is folded at load

  checkSize('build the graph with external weights (buildExternalLlamaGraph)');
  g.output(logits, 'logits', 'float', ['batch', last ? 1 : 'seq', config.vocab_size]);
  outputCache();
  const what = `${config.architecture} LM (${config.num_hidden_layers} layers, width ${config.hidden_size}, ${config.num_attention_heads}:${KV} heads of ${D}, vocab ${config.vocab_size})`;
  return g.model(`${config.architecture}_with_past`, `${what} with KV cache${options.fused ? ' (ONNX Runtime contrib ops)' : ''}`);
}

/**
 * buildLlamaGraph's model with every parameter's data external, in an in-memory "file" named as
 * the parameter (SessionOptions.externalData: see `llamaExternalWeights`), built without touching
 * any weight bytes: a session reads them from the caller's buffers when it is created.
 */
export function buildExternalLlamaGraph(config: LlamaConfig, options: GraphOptions = {}): Uint8Array {
  const shapes = llamaParameterShapes(config);
  const standIns = new Map<string, NamedTensor>([...shapes].map(([name, shape]) => [name, { shape, data: new Float32Array(0) }]));
  const model = onnx.ModelProto.decode(buildLlamaGraph(config, standIns, options));
  for (const init of model.graph?.initializer ?? []) {
    const shape = shapes.get(init.name ?? '');
    if (!shape) continue;
    init.rawData = new Uint8Array(0);
    init.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    init.externalData = [
      { key: 'location', value: init.name },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(shape.reduce((a, b) => a * b, 4)) },
    ];
  }
  return onnx.ModelProto.encode(model).finish();
}

/** The in-memory files buildExternalLlamaGraph's model reads: views of the weights (no copy), each checked against the config. */
export function llamaExternalWeights(config: LlamaConfig, weights: ReadonlyMap<string, NamedTensor>): { path: string; data: Uint8Array }[] {
  return [...llamaParameterShapes(config)].map(([name, shape]) => {
    const w = weights.get(name);
    if (!w) throw new Error(`llamaExternalWeights: weight '${name}' is missing`);
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]) || w.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new Error(`llamaExternalWeights: weight '${name}' has shape [${w.shape}] (${w.data.length} values), expected [${shape}]`);
    }
    return { path: name, data: new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength) };
  });
}

/**
 * The Llama-family model over input_ids [B, T] (`idsDims` names the axes), causal, as modelGraph
 * gives GPT-2 to the training and scoring graphs: parameters as inputs (or `weights` as
 * initializers), `masked` for left-padded rows (an attention_mask [B, T] float input: positions
 * count real tokens from 0, padded keys masked), `extra` head parameters.
 */
export function llamaModelGraph(config: LlamaConfig, idsDims: readonly [string, string], options: ModelGraphOptions = {}): ModelGraph {
  const t = new Tape(options.lora ? { lora: options.lora } : {});
  const g = t.g;
  const { p, trainable: shapes } = declareParams(t, llamaParameterShapes(config), options.extra ?? new Map(), options, 'llamaModelGraph');
  const ids = g.input('input_ids', 'int64', idsDims);
  const zero = g.int64Const([0], []);
  const one = g.int64Const([1], []);
  /** Positions 0..T−1 of `input` (shared by the rows) and the causal bias [T, T]. */
  const causalInputs = (input: string): LlamaInputs => {
    const T = g.op('Gather', [g.op('Shape', [input]), one], { axis: 0 });
    const range = g.op('Range', [zero, T, one]); // [T]
    const future = g.op('Greater', [g.op('Unsqueeze', [range, g.int64Const([0])]), g.op('Unsqueeze', [range, g.int64Const([1])])]); // [T, T]: key after query
    return { ids: input, rotary: rotaryTable(g, config, range, T), bias: g.op('Mul', [g.op('Cast', [future], { to: 1 }), g.floatConst([MASKED], [])]) };
  };
  let io = causalInputs(ids);
  if (options.masked) {
    const mask = g.input('attention_mask', 'float', idsDims);
    const counted = g.op('Max', [g.op('Sub', [g.op('CumSum', [mask, g.int64Const([1], [])]), g.floatConst([1], [])]), g.floatConst([0], [])]); // [B, T]
    const padding = g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [g.floatConst([1], []), mask]), g.floatConst([MASKED], [])]), g.int64Const([1, 2])]); // [B, 1, 1, T]
    io = { ids, rotary: { ...io.rotary, positions: g.op('Cast', [counted], { to: 7 }) }, bias: g.op('Add', [padding, io.bias]) }; // positions [B, T]; bias [B, 1, T, T]
  }
  const hidden = llama(t, config, p, io); // [B, T, C]
  const gradients = (loss: string): void => {
    if (shapes.size === 0) throw new Error('llamaModelGraph: a graph without trainable parameters has no gradients');
    const names = [...shapes.keys()];
    const grads = t.backward(loss, names.map(p));
    const squares = grads.map((gr) => g.op('ReduceSumSquare', [gr], { keepdims: 0 }));
    g.output(g.op('Sqrt', [squares.length === 1 ? (squares[0] as string) : g.op('Sum', squares)]), 'grad_norm', 'float', []);
    names.forEach((name, i) => g.output(grads[i] as string, gradName(name), 'float', shapes.get(name) as number[]));
  };
  return { t, p, ids, hidden, width: config.hidden_size, lmHead: llamaHeadName(config), gradients, forward: (other) => llama(t, config, p, causalInputs(other)) };
}

/**
 * The language-model loss (pretraining, SFT) as buildLmTrainGraph: inputs every parameter,
 * input_ids [B, T] int64, targets [B, T] int64, loss_mask [B, T] float; outputs loss, and unless
 * `gradients` is false, grad_norm and grad.<name>.
 */
export function buildLlamaLmTrainGraph(config: LlamaConfig, options: TrainGraphOptions = {}): Uint8Array {
  const { t, p, hidden, lmHead, gradients } = llamaModelGraph(config, ['batch', 'seq'], loraOptions(options));
  const g = t.g;
  const targets = g.input('targets', 'int64', ['batch', 'seq']);
  const lossMask = g.input('loss_mask', 'float', ['batch', 'seq']);
  const loss = t.lmLoss(hidden, p(lmHead), targets, lossMask, config.hidden_size);
  g.output(loss, 'loss', 'float', []);
  if (options.gradients !== false) gradients(loss);
  const what = `${config.architecture} LM loss${options.gradients === false ? '' : ' and gradients'} (${config.num_hidden_layers} layers, width ${config.hidden_size}, vocab ${config.vocab_size})`;
  return g.model(`${config.architecture}_lm_${options.gradients === false ? 'loss' : 'train'}`, what);
}
