/**
 * Find which onnxruntime-node execution providers really load here, by creating a session
 * over a one-node graph with each. Asking for `['cuda','cpu']` throws when CUDA is missing
 * instead of falling back (measured with onnxruntime-node 1.30), so each provider is tried on its own.
 */
import { errorMessage } from '../../protocol/guards';
import { onnx } from 'onnx-proto';

/** A graph `y = Identity(x)` over float32[1]: the smallest model a session accepts. */
export function identityModelBytes(): Uint8Array {
  const valueInfo = (name: string): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'rlhf-workbench',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'probe',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'] }],
      input: [valueInfo('x')],
      output: [valueInfo('y')],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export interface ProviderProbe {
  readonly provider: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Try each provider in turn; `cpu` is expected to load everywhere. */
export async function probeOrtProviders(candidates: readonly string[] = ['cuda', 'cpu']): Promise<ProviderProbe[]> {
  const ort = await import('onnxruntime-node');
  ort.env.logLevel = 'fatal';
  const bytes = identityModelBytes();
  const results: ProviderProbe[] = [];
  for (const provider of candidates) {
    try {
      // Severity 3 (error) and below would print the expected "missing CUDA" failure to stderr.
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], logSeverityLevel: 4 });
      await session.release();
      results.push({ provider, ok: true, detail: 'session created' });
    } catch (err) {
      results.push({ provider, ok: false, detail: firstLine(err) });
    }
  }
  return results;
}

export function firstLine(err: unknown): string {
  const text = errorMessage(err);
  return text.split('\n')[0]?.slice(0, 300) ?? '';
}
