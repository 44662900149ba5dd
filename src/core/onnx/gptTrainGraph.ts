/**
 * GPT-2's training graph for the language-model loss (pretraining, SFT): the forward of
 * gpt2.ts written with the autodiff tape, the masked next-token loss, and the backward pass.
 *
 *   inputs   every parameter by its HF name (float, fixed shape), input_ids [B, T] int64,
 *            targets [B, T] int64, loss_mask [B, T] float (1 where the target counts)
 *   outputs  loss [], grad_norm [] (global L2 norm of the gradients), grad.<name> per parameter
 *
 * Positions are 0..T−1 and attention is causal (rows are right padded; padding is masked out
 * of the loss), as in the tfjs training path (lm.ts).
 */
import type { GPT2Config } from '../model/config';
import { headDim, innerDim, parameterShapes } from '../model/config';
import { Tape } from './autodiff';

export const gradName = (param: string): string => `grad.${param}`;

/** Large negative added to future positions' scores: exp() underflows to exactly 0. */
const MASKED = -1e9;

/** With `gradients: false`, the loss alone (evaluation): no backward nodes, no grad outputs. */
/** The tape with every parameter of `config` (and `extra` ones) as inputs, and `p(name)` for them. */
function withParams(config: GPT2Config, extra: ReadonlyMap<string, readonly number[]> = new Map()): { t: Tape; shapes: Map<string, readonly number[]>; p: (name: string) => string } {
  const t = new Tape();
  const shapes = new Map([...parameterShapes(config), ...extra]);
  const params = new Map([...shapes].map(([name, dims]) => [name, t.param(name, dims)]));
  return { t, shapes, p: (name) => params.get(name) as string };
}

/** GPT-2's body: ids [B, T] → the final hidden states [B, T, C] (after ln_f), positions 0..T−1, causal. */
function gptBody(t: Tape, config: GPT2Config, p: (name: string) => string, ids: string): string {
  const g = t.g;
  const C = config.n_embd;
  const H = config.n_head;
  const D = headDim(config);
  const F = innerDim(config);
  const eps = config.layer_norm_epsilon;
  // Positions 0..T−1 and the causal bias [T, T].
  const zero = g.int64Const([0], []);
  const one = g.int64Const([1], []);
  const T = g.op('Gather', [g.op('Shape', [ids]), one], { axis: 0 }); // scalar
  const positions = g.op('Range', [zero, T, one]); // [T]
  const future = g.op('Greater', [g.op('Unsqueeze', [positions, g.int64Const([0])]), g.op('Unsqueeze', [positions, g.int64Const([1])])]); // [T, T]: key after query
  const bias = g.op('Mul', [g.op('Cast', [future], { to: 1 }), g.floatConst([MASKED], [])]); // [T, T]

  let x = t.add(t.gather(p('wte.weight'), ids, C), t.gather(p('wpe.weight'), positions, C), [0]); // [B, T, C] + [T, C]
  const scale = config.scale_attn_weights ? 1 / Math.sqrt(D) : 1;
  for (let i = 0; i < config.n_layer; i++) {
    const l = `h.${i}.`;
    const h1 = t.layerNorm(x, p(`${l}ln_1.weight`), p(`${l}ln_1.bias`), C, eps);
    const qkv = t.linear(h1, p(`${l}attn.c_attn.weight`), p(`${l}attn.c_attn.bias`), C, 3 * C); // [B, T, 3C]
    const y = t.attention(qkv, bias, H, D, scale); // [B, T, C]
    x = t.add(x, t.linear(y, p(`${l}attn.c_proj.weight`), p(`${l}attn.c_proj.bias`), C, C));
    const h2 = t.layerNorm(x, p(`${l}ln_2.weight`), p(`${l}ln_2.bias`), C, eps);
    const up = t.geluNew(t.linear(h2, p(`${l}mlp.c_fc.weight`), p(`${l}mlp.c_fc.bias`), C, F)); // [B, T, F]
    x = t.add(x, t.linear(up, p(`${l}mlp.c_proj.weight`), p(`${l}mlp.c_proj.bias`), F, C));
  }
  return t.layerNorm(x, p('ln_f.weight'), p('ln_f.bias'), C, eps); // [B, T, C]
}

/** The gradients of `loss` as outputs grad.<name>, and their global norm as grad_norm. */
function gradientOutputs(t: Tape, shapes: ReadonlyMap<string, readonly number[]>, p: (name: string) => string, loss: string): void {
  const g = t.g;
  const names = [...shapes.keys()];
  const grads = t.backward(loss, names.map(p));
  const squares = grads.map((gr) => g.op('ReduceSumSquare', [gr], { keepdims: 0 }));
  g.output(g.op('Sqrt', [squares.length === 1 ? (squares[0] as string) : g.op('Sum', squares)]), 'grad_norm', 'float', []);
  names.forEach((name, i) => g.output(grads[i] as string, gradName(name), 'float', shapes.get(name) as number[]));
}

/** With `gradients: false`, the loss alone (evaluation): no backward nodes, no grad outputs. */
export function buildLmTrainGraph(config: GPT2Config, options: { gradients?: boolean } = {}): Uint8Array {
  const C = config.n_embd;
  const V = config.vocab_size;
  const { t, shapes, p } = withParams(config);
  const g = t.g;
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const targets = g.input('targets', 'int64', ['batch', 'seq']);
  const lossMask = g.input('loss_mask', 'float', ['batch', 'seq']);
  const hidden = gptBody(t, config, p, ids);
  const loss = t.lmLoss(hidden, p('wte.weight'), targets, lossMask, C, V);
  g.output(loss, 'loss', 'float', []);
  if (options.gradients !== false) gradientOutputs(t, shapes, p, loss);
  return g.model(
    options.gradients === false ? 'gpt2_lm_loss' : 'gpt2_lm_train',
    `GPT-2 LM loss${options.gradients === false ? '' : ' and gradients'} (${config.n_layer} layers, width ${C}, vocab ${V})`,
  );
}

/**
 * The reward model's training graph (GPT2ForSequenceClassification, `score.weight` [1, C]): the
 * pairwise loss over ranked groups, all K completions of a group in one batch (reward.ts).
 *
 *   inputs   parameters and score.weight, input_ids [S, T] int64 (right padded), last_index [S]
 *            int64 (each row's last real token), winners / losers [P] int64, pair_weight [P],
 *            margin [] float
 *   outputs  loss, accuracy, margin_mean, chosen, rejected (means over pairs), and with
 *            gradients: grad_norm, grad.<name> per parameter
 */
export function buildRewardTrainGraph(config: GPT2Config, options: { gradients?: boolean } = {}): Uint8Array {
  const C = config.n_embd;
  const { t, shapes, p } = withParams(config, new Map([['score.weight', [1, C]]]));
  const g = t.g;
  const ids = g.input('input_ids', 'int64', ['seqs', 'seq']);
  const last = g.input('last_index', 'int64', ['seqs']);
  const winners = g.input('winners', 'int64', ['pairs']);
  const losers = g.input('losers', 'int64', ['pairs']);
  const weights = g.input('pair_weight', 'float', ['pairs']);
  const margin = g.input('margin', 'float', []);
  const hidden = gptBody(t, config, p, ids);
  const r = t.pairwise(hidden, p('score.weight'), last, winners, losers, weights, margin, C);
  const mean = (x: string): string => g.op('ReduceMean', [x], { keepdims: 0 });
  g.output(r.loss, 'loss', 'float', []);
  g.output(mean(g.op('Cast', [g.op('Greater', [r.diff, g.floatConst([0], [])])], { to: 1 })), 'accuracy', 'float', []);
  g.output(mean(r.diff), 'margin_mean', 'float', []);
  g.output(mean(r.chosen), 'chosen', 'float', []);
  g.output(mean(r.rejected), 'rejected', 'float', []);
  if (options.gradients !== false) gradientOutputs(t, shapes, p, r.loss);
  return g.model(options.gradients === false ? 'gpt2_reward_loss' : 'gpt2_reward_train', `GPT-2 reward model pairwise loss (${config.n_layer} layers, width ${C})`);
}
