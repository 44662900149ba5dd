/**
 * The graphs of the policy-optimisation stages (PPO, RLOO), from the one GPT-2 of gptGraph.ts,
 * over a rollout laid out as rollout.ts does it: rows [left-padded prompt | response], an
 * attention mask, and for each response token the flat position (row·T + column) of the hidden
 * state that predicts it.
 *
 *   inputs   input_ids [n, T] int64, attention_mask [n, T] float, token_index [n·R] int64,
 *            targets [n·R] int64 (the response tokens), response_mask [n, R] float (1 = real token)
 *
 * - `stats` (no gradients): logp [n, R] (log π of each response token at the sampling
 *   temperature), entropy [n, R], and with a value head values [n, R].
 * - PPO's `train`: the clipped surrogate, the clipped value loss (and entropy bonus, PPO-ptx) over
 *   a minibatch, masked means as ppo.ts; inputs old_logp, advantages, returns, old_values [n, R]
 *   (and ptx_ids, ptx_targets [b, t] int64 with PPO-ptx); outputs loss, pg, vf, approxkl,
 *   clipfrac, ratio, vpred, grad_norm, grad.<name>.
 * - RLOO's `train`: the sequence-level clipped surrogate; inputs old_seq_logp [n], advantages [n];
 *   outputs loss, approxkl, clipfrac, ratio, grad_norm, grad.<name>.
 * - A frozen model's graphs (weights as initializers): the reference's `logp` (stats without
 *   gradients), and a reward model's scores at each row's last real token.
 */
import type { ModelConfig } from '../model/modelConfig';
import { familyOf, layerCount, modelParameterShapes, modelWidth } from '../model/modelConfig';
import type { NamedTensor } from '../model/safetensors';
import type { ModelGraph } from './gptGraph';
import { familyModelGraph } from './modelGraphs';
import type { ParamOptions } from './lora';

/** TRL's value head: v_head.summary.weight [1, C] and .bias [1]. */
export const valueHeadShapes = (config: ModelConfig): Map<string, readonly number[]> =>
  new Map([
    ['v_head.summary.weight', [1, modelWidth(config)]],
    ['v_head.summary.bias', [1]],
  ]);

/** The graphs a policy trainer runs (OrtTrainer's TrainerGraphs). */
export interface PolicyGraphs {
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** Each graph given how it takes the model's parameters (LoRA, or every weight a frozen input: lora.ts). */
  readonly build: { readonly train: (params?: ParamOptions) => Uint8Array; readonly stats: (params?: ParamOptions) => Uint8Array };
}

export interface PpoGraphConfig {
  readonly temperature: number;
  readonly clipRange: number;
  readonly clipRangeValue: number;
  readonly vfCoef: number;
  readonly entCoef: number;
  /** PPO-ptx coefficient (0: no pretraining term, no ptx inputs). */
  readonly ptxCoef: number;
}

export interface RlooGraphConfig {
  readonly temperature: number;
  readonly clipRange: number;
}

/** The rollout's response tokens under the model: log-probs, entropies [n, R] and, with a value head, values. */
export function responseTokens(m: ModelGraph, config: ModelConfig, temperature: number, withValues: boolean) {
  const { t, p, hidden } = m;
  const g = t.g;
  const C = modelWidth(config);
  const index = g.input('token_index', 'int64', ['tokens']);
  const targets = g.input('targets', 'int64', ['tokens']);
  const mask = g.input('response_mask', 'float', ['rows', 'response']);
  const h = t.gather(t.reshape(hidden, [-1, C]), index, C); // [n·R, C]: the states that predict each response token
  const { logp, entropy } = t.tokenLogProbs(h, p(m.lmHead), targets, temperature); // [n·R]
  const values = withValues ? t.reshapeLike(t.dense(h, p('v_head.summary.weight'), p('v_head.summary.bias')), mask) : undefined; // [n, R]
  return { g, mask, logp: t.reshapeLike(logp, mask), entropy: t.reshapeLike(entropy, mask), values };
}

/** The stats graph: logp, entropy (and values) [n, R] without gradients. */
export function statsGraph(config: ModelConfig, temperature: number, options: { values: boolean; weights?: ReadonlyMap<string, NamedTensor>; params?: ParamOptions }): Uint8Array {
  const m = familyModelGraph(config, ['rows', 'seq'], {
    masked: true,
    ...(options.values ? { extra: valueHeadShapes(config) } : {}),
    ...(options.weights ? { weights: options.weights } : {}),
    ...options.params,
  });
  const r = responseTokens(m, config, temperature, options.values);
  r.g.output(r.logp, 'logp', 'float', ['rows', 'response']);
  r.g.output(r.entropy, 'entropy', 'float', ['rows', 'response']);
  if (r.values) r.g.output(r.values, 'values', 'float', ['rows', 'response']);
  return r.g.model(`${familyOf(config)}_response_stats`, `${familyOf(config)} response-token statistics at temperature ${temperature}`);
}

/** Scalar statistics (not differentiated) as graph outputs. */
export function outputs(m: ModelGraph, values: Record<string, string>): void {
  for (const [name, v] of Object.entries(values)) m.t.g.output(v, name, 'float', []);
}

export function buildPpoGraphs(config: ModelConfig, hp: PpoGraphConfig): PolicyGraphs {
  const shapes = new Map([...modelParameterShapes(config), ...valueHeadShapes(config)]);
  const train = (params: ParamOptions = {}): Uint8Array => {
    const m = familyModelGraph(config, ['rows', 'seq'], { masked: true, extra: valueHeadShapes(config), ...params });
    const { t } = m;
    const { g, mask, logp, entropy, values } = responseTokens(m, config, hp.temperature, true);
    const input = (name: string): string => g.input(name, 'float', ['rows', 'response']);
    const [oldLogp, advantages, returns, oldValues] = ['old_logp', 'advantages', 'returns', 'old_values'].map(input) as [string, string, string, string];
    // Masked mean over the minibatch's response tokens: Σ x·mask / max(Σ mask, 1).
    const inv = g.op('Reciprocal', [g.op('Max', [g.op('ReduceSum', [mask], { keepdims: 0 }), g.floatConst([1], [])])]);
    const avg = (x: string): string => t.mul(t.sumAll(t.mul(x, mask)), inv);
    const plainAvg = (x: string): string => g.op('Mul', [g.op('ReduceSum', [g.op('Mul', [x, mask])], { keepdims: 0 }), inv]);
    // Clipped surrogate: max(−A·ρ, −A·clip(ρ, 1 ± ε)).
    const ratio = t.exp(t.sub(logp, oldLogp));
    const negAdv = g.op('Neg', [advantages]);
    const pg = t.maximum(t.mul(ratio, negAdv), t.mul(t.clip(ratio, 1 - hp.clipRange, 1 + hp.clipRange), negAdv));
    // Clipped value loss: ½·max((V − R)², (V_old + clip(V − V_old, ±c) − R)²).
    const v = values as string;
    const vClipped = t.add(oldValues, t.clip(t.sub(v, oldValues), -hp.clipRangeValue, hp.clipRangeValue));
    const vf = t.scale(t.maximum(t.square(t.sub(v, returns)), t.square(t.sub(vClipped, returns))), 0.5);
    const pgLoss = avg(pg);
    const vfLoss = avg(vf);
    let loss = t.add(pgLoss, t.scale(vfLoss, hp.vfCoef));
    if (hp.entCoef > 0) loss = t.sub(loss, t.scale(avg(entropy), hp.entCoef));
    if (hp.ptxCoef > 0) {
      const ptxIds = g.input('ptx_ids', 'int64', ['ptx_rows', 'ptx_seq']);
      const ptxTargets = g.input('ptx_targets', 'int64', ['ptx_rows', 'ptx_seq']);
      const ptxMask = g.op('Cast', [g.op('GreaterOrEqual', [ptxTargets, g.int64Const([0], [])])], { to: 1 }); // [b, t]: every target counts
      loss = t.add(loss, t.scale(t.lmLoss(m.forward(ptxIds), m.p(m.lmHead), ptxTargets, ptxMask, modelWidth(config)), hp.ptxCoef));
    }
    g.output(loss, 'loss', 'float', []);
    const logRatio = g.op('Sub', [logp, oldLogp]);
    outputs(m, {
      pg: pgLoss,
      vf: vfLoss,
      approxkl: g.op('Mul', [plainAvg(g.op('Mul', [logRatio, logRatio])), g.floatConst([0.5], [])]),
      clipfrac: plainAvg(g.op('Cast', [g.op('Greater', [g.op('Abs', [g.op('Sub', [ratio, g.floatConst([1], [])])]), g.floatConst([hp.clipRange], [])])], { to: 1 })),
      ratio: plainAvg(ratio),
      vpred: plainAvg(v),
    });
    m.gradients(loss);
    return g.model(`${familyOf(config)}_ppo_train`, `PPO minibatch loss and gradients (${layerCount(config)} layers, width ${modelWidth(config)})`);
  };
  return { shapes, build: { train, stats: (params) => statsGraph(config, hp.temperature, { values: true, ...(params ? { params } : {}) }) } };
}

export function buildRlooGraphs(config: ModelConfig, hp: RlooGraphConfig): PolicyGraphs {
  const train = (params: ParamOptions = {}): Uint8Array => {
    const m = familyModelGraph(config, ['rows', 'seq'], { masked: true, ...params });
    const { t } = m;
    const { g, mask, logp } = responseTokens(m, config, hp.temperature, false);
    const old = g.input('old_seq_logp', 'float', ['rows']);
    const advantages = g.input('advantages', 'float', ['rows']);
    const seq = t.rowSum(t.mul(logp, mask)); // [n]: the response's log-prob
    const ratio = t.exp(t.sub(seq, old));
    const negAdv = g.op('Neg', [advantages]);
    const loss = t.meanAll(t.maximum(t.mul(ratio, negAdv), t.mul(t.clip(ratio, 1 - hp.clipRange, 1 + hp.clipRange), negAdv)));
    g.output(loss, 'loss', 'float', []);
    const mean = (x: string): string => g.op('ReduceMean', [x], { keepdims: 0 });
    const logRatio = g.op('Sub', [seq, old]);
    outputs(m, {
      approxkl: g.op('Mul', [mean(g.op('Mul', [logRatio, logRatio])), g.floatConst([0.5], [])]),
      clipfrac: mean(g.op('Cast', [g.op('Greater', [g.op('Abs', [g.op('Sub', [ratio, g.floatConst([1], [])])]), g.floatConst([hp.clipRange], [])])], { to: 1 })),
      ratio: mean(ratio),
    });
    m.gradients(loss);
    return g.model(`${familyOf(config)}_rloo_train`, `RLOO minibatch loss and gradients (${layerCount(config)} layers, width ${modelWidth(config)})`);
  };
  return { shapes: modelParameterShapes(config), build: { train, stats: (params) => statsGraph(config, hp.temperature, { values: false, ...(params ? { params } : {}) }) } };
}

/** A frozen model's response-token log-probs and entropies (the reference), its weights as initializers. */
export function buildFrozenStatsGraph(config: ModelConfig, weights: ReadonlyMap<string, NamedTensor>, temperature: number): Uint8Array {
  return statsGraph(config, temperature, { values: false, weights });
}

/**
 * A reward model's score of each row (GPT2ForSequenceClassification, weights as initializers):
 * inputs input_ids [n, T] int64, attention_mask [n, T] float (left or right padding), last_index
 * [n] int64 (each row's last real column); output scores [n] = score.weight · h[row, last].
 */
export function buildRewardScoreGraph(config: ModelConfig, weights: ReadonlyMap<string, NamedTensor>): Uint8Array {
  const m = familyModelGraph(config, ['rows', 'seq'], { masked: true, weights, extra: new Map([['score.weight', [1, modelWidth(config)]]]) });
  const g = m.t.g;
  const C = modelWidth(config);
  const last = g.input('last_index', 'int64', ['rows']);
  const T = g.op('Gather', [g.op('Shape', [m.ids]), g.int64Const([1], [])], { axis: 0 });
  const rows = g.op('Range', [g.int64Const([0], []), g.op('Gather', [g.op('Shape', [m.ids]), g.int64Const([0], [])], { axis: 0 }), g.int64Const([1], [])]); // [n]
  const flat = g.op('Add', [g.op('Mul', [rows, T]), last]); // [n]
  const h = g.op('Gather', [g.op('Reshape', [m.hidden, g.int64Const([-1, C])]), flat], { axis: 0 }); // [n, C]
  const scores = g.op('Reshape', [g.op('Gemm', [h, m.p('score.weight')], { transB: 1 }), g.int64Const([-1])]); // [n]
  g.output(scores, 'scores', 'float', ['rows']);
  return g.model(`${familyOf(config)}_reward_scores`, `${familyOf(config)} reward model scores (${layerCount(config)} layers, width ${C})`);
}
