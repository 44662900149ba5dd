/**
 * GPT-2, written once (`gpt2` below, against the autodiff tape), and the graphs made from it:
 *
 * - Inference with a KV cache (`buildGptGraph`: sampling, scoring, `rlhf export onnx`), weights
 *   as initializers, named as Hugging Face Optimum names its exports:
 *     inputs   input_ids [B, T] int64, attention_mask [B, P+T] int64, position_ids [B, T] int64,
 *              past_key_values.{i}.key / .value [B, H, P, D] float32 (P may be 0)
 *     outputs  logits [B, T, V] (or [B, 1, V], see GraphOptions), present.{i}.key / .value [B, H, P+T, D]
 *   With `fused` (the sampler's sessions) the tape writes ONNX Runtime's contrib ops where they
 *   fit (MultiHeadAttention with the cache, SkipLayerNormalization, FastGelu): about 15 nodes
 *   instead of 90 for a 6-layer model, most of a decode step's overhead. Only ORT runs it.
 * - Training (`buildLmTrainGraph`: pretraining and SFT; `buildRewardTrainGraph`: the reward
 *   model's pairwise loss): every parameter is an input, the loss and its gradients outputs.
 *     inputs   every parameter by its HF name (float, fixed shape), input_ids [B, T] int64, and the
 *              loss's inputs (below)
 *     outputs  loss [], the loss's statistics, grad_norm [] (the global L2 norm), grad.<name>
 *   Positions are 0..T−1 and attention is causal (rows are right padded; the loss masks padding),
 *   as in the tfjs training path (lm.ts).
 *
 * Math matches gpt2.ts: causal + padding mask as a −1e9 additive bias, gelu_new (tanh form),
 * tied LM head; parameters carry the HF names.
 */
import type { GPT2Config } from '../model/config';
import { headDim, innerDim, parameterShapes } from '../model/config';
import type { NamedTensor } from '../model/safetensors';
import { UserError } from '../errors';
import { Tape } from './autodiff';
import type { LayerCache } from './autodiff';
import { declareParams, withoutDropout } from './lora';
import type { LoraPlan, ParamOptions } from './lora';

/** Large negative added to masked scores; exp() underflows to 0 without NaN on all-masked rows. */
export const MASKED = -1e9;
/** Serialized protobufs cannot exceed 2 GiB; stay clear of it. */
export const MAX_WEIGHT_BYTES = 1.8 * 1024 ** 3;

export const pastKeyName = (layer: number): string => `past_key_values.${layer}.key`;
export const pastValueName = (layer: number): string => `past_key_values.${layer}.value`;
export const presentKeyName = (layer: number): string => `present.${layer}.key`;
export const presentValueName = (layer: number): string => `present.${layer}.value`;
export const gradName = (param: string): string => `grad.${param}`;

/** What the model reads besides its parameters. */
interface GptInputs {
  /** Token ids [B, T] int64. */
  readonly ids: string;
  /** Position ids: [T] (training, shared by the rows: `positionAxes` [0]) or [B, T]. */
  readonly positions: string;
  readonly positionAxes: readonly number[];
  /** Additive attention bias [.., T, P+T]: causal, and padding when there is a mask. */
  readonly bias: string;
  /** Per layer, with a KV cache (inference). */
  readonly cache?: readonly LayerCache[];
  /** Only the last position's hidden state (sampling). */
  readonly lastOnly?: boolean;
}

/**
 * The GPT-2 model: token and position embeddings, n_layer pre-LayerNorm blocks (attention, MLP
 * with gelu_new, each added to the residual stream), and the final LayerNorm. `p(name)` is a
 * parameter by its HF name. Returns the hidden states [B, T, C] (or [B, 1, C] with `lastOnly`).
 */
function gpt2(t: Tape, config: GPT2Config, p: (name: string) => string, io: GptInputs): string {
  const C = config.n_embd;
  const H = config.n_head;
  const D = headDim(config);
  const F = innerDim(config);
  const eps = config.layer_norm_epsilon;
  const scale = config.scale_attn_weights ? 1 / Math.sqrt(D) : 1;
  let x = t.add(t.gather(p('wte.weight'), io.ids, C), t.gather(p('wpe.weight'), io.positions, C), io.positionAxes); // [B, T, C]
  for (let i = 0; i < config.n_layer; i++) {
    const l = `h.${i}.`;
    const qkv = t.linear(t.layerNorm(x, p(`${l}ln_1.weight`), p(`${l}ln_1.bias`), C, eps), p(`${l}attn.c_attn.weight`), p(`${l}attn.c_attn.bias`), C, 3 * C); // [B, T, 3C]
    const y = t.attention(qkv, io.bias, H, D, scale, io.cache?.[i]); // [B, T, C]
    x = t.add(x, t.linear(y, p(`${l}attn.c_proj.weight`), p(`${l}attn.c_proj.bias`), C, C));
    const h = t.layerNorm(x, p(`${l}ln_2.weight`), p(`${l}ln_2.bias`), C, eps);
    const up = t.geluNew(t.linear(h, p(`${l}mlp.c_fc.weight`), p(`${l}mlp.c_fc.bias`), C, F)); // [B, T, F]
    x = t.add(x, t.linear(up, p(`${l}mlp.c_proj.weight`), p(`${l}mlp.c_proj.bias`), F, C));
  }
  if (io.lastOnly) x = t.lastPosition(x); // [B, 1, C]: skips the rest of the positions' head
  return t.layerNorm(x, p('ln_f.weight'), p('ln_f.bias'), C, eps);
}

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

/**
 * What every KV-cache inference graph starts from: the weights as initializers, looked up by name
 * and checked against the config's shapes (`p`, counting their bytes against the 2 GiB a
 * protobuf holds: `checkSize`), and the inputs input_ids, attention_mask, position_ids with each
 * layer's past keys/values [B, `heads`, P, D]; `outputCache` declares the present ones [B, heads, P+T, D].
 */
export function cachedGraphInputs(
  t: Tape,
  who: string,
  weights: ReadonlyMap<string, NamedTensor>,
  shapes: ReadonlyMap<string, readonly number[]>,
  cacheDims: { layers: number; heads: number; headDim: number },
) {
  const g = t.g;
  let bytes = 0;
  const added = new Set<string>();
  const p = (name: string): string => {
    if (added.has(name)) return name;
    const w = weights.get(name);
    const expect = shapes.get(name);
    if (!expect) throw new Error(`${who}: no parameter '${name}' in this config`);
    if (!w) throw new Error(`${who}: weight '${name}' is missing`);
    if (w.shape.length !== expect.length || w.shape.some((d, i) => d !== expect[i])) throw new Error(`${who}: weight '${name}' has shape [${w.shape}], expected [${expect}]`);
    bytes += w.data.byteLength;
    added.add(name);
    return t.weight(name, w.data, w.shape);
  };
  const checkSize = (advice: string): void => {
    if (bytes > MAX_WEIGHT_BYTES) throw new UserError(`The model's ${(bytes / 1024 ** 3).toFixed(2)} GiB of weights exceed what one ONNX file can hold (2 GiB); ${advice}.`);
  };
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'total']);
  const positions = g.input('position_ids', 'int64', ['batch', 'seq']);
  const { layers, heads, headDim: D } = cacheDims;
  const cache: LayerCache[] = Array.from({ length: layers }, (_, i) => ({
    pastK: g.input(pastKeyName(i), 'float', ['batch', heads, 'past', D]),
    pastV: g.input(pastValueName(i), 'float', ['batch', heads, 'past', D]),
    presentK: presentKeyName(i),
    presentV: presentValueName(i),
    mask,
  }));
  const outputCache = (): void => {
    for (let i = 0; i < layers; i++) {
      g.output(presentKeyName(i), presentKeyName(i), 'float', ['batch', heads, 'total', D]);
      g.output(presentValueName(i), presentValueName(i), 'float', ['batch', heads, 'total', D]);
    }
  };
  return { p, checkSize, ids, mask, positions, cache, outputCache };
}

/** ONNX bytes of the GPT-2 LM with KV cache. `weights` are keyed by GPT2Model names. */
export function buildGptGraph(config: GPT2Config, weights: ReadonlyMap<string, NamedTensor>, options: GraphOptions = {}): Uint8Array {
  const t = new Tape({ fused: options.fused === true });
  const g = t.g;
  const { p, checkSize, ids, mask, positions, cache, outputCache } = cachedGraphInputs(t, 'buildGptGraph', weights, parameterShapes(config), {
    layers: config.n_layer,
    heads: config.n_head,
    headDim: headDim(config),
  });
  const last = options.logits === 'last';
  const hidden = gpt2(t, config, p, { ids, positions, positionAxes: [], bias: attentionBias(t, ids, mask), cache, lastOnly: last }); // [B, T or 1, C]
  const logits = g.op('MatMul', [hidden, g.op('Transpose', [p('wte.weight')], { perm: [1, 0] })]); // tied head; the transpose of an initializer is folded at load

  checkSize('use the tfjs sampler (--sampler tfjs) for it');
  g.output(logits, 'logits', 'float', ['batch', last ? 1 : 'seq', config.vocab_size]);
  outputCache();
  return g.model('gpt2_with_past', `GPT-2 LM (${config.n_layer} layers, width ${config.n_embd}, vocab ${config.vocab_size}) with KV cache${options.fused ? ' (ONNX Runtime contrib ops)' : ''}`);
}

/**
 * Additive bias [B, 1, T, P+T]: query t (absolute position P+t) sees keys ≤ P+t, and no
 * key whose attention_mask is 0.
 */
export function attentionBias(t: Tape, ids: string, mask: string): string {
  const g = t.g;
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

export interface ModelGraphOptions extends ParamOptions {
  /** Extra parameters beyond the config's (heads: `score.weight`, `v_head.summary.*`), by shape. */
  readonly extra?: ReadonlyMap<string, readonly number[]>;
  /**
   * Rows may be left padded: an input attention_mask [B, T] float (1 = real token) gives the
   * positions (real tokens counted from 0, padding at 0: HF generate's rule) and masks padded keys.
   * Without it positions are 0..T−1 (right padding, which causal attention already hides).
   */
  readonly masked?: boolean;
}

export interface ModelGraph {
  readonly t: Tape;
  /** A parameter (or fixed weight) by its HF name. */
  readonly p: (name: string) => string;
  /** input_ids [B, T] int64. */
  readonly ids: string;
  /** The final hidden states [B, T, C]. */
  readonly hidden: string;
  /** C, the hidden states' width. */
  readonly width: number;
  /** The LM head's weight [V, C] by its HF name (GPT-2: the tied `wte.weight`); logits = hidden · headᵀ. */
  readonly lmHead: string;
  /** Outputs grad.<name> for every parameter and grad_norm (their global L2 norm), from `loss`. */
  readonly gradients: (loss: string) => void;
  /** The same model over another ids input [B', T'] (positions 0..T'−1, causal): its hidden states. */
  readonly forward: (ids: string) => string;
}

/**
 * GPT-2 over input_ids [B, T] (`idsDims` names the axes), causal, as training graphs and the
 * scoring graphs of the policy stages need it: parameters as inputs (or `weights` as initializers).
 */
export function modelGraph(config: GPT2Config, idsDims: readonly [string, string], options: ModelGraphOptions = {}): ModelGraph {
  const t = new Tape(options.lora ? { lora: options.lora } : {});
  const g = t.g;
  const { p, trainable: shapes } = declareParams(t, parameterShapes(config), options.extra ?? new Map(), options, 'modelGraph');
  const ids = g.input('input_ids', 'int64', idsDims);
  const zero = g.int64Const([0], []);
  const one = g.int64Const([1], []);
  /** Positions 0..T−1 of `input` and the causal bias [T, T]. */
  const causalInputs = (input: string): GptInputs => {
    const range = g.op('Range', [zero, g.op('Gather', [g.op('Shape', [input]), one], { axis: 0 }), one]); // [T]
    const future = g.op('Greater', [g.op('Unsqueeze', [range, g.int64Const([0])]), g.op('Unsqueeze', [range, g.int64Const([1])])]); // [T, T]: key after query
    return { ids: input, positions: range, positionAxes: [0], bias: g.op('Mul', [g.op('Cast', [future], { to: 1 }), g.floatConst([MASKED], [])]) };
  };
  let io = causalInputs(ids);
  if (options.masked) {
    const mask = g.input('attention_mask', 'float', idsDims);
    const counted = g.op('Max', [g.op('Sub', [g.op('CumSum', [mask, g.int64Const([1], [])]), g.floatConst([1], [])]), g.floatConst([0], [])]); // [B, T]
    const padding = g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [g.floatConst([1], []), mask]), g.floatConst([MASKED], [])]), g.int64Const([1, 2])]); // [B, 1, 1, T]
    io = { ids, positions: g.op('Cast', [counted], { to: 7 }), positionAxes: [], bias: g.op('Add', [padding, io.bias]) }; // positions [B, T]; bias [B, 1, T, T]
  }
  const hidden = gpt2(t, config, p, io); // [B, T, C]
  const gradients = (loss: string): void => {
    if (shapes.size === 0) throw new Error('modelGraph: a graph without trainable parameters has no gradients');
    const names = [...shapes.keys()];
    const grads = t.backward(loss, names.map(p));
    const squares = grads.map((gr) => g.op('ReduceSumSquare', [gr], { keepdims: 0 }));
    g.output(g.op('Sqrt', [squares.length === 1 ? (squares[0] as string) : g.op('Sum', squares)]), 'grad_norm', 'float', []);
    names.forEach((name, i) => g.output(grads[i] as string, gradName(name), 'float', shapes.get(name) as number[]));
  };
  return { t, p, ids, hidden, width: config.n_embd, lmHead: 'wte.weight', gradients, forward: (other) => gpt2(t, config, p, causalInputs(other)) };
}

/** What a training graph builder takes besides the config. */
export interface TrainGraphOptions {
  /** false: the loss alone (evaluation), no backward nodes, no grad outputs. */
  readonly gradients?: boolean;
  /** LoRA: the base frozen, the adapter (and heads) trained; no dropout in a graph without gradients. */
  readonly lora?: LoraPlan;
}

/** The model graph's options for a training graph's `options`. */
export const loraOptions = (options: TrainGraphOptions): { lora?: LoraPlan } => {
  const lora = options.gradients === false ? withoutDropout(options.lora) : options.lora;
  return lora ? { lora } : {};
};

/**
 * The language-model loss (pretraining, SFT): inputs input_ids [B, T] int64, targets [B, T]
 * int64, loss_mask [B, T] float (1 where the target counts); the mean masked next-token loss.
 * With `gradients: false`, the loss alone (evaluation): no backward nodes, no grad outputs.
 */
export function buildLmTrainGraph(config: GPT2Config, options: TrainGraphOptions = {}): Uint8Array {
  const { t, p, hidden, gradients } = modelGraph(config, ['batch', 'seq'], loraOptions(options));
  const g = t.g;
  const targets = g.input('targets', 'int64', ['batch', 'seq']);
  const lossMask = g.input('loss_mask', 'float', ['batch', 'seq']);
  const loss = t.lmLoss(hidden, p('wte.weight'), targets, lossMask, config.n_embd);
  g.output(loss, 'loss', 'float', []);
  if (options.gradients !== false) gradients(loss);
  return g.model(
    options.gradients === false ? 'gpt2_lm_loss' : 'gpt2_lm_train',
    `GPT-2 LM loss${options.gradients === false ? '' : ' and gradients'} (${config.n_layer} layers, width ${config.n_embd}, vocab ${config.vocab_size})`,
  );
}

/**
 * The reward model (GPT2ForSequenceClassification, `score.weight` [1, C]): the pairwise loss over
 * ranked groups, all K completions of a group in one batch (reward.ts).
 *
 *   inputs   input_ids [S, T] int64 (right padded), last_index [S] int64 (each row's last real
 *            token), winners / losers [P] int64, pair_weight [P], margin [] float
 *   outputs  loss, accuracy, margin_mean, chosen, rejected (means over pairs)
 */
export function buildRewardTrainGraph(config: GPT2Config, options: TrainGraphOptions = {}): Uint8Array {
  const m = modelGraph(config, ['seqs', 'seq'], { extra: new Map([['score.weight', [1, config.n_embd]]]), ...loraOptions(options) });
  const name = options.gradients === false ? 'gpt2_reward_loss' : 'gpt2_reward_train';
  return rewardTrainGraph(m, name, `GPT-2 reward model pairwise loss (${config.n_layer} layers, width ${config.n_embd})`, options.gradients !== false);
}

/** The pairwise reward loss and its statistics over any family's model graph (its extra `score.weight` [1, C]). */
export function rewardTrainGraph(m: ModelGraph, name: string, what: string, withGradients: boolean): Uint8Array {
  const { t, p, hidden, gradients, width: C } = m;
  const g = t.g;
  const last = g.input('last_index', 'int64', ['seqs']);
  const winners = g.input('winners', 'int64', ['pairs']);
  const losers = g.input('losers', 'int64', ['pairs']);
  const weights = g.input('pair_weight', 'float', ['pairs']);
  const margin = g.input('margin', 'float', []);
  const r = t.pairwise(hidden, p('score.weight'), last, winners, losers, weights, margin, C);
  const mean = (x: string): string => g.op('ReduceMean', [x], { keepdims: 0 });
  g.output(r.loss, 'loss', 'float', []);
  g.output(mean(g.op('Cast', [g.op('Greater', [r.diff, g.floatConst([0], [])])], { to: 1 })), 'accuracy', 'float', []);
  g.output(mean(r.diff), 'margin_mean', 'float', []);
  g.output(mean(r.chosen), 'chosen', 'float', []);
  g.output(mean(r.rejected), 'rejected', 'float', []);
  if (withGradients) gradients(r.loss);
  return g.model(name, what);
}
