/**
 * `rlhf train pretrain|sft|reward|dpo|ppo|rloo --config FILE [--project DIR]`: one stage as a
 * run in the project (resumed when the config's runId already exists), with progress on the
 * terminal. Ctrl+C stops within one step and leaves a checkpoint to resume from.
 */
import * as path from 'node:path';
import type { CliCommand, CliIo, FlagValues } from '../command';
import { UsageError, backendFlag, stringFlag } from '../command';
import { initCompute } from '../../core/compute/backend';
import { Project } from '../../core/store/project';
import { jobFromConfigFile, TRAINABLE_STAGES } from '../../core/train/run/configJobs';
import type { TrainableStage } from '../../core/train/run/configJobs';
import { runPipeline } from '../../core/train/run/runner';
import { progressPrinter } from '../progress';

const POLICY =
  '"model": SFT_DIR, "rewardModel": RM_DIR | "builtin:afinn", "reference"?: DIR, "prompts"?: FILE (default: the project\'s prompts), "iterations"?, "temperature"?, "maxNewTokens"?, "klCoef"?, "optim"?, "runId"?';
const HELP: Record<TrainableStage, { what: string; config: string }> = {
  pretrain: { what: 'base model (pretraining)', config: '{"corpus": "builtin:moby-dick" | "FILE.txt", "model"?: DIR, "steps"?, "batchSize"?, "blockSize"?, "optim"?: {"lr"?, …}, "runId"?}' },
  sft: { what: 'SFT model', config: '{"model": DIR, "data": "FILE.jsonl" (lines {"prompt", "completion"}), "steps"?, "batchSize"?, "maxLen"?, "evalFraction"?, "optim"?, "runId"?}' },
  reward: {
    what: 'reward model',
    config: '{"model": SFT_DIR, "steps"?, "batchSize"?, "maxLen"?, "margin"?, "evalFraction"?, "includeSimulated"?, "optim"?, "runId"?} — pairs come from the project\'s rankings',
  },
  dpo: {
    what: 'policy by DPO on the rankings',
    config: '{"model": SFT_DIR, "reference"?: DIR, "steps"?, "batchSize"? (pairs), "maxLen"?, "beta"?, "labelSmoothing"?, "evalFraction"?, "includeSimulated"?, "optim"?, "runId"?}',
  },
  ppo: { what: 'policy by PPO against a reward model', config: `{${POLICY}, "rolloutBatch"?, "miniBatches"?, "ppoEpochs"?, "adaptiveKl"?: {"target", "horizon"}, "ptxCoef"?, "ptxCorpus"?, …}` },
  rloo: { what: 'policy by RLOO against a reward model', config: `{${POLICY}, "promptsPerIteration"?, "k"?, "epochs"?, …}` },
};

function trainCommand(stage: TrainableStage): CliCommand {
  return {
    name: ['train', stage],
    summary: `Train the ${HELP[stage].what} as a run in the project.`,
    usage: '--config FILE [--project DIR] [--backend auto|tensorflow|wasm|cpu]',
    help: `  --config FILE   JSON: ${HELP[stage].config}\n                  (paths are relative to the config file)\n  --project DIR   the workspace holding .rlhf/ (default: the current folder)\n  --backend       force a tfjs backend`,
    options: { config: { type: 'string' }, project: { type: 'string' }, backend: { type: 'string' } },
    run: (flags, _p, io) => runTrain(stage, flags, io),
  };
}

async function runTrain(stage: TrainableStage, flags: FlagValues, io: CliIo): Promise<number> {
  const file = stringFlag(flags, 'config');
  if (!file) throw new UsageError('--config FILE is required.');
  const project = await Project.open(path.resolve(io.cwd, stringFlag(flags, 'project') ?? '.'));
  const { report } = await initCompute(backendFlag(flags));
  const { runId, job, config } = jobFromConfigFile(stage, path.resolve(io.cwd, file), project);
  io.out(`run ${runId} in ${project.runs.dir(runId)} on ${report.backend}`);
  const result = await runPipeline(project, runId, [job], config, { signal: io.signal, onEvent: progressPrinter(io.out) });
  io.out(`final checkpoint: ${result.finals[stage]}`);
  return 0;
}

export const trainCommands: readonly CliCommand[] = TRAINABLE_STAGES.map(trainCommand);
