/**
 * `rlhf train pretrain|sft|reward --config FILE [--project DIR]`: one stage as a run in the
 * project (resumed if the config's runId already exists), with progress on the terminal.
 */
import * as path from 'node:path';
import type { CliCommand, CliIo, FlagValues } from '../command';
import { UsageError, stringFlag } from '../command';
import { initCompute } from '../../core/compute/backend';
import { Project } from '../../core/store/project';
import { newRunId } from '../../core/store/ids';
import { configPath, pretrainConfig, pretrainFileSchema, readConfigFile, rewardConfig, rewardFileSchema, sftConfig, sftFileSchema } from '../../core/train/configs';
import { dpoConfig, dpoFileSchema } from '../../core/train/configs';
import { pretrainJob, rewardJob, sftJob } from '../../core/train/jobs';
import { dpoJob } from '../../core/train/jobs';
import { runPipeline } from '../../core/train/runner';
import type { StageJob } from '../../core/train/runner';
import type { StageName } from '../../core/train/stage';
import { progressPrinter } from '../progress';

type TrainStage = Extract<StageName, 'pretrain' | 'sft' | 'reward' | 'dpo'>;

const HELP: Record<TrainStage, string> = {
  pretrain: '{"corpus": "builtin:moby-dick" | "FILE.txt", "model"?: DIR, "steps"?, "batchSize"?, "blockSize"?, "optim"?: {"lr"?, …}, "runId"?}',
  sft: '{"model": DIR, "data": "FILE.jsonl" (lines {"prompt", "completion"}), "steps"?, "batchSize"?, "maxLen"?, "evalFraction"?, "optim"?, "runId"?}',
  reward: '{"model": SFT_DIR, "steps"?, "batchSize"?, "maxLen"?, "margin"?, "evalFraction"?, "includeSimulated"?, "optim"?, "runId"?} — pairs come from the project\'s rankings',
  dpo: '{"model": SFT_DIR, "reference"?: DIR (default: model), "steps"?, "batchSize"? (pairs), "maxLen"?, "beta"?, "labelSmoothing"?, "evalFraction"?, "includeSimulated"?, "optim"?, "runId"?} — pairs come from the project\'s rankings',
};

function trainCommand(stage: TrainStage): CliCommand {
  return {
    name: ['train', stage],
    summary: `Train the ${stage === 'dpo' ? 'policy by DPO on the rankings' : stage === 'reward' ? 'reward model' : stage === 'sft' ? 'SFT model' : 'base model (pretraining)'} as a run in the project.`,
    usage: '--config FILE [--project DIR] [--backend auto|tensorflow|wasm|cpu]',
    help: `  --config FILE   JSON: ${HELP[stage]}\n  --project DIR   the workspace holding .rlhf/ (default: the current folder)\n  --backend       force a tfjs backend`,
    options: { config: { type: 'string' }, project: { type: 'string' }, backend: { type: 'string' } },
    run: (flags, _p, io) => runTrain(stage, flags, io),
  };
}

async function runTrain(stage: TrainStage, flags: FlagValues, io: CliIo): Promise<number> {
  const file = stringFlag(flags, 'config');
  if (!file) throw new UsageError('--config FILE is required.');
  const configFile = path.resolve(io.cwd, file);
  const project = await Project.open(path.resolve(io.cwd, stringFlag(flags, 'project') ?? '.'));
  const { report } = await initCompute((stringFlag(flags, 'backend') ?? 'auto') as 'auto');
  let job: StageJob;
  let runId: string;
  let config: unknown;
  if (stage === 'pretrain') {
    const f = readConfigFile(configFile, pretrainFileSchema);
    runId = f.runId ?? newRunId(stage);
    const c = pretrainConfig(f);
    job = pretrainJob(project, runId, c, configPath(configFile, f.corpus), f.model && configPath(configFile, f.model));
    config = { stage, ...f, resolved: c };
  } else if (stage === 'sft') {
    const f = readConfigFile(configFile, sftFileSchema);
    runId = f.runId ?? newRunId(stage);
    const c = sftConfig(f);
    job = sftJob(c, configPath(configFile, f.data), { model: configPath(configFile, f.model), ...(f.evalFraction === undefined ? {} : { evalFraction: f.evalFraction }) });
    config = { stage, ...f, resolved: c };
  } else if (stage === 'dpo') {
    const f = readConfigFile(configFile, dpoFileSchema);
    runId = f.runId ?? newRunId(stage);
    const c = dpoConfig(f);
    job = dpoJob(project, c, {
      model: configPath(configFile, f.model),
      ...(f.reference === undefined ? {} : { reference: configPath(configFile, f.reference) }),
      ...(f.evalFraction === undefined ? {} : { evalFraction: f.evalFraction }),
      ...(f.includeSimulated === undefined ? {} : { includeSimulated: f.includeSimulated }),
    });
    config = { stage, ...f, resolved: c };
  } else {
    const f = readConfigFile(configFile, rewardFileSchema);
    runId = f.runId ?? newRunId(stage);
    const c = rewardConfig(f);
    job = rewardJob(project, c, {
      model: configPath(configFile, f.model),
      ...(f.evalFraction === undefined ? {} : { evalFraction: f.evalFraction }),
      ...(f.includeSimulated === undefined ? {} : { includeSimulated: f.includeSimulated }),
    });
    config = { stage, ...f, resolved: c };
  }
  io.out(`run ${runId} in ${project.runs.dir(runId)} on ${report.backend}`);
  const result = await runPipeline(project, runId, [job], config, { signal: io.signal, onEvent: progressPrinter(io.out) });
  io.out(`final checkpoint: ${result.finals[stage]}`);
  return 0;
}

export const trainCommands: readonly CliCommand[] = [trainCommand('pretrain'), trainCommand('sft'), trainCommand('reward'), trainCommand('dpo')];
