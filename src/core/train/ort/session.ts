/**
 * What every ONNX Runtime caller of the training side shares: int64 feeds from plain numbers, and a
 * frozen model's session (reference, reward model: weights as initializers) on the resolved device.
 */
import type * as Ort from 'onnxruntime-node';
import { resolveOrtDevice } from './device';

/** An int64 tensor of `values` (token ids, indices). */
export function int64Tensor(ort: typeof Ort, values: ArrayLike<number>, dims: readonly number[]): Ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(Array.from(values), (v) => BigInt(v)),
    [...dims],
  );
}

/** A frozen model in one ONNX Runtime session, its weights initializers, on the process's device and threads. */
export class FrozenSession {
  private constructor(
    readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
  ) {}

  static async create(bytes: Uint8Array): Promise<FrozenSession> {
    const ort = await import('onnxruntime-node');
    ort.env.logLevel = 'fatal';
    const { device, threads } = await resolveOrtDevice();
    // No CPU memory arena: it would keep a scoring pass's peak (the [tokens, vocabulary] logits) for
    // the whole run. No prepacked copies of the weights: −150 MB at distilgpt2 size, same speed (measured).
    const options: Ort.InferenceSession.SessionOptions = {
      executionProviders: [device],
      intraOpNumThreads: threads,
      graphOptimizationLevel: 'all',
      enableCpuMemArena: false,
      logSeverityLevel: 3,
      extra: { session: { disable_prepacking: '1' } },
    };
    return new FrozenSession(ort, await ort.InferenceSession.create(bytes, options));
  }

  async run(feeds: Record<string, Ort.Tensor>, outputs: readonly string[]): Promise<Record<string, Float32Array>> {
    const out = await this.session.run(feeds, [...outputs]);
    return Object.fromEntries(outputs.map((o) => [o, out[o]?.data as Float32Array]));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
