/** The compute backends, in the order `auto` tries them. */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What the user may ask for: a backend, or the first of the chain that loads. */
export const BACKEND_PREFERENCES = ['auto', ...BACKEND_NAMES] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

export function isBackendPreference(value: unknown): value is BackendPreference {
  return typeof value === 'string' && (BACKEND_PREFERENCES as readonly string[]).includes(value);
}

/** Where the ONNX Runtime training engine may run: `auto` (a GPU provider that loads and agrees with the CPU, else the CPU) or one execution provider. */
export const ORT_DEVICES = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type OrtDevice = (typeof ORT_DEVICES)[number];

export function isOrtDevice(value: unknown): value is OrtDevice {
  return typeof value === 'string' && (ORT_DEVICES as readonly string[]).includes(value);
}

/** What trains every stage in a process, as loaded. */
export interface TrainingReport {
  readonly engine: 'ort' | 'tfjs';
  /** ONNX Runtime's execution provider, or the tfjs backend. */
  readonly device: string;
  /** ONNX Runtime's intra-op threads (absent on tfjs). */
  readonly threads?: number;
  /** Why `auto` ended on the CPU: each provider tried and why it was rejected. */
  readonly fallbackReason?: string;
  /** The device asked for could not be used (the engine's status; a training run fails with it). */
  readonly error?: string;
}

/** A training report in one line. */
export function formatTrainingReport(t: TrainingReport): string {
  if (t.error) return `ONNX Runtime on ${t.device}: ${t.error}`;
  if (t.engine === 'tfjs') return `tfjs on ${t.device}`;
  return `ONNX Runtime on ${t.device}, ${t.threads ?? '?'} thread(s)${t.fallbackReason ? ` (no GPU: ${t.fallbackReason})` : ''}`;
}

/** One attempt in the backend chain, kept so the report says why a faster backend was skipped. */
export interface BackendAttempt {
  readonly backend: string;
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * The compute report: real values read from the loaded libraries, never configured strings. The
 * tfjs fields are there only where tfjs was loaded (the tfjs engine, or a tfjs backend asked for
 * by name): the default engine, ONNX Runtime, never loads it.
 */
export interface BackendReport {
  /** The tfjs backend in use for training. */
  readonly backend?: BackendName;
  /** `@tensorflow/tfjs-core` version. */
  readonly tfjsVersion?: string;
  /** Which package provides the backend (e.g. `@tensorflow/tfjs-backend-wasm@4.22.0`). */
  readonly backendPackage?: string;
  /** onnxruntime-node version. */
  readonly ortVersion: string;
  /** onnxruntime execution providers that actually created a session here. */
  readonly ortProviders: readonly string[];
  /** The chain as tried, first to last. */
  readonly attempts: readonly BackendAttempt[];
  readonly node: string;
  readonly platform: string;
  readonly pid: number;
  /** The training engine and its device (the engine's status; absent where not resolved). */
  readonly training?: TrainingReport;
}
