/**
 * The language-model loss and its gradients on ONNX Runtime (pretraining, SFT): the training
 * graph (onnx/gptTrainGraph.ts) in one session; the parameters, gradients and optimizer state in
 * one arena (arena.ts), fed to every run by reference and written in place (no copies), and
 * updated in place by the optimizer. The session uses
 * every physical core unless `threads` says otherwise (ONNX Runtime's default).
 */
import type * as Ort from 'onnxruntime-node';
import type { GPT2Config } from '../../model/config';
import { parameterShapes } from '../../model/config';
import { buildLmTrainGraph, gradName } from '../../onnx/gptTrainGraph';
import type { LmRows } from '../lm';
import { ArrayAdamW } from './adamw';
import type { ParamBuffer } from './adamw';
import { createArena } from './arena';
import type { Arena } from './arena';
import type { OptimConfig } from '../optim';

export interface OrtEngineOptions {
  /** Intra-op threads; default: ONNX Runtime's choice (the machine's physical cores). */
  readonly threads?: number;
  /** Execution provider (default 'cpu'). */
  readonly provider?: string;
}

export interface LossAndGrads {
  readonly loss: number;
  readonly gradNorm: number;
  readonly grads: Map<string, Float32Array>;
}

export class OrtLmTrainer {
  /** The loss-only session for evaluation, made on first use. */
  private evalSession: Promise<Ort.InferenceSession> | undefined;

  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    private readonly sessionOptions: Ort.InferenceSession.SessionOptions,
    readonly config: GPT2Config,
    /** The live parameters, by HF name (the optimizer updates them in place). */
    readonly params: Map<string, ParamBuffer>,
    /** Where each run writes the gradients (reused every step). */
    private readonly grads: Map<string, Float32Array>,
    /** The memory all of them live in; the optimizer's state goes there too. */
    readonly arena: Arena,
  ) {}

  /** AdamW over these parameters, its state in the same arena. */
  optimizer(config: OptimConfig): ArrayAdamW {
    return new ArrayAdamW(config, this.arena);
  }

  /** A trainer over copies of `weights` (HF names; every parameter of the config). Use `optimizer()` for its AdamW. */
  static async create(config: GPT2Config, weights: ReadonlyMap<string, ParamBuffer>, options: OrtEngineOptions = {}): Promise<OrtLmTrainer> {
    const ort = await import('onnxruntime-node');
    ort.env.logLevel = 'fatal';
    const shapes = parameterShapes(config);
    const floats = [...shapes.values()].reduce((s, dims) => s + dims.reduce((a, b) => a * b, 1), 0);
    // Parameters, gradients, and the optimizer's m and v, all in one arena.
    const arena = createArena(4 * floats, 4 * shapes.size);
    const params = new Map<string, ParamBuffer>();
    const grads = new Map<string, Float32Array>();
    for (const [name, shape] of shapes) {
      const w = weights.get(name);
      if (!w) throw new Error(`OrtLmTrainer: weight '${name}' is missing`);
      const data = arena.alloc(w.data.length);
      data.set(w.data);
      params.set(name, { shape, data });
      grads.set(name, arena.alloc(w.data.length));
    }
    const sessionOptions: Ort.InferenceSession.SessionOptions = {
      executionProviders: [options.provider ?? 'cpu'],
      graphOptimizationLevel: 'all',
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      logSeverityLevel: 3,
    };
    const session = await ort.InferenceSession.create(buildLmTrainGraph(config), sessionOptions);
    return new OrtLmTrainer(ort, session, sessionOptions, config, params, grads, arena);
  }

  private feeds(rows: LmRows): Record<string, Ort.Tensor> {
    const { ort } = this;
    const { B, T } = rows;
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(rows.ids, (v) => BigInt(v)),
        [B, T],
      ),
      targets: new ort.Tensor(
        'int64',
        BigInt64Array.from(rows.targets, (v) => BigInt(v)),
        [B, T],
      ),
      loss_mask: new ort.Tensor('float32', rows.mask ?? new Float32Array(B * T).fill(1), [B, T]),
    };
    for (const [name, p] of this.params) feeds[name] = new ort.Tensor('float32', p.data, [...p.shape]);
    return feeds;
  }

  /** Mean masked next-token loss, the global gradient norm, and every parameter's gradient. */
  async lossAndGrads(rows: LmRows): Promise<LossAndGrads> {
    // The gradients are written straight into their buffers (pre-allocated outputs: no copy).
    const fetches: Record<string, Ort.Tensor | null> = { loss: null, grad_norm: null };
    for (const [name, g] of this.grads) fetches[gradName(name)] = new this.ort.Tensor('float32', g, [...(this.params.get(name) as ParamBuffer).shape]);
    const out = await this.session.run(this.feeds(rows), fetches);
    return { loss: out.loss?.data[0] as number, gradNorm: out.grad_norm?.data[0] as number, grads: this.grads };
  }

  /** Mean masked next-token loss over several row sets, weighted by their counted positions (evaluation). */
  async evalLoss(batches: readonly LmRows[]): Promise<number> {
    if (batches.length === 0) return NaN;
    const session = await (this.evalSession ??= this.ort.InferenceSession.create(buildLmTrainGraph(this.config, { gradients: false }), this.sessionOptions));
    let total = 0;
    let weight = 0;
    for (const rows of batches) {
      const n = rows.mask ? rows.mask.reduce((s, v) => s + v, 0) : rows.B * rows.T;
      if (n === 0) continue;
      const out = await session.run(this.feeds(rows), ['loss']);
      total += (out.loss?.data[0] as number) * n;
      weight += n;
    }
    return weight ? total / weight : NaN;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.evalSession) await (await this.evalSession).release();
  }
}
