/**
 * GRPO's train graph (Shao et al. 2024; TRL's GRPOTrainer), over a rollout laid out as the other
 * policy graphs take it (policyGraphs.ts: rows [left-padded prompt | response], token_index,
 * targets, response_mask [n, R]). Per response token t of row i:
 *
 *   ρ = exp(logp − old_logp)                                   the importance ratio
 *   ℓ = −min(ρ·A_i, clip(ρ, 1 − ε, 1 + ε_high)·A_i)            the clipped surrogate
 *     + β·(exp(ref − logp) − (ref − logp) − 1)                 the k3 KL to the reference (β > 0)
 *
 * and the loss aggregates ℓ over the response tokens (mask m):
 *   sequence-mean  mean over rows of Σ_t ℓ·m / Σ_t m           (GRPO as published)
 *   token-mean     Σ ℓ·m / Σ m                                  (DAPO; TRL's default "dapo")
 *   constant       Σ ℓ·m / (n · maxNewTokens)                   (Dr. GRPO: no length bias)
 *
 *   inputs   the rollout's, old_logp [n, R], advantages [n], and ref_logp [n, R] only when β > 0
 *   outputs  loss, clip_ratio (the share of tokens whose clipped branch is taken: ρ < 1 − ε with
 *            A < 0, or ρ > 1 + ε_high with A > 0), kl (token mean of the k3 estimate; β > 0
 *            only), grad_norm, grad.<name>
 *
 * The stats graph (old and reference log-probs) is the policy stages' one.
 */
import type { ModelConfig } from '../model/modelConfig';
import { familyOf, layerCount, modelParameterShapes, modelWidth } from '../model/modelConfig';
import { familyModelGraph } from './modelGraphs';
import type { ParamOptions } from './lora';
import type { PolicyGraphs } from './policyGraphs';
import { outputs, responseTokens, statsGraph } from './policyGraphs';

/** How the per-token losses become one number. */
export const GRPO_LOSS_AGGREGATIONS = ['sequence-mean', 'token-mean', 'constant'] as const;
export type GrpoLossAggregation = (typeof GRPO_LOSS_AGGREGATIONS)[number];

export interface GrpoGraphConfig {
  readonly temperature: number;
  /** Clip range below 1 (ε) and above 1 (ε_high; DAPO's "clip higher"). */
  readonly epsilon: number;
  readonly epsilonHigh: number;
  /** KL coefficient; 0: no KL term and no ref_logp input. */
  readonly beta: number;
  readonly lossAggregation: GrpoLossAggregation;
  /** The constant aggregation's per-row token count. */
  readonly maxNewTokens: number;
}

export function buildGrpoGraphs(config: ModelConfig, hp: GrpoGraphConfig): PolicyGraphs {
  const train = (params: ParamOptions = {}): Uint8Array => {
    const m = familyModelGraph(config, ['rows', 'seq'], { masked: true, ...params });
    const { t } = m;
    const { g, mask, logp } = responseTokens(m, config, hp.temperature, false); // [n, R]
    const oldLogp = g.input('old_logp', 'float', ['rows', 'response']);
    const advantages = g.input('advantages', 'float', ['rows']);
    const adv = g.op('Unsqueeze', [advantages, g.int64Const([1])]); // [n, 1], broadcast over the tokens
    const negAdv = g.op('Neg', [adv]);
    const one = g.floatConst([1], []);

    // The clipped surrogate: max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε_high)) = −min(ρ·A, clip(ρ)·A).
    const ratio = t.exp(t.sub(logp, oldLogp));
    let perToken = t.maximum(t.mul(ratio, negAdv), t.mul(t.clip(ratio, 1 - hp.epsilon, 1 + hp.epsilonHigh), negAdv)); // [n, R]
    let kl: string | undefined;
    if (hp.beta > 0) {
      // k3 = exp(d) − d − 1 with d = ref − logp: unbiased for KL(π‖π_ref), never negative.
      const ref = g.input('ref_logp', 'float', ['rows', 'response']);
      const d = t.sub(ref, logp);
      kl = t.sub(t.sub(t.exp(d), d), one);
      perToken = t.add(perToken, t.scale(kl, hp.beta));
    }

    const masked = t.mul(perToken, mask);
    const tokens = g.op('Max', [g.op('ReduceSum', [mask], { keepdims: 0 }), one]); // Σ m, at least 1
    let loss: string;
    switch (hp.lossAggregation) {
      case 'sequence-mean': {
        const lengths = g.op('Max', [g.op('ReduceSum', [mask, g.int64Const([-1])], { keepdims: 0 }), one]); // [n]
        loss = t.meanAll(t.mul(t.rowSum(masked), g.op('Reciprocal', [lengths])));
        break;
      }
      case 'token-mean':
        loss = t.mul(t.sumAll(masked), g.op('Reciprocal', [tokens]));
        break;
      case 'constant': {
        const rows = g.op('Cast', [g.op('Gather', [g.op('Shape', [mask]), g.int64Const([0], [])], { axis: 0 })], { to: 1 });
        loss = t.mul(t.sumAll(masked), g.op('Reciprocal', [g.op('Mul', [rows, g.floatConst([hp.maxNewTokens], [])])]));
        break;
      }
    }
    g.output(loss, 'loss', 'float', []);

    const tokenMean = (x: string): string => g.op('Div', [g.op('ReduceSum', [g.op('Mul', [x, mask])], { keepdims: 0 }), tokens]);
    const flag = (x: string): string => g.op('Cast', [x], { to: 1 });
    const zero = g.floatConst([0], []);
    const low = g.op('And', [g.op('Less', [ratio, g.floatConst([1 - hp.epsilon], [])]), g.op('Less', [adv, zero])]);
    const high = g.op('And', [g.op('Greater', [ratio, g.floatConst([1 + hp.epsilonHigh], [])]), g.op('Greater', [adv, zero])]);
    outputs(m, { clip_ratio: tokenMean(flag(g.op('Or', [low, high]))), ...(kl ? { kl: tokenMean(kl) } : {}) });
    m.gradients(loss);
    return g.model(`${familyOf(config)}_grpo_train`, `GRPO minibatch loss (${hp.lossAggregation}) and gradients (${layerCount(config)} layers, width ${modelWidth(config)})`);
  };
  return { shapes: modelParameterShapes(config), build: { train, stats: (params) => statsGraph(config, hp.temperature, { values: false, ...(params ? { params } : {}) }) } };
}
