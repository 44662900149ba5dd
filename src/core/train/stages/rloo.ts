/**
 * RLOO: REINFORCE with a leave-one-out baseline (Ahmadian et al. 2024; TRL's RLOOTrainer), the
 * lighter alternative to PPO: no value head, k samples per prompt. Each sample's reward is
 * its score − β·KL(sequence); its baseline is the mean reward of the other k − 1 samples of
 * the same prompt. The update is the sequence-level clipped surrogate over a few epochs: onnx/
 * policyGraphs.ts's on ONNX Runtime, tfjs/rloo.ts's on the tfjs engine.
 */
import { DEFAULT_SAMPLING } from '../../sample/types';
import { DEFAULT_OPTIM } from '../optim';
import type { Optimizer, OptimConfig } from '../optim';
import { batchRandom, shuffle } from '../data/batches';
import { allRows, collectRollout, klEstimates, pickPrompts } from '../rollout/rollout';
import { policyEngine } from '../rollout/policyEngine';
import { rolloutFeeds } from '../rollout/ortPolicy';
import { buildRlooGraphs } from '../../onnx/policyGraphs';
import type { RolloutData, RolloutSampler, Scorer } from '../rollout/rollout';
import { due, metrics } from '../stage';
import { mean, rowSumMasked, sum, whiten } from '../stats';
import type { ResumePoint, StageEvent, TrainModel } from '../stage';

export interface RlooConfig {
  readonly iterations: number;
  /** Distinct prompts per iteration; each is sampled k times. */
  readonly promptsPerIteration: number;
  /** Samples per prompt (≥ 2: the baseline needs the others). */
  readonly k: number;
  readonly miniBatches: number;
  readonly epochs: number;
  readonly temperature: number;
  readonly maxNewTokens: number;
  /** KL coefficient β on the sequence KL. */
  readonly klCoef: number;
  readonly klEstimator: 'k1' | 'k3';
  readonly clipRange: number;
  /** Whiten advantages per iteration. */
  readonly normalizeAdvantages: boolean;
  readonly sampleEvery: number;
  readonly checkpointEvery: number;
  readonly seed: number;
  readonly optim: OptimConfig;
}

export const DEFAULT_RLOO: RlooConfig = {
  iterations: 40,
  promptsPerIteration: 8,
  k: 4,
  miniBatches: 2,
  epochs: 2,
  temperature: 0.7,
  maxNewTokens: 24,
  klCoef: 0.05,
  klEstimator: 'k1',
  clipRange: 0.2,
  normalizeAdvantages: true,
  sampleEvery: 5,
  checkpointEvery: 10,
  seed: 5,
  optim: { ...DEFAULT_OPTIM, lr: 3e-5, warmupSteps: 0, totalSteps: 40 * 2 * 2, weightDecay: 0, minLrRatio: 1 },
};

/** Leave-one-out advantages within each group of k consecutive rewards. */
export function leaveOneOut(rewards: readonly number[], k: number): number[] {
  if (k < 2 || rewards.length % k !== 0) throw new Error(`leaveOneOut: ${rewards.length} rewards do not split into groups of k=${k} ≥ 2`);
  const out: number[] = [];
  for (let g = 0; g < rewards.length; g += k) {
    const group = rewards.slice(g, g + k);
    const total = sum(group);
    for (const r of group) out.push(r - (total - r) / (k - 1));
  }
  return out;
}

export async function* rloo(
  policy: TrainModel,
  /** The frozen reference (absent: a LoRA policy's own base, adapters off). */
  reference: TrainModel | undefined,
  optimizer: Optimizer,
  sampler: RolloutSampler,
  scorer: Scorer,
  data: RolloutData,
  config: RlooConfig,
  signal?: AbortSignal,
  resume?: ResumePoint,
): AsyncGenerator<StageEvent> {
  if (config.k < 2) throw new Error('rloo: k must be at least 2');
  let iteration = resume?.step ?? 0;
  const pe = await policyEngine('rloo', policy, reference, optimizer, buildRlooGraphs(policy.config, config), config.temperature);
  try {
    const { engine } = pe;
    const tfjs = engine.trainer ? undefined : await import('../tfjs/rloo');
    await sampler.refresh(await pe.weights());
    while (iteration < config.iterations) {
      if (signal?.aborted) {
        yield pe.checkpoint(iteration, 'cancel');
        signal.throwIfAborted();
      }
      iteration += 1;
      const started = performance.now();
      const random = batchRandom(config.seed, iteration);
      // k consecutive rows per prompt, so groups are contiguous.
      const prompts = pickPrompts(data.prompts, config.promptsPerIteration, random).flatMap((p) => Array.from({ length: config.k }, () => p));
      const c = await collectRollout(
        pe.scoring,
        sampler,
        scorer,
        data,
        prompts,
        {
          ...DEFAULT_SAMPLING,
          temperature: config.temperature,
          maxNewTokens: config.maxNewTokens,
          eosTokenId: data.eos,
          ...(data.stops ? { stopTokenIds: data.stops } : {}),
          seed: config.seed * 100_003 + iteration,
        },
        false,
        signal,
      );
      const { rollout, oldLogp, refLogp, entropy, rawScores, texts } = c;
      const { B, R } = rollout;
      const kl = klEstimates(oldLogp, refLogp, config.klEstimator);
      const seqKl = allRows(B).map((b) => rowSumMasked(kl, rollout.responseMask, b, R));
      const oldSeqLogp = allRows(B).map((b) => rowSumMasked(oldLogp, rollout.responseMask, b, R));
      const rewards = rawScores.map((s, b) => s - config.klCoef * (seqKl[b] as number));
      const loo = leaveOneOut(rewards, config.k);
      const adv = config.normalizeAdvantages ? whiten(loo) : loo;

      const mbSize = Math.max(1, Math.floor(B / config.miniBatches));
      const losses: number[] = [];
      const approxkl: number[] = [];
      const clipfrac: number[] = [];
      const ratios: number[] = [];
      let lr = 0;
      let gradNorm = 0;
      for (let epoch = 0; epoch < config.epochs; epoch++) {
        const order = shuffle(allRows(B), random);
        for (let start = 0; start + mbSize <= B; start += mbSize) {
          const mb = order.slice(start, start + mbSize);
          const r = tfjs
            ? engine.tfjsStep(() => tfjs.rlooMinibatchLoss(policy, rollout, mb, oldSeqLogp, adv, config))
            : await engine.ortStep((t) =>
                t.gradients(
                  {
                    ...rolloutFeeds(t.ort, rollout, mb),
                    old_seq_logp: new t.ort.Tensor(
                      'float32',
                      Float32Array.from(mb, (row) => oldSeqLogp[row] as number),
                      [mb.length],
                    ),
                    advantages: new t.ort.Tensor(
                      'float32',
                      Float32Array.from(mb, (row) => adv[row] as number),
                      [mb.length],
                    ),
                  },
                  ['approxkl', 'clipfrac', 'ratio'],
                ),
              );
          losses.push(r.loss);
          approxkl.push(r.extras.approxkl as number);
          clipfrac.push(r.extras.clipfrac as number);
          ratios.push(r.extras.ratio as number);
          lr = r.lr;
          gradNorm = r.gradNorm;
        }
      }
      await sampler.refresh(await pe.weights());
      const seconds = (performance.now() - started) / 1000;
      yield metrics('rloo', iteration, {
        'objective/kl': mean(seqKl),
        'objective/entropy': mean(allRows(B).map((b) => rowSumMasked(entropy, rollout.responseMask, b, R))),
        'objective/non_score_reward': mean(seqKl.map((k) => -config.klCoef * k)),
        'objective/rlhf_reward': mean(rewards),
        'objective/scores': mean(rawScores),
        'policy/approxkl': mean(approxkl),
        'policy/clipfrac': mean(clipfrac),
        'loss/policy': mean(losses),
        'val/ratio': mean(ratios),
        lr,
        grad_norm: gradNorm,
        tokens_per_second: sum(rollout.responseMask) / seconds,
        'time/rollout': c.rolloutSeconds,
        'time/scoring': c.scoreSeconds,
        'time/update': seconds - c.rolloutSeconds - c.scoreSeconds,
      });
      if (due(iteration, config.sampleEvery) || iteration === 1) {
        yield { type: 'samples', samples: prompts.slice(0, 4).map((p, b) => ({ iteration, prompt: p.text, completion: texts[b] as string, score: rawScores[b] as number, kl: seqKl[b] as number })) };
      }
      if (due(iteration, config.checkpointEvery) && iteration < config.iterations) yield pe.checkpoint(iteration, 'interval');
    }
    yield pe.checkpoint(iteration, 'final');
  } finally {
    await pe.release();
  }
}
