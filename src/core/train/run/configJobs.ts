/**
 * From a stage's JSON config file to a runnable job: validate the file, resolve its paths
 * against its folder, choose the run id and seed, and build the StageJob through the stage
 * registry (stages/registry.ts). The CLI (`rlhf train`) and the engine share it.
 */
import * as fs from 'node:fs';
import type { StageName } from '../../../protocol/stages';
import { UserError } from '../../errors';
import { newRunId } from '../../store/ids';
import type { Project } from '../../store/project';
import { STAGE_SPECS } from '../stages/registry';
import type { StageJob } from './runner';

export interface ConfiguredJob {
  readonly runId: string;
  readonly job: StageJob;
  /** What is saved as the run's config.json: the file's fields and the resolved stage config. */
  readonly config: unknown;
}

/** Prompt texts from a file (one per line), when the config names one. */
function promptFile(file: string): string[] {
  if (!fs.existsSync(file)) throw new UserError(`${file}: prompts file not found.`);
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/**
 * A run's seed when its config sets none: from the run id, so two runs of the same preset differ
 * while a resumed run (same id) sees the batches it would have seen.
 */
export function seedOfRun(runId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < runId.length; i++) h = Math.imul(h ^ runId.charCodeAt(i), 0x01000193) >>> 0;
  return h % 2_147_483_647;
}

/** Where a job is built: whether the workspace is trusted (only then do reward modules and command rewards run). */
export interface JobOptions {
  /** The CLI is trusted (the user ran it); the engine is told by the extension. Default: not trusted. */
  readonly trusted?: boolean;
}

/** Reads a stage's config file into its job; `resumeId` is the run being resumed (its id wins over the file's). */
export function jobFromConfigFile(stage: StageName, configFile: string, project: Project, resumeId?: string, options: JobOptions = {}): ConfiguredJob {
  const { runId, job, config } = STAGE_SPECS[stage].load({
    configFile,
    project,
    promptFile,
    trusted: options.trusted === true,
    identify: (f) => {
      const id = resumeId ?? f.runId ?? newRunId(stage);
      return { runId: id, f: f.seed === undefined ? { ...f, seed: seedOfRun(id) } : f };
    },
  });
  return { runId, job, config: { stage, ...config } };
}
