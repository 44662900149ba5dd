/**
 * PPO and RLOO on the ONNX Runtime engine: a rollout's rows as the policy graphs' feeds
 * (onnx/policyGraphs.ts), the frozen reference and reward model as sessions whose weights are
 * initializers (built once per run, their tfjs tensors freed), and the rollout's scoring passes
 * (policy log-probs, entropies, values; reference log-probs) through them.
 */
import type * as Ort from 'onnxruntime-node';
import type { Weights } from '../../model/checkpoint';
import { buildFrozenStatsGraph, buildRewardScoreGraph } from '../../onnx/policyGraphs';
import { FrozenSession, int64Tensor } from '../ort/session';
import type { OrtTrainer } from '../ort/trainer';
import { takeParam } from '../stage';
import type { TrainModel } from '../stage';
import type { Rollout, RolloutScoring, Scorer, TokenArrays } from './rollout';
import type { ModelConfig } from '../../model/modelConfig';
import { contextLength, modelParameterShapes } from '../../model/modelConfig';

type OrtModule = typeof Ort;

/** Rows `rows` of [B·width] values. */
export function pickRows(src: Float32Array, rows: readonly number[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, i) => out.set(src.subarray(row * width, (row + 1) * width), i * width));
  return out;
}

/**
 * The policy graphs' rollout inputs for rows `rows`: ids and mask [n, P+R]; for response token j
 * of row i the hidden state at column P−1+j predicts it (token_index = i·T + P−1+j), its id, mask.
 */
export function rolloutFeeds(ort: OrtModule, r: Rollout, rows: readonly number[]): Record<string, Ort.Tensor> {
  const n = rows.length;
  const T = r.P + r.R;
  const ids = new Int32Array(n * T);
  rows.forEach((row, i) => ids.set(r.ids.subarray(row * T, (row + 1) * T), i * T));
  const index = Array.from({ length: n * r.R }, (_, k) => Math.floor(k / r.R) * T + r.P - 1 + (k % r.R));
  const targets = new Int32Array(n * r.R);
  rows.forEach((row, i) => targets.set(r.responseIds.subarray(row * r.R, (row + 1) * r.R), i * r.R));
  return {
    input_ids: int64Tensor(ort, ids, [n, T]),
    attention_mask: new ort.Tensor('float32', pickRows(r.mask, rows, T), [n, T]),
    token_index: int64Tensor(ort, index, [n * r.R]),
    targets: int64Tensor(ort, targets, [n * r.R]),
    response_mask: new ort.Tensor('float32', pickRows(r.responseMask, rows, r.R), [n, r.R]),
  };
}

/** Per-row arrays [n, R] as a feed. */
export function rowsFeed(ort: OrtModule, src: Float32Array, rows: readonly number[], R: number): Ort.Tensor {
  return new ort.Tensor('float32', pickRows(src, rows, R), [rows.length, R]);
}

/** The model's weights (the names of `names`), handed over: the model no longer holds them (takeParam). */
function takeWeights(model: TrainModel, names: Iterable<string>): Weights {
  const out: Weights = new Map();
  for (const name of names) {
    const w = takeParam(model, name);
    out.set(name, { shape: [...w.shape], data: w.data });
  }
  return out;
}

/** Floats of one [tokens, vocabulary] temporary a scoring pass may hold (64 MB): rows are scored in chunks under it. */
const LOGITS_BUDGET = 16 * 1024 * 1024;

/** `rows` in chunks whose response-token logits stay under LOGITS_BUDGET, each scored by `run`, results concatenated per output. */
async function chunked<K extends string>(
  r: Rollout,
  rows: readonly number[],
  vocab: number,
  run: (part: readonly number[]) => Promise<Record<K, Float32Array>>,
  budget = LOGITS_BUDGET,
): Promise<Record<K, Float32Array>> {
  const per = Math.max(1, Math.floor(budget / Math.max(1, r.R * vocab)));
  if (rows.length <= per) return run(rows);
  const parts: Record<K, Float32Array>[] = [];
  for (let i = 0; i < rows.length; i += per) parts.push(await run(rows.slice(i, i + per)));
  const keys = Object.keys(parts[0] as object) as K[];
  return Object.fromEntries(
    keys.map((k) => {
      const out = new Float32Array(parts.reduce((n, p) => n + p[k].length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p[k], at);
        at += p[k].length;
      }
      return [k, out];
    }),
  ) as Record<K, Float32Array>;
}

/** A frozen model's response-token log-probs at `temperature` on ONNX Runtime (its weights initializers). */
export async function ortFrozenLogProbs(
  config: ModelConfig,
  weights: Weights,
  temperature: number,
  logitsBudget = LOGITS_BUDGET,
): Promise<{ logp(r: Rollout, rows: readonly number[]): Promise<Float32Array>; release(): Promise<void> }> {
  const session = await FrozenSession.create(buildFrozenStatsGraph(config, weights, temperature));
  return {
    logp: async (r, rows) =>
      (await chunked(r, rows, config.vocab_size, async (part) => ({ logp: (await session.run(rolloutFeeds(session.ort, r, part), ['logp'])).logp as Float32Array }), logitsBudget)).logp,
    release: () => session.release(),
  };
}

/**
 * The rollout's scoring passes on ONNX Runtime: the policy's statistics from the trainer's `stats`
 * graph (its current parameters), the reference's log-probs from a frozen session. The reference's
 * tfjs tensors are freed once the session holds its weights. Without a reference (GRPO at β = 0)
 * there is no reference pass.
 */
export async function ortRolloutScoring(
  trainer: OrtTrainer,
  reference: TrainModel | undefined,
  temperature: number,
  logitsBudget = LOGITS_BUDGET,
): Promise<RolloutScoring & { release(): Promise<void> }> {
  // A LoRA policy without a reference model of its own: the base with adapters off, over the trainer's own base buffers.
  const base = !reference && trainer.lora ? { logp: baseLogProbs(trainer, logitsBudget), release: async () => undefined } : undefined;
  const ref = base
    ? base
    : reference
      ? await ortFrozenLogProbs(reference.config, takeWeights(reference, modelParameterShapes(reference.config).keys()), temperature, logitsBudget)
      : { logp: () => Promise.reject(new Error('no reference model: this run has no reference pass (β = 0)')), release: async () => undefined };
  const ort = trainer.ort;
  return {
    policy: async (r, rows, withValues): Promise<TokenArrays> => {
      const outputs = withValues ? ['logp', 'entropy', 'values'] : ['logp', 'entropy'];
      const out = await chunked(r, rows, trainer.config.vocab_size, (part) => trainer.infer('stats', rolloutFeeds(ort, r, part), outputs), logitsBudget);
      return { logp: out.logp as Float32Array, entropy: out.entropy as Float32Array, ...(withValues ? { values: out.values as Float32Array } : {}) };
    },
    reference: (r, rows) => ref.logp(r, rows),
    release: () => ref.release(),
  };
}

/** The response-token log-probs of a LoRA trainer's base, adapters off (its `stats` graph over the frozen base buffers). */
function baseLogProbs(trainer: OrtTrainer, logitsBudget: number): (r: Rollout, rows: readonly number[]) => Promise<Float32Array> {
  return async (r, rows) =>
    (await chunked(r, rows, trainer.config.vocab_size, async (part) => ({ logp: (await trainer.inferBase('stats', rolloutFeeds(trainer.ort, r, part), ['logp'])).logp as Float32Array }), logitsBudget))
      .logp;
}

/**
 * A reward model (GPT2ForSequenceClassification) scoring each rollout row at its last real token
 * on ONNX Runtime, after appending EOS to responses that lack it — as rewardModelScorer (tfjs).
 * Its tfjs tensors are freed once the session holds its weights.
 */
export async function ortRewardModelScorer(rm: TrainModel, eos: number | null): Promise<Scorer & { release(): Promise<void> }> {
  const config: ModelConfig = rm.config;
  const session = await FrozenSession.create(buildRewardScoreGraph(config, takeWeights(rm, [...modelParameterShapes(config).keys(), 'score.weight'])));
  const ort = session.ort;
  const scorer = async (_prompts: readonly string[], _responses: readonly string[], r: Rollout): Promise<number[]> => {
    const T = r.P + r.R + 1;
    // Prompts are fitted to the context before sampling; should a row still be too long, the
    // reward model reads its last n_positions tokens (the response and the EOS).
    const keep = Math.min(T, contextLength(config));
    const ids = new Int32Array(r.B * keep).fill(eos ?? 0);
    const mask = new Float32Array(r.B * keep);
    const last: number[] = [];
    for (let b = 0; b < r.B; b++) {
      const row = new Int32Array(T).fill(eos ?? 0);
      const m = new Float32Array(T);
      row.set(r.ids.subarray(b * (T - 1), (b + 1) * (T - 1)));
      m.set(r.mask.subarray(b * (T - 1), (b + 1) * (T - 1)));
      const len = r.responses[b]?.length ?? 0;
      if (eos !== null && r.responses[b]?.[len - 1] !== eos) {
        row[r.P + len] = eos;
        m[r.P + len] = 1;
      }
      ids.set(row.subarray(T - keep), b * keep);
      mask.set(m.subarray(T - keep), b * keep);
      let l = 0;
      for (let t = 0; t < keep; t++) if ((mask[b * keep + t] as number) > 0) l = t;
      last.push(l);
    }
    const out = await session.run({ input_ids: int64Tensor(ort, ids, [r.B, keep]), attention_mask: new ort.Tensor('float32', mask, [r.B, keep]), last_index: int64Tensor(ort, last, [r.B]) }, [
      'scores',
    ]);
    return Array.from(out.scores as Float32Array);
  };
  return Object.assign(scorer, { release: () => session.release() });
}
