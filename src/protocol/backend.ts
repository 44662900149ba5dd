/** The compute backends, in the order `auto` tries them. */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What the user may ask for: a backend, or the first of the chain that loads. */
export const BACKEND_PREFERENCES = ['auto', ...BACKEND_NAMES] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

export function isBackendPreference(value: unknown): value is BackendPreference {
  return typeof value === 'string' && (BACKEND_PREFERENCES as readonly string[]).includes(value);
}

/** One attempt in the backend chain, kept so the report says why a faster backend was skipped. */
export interface BackendAttempt {
  readonly backend: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The compute report: real values read from the loaded libraries, never configured strings. */
export interface BackendReport {
  /** The tfjs backend in use for training. */
  readonly backend: BackendName;
  /** `@tensorflow/tfjs-core` version. */
  readonly tfjsVersion: string;
  /** Which package provides the backend (e.g. `@tensorflow/tfjs-backend-wasm@4.22.0`). */
  readonly backendPackage: string;
  /** onnxruntime-node version. */
  readonly ortVersion: string;
  /** onnxruntime execution providers that actually created a session here. */
  readonly ortProviders: readonly string[];
  /** The chain as tried, first to last. */
  readonly attempts: readonly BackendAttempt[];
  readonly node: string;
  readonly platform: string;
  readonly pid: number;
}
