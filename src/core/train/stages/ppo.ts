/**
 * PPO for language models (Ziegler et al. 2019; InstructGPT; TRL's PPOTrainer), one iteration:
 *   1. rollout: sample responses with the ORT sampler from the current policy;
 *   2. recompute log-probs and values with the training model, reference log-probs with the
 *      frozen SFT model, and score each response (reward model at the last token, or a function);
 *   3. rewards: −β·KL per token, plus the normalised, clipped score at the last response token;
 *   4. GAE(γ, λ) as the plain reverse loop; whiten advantages;
 *   5. epochs × shuffled minibatches of the clipped surrogate + clipped value loss − entropy
 *      bonus (+ PPO-ptx), approx-KL early stop; then adapt β and refresh the sampler.
 * Every hyperparameter is in PpoConfig with TRL-like defaults. The loss is onnx/policyGraphs.ts's
 * on ONNX Runtime, tfjs/ppo.ts's on the tfjs engine.
 */
import { DEFAULT_SAMPLING } from '../../sample/types';
import { DEFAULT_OPTIM } from '../optim';
import type { Optimizer, OptimConfig } from '../optim';
import { batchRandom, corpusBatch, shuffle } from '../data/batches';
import { allRows, collectRollout, klEstimates, pickPrompts } from '../rollout/rollout';
import { policyEngine } from '../rollout/policyEngine';
import { rolloutFeeds, rowsFeed } from '../rollout/ortPolicy';
import { int64Tensor } from '../ort/session';
import type * as Ort from 'onnxruntime-node';
import { buildPpoGraphs } from '../../onnx/policyGraphs';
import type { Rollout, RolloutData, RolloutSampler, Scorer } from '../rollout/rollout';
import { due, hasParam, metrics } from '../stage';
import { masked, mean, rowSumMasked, sum, variance, whitenMasked } from '../stats';
import type { ResumePoint, StageEvent, TrainModel } from '../stage';

export interface PpoConfig {
  /** PPO iterations (rollout + update); the stage's step counter. */
  readonly iterations: number;
  /** Prompts (= responses) per rollout. */
  readonly rolloutBatch: number;
  /** Minibatches per epoch over the rollout. */
  readonly miniBatches: number;
  /** Passes over each rollout. */
  readonly ppoEpochs: number;
  /** Sampling of rollouts: temperature (also applied to log-probs), top-p, max new tokens. */
  readonly temperature: number;
  readonly topP: number;
  readonly maxNewTokens: number;
  /** Discount and GAE λ (TRL: γ = 1, λ = 0.95). */
  readonly gamma: number;
  readonly lam: number;
  /** Surrogate clip ε and value clip. */
  readonly clipRange: number;
  readonly clipRangeValue: number;
  /** Value-loss coefficient and entropy bonus. */
  readonly vfCoef: number;
  readonly entCoef: number;
  /** Initial KL coefficient β; adaptive control toward `klTarget` over `klHorizon` samples when set. */
  readonly klCoef: number;
  readonly adaptiveKl: { readonly target: number; readonly horizon: number } | null;
  readonly klEstimator: 'k1' | 'k3';
  /** Score normalisation: running mean/std of scores (Ziegler et al.), or none; then clip to ±scoreClip. */
  readonly scoreNorm: 'running' | 'none';
  readonly scoreClip: number;
  /** Added to the score of responses that never emitted EOS (negative = penalty); 0 disables. */
  readonly missingEosPenalty: number;
  /** Whiten advantages per rollout. */
  readonly whitenAdvantages: boolean;
  /** Stop the epochs of an iteration once approx-KL exceeds this (0 disables). */
  readonly targetApproxKl: number;
  /** PPO-ptx: γ_ptx × pretraining NLL on corpus windows, added to the loss (0 disables). */
  readonly ptxCoef: number;
  readonly ptxBatch: number;
  readonly ptxBlockSize: number;
  /** Write sampled completions to samples.jsonl every N iterations (0: never). */
  readonly sampleEvery: number;
  readonly checkpointEvery: number;
  readonly seed: number;
  /** AdamW per minibatch update; totalSteps is set from iterations × epochs × minibatches. */
  readonly optim: OptimConfig;
}

export const DEFAULT_PPO: PpoConfig = {
  iterations: 40,
  rolloutBatch: 32,
  miniBatches: 4,
  ppoEpochs: 4,
  temperature: 0.7,
  topP: 1,
  maxNewTokens: 24,
  gamma: 1,
  lam: 0.95,
  clipRange: 0.2,
  clipRangeValue: 0.2,
  vfCoef: 0.1,
  entCoef: 0,
  klCoef: 0.05,
  adaptiveKl: null,
  klEstimator: 'k1',
  scoreNorm: 'running',
  scoreClip: 5,
  missingEosPenalty: 0,
  whitenAdvantages: true,
  targetApproxKl: 0,
  ptxCoef: 0,
  ptxBatch: 4,
  ptxBlockSize: 64,
  sampleEvery: 5,
  checkpointEvery: 10,
  seed: 4,
  optim: { ...DEFAULT_OPTIM, lr: 3e-5, warmupSteps: 0, totalSteps: 40 * 4 * 4, weightDecay: 0, minLrRatio: 1 },
};

export interface PpoData extends RolloutData {
  /** Corpus tokens for PPO-ptx (required when ptxCoef > 0). */
  readonly ptxCorpus?: Int32Array;
}

/** What PPO keeps across iterations and checkpoints. */
export interface PpoState {
  klCoef: number;
  scoreMean: number;
  scoreVar: number;
  scoreCount: number;
}

/** GAE over one row, the plain reverse loop: δ_t = r_t + γV_{t+1} − V_t; A_t = δ_t + γλA_{t+1}. */
export function gae(rewards: readonly number[], values: readonly number[], gamma: number, lam: number): { advantages: number[]; returns: number[] } {
  const n = rewards.length;
  const advantages = new Array<number>(n).fill(0);
  let last = 0;
  for (let t = n - 1; t >= 0; t--) {
    const nextValue = t + 1 < n ? (values[t + 1] as number) : 0;
    const delta = (rewards[t] as number) + gamma * nextValue - (values[t] as number);
    last = delta + gamma * lam * last;
    advantages[t] = last;
  }
  return { advantages, returns: advantages.map((a, t) => a + (values[t] as number)) };
}

/** A rollout's per-token arrays a PPO minibatch reads, [B·R] each. */
export interface PpoArrays {
  readonly oldLogp: Float32Array;
  readonly advantages: Float32Array;
  readonly returns: Float32Array;
  readonly oldValues: Float32Array;
}

/** Ziegler et al.'s adaptive KL controller: β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon). */
export function adaptKl(coef: number, kl: number, n: number, target: number, horizon: number): number {
  const error = Math.min(0.2, Math.max(-0.2, kl / target - 1));
  return coef * (1 + (error * n) / horizon);
}

export async function* ppo(
  policy: TrainModel,
  /** The frozen reference (absent: a LoRA policy's own base, adapters off). */
  reference: TrainModel | undefined,
  optimizer: Optimizer,
  sampler: RolloutSampler,
  scorer: Scorer,
  data: PpoData,
  config: PpoConfig,
  signal?: AbortSignal,
  resume?: ResumePoint,
): AsyncGenerator<StageEvent> {
  if (data.prompts.length === 0) throw new Error('ppo: no prompts');
  if (config.ptxCoef > 0 && !data.ptxCorpus) throw new Error('ppo: ptxCoef > 0 needs a pretraining corpus');
  if (!hasParam(policy, 'v_head.summary.weight')) throw new Error('ppo: the policy has no value head');
  const state: PpoState = { klCoef: config.klCoef, scoreMean: 0, scoreVar: 1, scoreCount: 0, ...(resume?.state as Partial<PpoState> | undefined) };
  let iteration = resume?.step ?? 0;
  const pe = await policyEngine('ppo', policy, reference, optimizer, buildPpoGraphs(policy.config, config), config.temperature);
  try {
    const { engine } = pe;
    const tfjs = engine.trainer ? undefined : await import('../tfjs/ppo');
    await sampler.refresh(await pe.weights());
    while (iteration < config.iterations) {
      if (signal?.aborted) {
        yield pe.checkpoint(iteration, 'cancel', { ...state });
        signal.throwIfAborted();
      }
      iteration += 1;
      const started = performance.now();
      const random = batchRandom(config.seed, iteration);

      // 1–2. Rollout from the current policy; old log-probs, values and entropy; reference log-probs; scores.
      const chosen = pickPrompts(data.prompts, config.rolloutBatch, random);
      const c = await collectRollout(
        pe.scoring,
        sampler,
        scorer,
        data,
        chosen,
        {
          ...DEFAULT_SAMPLING,
          temperature: config.temperature,
          topP: config.topP,
          maxNewTokens: config.maxNewTokens,
          eosTokenId: data.eos,
          ...(data.stops ? { stopTokenIds: data.stops } : {}),
          seed: config.seed * 100_003 + iteration,
        },
        true,
        signal,
      );
      const { rollout, oldLogp, entropy, refLogp, texts, rawScores } = c;
      const oldValues = c.values as Float32Array;
      const { B, R } = rollout;

      // 3. Rewards: normalised, clipped score at the last response token; −β·KL on every token.
      const scores = rawScores.map((s, b) => s + (config.missingEosPenalty !== 0 && !rollout.containsEos[b] ? config.missingEosPenalty : 0));
      if (config.scoreNorm === 'running') updateRunning(state, scores);
      const normalised = scores.map((s) => {
        const z = config.scoreNorm === 'running' ? (s - state.scoreMean) / Math.sqrt(state.scoreVar + 1e-8) : s;
        return Math.max(-config.scoreClip, Math.min(config.scoreClip, z));
      });
      const kl = klEstimates(oldLogp, refLogp, config.klEstimator);
      const advantages = new Float32Array(B * R);
      const returns = new Float32Array(B * R);
      const seqKl: number[] = [];
      const nonScore: number[] = [];
      for (let b = 0; b < B; b++) {
        const len = rollout.responses[b]?.length ?? 0;
        const rewards: number[] = [];
        const values: number[] = [];
        let klSum = 0;
        for (let t = 0; t < len; t++) {
          const k = kl[b * R + t] as number;
          klSum += k;
          rewards.push(-state.klCoef * k + (t === len - 1 ? (normalised[b] as number) : 0));
          values.push(oldValues[b * R + t] as number);
        }
        seqKl.push(klSum);
        nonScore.push(-state.klCoef * klSum);
        // 4. GAE on the real tokens of the row.
        const g = gae(rewards, values, config.gamma, config.lam);
        g.advantages.forEach((a, t) => (advantages[b * R + t] = a));
        g.returns.forEach((ret, t) => (returns[b * R + t] = ret));
      }
      if (config.whitenAdvantages) whitenMasked(advantages, rollout.responseMask);

      // 5. Epochs × shuffled minibatches.
      const mbSize = Math.max(1, Math.floor(B / config.miniBatches));
      const stats = { policy: [] as number[], value: [] as number[], approxkl: [] as number[], clipfrac: [] as number[], ratio: [] as number[], vpred: [] as number[] };
      let lastLr = 0;
      let lastGradNorm = 0;
      epochs: for (let epoch = 0; epoch < config.ppoEpochs; epoch++) {
        const order = shuffle(allRows(B), random);
        for (let start = 0; start + mbSize <= B; start += mbSize) {
          const mb = order.slice(start, start + mbSize);
          const arrays = { oldLogp, advantages, returns, oldValues };
          const r = tfjs
            ? engine.tfjsStep(() => tfjs.ppoMinibatchLoss(policy, rollout, mb, arrays, config, data.ptxCorpus, random))
            : await engine.ortStep((t) => t.gradients(ppoFeeds(t.ort, rollout, mb, arrays, config, data.ptxCorpus, random), PPO_STATS));
          stats.policy.push(r.extras.pg as number);
          stats.value.push(r.extras.vf as number);
          stats.approxkl.push(r.extras.approxkl as number);
          stats.clipfrac.push(r.extras.clipfrac as number);
          stats.ratio.push(r.extras.ratio as number);
          stats.vpred.push(r.extras.vpred as number);
          lastLr = r.lr;
          lastGradNorm = r.gradNorm;
          if (config.targetApproxKl > 0 && (r.extras.approxkl as number) > config.targetApproxKl) break epochs;
        }
      }

      // Explained variance of the rollout's values against its returns.
      const realRet = masked(returns, rollout.responseMask);
      const realVal = masked(oldValues, rollout.responseMask);
      const varRet = variance(realRet);
      const explained = varRet > 0 ? 1 - variance(realRet.map((x, i) => x - (realVal[i] as number))) / varRet : 0;
      const meanKl = mean(seqKl);
      const klCoefUsed = state.klCoef;
      if (config.adaptiveKl) state.klCoef = adaptKl(state.klCoef, meanKl, B, config.adaptiveKl.target, config.adaptiveKl.horizon);
      await sampler.refresh(await pe.weights());
      const seconds = (performance.now() - started) / 1000;
      const { rolloutSeconds, scoreSeconds } = c;
      const responseTokens = sum(rollout.responseMask);
      yield metrics('ppo', iteration, {
        'objective/kl': meanKl,
        'objective/kl_coef': klCoefUsed,
        'objective/entropy': mean(allRows(B).map((b) => rowSumMasked(entropy, rollout.responseMask, b, R))),
        'objective/non_score_reward': mean(nonScore),
        'objective/rlhf_reward': mean(rawScores.map((s, b) => s + (nonScore[b] as number))),
        'objective/scores': mean(rawScores),
        'policy/approxkl': mean(stats.approxkl),
        'policy/clipfrac': mean(stats.clipfrac),
        'loss/policy': mean(stats.policy),
        'loss/value': mean(stats.value),
        'val/vpred': mean(stats.vpred),
        'val/explained_variance': explained,
        'val/ratio': mean(stats.ratio),
        lr: lastLr,
        grad_norm: lastGradNorm,
        tokens_per_second: responseTokens / seconds,
        'time/rollout': rolloutSeconds,
        'time/scoring': scoreSeconds,
        'time/update': seconds - rolloutSeconds - scoreSeconds,
      });
      if (due(iteration, config.sampleEvery) || iteration === 1) {
        yield { type: 'samples', samples: chosen.slice(0, 4).map((p, b) => ({ iteration, prompt: p.text, completion: texts[b] as string, score: rawScores[b] as number, kl: seqKl[b] as number })) };
      }
      if (due(iteration, config.checkpointEvery) && iteration < config.iterations) yield pe.checkpoint(iteration, 'interval', { ...state });
    }
    yield pe.checkpoint(iteration, 'final', { ...state });
  } finally {
    await pe.release();
  }
}

const PPO_STATS = ['pg', 'vf', 'approxkl', 'clipfrac', 'ratio', 'vpred'];

/** PPO's minibatch as the ONNX Runtime graph takes it (onnx/policyGraphs.ts); PPO-ptx windows drawn as the tfjs path draws them. */
export function ppoFeeds(
  ort: typeof Ort,
  rollout: Rollout,
  mb: readonly number[],
  arrays: PpoArrays,
  config: PpoConfig,
  ptxCorpus: Int32Array | undefined,
  random: () => number,
): Record<string, Ort.Tensor> {
  const R = rollout.R;
  const feeds: Record<string, Ort.Tensor> = {
    ...rolloutFeeds(ort, rollout, mb),
    old_logp: rowsFeed(ort, arrays.oldLogp, mb, R),
    advantages: rowsFeed(ort, arrays.advantages, mb, R),
    returns: rowsFeed(ort, arrays.returns, mb, R),
    old_values: rowsFeed(ort, arrays.oldValues, mb, R),
  };
  if (config.ptxCoef > 0 && ptxCorpus) {
    const c = corpusBatch(ptxCorpus, config.ptxBlockSize, config.ptxBatch, random);
    const dims = [config.ptxBatch, config.ptxBlockSize];
    feeds.ptx_ids = int64Tensor(ort, c.ids, dims);
    feeds.ptx_targets = int64Tensor(ort, c.targets, dims);
  }
  return feeds;
}

/** Welford-style merge of a batch into the running score mean/variance. */
function updateRunning(state: PpoState, xs: readonly number[]): void {
  const n = xs.length;
  if (n === 0) return;
  const m = mean(xs);
  const v = variance(xs);
  const total = state.scoreCount + n;
  const delta = m - state.scoreMean;
  const newMean = state.scoreMean + (delta * n) / total;
  const m2 = state.scoreVar * state.scoreCount + v * n + (delta * delta * state.scoreCount * n) / total;
  state.scoreMean = newMean;
  state.scoreVar = state.scoreCount === 0 ? v : m2 / total;
  state.scoreCount = total;
}
