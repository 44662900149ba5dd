/**
 * Training on ONNX Runtime: a stage's graphs over one set of parameters — the training graph
 * (loss, statistics, gradients: onnx/gptGraph.ts's LM loss for pretraining and SFT, pairwise loss
 * for the reward model, onnx/policyGraphs.ts's PPO/RLOO/DPO losses) and its graphs without
 * gradients (evaluation, a rollout's per-token statistics), each a session made on first use. The parameters, gradients and optimizer state live in one arena
 * (arena.ts): fed to every run by reference, the gradients written in place (pre-allocated
 * outputs), the parameters updated in place by the optimizer. No copies per step. The session
 * uses every physical core unless `threads` says otherwise (ONNX Runtime's default).
 */
import type * as Ort from 'onnxruntime-node';
import type { ModelConfig } from '../../model/modelConfig';
import { modelParameterShapes, modelWidth } from '../../model/modelConfig';
import { gradName } from '../../onnx/gptGraph';
import { buildLmLossGraph, buildRewardLossGraph } from '../../onnx/modelGraphs';
import type { RewardBatch } from '../data/batches';
import type { LmRows } from '../lm';
import type { OptimConfig } from '../optim';
import { ArrayAdamW } from './adamw';
import type { ParamBuffer } from './adamw';
import { createArena } from './arena';
import { int64Tensor } from './session';
import { loraShapes, withoutDropout } from '../../onnx/lora';
import type { LoraPlan, ParamOptions } from '../../onnx/lora';
import type { Arena } from './arena';

export interface OrtEngineOptions {
  /** Intra-op threads; default: ONNX Runtime's choice (the machine's physical cores). */
  readonly threads?: number;
  /** Execution provider (default 'cpu'). */
  readonly provider?: string;
  /** LoRA: train the adapter (and the heads) over frozen base weights. */
  readonly lora?: TrainerLora;
}

/**
 * LoRA's split of the parameters: the adapter's (onnx/lora.ts) and the heads are the trainer's
 * parameters (arena, gradients, AdamW); the base weights stay where they are, in `base` (the
 * loaded model's arrays, not copied), fed to every run by reference, with no gradient and no
 * optimizer state.
 */
export interface TrainerLora {
  readonly plan: LoraPlan;
  readonly base: ReadonlyMap<string, ParamBuffer>;
}

export interface LossAndGrads {
  readonly loss: number;
  readonly gradNorm: number;
  readonly grads: Map<string, Float32Array>;
  /** The graph's other scalar outputs asked for (accuracy, …). */
  readonly values: Record<string, number>;
}

/** Starting parameters: copied from a map, or written by a function into the trainer's buffer for each name. */
export type InitialWeights = ReadonlyMap<string, ParamBuffer> | ((name: string, into: Float32Array) => void);

/**
 * The graphs a trainer runs over its parameters: `train` outputs loss, grad_norm and grad.<name>
 * for every parameter (plus any statistics); the others anything, without gradients.
 */
export interface TrainerGraphs {
  /** Parameter shapes by HF name (the model's and its heads'). */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** Each graph, given how it takes the model's parameters (a LoRA plan, or every weight a frozen input). */
  readonly build: Readonly<Record<string, GraphBuild>> & { readonly train: GraphBuild };
}

/** A graph builder of a trainer: `params` says how the model graph takes its parameters (lora.ts). */
export type GraphBuild = (params?: ParamOptions) => Uint8Array;

const lmGraphs = (config: ModelConfig): TrainerGraphs => ({
  shapes: modelParameterShapes(config),
  build: { train: ({ lora } = {}) => buildLmLossGraph(config, lora ? { lora } : {}), loss: ({ lora } = {}) => buildLmLossGraph(config, { gradients: false, ...(lora ? { lora } : {}) }) },
});

const rewardGraphs = (config: ModelConfig): TrainerGraphs => ({
  shapes: new Map([...modelParameterShapes(config), ['score.weight', [1, modelWidth(config)]]]),
  build: {
    train: ({ lora } = {}) => buildRewardLossGraph(config, lora ? { lora } : {}),
    loss: ({ lora } = {}) => buildRewardLossGraph(config, { gradients: false, ...(lora ? { lora } : {}) }),
  },
});

export class OrtTrainer {
  /** Sessions by graph name, made on first use. */
  private readonly sessions = new Map<string, Promise<Ort.InferenceSession>>();

  private constructor(
    /** onnxruntime-node, for building feeds. */
    readonly ort: typeof Ort,
    private readonly graphs: TrainerGraphs,
    private readonly sessionOptions: Ort.InferenceSession.SessionOptions,
    readonly config: ModelConfig,
    /** The live parameters, by HF name (the optimizer updates them in place). */
    readonly params: Map<string, ParamBuffer>,
    /** Where each run writes the gradients (reused every step). */
    private readonly grads: Map<string, Float32Array>,
    /** The memory all of them live in; the optimizer's state goes there too. */
    readonly arena: Arena,
    /** LoRA: the plan and the frozen base weights (fed by reference, never updated). */
    readonly lora: TrainerLora | undefined,
  ) {}

  /**
   * A language-model trainer over copies of `weights` (HF names; every parameter of the config),
   * or parameters that `weights(name, into)` writes straight into the trainer's memory.
   */
  static lm(config: ModelConfig, weights: InitialWeights, options: OrtEngineOptions = {}): Promise<OrtTrainer> {
    return OrtTrainer.create(lmGraphs(config), config, weights, options);
  }

  /** A reward-model trainer: the config's parameters and `score.weight` [1, C]. */
  static reward(config: ModelConfig, weights: InitialWeights, options: OrtEngineOptions = {}): Promise<OrtTrainer> {
    return OrtTrainer.create(rewardGraphs(config), config, weights, options);
  }

  /** A trainer of any graphs over `graphs.shapes`; the training session is made (and checked) now. */
  static async create(graphs: TrainerGraphs, config: ModelConfig, weights: InitialWeights, options: OrtEngineOptions = {}): Promise<OrtTrainer> {
    const ort = await import('onnxruntime-node');
    ort.env.logLevel = 'fatal';
    const shapes = options.lora ? loraTrainable(graphs.shapes, options.lora) : graphs.shapes;
    const floats = [...shapes.values()].reduce((s, dims) => s + dims.reduce((a, b) => a * b, 1), 0);
    // Parameters, gradients, and the optimizer's m and v, all in one arena.
    const arena = createArena(4 * floats, 4 * shapes.size);
    const params = new Map<string, ParamBuffer>();
    const grads = new Map<string, Float32Array>();
    for (const [name, shape] of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = arena.alloc(size);
      if (typeof weights === 'function') weights(name, data);
      else {
        const w = weights.get(name);
        if (!w) throw new Error(`OrtTrainer: weight '${name}' is missing`);
        if (w.data.length !== size) throw new Error(`OrtTrainer: weight '${name}' has ${w.data.length} values, expected ${size} ([${shape}])`);
        data.set(w.data);
      }
      params.set(name, { shape, data });
      grads.set(name, arena.alloc(size));
    }
    const sessionOptions: Ort.InferenceSession.SessionOptions = {
      executionProviders: [options.provider ?? 'cpu'],
      graphOptimizationLevel: 'all',
      // No CPU memory arena: at gpt2 size it holds on to ~1 GB of peak (5.6 → 4.5 GB measured)
      // for a step ~10% faster; the training buffers live in our own arena anyway.
      enableCpuMemArena: false,
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      logSeverityLevel: 3,
    };
    const trainer = new OrtTrainer(ort, graphs, sessionOptions, config, params, grads, arena, options.lora);
    await trainer.session('train');
    return trainer;
  }

  /** AdamW over these parameters, its state in the same arena. */
  optimizer(config: OptimConfig): ArrayAdamW {
    return new ArrayAdamW(config, this.arena);
  }

  /** Mean masked next-token loss, the global gradient norm, and every parameter's gradient. */
  lossAndGrads(rows: LmRows): Promise<LossAndGrads> {
    return this.step(this.lmFeeds(rows), []);
  }

  /** The pairwise loss of a reward batch, its statistics, the global gradient norm and every gradient. */
  pairLossAndGrads(batch: RewardBatch, margin: number): Promise<LossAndGrads> {
    return this.step(this.rewardFeeds(batch, margin), REWARD_STATS);
  }

  /** Mean masked next-token loss over several row sets, weighted by their counted positions. */
  async evalLoss(batches: readonly LmRows[]): Promise<number> {
    let total = 0;
    let weight = 0;
    for (const rows of batches) {
      const n = rows.mask ? rows.mask.reduce((s, v) => s + v, 0) : rows.B * rows.T;
      if (n === 0) continue;
      total += ((await this.evaluate(this.lmFeeds(rows), ['loss'])).loss as number) * n;
      weight += n;
    }
    return weight ? total / weight : NaN;
  }

  /** Pairwise loss and accuracy over reward batches, weighted by their pairs. */
  async evalPairs(batches: readonly RewardBatch[], margin: number): Promise<{ loss: number; accuracy: number; pairs: number }> {
    let loss = 0;
    let correct = 0;
    let pairs = 0;
    for (const batch of batches) {
      const n = batch.winners.length;
      if (n === 0) continue;
      const out = await this.evaluate(this.rewardFeeds(batch, margin), ['loss', 'accuracy']);
      loss += (out.loss as number) * n;
      correct += (out.accuracy as number) * n;
      pairs += n;
    }
    return pairs ? { loss: loss / pairs, accuracy: correct / pairs, pairs } : { loss: NaN, accuracy: NaN, pairs: 0 };
  }

  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s).release();
  }

  /**
   * One run of the training graph: the loss, the global gradient norm and every gradient (written
   * straight into their buffers: pre-allocated outputs, no copy), and the scalar `stats` asked for.
   */
  async gradients(inputs: Record<string, Ort.Tensor>, stats: readonly string[] = []): Promise<LossAndGrads> {
    const fetches: Record<string, Ort.Tensor | null> = { loss: null, grad_norm: null };
    for (const s of stats) fetches[s] = null;
    for (const [name, g] of this.grads) fetches[gradName(name)] = new this.ort.Tensor('float32', g, [...(this.params.get(name) as ParamBuffer).shape]);
    const session = await this.session('train');
    const out = await session.run(this.withParams(session, inputs), fetches);
    return { loss: out.loss?.data[0] as number, gradNorm: out.grad_norm?.data[0] as number, grads: this.grads, values: Object.fromEntries(stats.map((s) => [s, out[s]?.data[0] as number])) };
  }

  /** A run of another graph over the current parameters (no gradients): the `outputs` asked for. */
  async infer(graph: string, inputs: Record<string, Ort.Tensor>, outputs: readonly string[]): Promise<Record<string, Float32Array>> {
    const session = await this.session(graph);
    const out = await session.run(this.withParams(session, inputs), [...outputs]);
    return Object.fromEntries(outputs.map((o) => [o, out[o]?.data as Float32Array]));
  }

  /**
   * A run of `graph` over the LoRA base alone, adapters off (the heads as they are): PPO's and
   * GRPO's reference, fed the same base buffers as training, so no second copy of the model.
   */
  async inferBase(graph: string, inputs: Record<string, Ort.Tensor>, outputs: readonly string[]): Promise<Record<string, Float32Array>> {
    if (!this.lora) throw new Error('OrtTrainer.inferBase: not a LoRA trainer');
    const session = await this.session(graph, true);
    const out = await session.run(this.withParams(session, inputs), [...outputs]);
    return Object.fromEntries(outputs.map((o) => [o, out[o]?.data as Float32Array]));
  }

  private step(inputs: Record<string, Ort.Tensor>, stats: readonly string[]): Promise<LossAndGrads> {
    return this.gradients(inputs, stats);
  }

  private async evaluate(inputs: Record<string, Ort.Tensor>, outputs: readonly string[]): Promise<Record<string, number>> {
    const out = await this.infer('loss', inputs, outputs);
    return Object.fromEntries(outputs.map((o) => [o, out[o]?.[0] as number]));
  }

  /** `graph`'s session (`base`: every weight a frozen input, adapters off); with LoRA, dropout only in `train`. */
  private session(graph: string, base = false): Promise<Ort.InferenceSession> {
    const key = base ? `${graph}@base` : graph;
    let s = this.sessions.get(key);
    if (!s) {
      const build = this.graphs.build[graph];
      if (!build) throw new Error(`OrtTrainer: no graph '${graph}'`);
      const plan = graph === 'train' ? this.lora?.plan : withoutDropout(this.lora?.plan);
      s = this.ort.InferenceSession.create(build(base ? { frozenInputs: true } : plan ? { lora: plan } : {}), this.sessionOptions);
      this.sessions.set(key, s);
    }
    return s;
  }

  /** `inputs` and the parameters (and LoRA's frozen base) that `session` takes, each by reference. */
  private withParams(session: Ort.InferenceSession, inputs: Record<string, Ort.Tensor>): Record<string, Ort.Tensor> {
    const feeds = { ...inputs };
    const wanted = new Set(session.inputNames);
    for (const map of [this.params, this.lora?.base ?? new Map<string, ParamBuffer>()]) {
      for (const [name, p] of map) if (wanted.has(name)) feeds[name] = new this.ort.Tensor('float32', p.data, [...p.shape]);
    }
    return feeds;
  }

  private lmFeeds(rows: LmRows): Record<string, Ort.Tensor> {
    const { B, T } = rows;
    return {
      input_ids: int64Tensor(this.ort, rows.ids, [B, T]),
      targets: int64Tensor(this.ort, rows.targets, [B, T]),
      loss_mask: new this.ort.Tensor('float32', rows.mask ?? new Float32Array(B * T).fill(1), [B, T]),
    };
  }

  /** A reward batch as the graph takes it: each row's last real token, and each pair's weight (1/groups, shared by a group's pairs, as reward.ts). */
  private rewardFeeds(batch: RewardBatch, margin: number): Record<string, Ort.Tensor> {
    const last = Array.from({ length: batch.S }, (_, s) => {
      let l = 0;
      for (let t = 0; t < batch.T; t++) if ((batch.mask[s * batch.T + t] as number) > 0) l = t;
      return l;
    });
    const perGroup = new Map<number, number>();
    for (const g of batch.pairGroup) perGroup.set(g, (perGroup.get(g) ?? 0) + 1);
    const P = batch.winners.length;
    return {
      input_ids: int64Tensor(this.ort, batch.ids, [batch.S, batch.T]),
      last_index: int64Tensor(this.ort, last, [batch.S]),
      winners: int64Tensor(this.ort, batch.winners, [P]),
      losers: int64Tensor(this.ort, batch.losers, [P]),
      pair_weight: new this.ort.Tensor(
        'float32',
        Float32Array.from(batch.pairGroup, (g) => 1 / ((perGroup.get(g) as number) * perGroup.size)),
        [P],
      ),
      margin: new this.ort.Tensor('float32', Float32Array.of(margin), []),
    };
  }
}

const REWARD_STATS = ['accuracy', 'margin_mean', 'chosen', 'rejected'] as const;

/** A LoRA trainer's parameters: the heads (what `shapes` has beyond the base) and the adapter; every base weight checked against `shapes`. */
function loraTrainable(shapes: ReadonlyMap<string, readonly number[]>, lora: TrainerLora): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const [name, shape] of shapes) {
    const w = lora.base.get(name);
    if (!w) out.set(name, shape);
    else if (w.data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`OrtTrainer: base weight '${name}' has ${w.data.length} values, expected [${shape}]`);
  }
  for (const [name, shape] of loraShapes(lora.plan)) out.set(name, shape);
  return out;
}
