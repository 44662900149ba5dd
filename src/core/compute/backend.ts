/**
 * The compute report, and the tfjs engine's backend: `initCompute` chooses the tfjs backend
 * (tensorflow GPU → tensorflow CPU → wasm → cpu, or the one the user forces) and reports what
 * actually loaded; `computeReport` is what `rlhf status` and the engine's status say, which on
 * the default (ONNX Runtime) engine is ONNX Runtime's alone: tfjs is not loaded for it. Heavy
 * libraries are loaded lazily, so importing this module costs nothing until one of them runs.
 */
import * as path from 'node:path';
import type { BackendAttempt, BackendName, BackendPreference, BackendReport } from '../../protocol/backend';
import { firstLine, probeOrtProviders } from '../onnx/probe';
import { tfjs } from './tfjs';
import type { Tf } from './tfjs';

interface Candidate {
  readonly backend: BackendName;
  /** The npm package that provides it; also what is reported. */
  readonly pkg: string;
  readonly load: (tf: Tf) => Promise<void>;
}

// Optional packages load at run time, by name: require, not a static import.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireOptional = (pkg: string): unknown => require(pkg);

const CANDIDATES: readonly Candidate[] = [
  // Both tfjs-node packages are optionalDependencies: their install downloads libtensorflow
  // and is dropped offline, so a failed require here is the normal case.
  { backend: 'tensorflow', pkg: '@tensorflow/tfjs-node-gpu', load: async () => void requireOptional('@tensorflow/tfjs-node-gpu') },
  { backend: 'tensorflow', pkg: '@tensorflow/tfjs-node', load: async () => void requireOptional('@tensorflow/tfjs-node') },
  {
    backend: 'wasm',
    pkg: '@tensorflow/tfjs-backend-wasm',
    load: async () => {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(dist + path.sep);
    },
  },
  { backend: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu', load: async () => void (await import('@tensorflow/tfjs-backend-cpu')) },
];

export interface Compute {
  readonly tf: Tf;
  readonly report: BackendReport;
}

let current: Promise<Compute> | undefined;
let currentPreference: BackendPreference | undefined;

/**
 * Initialise compute once per process. A later call with a different forced backend switches
 * tfjs to it (the backend registry is global to the process).
 */
export function initCompute(preference: BackendPreference = 'auto'): Promise<Compute> {
  if (current && currentPreference === preference) return current;
  currentPreference = preference;
  current = selectBackend(preference);
  current.catch(() => {
    current = undefined;
  });
  return current;
}

async function selectBackend(preference: BackendPreference): Promise<Compute> {
  const tf = tfjs();
  const attempts: BackendAttempt[] = [];
  const chain = preference === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.backend === preference);
  let chosen: Candidate | undefined;
  for (const candidate of chain) {
    try {
      await candidate.load(tf);
      if (!(await tf.setBackend(candidate.backend))) throw new Error(`tf.setBackend('${candidate.backend}') returned false`);
      await tf.ready();
      attempts.push({ backend: candidate.pkg, ok: true, detail: `backend '${tf.getBackend()}' ready` });
      chosen = candidate;
      break;
    } catch (err) {
      attempts.push({ backend: candidate.pkg, ok: false, detail: firstLine(err) });
    }
  }
  if (!chosen) {
    const tried = attempts.map((a) => `${a.backend}: ${a.detail}`).join('; ');
    throw new Error(`No tfjs backend could be loaded for '${preference}' (${tried}).`);
  }
  const ort = await ortReport();
  const report: BackendReport = {
    backend: chosen.backend,
    tfjsVersion: tf.version_core,
    backendPackage: `${chosen.pkg}@${packageVersion(chosen.pkg)}`,
    ...ort,
    attempts: [...attempts, ...ort.attempts],
  };
  return { tf, report };
}

/** ONNX Runtime's part of the report: its version, the providers that create a session here, and the process. */
async function ortReport(): Promise<BackendReport> {
  const providers = await probeOrtProviders();
  return {
    ortVersion: packageVersion('onnxruntime-node'),
    ortProviders: providers.filter((p) => p.ok).map((p) => p.provider),
    attempts: providers.map((p) => ({ backend: `onnxruntime-node/${p.provider}`, ok: p.ok, detail: p.detail })),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    pid: process.pid,
  };
}

/**
 * What `rlhf status` and the engine's status report: with tfjs (initialised on `preference`)
 * when `withTfjs` (the tfjs engine trains, or a tfjs backend was asked for by name), else ONNX
 * Runtime's alone, without loading tfjs.
 */
export async function computeReport(withTfjs: boolean, preference: BackendPreference): Promise<BackendReport> {
  return withTfjs ? (await initCompute(preference)).report : ortReport();
}

function packageVersion(pkg: string): string {
  try {
    const json = requireOptional(`${pkg}/package.json`) as { version?: unknown };
    return typeof json.version === 'string' ? json.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A human-readable, multi-line rendering of the report (CLI and output channel). */
export function formatBackendReport(r: BackendReport): string {
  const lines = [
    ...(r.backend ? [`backend:        ${r.backend} (${r.backendPackage})`, `tfjs-core:      ${r.tfjsVersion}`] : []),
    `onnxruntime:    ${r.ortVersion}, providers: ${r.ortProviders.join(', ') || 'none'}`,
    `node:           ${r.node} on ${r.platform} (pid ${r.pid})`,
    'tried:',
    ...r.attempts.map((a) => `  ${a.ok ? 'ok  ' : 'fail'} ${a.backend}: ${a.detail}`),
  ];
  return lines.join('\n');
}
