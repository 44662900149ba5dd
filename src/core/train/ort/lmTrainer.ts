/**
 * The language-model loss and its gradients on ONNX Runtime (pretraining, SFT): the training
 * graph (onnx/gptTrainGraph.ts) in one session, the parameters in Float32Arrays that are fed to
 * every run by reference (no copy) and updated in place by the optimizer. The session uses
 * every physical core unless `threads` says otherwise (ONNX Runtime's default).
 */
import type * as Ort from 'onnxruntime-node';
import type { GPT2Config } from '../../model/config';
import { parameterShapes } from '../../model/config';
import { buildLmTrainGraph, gradName } from '../../onnx/gptTrainGraph';
import type { LmRows } from '../lm';
import type { ParamBuffer } from './adamw';

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
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    readonly config: GPT2Config,
    /** The live parameters, by HF name (the optimizer updates them in place). */
    readonly params: Map<string, ParamBuffer>,
  ) {}

  /** A trainer over copies of `weights` (HF names; every parameter of the config). */
  static async create(config: GPT2Config, weights: ReadonlyMap<string, ParamBuffer>, options: OrtEngineOptions = {}): Promise<OrtLmTrainer> {
    const ort = await import('onnxruntime-node');
    ort.env.logLevel = 'fatal';
    const params = new Map<string, ParamBuffer>();
    for (const [name, shape] of parameterShapes(config)) {
      const w = weights.get(name);
      if (!w) throw new Error(`OrtLmTrainer: weight '${name}' is missing`);
      params.set(name, { shape, data: Float32Array.from(w.data) });
    }
    const session = await ort.InferenceSession.create(buildLmTrainGraph(config), {
      executionProviders: [options.provider ?? 'cpu'],
      graphOptimizationLevel: 'all',
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      logSeverityLevel: 3,
    });
    return new OrtLmTrainer(ort, session, config, params);
  }

  /** Mean masked next-token loss, the global gradient norm, and every parameter's gradient. */
  async lossAndGrads(rows: LmRows): Promise<LossAndGrads> {
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
    const out = await this.session.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const name of this.params.keys()) grads.set(name, out[gradName(name)]?.data as Float32Array);
    return { loss: out.loss?.data[0] as number, gradNorm: out.grad_norm?.data[0] as number, grads };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
