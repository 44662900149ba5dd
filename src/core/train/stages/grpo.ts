/**
 * GRPO: Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath; TRL's GRPOTrainer).
 * The policy learns from reward functions — the reward model trained on the human rankings, code
 * in the workspace, or both — with no value head: each completion's advantage is its reward
 * against the other completions of the same prompt. One iteration:
 *   1. sample G completions for each of `promptsPerIteration` prompts from the current policy;
 *   2. score every completion with every reward function; its reward is Σ weight × value, and a
 *      completion some function could not score (null) is left out, its problem logged;
 *   3. advantages within each prompt's group: (r − mean) / (std + 1e-4), or r − mean without std
 *      scaling (Dr. GRPO); groups whose rewards all tie can be dropped (they carry no signal);
 *   4. the old log-probs of the completions trained on, and the reference's when β > 0;
 *   5. numIterations passes of shuffled minibatches of the clipped token-level objective
 *      (+ β·k3 KL), aggregated per sequence, per token or by a constant (onnx/grpoGraph.ts);
 *      then the sampler takes the new weights.
 * GRPO trains on the ONNX Runtime engine only. Metrics carry TRL's names.
 */
import { rewardFunctionMetric } from '../../../protocol/metrics';
import { UserError } from '../../errors';
import { buildGrpoGraphs } from '../../onnx/grpoGraph';
import type { GrpoLossAggregation } from '../../onnx/grpoGraph';
import type { RewardFunction, RewardProblem, RewardSample } from '../../rewards/types';
import { DEFAULT_SAMPLING } from '../../sample/types';
import type { SamplingOptions } from '../../sample/types';
import { batchRandom, shuffle } from '../data/batches';
import { trainingEngine } from '../engine';
import { DEFAULT_OPTIM } from '../optim';
import type { OptimConfig, Optimizer } from '../optim';
import { pickRows, rolloutFeeds, rowsFeed } from '../rollout/ortPolicy';
import { policyEngine } from '../rollout/policyEngine';
import { allRows, buildRollout, klEstimateNumber, pickPrompts } from '../rollout/rollout';
import type { PromptItem, Rollout, RolloutData, RolloutSampler, RolloutScoring, TokenArrays } from '../rollout/rollout';
import { due, metrics } from '../stage';
import type { ResumePoint, SampleLine, StageEvent, TrainModel } from '../stage';
import { mean, sum } from '../stats';

export interface GrpoConfig {
  /** Iterations (sample, score, update); the stage's step counter. */
  readonly iterations: number;
  /** Distinct prompts per iteration; each is sampled numGenerations times. */
  readonly promptsPerIteration: number;
  /** G: completions per prompt (≥ 2: advantages are relative to the group). */
  readonly numGenerations: number;
  /** Minibatches per pass over an iteration's completions. */
  readonly miniBatches: number;
  /** μ: passes over each iteration's completions (TRL's num_iterations); past the first, importance ratios against the old log-probs matter. */
  readonly numIterations: number;
  /** Sampling: temperature (also applied to the log-probs), top-p, max new tokens. */
  readonly temperature: number;
  readonly topP: number;
  readonly maxNewTokens: number;
  /** KL coefficient β on the per-token k3 estimate (TRL's default 0: no reference model at all). */
  readonly beta: number;
  /** Clip range ε of the importance ratio, and its upper side (DAPO's clip-higher; default ε). */
  readonly epsilon: number;
  readonly epsilonHigh: number;
  /** Divide advantages by the group's reward std ('group', GRPO) or not ('none', Dr. GRPO). */
  readonly scaleRewards: 'group' | 'none';
  /** Per-token losses → one: 'sequence-mean' (GRPO), 'token-mean' (DAPO; TRL's default), 'constant' (Dr. GRPO). */
  readonly lossAggregation: GrpoLossAggregation;
  /** Leave out groups whose rewards all tie (zero advantages; only the KL term would train on them). */
  readonly filterZeroStdGroups: boolean;
  /** Write a group's completions to samples.jsonl every N iterations (0: never). */
  readonly sampleEvery: number;
  readonly checkpointEvery: number;
  readonly seed: number;
  /** AdamW per minibatch update; totalSteps is set from iterations × numIterations × miniBatches. */
  readonly optim: OptimConfig;
}

export const DEFAULT_GRPO: GrpoConfig = {
  iterations: 40,
  promptsPerIteration: 4,
  numGenerations: 8,
  miniBatches: 2,
  numIterations: 1,
  temperature: 1,
  topP: 1,
  maxNewTokens: 24,
  beta: 0,
  epsilon: 0.2,
  epsilonHigh: 0.2,
  scaleRewards: 'group',
  lossAggregation: 'token-mean',
  filterZeroStdGroups: false,
  sampleEvery: 5,
  checkpointEvery: 10,
  seed: 6,
  optim: { ...DEFAULT_OPTIM, lr: 3e-5, warmupSteps: 0, totalSteps: 40 * 1 * 2, weightDecay: 0, minLrRatio: 1 },
};

/** A prompt, with the extra columns its reward functions read (e.g. an expected answer). */
export interface GrpoPrompt extends PromptItem {
  readonly columns?: Readonly<Record<string, unknown>>;
}

export interface GrpoData extends RolloutData {
  readonly prompts: readonly GrpoPrompt[];
}

export const GRPO_ON_ORT_ONLY = 'grpo: GRPO trains on the ONNX Runtime engine only. Run it without --engine tfjs (in the editor: the engine on its default, ONNX Runtime).';

/** A group std below this counts as a tie (TRL: torch.isclose(std, 0)). */
const ZERO_STD = 1e-8;

/** Each sample's reward: Σ weight × value over the functions, or null when any of them could not score it. */
export function combineRewards(perFunction: readonly { readonly weight: number; readonly values: readonly (number | null)[] }[], n: number): (number | null)[] {
  return Array.from({ length: n }, (_, i) => {
    let total = 0;
    for (const f of perFunction) {
      const v = f.values[i];
      if (v === null || v === undefined) return null;
      total += f.weight * v;
    }
    return total;
  });
}

/**
 * Group-relative advantages: sample i of group `groups[i]` gets r − mean of its group, divided by
 * (std + 1e-4) when `scale` is 'group' (TRL's form). std is the group's sample standard deviation
 * (n − 1, as torch's std), 0 for a group of one. Returns each sample's advantage and its group's std.
 */
export function groupAdvantages(rewards: readonly number[], groups: readonly number[], scale: GrpoConfig['scaleRewards']): { advantages: number[]; std: number[] } {
  const members = new Map<number, number[]>();
  groups.forEach((g, i) => members.set(g, [...(members.get(g) ?? []), rewards[i] as number]));
  const stats = new Map(
    [...members].map(([g, rs]) => {
      const m = mean(rs);
      const sd = rs.length > 1 ? Math.sqrt(sum(rs.map((r) => (r - m) * (r - m))) / (rs.length - 1)) : 0;
      return [g, { mean: m, std: sd }];
    }),
  );
  const of = (i: number): { mean: number; std: number } => stats.get(groups[i] as number) as { mean: number; std: number };
  return {
    advantages: rewards.map((r, i) => (scale === 'group' ? (r - of(i).mean) / (of(i).std + 1e-4) : r - of(i).mean)),
    std: rewards.map((_, i) => of(i).std),
  };
}

/** `items` in `parts` contiguous minibatches of near-equal size (none empty). */
function minibatches<T>(items: readonly T[], parts: number): T[][] {
  const n = Math.min(parts, items.length);
  return Array.from({ length: n }, (_, k) => items.slice(Math.floor((k * items.length) / n), Math.floor(((k + 1) * items.length) / n)));
}

/** Every function's values for a batch, with a log line per function that could not score some of it. */
async function scoreRewards(
  functions: readonly RewardFunction[],
  samples: readonly RewardSample[],
  iteration: number,
  signal: AbortSignal | undefined,
): Promise<{ values: Map<string, (number | null)[]>; logs: string[] }> {
  const values = new Map<string, (number | null)[]>();
  const logs: string[] = [];
  for (const f of functions) {
    const problems: RewardProblem[] = [];
    const got = await f.score(samples, (p) => problems.push(p), signal);
    // The contract says one finite value or null per sample; hold any function to it here.
    const checked = samples.map((_, i) => {
      const v = got.length === samples.length ? got[i] : null;
      return typeof v === 'number' && Number.isFinite(v) ? v : null;
    });
    if (got.length !== samples.length) problems.push({ name: f.name, source: f.name, sample: null, message: `returned ${got.length} values for ${samples.length} samples` });
    values.set(f.name, checked);
    const missed = checked.filter((v) => v === null).length;
    if (missed > 0 || problems.length > 0) {
      const first = problems[0];
      const where = first ? ` (${first.source}${first.sample === null ? '' : `, sample ${first.sample}`}: ${first.message}${problems.length > 1 ? `; ${problems.length - 1} more` : ''})` : '';
      logs.push(`grpo: iteration ${iteration}: reward function '${f.name}' could not score ${missed} of ${samples.length} completions; they are left out${where}`);
    }
  }
  return { values, logs };
}

/** One iteration's completions, their rewards and advantages, and the log-probs the update needs (steps 1–4). */
interface Collected {
  readonly rollout: Rollout;
  readonly texts: readonly string[];
  readonly scored: { readonly values: ReadonlyMap<string, (number | null)[]>; readonly logs: readonly string[] };
  /** Each row's summed reward (null: left out). */
  readonly total: readonly (number | null)[];
  /** Rows with a reward; each one's group std and whether its group tied; its advantage by row. */
  readonly kept: readonly number[];
  readonly std: readonly number[];
  readonly tied: readonly boolean[];
  readonly advantageOf: ReadonlyMap<number, number>;
  /** Rows trained on (kept, less tied groups when filtered); old and reference log-probs [train·R] in this order. */
  readonly train: readonly number[];
  readonly old: TokenArrays;
  readonly refLogp: Float32Array | undefined;
  readonly rolloutSeconds: number;
  readonly scoreSeconds: number;
}

async function collect(
  scoring: RolloutScoring,
  sampler: RolloutSampler,
  rewards: readonly RewardFunction[],
  data: GrpoData,
  rows: readonly GrpoPrompt[],
  sampling: SamplingOptions,
  config: GrpoConfig,
  iteration: number,
  signal: AbortSignal | undefined,
): Promise<Collected> {
  const started = performance.now();
  const G = config.numGenerations;
  const ids = rows.map((p) => p.ids);
  const rollout = buildRollout(ids, await sampler.sample(ids, sampling, signal), data.pad, data.eos);
  const texts = rollout.responses.map((r) => data.decode(r));
  const rolloutSeconds = (performance.now() - started) / 1000;
  const scoreStart = performance.now();
  // 2. Rewards: every function on every completion.
  const samples: RewardSample[] = rows.map((p, b) => ({ ...p.columns, prompt: p.text, completion: texts[b] as string }));
  const scored = await scoreRewards(rewards, samples, iteration, signal);
  const total = combineRewards(
    rewards.map((f) => ({ weight: f.weight, values: scored.values.get(f.name) as (number | null)[] })),
    rollout.B,
  );
  // 3. Advantages within each group, over the completions that got a reward.
  const kept = allRows(rollout.B).filter((b) => total[b] !== null);
  const { advantages, std } = groupAdvantages(
    kept.map((b) => total[b] as number),
    kept.map((b) => Math.floor(b / G)),
    config.scaleRewards,
  );
  const tied = std.map((sd) => sd < ZERO_STD);
  const train = kept.filter((_, i) => !(config.filterZeroStdGroups && tied[i]));
  // 4. Old (and reference) log-probs of the rows trained on.
  const old = train.length ? await scoring.policy(rollout, train, false) : { logp: new Float32Array(0), entropy: new Float32Array(0) };
  const refLogp = config.beta > 0 && train.length ? await scoring.reference(rollout, train) : undefined;
  return {
    rollout,
    texts,
    scored,
    total,
    kept,
    std,
    tied,
    advantageOf: new Map(kept.map((b, i) => [b, advantages[i] as number])),
    train,
    old,
    refLogp,
    rolloutSeconds,
    scoreSeconds: (performance.now() - scoreStart) / 1000,
  };
}

export async function* grpo(
  policy: TrainModel,
  /** The frozen reference; only read when β > 0 (may be undefined otherwise). */
  reference: TrainModel | undefined,
  optimizer: Optimizer,
  sampler: RolloutSampler,
  rewards: readonly RewardFunction[],
  data: GrpoData,
  config: GrpoConfig,
  signal?: AbortSignal,
  resume?: ResumePoint,
): AsyncGenerator<StageEvent> {
  if (trainingEngine().name !== 'ort') throw new UserError(GRPO_ON_ORT_ONLY);
  if (config.numGenerations < 2) throw new Error('grpo: numGenerations must be at least 2');
  if (rewards.length === 0) throw new Error('grpo: no reward function');
  if (new Set(rewards.map((f) => f.name)).size !== rewards.length) throw new Error(`grpo: reward function names must be unique (${rewards.map((f) => f.name).join(', ')})`);
  if (config.beta > 0 && !reference && !policy.lora) throw new Error('grpo: beta > 0 needs a reference model');
  if (data.prompts.length === 0) throw new Error('grpo: no prompts');
  const G = config.numGenerations;
  let iteration = resume?.step ?? 0;
  const pe = await policyEngine('grpo', policy, config.beta > 0 ? reference : undefined, optimizer, buildGrpoGraphs(policy.config, config), config.temperature);
  try {
    const { engine } = pe;
    const trainer = engine.trainer;
    if (!trainer) throw new UserError(GRPO_ON_ORT_ONLY);
    const ort = trainer.ort;
    await sampler.refresh(await pe.weights());
    while (iteration < config.iterations) {
      if (signal?.aborted) {
        yield pe.checkpoint(iteration, 'cancel');
        signal.throwIfAborted();
      }
      iteration += 1;
      const started = performance.now();
      const random = batchRandom(config.seed, iteration);

      // 1. G consecutive rows per prompt: group g is rows gG … gG + G − 1.
      const rows = pickPrompts(data.prompts, config.promptsPerIteration, random).flatMap((p) => Array.from({ length: G }, () => p as GrpoPrompt));
      const sampling = {
        ...DEFAULT_SAMPLING,
        temperature: config.temperature,
        topP: config.topP,
        maxNewTokens: config.maxNewTokens,
        eosTokenId: data.eos,
        ...(data.stops ? { stopTokenIds: data.stops } : {}),
        seed: config.seed * 100_003 + iteration,
      };
      // Steps 1–4 leave the weights as the last iteration left them: a cancel there keeps them.
      let batch: Collected;
      try {
        batch = await collect(pe.scoring, sampler, rewards, data, rows, sampling, config, iteration, signal);
      } catch (err) {
        if (signal?.aborted) yield pe.checkpoint(iteration - 1, 'cancel');
        throw err;
      }
      const { rollout, texts, scored, total, kept, train, old, refLogp } = batch;
      const R = rollout.R;
      for (const message of scored.logs) yield { type: 'log', message };

      // 5. numIterations passes of shuffled minibatches; positions index `train` (and old/ref log-probs).
      const trainMask = pickRows(rollout.responseMask, train, R);
      const losses: number[] = [];
      const kls: number[] = [];
      const clipRatios: number[] = [];
      let lr = 0;
      let gradNorm = 0;
      for (let pass = 0; pass < config.numIterations && train.length > 0; pass++) {
        for (const mb of minibatches(shuffle(allRows(train.length), random), config.miniBatches)) {
          const r = await engine.ortStep((t) =>
            t.gradients(
              {
                ...rolloutFeeds(
                  ort,
                  rollout,
                  mb.map((i) => train[i] as number),
                ),
                old_logp: rowsFeed(ort, old.logp, mb, R),
                advantages: new ort.Tensor(
                  'float32',
                  Float32Array.from(mb, (i) => batch.advantageOf.get(train[i] as number) as number),
                  [mb.length],
                ),
                ...(refLogp ? { ref_logp: rowsFeed(ort, refLogp, mb, R) } : {}),
              },
              config.beta > 0 ? ['kl', 'clip_ratio'] : ['clip_ratio'],
            ),
          );
          losses.push(r.loss);
          clipRatios.push(r.extras.clip_ratio as number);
          if (config.beta > 0) kls.push(r.extras.kl as number);
          lr = r.lr;
          gradNorm = r.gradNorm;
        }
      }
      if (train.length > 0) await sampler.refresh(await pe.weights());
      else yield { type: 'log', message: `grpo: iteration ${iteration}: no completion to train on (${kept.length === 0 ? 'none could be scored' : 'every group tied'}); the policy is unchanged.` };

      // Each trained row's sequence KL to the reference at the old policy (samples.jsonl).
      const seqKl = new Map<number, number>();
      if (refLogp) {
        train.forEach((b, i) => {
          let s = 0;
          for (let t = 0; t < R; t++) if (trainMask[i * R + t]) s += klEstimateNumber(old.logp[i * R + t] as number, refLogp[i * R + t] as number, 'k3');
          seqKl.set(b, s);
        });
      }
      const seconds = (performance.now() - started) / 1000;
      const keptRewards = kept.map((b) => total[b] as number);
      const functionMeans = Object.fromEntries(
        rewards.flatMap((f) => {
          const vs = (scored.values.get(f.name) as (number | null)[]).filter((v): v is number => v !== null);
          return vs.length ? [[rewardFunctionMetric(f.name), mean(vs)]] : [];
        }),
      );
      const lengths = rollout.responses.map((r) => r.length);
      yield metrics('grpo', iteration, {
        ...(kept.length ? { reward: mean(keptRewards), reward_std: mean(batch.std), frac_reward_zero_std: batch.tied.filter(Boolean).length / kept.length } : {}),
        ...functionMeans,
        ...(losses.length ? { loss: mean(losses), clip_ratio: mean(clipRatios), lr, grad_norm: gradNorm } : {}),
        ...(kls.length ? { kl: mean(kls) } : {}),
        'completions/mean_length': mean(lengths),
        'completions/clipped_ratio': rollout.containsEos.filter((e) => !e).length / rollout.B,
        tokens_per_second: sum(rollout.responseMask) / seconds,
        'time/rollout': batch.rolloutSeconds,
        'time/scoring': batch.scoreSeconds,
        'time/update': seconds - batch.rolloutSeconds - batch.scoreSeconds,
      });
      if (due(iteration, config.sampleEvery) || iteration === 1) {
        // The first prompt's group, each completion with its reward and every function's value.
        yield {
          type: 'samples',
          samples: allRows(Math.min(G, 8)).map((b): SampleLine => ({
            iteration,
            prompt: (rows[b] as GrpoPrompt).text,
            completion: texts[b] as string,
            score: total[b] ?? null,
            kl: seqKl.get(b) ?? null,
            rewards: Object.fromEntries(rewards.map((f) => [f.name, (scored.values.get(f.name) as (number | null)[])[b] ?? null])),
          })),
        };
      }
      if (due(iteration, config.checkpointEvery) && iteration < config.iterations) yield pe.checkpoint(iteration, 'interval');
    }
    yield pe.checkpoint(iteration, 'final');
  } finally {
    await pe.release();
  }
}
