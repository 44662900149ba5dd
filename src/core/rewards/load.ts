/**
 * From a config's `rewards` entries to ready RewardFunctions: unique names, weights, workspace
 * trust (module and command rewards run code from the workspace, so only a trusted workspace
 * runs them: the CLI is trusted, the engine is told by the extension), modules bundled and their
 * workers started. The reward model is built by the caller (the policy stage), through
 * `rewardModel`, and wrapped here with the entry's name and weight.
 */
import * as path from 'node:path';
import { UserError } from '../errors';
import { lengthReward, regexReward } from './builtins';
import { commandReward } from './command';
import { DEFAULT_MODULE_MEMORY_MB, DEFAULT_MODULE_TIMEOUT_MS } from './config';
import type { RewardModelSpec, RewardSpec } from './config';
import { ModuleReward } from './module';
import type { RewardFunction, RewardProblem } from './types';

export interface RewardLoadOptions {
  /** The workspace folder (the one holding .rlhf/): module files resolve against its .rlhf/, commands run in it. */
  readonly workspaceRoot: string;
  /** Whether the workspace is trusted; module and command rewards are refused otherwise. */
  readonly trusted: boolean;
  /** Builds the reward model of a `rewardModel` entry (its name and weight are set from the entry). */
  readonly rewardModel?: (spec: RewardModelSpec) => Promise<RewardFunction> | RewardFunction;
}

/** "name (source), sample 3: message": a problem as one log line. */
export function formatProblem(p: RewardProblem): string {
  return `reward ${p.name} (${p.source})${p.sample === null ? '' : `, sample ${p.sample}`}: ${p.message}`;
}

/** A module entry's file: relative to the project's .rlhf/ folder, or absolute. */
export function rewardModulePath(workspaceRoot: string, file: string): string {
  return path.resolve(workspaceRoot, '.rlhf', file);
}

/** A path as messages show it: relative to the workspace when inside it. */
function shown(workspaceRoot: string, file: string): string {
  const rel = path.relative(workspaceRoot, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The entry's name when it gives none: the module's file name (".export" for a named export), else its kind. */
function defaultName(spec: RewardSpec): string {
  if (spec.type !== 'module') return spec.type;
  const base = path.basename(spec.file).replace(/\.[^.]*$/, '');
  const name = spec.export && spec.export !== 'default' ? `${base}.${spec.export}` : base;
  // A safe id (letters, digits, _ . -, starting with a letter or digit), as the metric name needs.
  const safe = name
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/^[^A-Za-z0-9]+/, '');
  return (safe || 'module').slice(0, 64);
}

/** Unique names: a name the config gives twice is an error; a default name already taken is numbered (command, command-2, …). */
function names(specs: readonly RewardSpec[]): string[] {
  const given = new Set<string>();
  for (const s of specs) {
    if (s.name === undefined) continue;
    if (given.has(s.name)) throw new UserError(`rewards: two entries are named "${s.name}"; names must be unique (each is a metric, rewards/<name>/mean).`);
    given.add(s.name);
  }
  const taken = new Set(given);
  return specs.map((s) => {
    if (s.name !== undefined) return s.name;
    const base = defaultName(s);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    return name;
  });
}

/** Refuses, before anything is bundled or run, the entries an untrusted workspace must not run. */
function checkTrust(specs: readonly RewardSpec[], root: string): void {
  for (const s of specs) {
    const what =
      s.type === 'module'
        ? `${shown(root, rewardModulePath(root, s.file))}: this reward module is code from the workspace`
        : s.type === 'command'
          ? `The command reward \`${s.command}\` runs a shell command the workspace's config names`
          : undefined;
    if (what) throw new UserError(`${what}, so it runs only in a trusted workspace. Trust the workspace (Manage Workspace Trust) to use it, or remove it from the config's rewards.`);
  }
}

/**
 * The config's reward functions, ready to score, in its order. Throws a UserError (having freed
 * whatever it had started) for an entry it cannot run: untrusted, missing, not building, or
 * a module that does not load.
 */
export async function loadRewardFunctions(specs: readonly RewardSpec[], options: RewardLoadOptions): Promise<RewardFunction[]> {
  const root = path.resolve(options.workspaceRoot);
  if (!options.trusted) checkTrust(specs, root);
  const named = names(specs);
  const loaded: RewardFunction[] = [];
  try {
    for (const [i, spec] of specs.entries()) {
      const name = named[i] as string;
      const weight = spec.weight ?? 1;
      loaded.push(await load(spec, name, weight, root, options));
    }
    return loaded;
  } catch (err) {
    await Promise.all(loaded.map((f) => f.dispose().catch(() => undefined)));
    throw err;
  }
}

async function load(spec: RewardSpec, name: string, weight: number, root: string, options: RewardLoadOptions): Promise<RewardFunction> {
  switch (spec.type) {
    case 'regex':
      return regexReward(spec, name, weight);
    case 'length':
      return lengthReward(spec, name, weight);
    case 'command':
      return commandReward(spec, name, weight, root);
    case 'module': {
      const file = rewardModulePath(root, spec.file);
      const target = {
        file,
        source: shown(root, file),
        exportName: spec.export ?? 'default',
        timeoutMs: spec.timeoutMs ?? DEFAULT_MODULE_TIMEOUT_MS,
        memoryMb: spec.memoryMb ?? DEFAULT_MODULE_MEMORY_MB,
      };
      return ModuleReward.start(name, weight, target, root);
    }
    case 'rewardModel': {
      if (!options.rewardModel) throw new UserError(`rewards: a "rewardModel" entry (${name}) is not available here.`);
      const model = await options.rewardModel(spec);
      return { name, weight, score: (samples, report, signal) => model.score(samples, (p) => report({ ...p, name }), signal), dispose: () => model.dispose() };
    }
  }
}
