/**
 * From a stage's JSON config file to a runnable job: validate the file, resolve its paths
 * against its folder, and build the StageJob. The CLI (`rlhf train`) and the engine share it.
 */
import * as fs from 'node:fs';
import type { Project } from '../../store/project';
import { newRunId } from '../../store/ids';
import { UserError } from '../../errors';
import {
  configPath,
  dpoConfig,
  dpoFileSchema,
  ppoConfig,
  ppoFileSchema,
  pretrainConfig,
  pretrainFileSchema,
  readConfigFile,
  rewardConfig,
  rewardFileSchema,
  rlooConfig,
  rlooFileSchema,
  sftConfig,
  sftFileSchema,
} from './configs';
import { dpoJob, ppoJob, pretrainJob, rewardJob, rlooJob, sftJob } from './jobs';
import { BEST_RANKED, bestRankedExamples } from '../data/datasets';
import type { Tokenizer } from '../../tokenizer/tokenizer';
import type { StageJob } from './runner';
import type { StageName } from '../stage';

export const TRAINABLE_STAGES = ['pretrain', 'sft', 'reward', 'dpo', 'ppo', 'rloo'] as const satisfies readonly StageName[];
export type TrainableStage = (typeof TRAINABLE_STAGES)[number];

export interface ConfiguredJob {
  readonly runId: string;
  readonly job: StageJob;
  /** What is saved as the run's config.json: the file's fields and the resolved stage config. */
  readonly config: unknown;
}

const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } => (value === undefined ? {} : ({ [key]: value } as { [P in K]?: V }));

/** Prompt texts from a file (one per line), when the config names one. */
function promptFile(file: string | undefined): string[] | undefined {
  if (file === undefined) return undefined;
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

/** Reads a stage's config file into its job; `resumeId` is the run being resumed (its id wins over the file's). */
export function jobFromConfigFile(stage: TrainableStage, configFile: string, project: Project, resumeId?: string): ConfiguredJob {
  const at = (p: string): string => configPath(configFile, p);
  const identify = <F extends { readonly runId?: string | undefined; readonly seed?: number | undefined }>(f: F): { runId: string; f: F } => {
    const runId = resumeId ?? f.runId ?? newRunId(stage);
    return { runId, f: f.seed === undefined ? { ...f, seed: seedOfRun(runId) } : f };
  };
  switch (stage) {
    case 'pretrain': {
      const { runId, f } = identify(readConfigFile(configFile, pretrainFileSchema));
      const c = pretrainConfig(f);
      return { runId, job: pretrainJob(project, runId, c, at(f.corpus), f.model && at(f.model)), config: { stage, ...f, resolved: c } };
    }
    case 'sft': {
      const { runId, f } = identify(readConfigFile(configFile, sftFileSchema));
      const c = sftConfig(f);
      const data = f.data === BEST_RANKED ? (tokenizer: Tokenizer) => bestRankedExamples(project, tokenizer) : at(f.data);
      return { runId, job: sftJob(c, data, { model: at(f.model), ...optional('evalFraction', f.evalFraction) }), config: { stage, ...f, resolved: c } };
    }
    case 'reward': {
      const { runId, f } = identify(readConfigFile(configFile, rewardFileSchema));
      const c = rewardConfig(f);
      const job = rewardJob(project, c, { model: at(f.model), ...optional('evalFraction', f.evalFraction), ...optional('includeSimulated', f.includeSimulated) });
      return { runId, job, config: { stage, ...f, resolved: c } };
    }
    case 'dpo': {
      const { runId, f } = identify(readConfigFile(configFile, dpoFileSchema));
      const c = dpoConfig(f);
      const job = dpoJob(project, c, {
        model: at(f.model),
        ...optional('reference', f.reference && at(f.reference)),
        ...optional('evalFraction', f.evalFraction),
        ...optional('includeSimulated', f.includeSimulated),
      });
      return { runId, job, config: { stage, ...f, resolved: c } };
    }
    case 'ppo':
    case 'rloo': {
      const { runId, f } = identify(stage === 'ppo' ? readConfigFile(configFile, ppoFileSchema) : readConfigFile(configFile, rlooFileSchema));
      const options = {
        model: at(f.model),
        scorer: at(f.rewardModel),
        ...optional('reference', f.reference && at(f.reference)),
        ...optional('prompts', promptFile(f.prompts && at(f.prompts))),
        ...optional('ptxCorpus', 'ptxCorpus' in f && f.ptxCorpus ? at(f.ptxCorpus) : undefined),
      };
      const c = stage === 'ppo' ? ppoConfig(f) : rlooConfig(f);
      const job = stage === 'ppo' ? ppoJob(project, c as ReturnType<typeof ppoConfig>, options) : rlooJob(project, c as ReturnType<typeof rlooConfig>, options);
      return { runId, job, config: { stage, ...f, resolved: c } };
    }
  }
}
