/**
 * Where the ONNX Runtime training engine runs, and on how many CPU threads.
 *
 * Device: `auto` tries the GPU execution providers this platform's onnxruntime-node can have
 * (linux: cuda, webgpu; win32: dml, cuda, webgpu; darwin: coreml, webgpu), each by building a
 * tiny training session and checking one step (loss, gradient norm, a few gradients) against
 * the CPU provider; the first that loads and agrees wins, else the CPU with a reason naming
 * every provider tried. A device named explicitly that fails to load or disagrees is a
 * UserError, not a silent fallback. Resolved once per process (per device and thread count).
 *
 * Threads: the machine's physical cores minus the cores the user reserves (at least 1), unless
 * a thread count is given. The same count goes to the training sessions and to the sampler's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { UserError } from '../../errors';
import { errorMessage } from '../../../protocol/guards';
import type { GPT2Config } from '../../model/config';
import { parameterShapes, TINY_CONFIG } from '../../model/config';
import { seededRandom } from '../../sample/pick';
import type { ParamBuffer } from './adamw';

import type { OrtDevice, TrainingReport } from '../../../protocol/backend';

/** A device that names one execution provider (everything but `auto`). */
export type OrtProvider = Exclude<OrtDevice, 'auto'>;

/** The GPU providers `auto` tries on a platform, in order. */
export function autoCandidates(platform: NodeJS.Platform = process.platform): OrtProvider[] {
  switch (platform) {
    case 'linux':
      return ['cuda', 'webgpu'];
    case 'win32':
      return ['dml', 'cuda', 'webgpu'];
    case 'darwin':
      return ['coreml', 'webgpu'];
    default:
      return [];
  }
}

/**
 * Physical cores: on Linux the unique (physical id, core id) pairs of /proc/cpuinfo (hyper-threads
 * share a core), elsewhere — or when cpuinfo has no such fields — os.availableParallelism().
 * Never more than the CPUs this process may run on, never less than 1.
 */
export function physicalCores(cpuinfo?: string): number {
  const logical = Math.max(1, os.availableParallelism());
  let text = cpuinfo;
  if (text === undefined && process.platform === 'linux') {
    try {
      text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      text = undefined;
    }
  }
  if (!text) return logical;
  const cores = new Set<string>();
  for (const block of text.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(block)?.[1]?.trim();
    const core = field('core id');
    if (core !== undefined) cores.add(`${field('physical id') ?? '0'}/${core}`);
  }
  return cores.size ? Math.max(1, Math.min(cores.size, logical)) : logical;
}

/** Threads for `cores` physical cores with `reserved` of them left for the editor and other work (at least 1). */
export function threadsFor(reserved = 0, cores = physicalCores()): number {
  return Math.max(1, cores - Math.max(0, Math.floor(reserved)));
}

/** What the user asked for (CLI flags, the extension's settings). */
export interface OrtDeviceSettings {
  /** Default auto. */
  readonly device?: OrtDevice;
  /** Intra-op threads; overrides `reservedCores`. */
  readonly threads?: number;
  /** Physical cores left free (default 0). */
  readonly reservedCores?: number;
}

let settings: OrtDeviceSettings = {};

/** Set this process's device and threads (setTrainingEngine calls it). */
export function configureOrtDevice(next: OrtDeviceSettings): void {
  settings = { ...next };
}

/** The intra-op thread count for this process's ONNX Runtime sessions (training and sampling). */
export function ortThreads(): number {
  return settings.threads !== undefined && settings.threads >= 1 ? Math.floor(settings.threads) : threadsFor(settings.reservedCores ?? 0);
}

export interface ResolvedOrtDevice {
  /** What was asked for. */
  readonly requested: OrtDevice;
  /** The execution provider the training sessions get. */
  readonly device: OrtProvider;
  /** Intra-op threads. */
  readonly threads: number;
  /** Why `auto` ended on the CPU: each provider tried and why it was rejected. */
  readonly fallbackReason?: string;
}

const resolved = new Map<string, Promise<ResolvedOrtDevice>>();

/** The device this process trains on (resolved on first call, then the same promise). */
export function resolveOrtDevice(device: OrtDevice = settings.device ?? 'auto', threads: number = ortThreads()): Promise<ResolvedOrtDevice> {
  const key = `${device}/${threads}`;
  let p = resolved.get(key);
  if (!p) {
    p = resolve(device, threads);
    resolved.set(key, p);
  }
  return p;
}

async function resolve(device: OrtDevice, threads: number): Promise<ResolvedOrtDevice> {
  if (device === 'cpu') return { requested: device, device: 'cpu', threads };
  if (device !== 'auto') {
    const reason = await checkProvider(device, threads);
    if (reason !== undefined) {
      throw new UserError(
        `The training device '${device}' is not usable here: ${reason}. Train on the CPU with --device cpu (or --device auto), or set rlhf.engine.device to cpu or auto in the editor.`,
      );
    }
    return { requested: device, device, threads };
  }
  const rejected: string[] = [];
  for (const provider of autoCandidates()) {
    const reason = await checkProvider(provider, threads);
    if (reason === undefined) return { requested: device, device: provider, threads };
    rejected.push(`${provider}: ${reason}`);
  }
  return { requested: device, device: 'cpu', threads, fallbackReason: rejected.length ? rejected.join('; ') : `no GPU provider is tried on ${process.platform}` };
}

/**
 * What trains in this process, resolved for real: on ONNX Runtime the device (the check step)
 * and threads; on tfjs its backend, `tfjsBackend`. An explicit device that fails throws
 * (a UserError) unless `keepErrors`, which reports it in `error` instead.
 */
export async function trainingReport(engine: 'ort' | 'tfjs', tfjsBackend: string, keepErrors = false): Promise<TrainingReport> {
  if (engine === 'tfjs') return { engine, device: tfjsBackend };
  try {
    const d = await resolveOrtDevice();
    return { engine, device: d.device, threads: d.threads, ...(d.fallbackReason ? { fallbackReason: d.fallbackReason } : {}) };
  } catch (err) {
    if (!keepErrors) throw err;
    return { engine, device: settings.device ?? 'auto', threads: ortThreads(), error: errorMessage(err) };
  }
}

/** The check step's model: small enough to build in well under a second on the CPU. */
export const CHECK_CONFIG: GPT2Config = { ...TINY_CONFIG, vocab_size: 64, n_positions: 16, n_embd: 32, n_head: 2, n_layer: 1 };
/** Relative tolerance of the check against the CPU provider. */
export const CHECK_TOLERANCE = 1e-3;
/** The gradients compared besides the loss and gradient norm. */
const CHECKED_GRADS = ['wte.weight', 'h.0.attn.c_attn.weight', 'h.0.mlp.c_fc.weight', 'ln_f.weight'];

interface CheckStep {
  readonly loss: number;
  readonly gradNorm: number;
  readonly grads: Map<string, Float32Array>;
}

let cpuReference: Promise<CheckStep> | undefined;

/**
 * Whether `provider` trains correctly here: undefined when one step of the check model on it
 * matches the CPU provider's, else why not (the load error's first line, or how far it differed).
 */
export async function checkProvider(provider: OrtProvider, threads: number = ortThreads()): Promise<string | undefined> {
  let step: CheckStep;
  try {
    step = await checkStep(provider, threads);
  } catch (err) {
    return loadReason(err);
  }
  if (provider === 'cpu') return undefined;
  const cpu = await (cpuReference ??= checkStep('cpu', threads));
  const diffs: [string, number][] = [
    ['loss', relative(step.loss, cpu.loss)],
    ['gradient norm', relative(step.gradNorm, cpu.gradNorm)],
    ...CHECKED_GRADS.map((name): [string, number] => [`${name} gradient`, relativeVector(step.grads.get(name), cpu.grads.get(name))]),
  ];
  const worst = diffs.reduce((a, b) => (b[1] > a[1] || Number.isNaN(b[1]) ? b : a));
  if (worst[1] <= CHECK_TOLERANCE) return undefined;
  return `its step differed from CPU by ${Number.isFinite(worst[1]) ? worst[1].toExponential(2) : String(worst[1])} (relative, in the ${worst[0]}; tolerance ${CHECK_TOLERANCE})`;
}

/** One training step of the check model on `provider`: loss, gradient norm, the checked gradients. */
async function checkStep(provider: OrtProvider, threads: number): Promise<CheckStep> {
  // Loaded here, not at the top: the sampler imports this module for the thread count only.
  const { OrtTrainer } = await import('./trainer');
  const config = CHECK_CONFIG;
  const random = seededRandom(1234);
  const weights = new Map<string, ParamBuffer>();
  for (const [name, shape] of parameterShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const gain = /ln_(1|2|f)\.weight$/.test(name) ? 1 : 0;
    for (let i = 0; i < data.length; i++) data[i] = gain + (random() * 2 - 1) * 0.2;
    weights.set(name, { shape, data });
  }
  const B = 2;
  const T = config.n_positions;
  const tokens = Int32Array.from({ length: B * (T + 1) }, () => Math.floor(random() * config.vocab_size));
  const ids = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = tokens[b * (T + 1) + t] as number;
      targets[b * T + t] = tokens[b * (T + 1) + t + 1] as number;
    }
  }
  const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T < T - 3 || i < T ? 1 : 0));
  const trainer = await OrtTrainer.lm(config, weights, { provider, threads });
  try {
    const out = await trainer.lossAndGrads({ B, T, ids, targets, mask });
    // The trainer reuses its gradient buffers: keep copies.
    const grads = new Map(CHECKED_GRADS.map((name) => [name, Float32Array.from(out.grads.get(name) ?? [])]));
    return { loss: out.loss, gradNorm: out.gradNorm, grads };
  } finally {
    await trainer.release();
  }
}

function relative(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
}

/** ‖a − b‖ / ‖b‖ (Infinity when a is missing, of another length, or not finite). */
function relativeVector(a: Float32Array | undefined, b: Float32Array | undefined): number {
  if (!a || !b || a.length !== b.length || a.length === 0) return Infinity;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    diff += d * d;
    norm += (b[i] as number) ** 2;
  }
  const r = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
  return Number.isFinite(r) ? r : Infinity;
}

/** A load failure in one line: ONNX Runtime's source location and assertion text dropped, capped. */
function loadReason(err: unknown): string {
  let line = (errorMessage(err).split('\n')[0] ?? '').trim();
  // e.g. "/onnxruntime_src/…/webgpu_context.cc:136 …::<lambda()> adapter_result.status == … was false. Failed to get a WebGPU adapter: …"
  line = line.replace(/^\S+\.(cc|cpp|h):\d+\s+.*?\swas false\.\s*/, '').replace(/^\S+\.(cc|cpp|h):\d+\s+/, '');
  return (line || 'failed to load').slice(0, 240);
}
