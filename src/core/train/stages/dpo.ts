/**
 * Direct Preference Optimization (Rafailov et al. 2023): the policy learns from preference pairs
 * directly, with no reward model. A completion's implicit reward is β·(log π − log π_ref), the
 * log-probs summed over its tokens; the loss is TRL's "sigmoid" loss −log σ(r_chosen − r_rejected),
 * with optional label smoothing ε for noisy labels (conservative DPO):
 * −(1−ε)·log σ(βΔ) − ε·log σ(−βΔ).
 *
 * The reference is frozen, so its log-probs of every pair are computed once, before the first
 * step, and kept as plain numbers: a step is then one forward/backward of the policy only.
 *
 * Two engines (engine.ts): ONNX Runtime (the default) scores the reference with a session over its
 * weights (released once every pair is scored) and trains the policy through onnx/dpoGraph.ts's
 * graphs; tfjs (the correctness reference) does both with tfjs/dpo.ts.
 */
import type * as Ort from 'onnxruntime-node';
import { UserError } from '../../errors';
import { weightsOf } from '../model';
import type { NamedTensor } from '../../model/safetensors';
import { buildDpoGraphs, buildSequenceLogProbsGraph } from '../../onnx/dpoGraph';
import { engineLoop, stageEngine, trainingEngine } from '../engine';
import type { StageEngine } from '../engine';
import { resolveOrtDevice } from '../ort/device';
import { FrozenSession, int64Tensor } from '../ort/session';
import { OrtTrainer } from '../ort/trainer';
import type { Optimizer } from '../optim';
import { DEFAULT_OPTIM } from '../optim';
import { batchRandom, sampleBatch } from '../data/batches';
import { chunk } from './sft';
import { due, metrics } from '../stage';
import type { LoopConfig, StageEvent, StepResult, TrainModel } from '../stage';
import { contextLength } from '../../model/modelConfig';

export interface DpoConfig extends LoopConfig {
  /** Longest prompt+completion in tokens (≤ n_positions); batchSize counts pairs (2 sequences each). */
  readonly maxLen: number;
  /** β: how strongly the policy is held to the reference (TRL default 0.1; higher = closer). */
  readonly beta: number;
  /** ε: the assumed chance that a label is flipped (conservative DPO; TRL default 0, must be < 0.5). */
  readonly labelSmoothing: number;
}

export const DEFAULT_DPO: DpoConfig = {
  steps: 100,
  batchSize: 4,
  maxLen: 96,
  beta: 0.1,
  labelSmoothing: 0,
  evalEvery: 25,
  checkpointEvery: 50,
  seed: 5,
  // TRL's lr 1e-6 suits billion-parameter models; the tiny default model needs a larger step.
  // No weight decay (TRL's default): it would pull the policy away from the reference.
  optim: { ...DEFAULT_OPTIM, lr: 5e-5, warmupSteps: 10, totalSteps: 100, weightDecay: 0 },
};

/** One preference: a prompt and two completions, as token ids (completions end with EOS). */
export interface DpoPair {
  readonly prompt: readonly number[];
  readonly chosen: readonly number[];
  readonly rejected: readonly number[];
}

export interface DpoData {
  readonly train: readonly DpoPair[];
  readonly eval: readonly DpoPair[];
  /** Token used to pad rows (the EOS token); also stands in for an empty prompt. */
  readonly pad: number;
}

export interface DpoBatch {
  /** Pairs; sequences 0..B−1 are prompt+chosen, B..2B−1 prompt+rejected (TRL's concatenated forward). */
  readonly B: number;
  readonly T: number;
  /** [2B, T] right padded with `pad`. */
  readonly ids: Int32Array;
  /** [2B, T − 1] 1 where log-prob entry t (it scores token t+1) is a completion token. */
  readonly mask: Float32Array;
  /** Real (non-pad) tokens in the batch. */
  readonly tokens: number;
}

/**
 * 2B right-padded sequences with a completion mask. A sequence longer than `maxLen` keeps the end
 * of its prompt (at least one token, so the first completion token is scored) and as much
 * completion as fits; an empty prompt becomes [pad] (EOS as BOS, GPT-2's convention).
 */
export function dpoBatch(pairs: readonly DpoPair[], maxLen: number, pad: number): DpoBatch {
  if (maxLen < 2) throw new Error(`dpo: maxLen ${maxLen} leaves no room for a prompt token and a completion token`);
  const row = (prompt: readonly number[], completion: readonly number[]): { seq: number[]; start: number } => {
    const p = prompt.length ? prompt : [pad];
    const c = completion.slice(0, maxLen - 1);
    const kept = p.slice(Math.max(0, p.length - (maxLen - c.length)));
    return { seq: [...kept, ...c], start: kept.length };
  };
  const rows = [...pairs.map((p) => row(p.prompt, p.chosen)), ...pairs.map((p) => row(p.prompt, p.rejected))];
  const S = rows.length;
  const T = Math.max(2, ...rows.map((r) => r.seq.length));
  const ids = new Int32Array(S * T).fill(pad);
  const mask = new Float32Array(S * (T - 1));
  let tokens = 0;
  rows.forEach((r, s) => {
    ids.set(r.seq, s * T);
    tokens += r.seq.length;
    for (let t = r.start - 1; t + 1 < r.seq.length; t++) mask[s * (T - 1) + t] = 1;
  });
  return { B: pairs.length, T, ids, mask, tokens };
}

/** A pair with its reference log-probs, cached as numbers. */
export interface ScoredPair {
  readonly pair: DpoPair;
  readonly refChosen: number;
  readonly refRejected: number;
}

export const referenceOf = (part: readonly ScoredPair[]): Float32Array => Float32Array.from([...part.map((s) => s.refChosen), ...part.map((s) => s.refRejected)]);

/**
 * A batch as the ONNX graphs take it (onnx/dpoGraph.ts): per row, the hidden states that score a
 * completion token and the tokens they score, L per row (the most any row has, padding masked),
 * and with `reference` the training inputs (the reference's log-probs, the chosen and rejected rows).
 */
export function dpoFeeds(ort: typeof Ort, batch: DpoBatch, reference?: Float32Array): Record<string, Ort.Tensor> {
  const S = 2 * batch.B;
  const T = batch.T;
  const counts = Array.from({ length: S }, (_, s) => batch.mask.subarray(s * (T - 1), (s + 1) * (T - 1)).reduce((n, v) => n + (v > 0 ? 1 : 0), 0));
  const L = Math.max(1, ...counts);
  const rows = new BigInt64Array(S * L);
  const targets = new BigInt64Array(S * L);
  const mask = new Float32Array(S * L);
  for (let s = 0; s < S; s++) {
    let k = s * L;
    for (let t = 0; t + 1 < T; t++) {
      if (!((batch.mask[s * (T - 1) + t] as number) > 0)) continue;
      rows[k] = BigInt(s * T + t);
      targets[k] = BigInt(batch.ids[s * T + t + 1] as number);
      mask[k++] = 1;
    }
  }
  const feeds: Record<string, Ort.Tensor> = {
    input_ids: int64Tensor(ort, batch.ids, [S, T]),
    rows: new ort.Tensor('int64', rows, [S, L]),
    targets: new ort.Tensor('int64', targets, [S, L]),
    completion_mask: new ort.Tensor('float32', mask, [S, L]),
  };
  if (reference) {
    if (reference.length !== S) throw new Error(`dpo: ${reference.length} reference log-probs for ${S} sequences`);
    feeds.reference_logps = new ort.Tensor('float32', reference, [S]);
    feeds.chosen_index = int64Tensor(
      ort,
      Array.from({ length: batch.B }, (_, i) => i),
      [batch.B],
    );
    feeds.rejected_index = int64Tensor(
      ort,
      Array.from({ length: batch.B }, (_, i) => batch.B + i),
      [batch.B],
    );
  }
  return feeds;
}

/**
 * An ONNX file holds at most 2 GiB: a reference whose weights are larger (gpt2-large and up) is
 * not a session with its weights as initializers but the DPO graph with its weights fed as inputs.
 */
const MAX_REFERENCE_BYTES = 1.8 * 1024 ** 3;

/**
 * The frozen reference's summed completion log-probs of every pair, on ONNX Runtime, its session
 * released before returning. The weights are read, not taken: the reference may be the policy
 * itself (a plain model's arrays, or its tfjs variables' values).
 */
export async function scoreReferenceOrt(
  reference: TrainModel,
  pairs: readonly DpoPair[],
  config: Pick<DpoConfig, 'maxLen' | 'batchSize'>,
  pad: number,
  maxGraphBytes = MAX_REFERENCE_BYTES,
): Promise<ScoredPair[]> {
  if (pairs.length === 0) return [];
  const weights = new Map<string, NamedTensor>(weightsOf(reference));
  const bytes = [...weights.values()].reduce((n, w) => n + w.data.byteLength, 0);
  const score = bytes <= maxGraphBytes ? await referenceSession(reference, weights, config, pad) : await referenceFed(reference, weights, config, pad);
  weights.clear();
  try {
    const scored: ScoredPair[] = [];
    for (const part of chunk(pairs, score.pairsPerRun)) {
      const lp = await score.run(part);
      part.forEach((pair, i) => scored.push({ pair, refChosen: lp[i] as number, refRejected: lp[part.length + i] as number }));
    }
    return scored;
  } finally {
    await score.release();
  }
}

/** Scores pairs: their summed completion log-probs, chosen rows then rejected rows ([2·pairs]). */
interface ReferenceScorer {
  readonly pairsPerRun: number;
  run(pairs: readonly DpoPair[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** One session, the reference's weights its initializers (onnx/dpoGraph.ts's logps graph), `batchSize` pairs a run. */
async function referenceSession(reference: TrainModel, weights: ReadonlyMap<string, NamedTensor>, config: Pick<DpoConfig, 'maxLen' | 'batchSize'>, pad: number): Promise<ReferenceScorer> {
  const session = await FrozenSession.create(buildSequenceLogProbsGraph(reference.config, weights));
  return {
    pairsPerRun: config.batchSize,
    run: async (pairs) => (await session.run(dpoFeeds(session.ort, dpoBatch(pairs, config.maxLen, pad)), ['logps'])).logps as Float32Array,
    release: () => session.release(),
  };
}

/**
 * The reference over 2 GiB: the DPO loss graph without gradients (β 1, reference log-probs 0),
 * its weights inputs held by a trainer, one pair a run, whose `chosen` and `rejected` (means over
 * the one pair of β(log π − 0)) are then that pair's summed log-probs.
 */
async function referenceFed(reference: TrainModel, weights: ReadonlyMap<string, NamedTensor>, config: Pick<DpoConfig, 'maxLen'>, pad: number): Promise<ReferenceScorer> {
  const graphs = buildDpoGraphs(reference.config, { beta: 1, labelSmoothing: 0 });
  const { device, threads } = await resolveOrtDevice();
  const trainer = await OrtTrainer.create({ shapes: graphs.shapes, build: { train: graphs.build.loss } }, reference.config, weights, { provider: device, threads });
  return {
    pairsPerRun: 1,
    run: async (pairs) => {
      const out = await trainer.infer('train', dpoFeeds(trainer.ort, dpoBatch(pairs, config.maxLen, pad), new Float32Array(2)), ['chosen', 'rejected']);
      return Float32Array.of(out.chosen?.[0] as number, out.rejected?.[0] as number);
    },
    release: () => trainer.release(),
  };
}

/** A DPO step and its held-out evaluation, on the stage's engine. */
export interface DpoOps {
  /** One optimisation step on a batch and its pairs' reference log-probs; extras: chosen, rejected, accuracy, margin. */
  step(batch: DpoBatch, reference: Float32Array): Promise<StepResult>;
  /** Held-out loss and preference accuracy, pair-weighted. */
  evaluate(pairs: readonly ScoredPair[]): Promise<{ loss: number; accuracy: number; pairs: number }>;
}

const DPO_STATS = ['chosen', 'rejected', 'accuracy', 'margin'] as const;

/** The ONNX Runtime trainer's DPO graphs (onnx/dpoGraph.ts): `train`, and `loss` for evaluation. */
function ortDpoOps(engine: StageEngine, trainer: OrtTrainer, config: DpoConfig, pad: number): DpoOps {
  const ort = trainer.ort;
  return {
    step: (batch, reference) => engine.ortStep((t) => t.gradients(dpoFeeds(ort, batch, reference), DPO_STATS)),
    evaluate: async (pairs) => {
      let loss = 0;
      let correct = 0;
      for (const part of chunk(pairs, config.batchSize)) {
        const batch = dpoBatch(
          part.map((s) => s.pair),
          config.maxLen,
          pad,
        );
        const out = await trainer.infer('loss', dpoFeeds(ort, batch, referenceOf(part)), ['loss', 'accuracy']);
        loss += (out.loss?.[0] as number) * part.length;
        correct += (out.accuracy?.[0] as number) * part.length;
      }
      return pairs.length ? { loss: loss / pairs.length, accuracy: correct / pairs.length, pairs: pairs.length } : { loss: NaN, accuracy: NaN, pairs: 0 };
    },
  };
}

/**
 * `reference` absent: a LoRA policy's own base, adapters off (its log-probs are scored from the
 * policy's base weights before the engine starts; the adapter tensors a resumed policy holds are
 * not part of the base graph), so no second model is loaded.
 */
export async function* dpo(policy: TrainModel, given: TrainModel | undefined, optimizer: Optimizer, data: DpoData, config: DpoConfig, signal?: AbortSignal): AsyncGenerator<StageEvent> {
  const reference = given ?? (policy.lora ? policy : undefined);
  if (!reference) throw new Error('dpo: no reference model');
  if (config.maxLen > contextLength(policy.config)) throw new UserError(`dpo: maxLen ${config.maxLen} exceeds the model's context ${contextLength(policy.config)}; lower maxLen in the config.`);
  if (reference.config.vocab_size !== policy.config.vocab_size) throw new Error('dpo: the reference model has a different vocabulary from the policy');
  if (!(config.beta > 0)) throw new Error(`dpo: beta must be > 0, got ${config.beta}`);
  if (!(config.labelSmoothing >= 0 && config.labelSmoothing < 0.5)) throw new Error(`dpo: labelSmoothing must be in [0, 0.5), got ${config.labelSmoothing}`);
  if (data.train.length === 0) throw new Error('dpo: no preference pairs to train on');
  const tfjs = trainingEngine().name === 'tfjs' ? await import('../tfjs/dpo') : undefined;
  const started = performance.now();
  // Scored before the engine starts: on ONNX Runtime it takes the policy's parameters over (which may be the reference's).
  let train: ScoredPair[];
  let held: ScoredPair[];
  if (tfjs) {
    train = tfjs.scoreReference(reference, data.train, config, data.pad);
    held = tfjs.scoreReference(reference, data.eval, config, data.pad);
  } else {
    const all = await scoreReferenceOrt(reference, [...data.train, ...data.eval], config, data.pad);
    train = all.slice(0, data.train.length);
    held = all.slice(data.train.length);
  }
  yield { type: 'log', message: `dpo: reference log-probs of ${train.length + held.length} pairs in ${((performance.now() - started) / 1000).toFixed(1)} s` };
  const engine = await stageEngine('dpo', policy, optimizer, buildDpoGraphs(policy.config, config));
  const ops = engine.trainer ? ortDpoOps(engine, engine.trainer, config, data.pad) : (tfjs ?? (await import('../tfjs/dpo'))).tfjsDpoOps(engine, policy, config, data.pad);
  yield* engineLoop(engine, config, signal, async function* (step) {
    const part = sampleBatch(train, config.batchSize, batchRandom(config.seed, step));
    const batch = dpoBatch(
      part.map((s) => s.pair),
      config.maxLen,
      data.pad,
    );
    const t0 = performance.now();
    const r = await ops.step(batch, referenceOf(part));
    const seconds = (performance.now() - t0) / 1000;
    yield metrics('dpo', step, {
      'loss/dpo': r.loss,
      'rewards/chosen': r.extras.chosen as number,
      'rewards/rejected': r.extras.rejected as number,
      'rewards/accuracies': r.extras.accuracy as number,
      'rewards/margins': r.extras.margin as number,
      lr: r.lr,
      grad_norm: r.gradNorm,
      tokens_per_second: batch.tokens / seconds,
    });
    if (held.length && (due(step, config.evalEvery) || step === config.steps)) {
      const e = await ops.evaluate(held);
      yield metrics('dpo', step, { 'eval/loss/dpo': e.loss, 'eval/rewards/accuracies': e.accuracy });
    }
  });
}
