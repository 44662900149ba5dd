/**
 * What every `rlhf` subcommand declares: its name (words, e.g. `export onnx`), a one-line
 * summary, its usage text, its flags (node:util parseArgs options), and a run function.
 */
import { setTrainingEngine } from '../core/train/engine';
import type { TrainingEngineName } from '../core/train/engine';
import { isOrtDevice, ORT_DEVICES } from '../protocol/backend';
import type { ParseArgsConfig } from 'node:util';
import { isBackendPreference } from '../protocol/backend';
import type { BackendPreference } from '../protocol/backend';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
  /** Ctrl+C: long commands stop at their next step. */
  readonly signal: AbortSignal;
}

export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CliCommand {
  /** The words after `rlhf`, e.g. ['export', 'onnx']. */
  readonly name: readonly string[];
  readonly summary: string;
  /** Usage lines after `rlhf <name>`, e.g. `--model DIR --out DIR`. */
  readonly usage: string;
  /** Extra help text (flag descriptions). */
  readonly help?: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** Whether free positional arguments are accepted. */
  readonly positionals?: boolean;
  /** Returns the exit code. */
  run(flags: FlagValues, positionals: readonly string[], io: CliIo): Promise<number>;
}

/** Thrown for a wrong flag or argument: the CLI prints the message and usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function stringFlag(flags: FlagValues, name: string): string | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} needs a value.`);
  return v;
}

export function numberFlag(flags: FlagValues, name: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  const raw = stringFlag(flags, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${opts.integer ? 'an integer' : 'a number'}, got '${raw}'.`);
  }
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`--${name} must be at least ${opts.min}, got ${n}.`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError(`--${name} must be at most ${opts.max}, got ${n}.`);
  return n;
}

/** The flags of the commands that train (train, demo, status): `--engine`, `--device`, `--threads`. */
export const ENGINE_OPTIONS = { engine: { type: 'string' }, device: { type: 'string' }, threads: { type: 'string' } } as const;

/** Their usage and help lines. */
export const ENGINE_USAGE = `[--engine ort|tfjs] [--device ${ORT_DEVICES.join('|')}] [--threads N]`;
export const ENGINE_HELP =
  '  --engine        what trains every stage: ort (ONNX Runtime; default) or tfjs\n' +
  `  --device        ONNX Runtime's device: ${ORT_DEVICES.join(', ')} (default auto: a GPU provider that loads and agrees with the CPU on a check step, else the CPU)\n` +
  '  --threads N     CPU threads for ONNX Runtime (default: the physical cores)';

/**
 * `--engine` (ort | tfjs, default ort): what trains every stage;
 * `--device` (default auto) and `--threads` (default the physical cores): where ONNX Runtime
 * runs. Applied to this process.
 */
export function applyEngineFlag(flags: FlagValues): TrainingEngineName {
  const engine = stringFlag(flags, 'engine') ?? 'ort';
  if (engine !== 'ort' && engine !== 'tfjs') throw new UsageError(`--engine must be ort or tfjs; got '${engine}'.`);
  const device = stringFlag(flags, 'device') ?? 'auto';
  if (!isOrtDevice(device)) throw new UsageError(`--device must be one of ${ORT_DEVICES.join(', ')}; got '${device}'.`);
  const threads = numberFlag(flags, 'threads', { integer: true, min: 1 });
  setTrainingEngine(engine, { device, ...(threads === undefined ? {} : { threads }) });
  return engine;
}

/** `--backend`, validated (default auto). */
export function backendFlag(flags: FlagValues): BackendPreference {
  const backend = stringFlag(flags, 'backend') ?? 'auto';
  if (!isBackendPreference(backend)) throw new UsageError(`--backend must be one of auto, tensorflow, wasm, cpu; got '${backend}'.`);
  return backend;
}
