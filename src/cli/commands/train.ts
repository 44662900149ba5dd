/**
 * `rlhf train pretrain|sft|reward|dpo|ppo|rloo|grpo --config FILE [--project DIR]`: one stage as a
 * run in the project (resumed when the config's runId already exists), with progress on the
 * terminal. Ctrl+C stops within one step and leaves a checkpoint to resume from.
 */
import * as path from 'node:path';
import { z } from 'zod';
import type { CliCommand, CliIo, FlagValues } from '../command';
import { ENGINE_HELP, ENGINE_OPTIONS, ENGINE_USAGE, UsageError, applyEngineFlag, backendFlag, stringFlag } from '../command';
import { initCompute } from '../../core/compute/backend';
import { trainingReport } from '../../core/train/ort/device';
import { formatTrainingReport } from '../../protocol/backend';
import { Project } from '../../core/store/project';
import { jobFromConfigFile } from '../../core/train/run/configJobs';
import { runPipeline } from '../../core/train/run/runner';
import { STAGE_SPECS } from '../../core/train/stages/registry';
import { STAGE_INFO, STAGE_NAMES } from '../../protocol/stages';
import type { StageName } from '../../protocol/stages';
import { progressPrinter } from '../progress';

/** The config file's fields, from the stage's schema: the required ones with what they are, then the optional names. */
function configFields(stage: StageName): string {
  const schema = z.toJSONSchema(STAGE_SPECS[stage].fileSchema, { io: 'input' }) as { properties?: Record<string, { description?: string }>; required?: string[] };
  const properties = schema.properties ?? {};
  const required = schema.required ?? [];
  const optional = Object.keys(properties).filter((k) => !required.includes(k));
  const pad = '                  ';
  return [...required.map((k) => `${pad}"${k}" (required): ${properties[k]?.description ?? ''}`), `${pad}optional: ${optional.map((k) => `"${k}"`).join(', ')}`].join('\n');
}

function trainCommand(stage: StageName): CliCommand {
  return {
    name: ['train', stage],
    summary: `Train the ${STAGE_INFO[stage].what} as a run in the project.`,
    usage: `--config FILE [--project DIR] ${ENGINE_USAGE} [--backend auto|tensorflow|wasm|cpu]`,
    help: `  --config FILE   JSON, as schemas/${stage}.schema.json describes (paths are relative to the file):\n${configFields(stage)}\n  --project DIR   the workspace holding .rlhf/ (default: the current folder)\n${ENGINE_HELP}\n  --backend       the tfjs backend of the tfjs engine (--engine tfjs)`,
    options: { config: { type: 'string' }, project: { type: 'string' }, ...ENGINE_OPTIONS, backend: { type: 'string' } },
    run: (flags, _p, io) => runTrain(stage, flags, io),
  };
}

async function runTrain(stage: StageName, flags: FlagValues, io: CliIo): Promise<number> {
  const file = stringFlag(flags, 'config');
  if (!file) throw new UsageError('--config FILE is required.');
  const engine = applyEngineFlag(flags);
  const backend = backendFlag(flags);
  const project = await Project.open(path.resolve(io.cwd, stringFlag(flags, 'project') ?? '.'));
  // tfjs is loaded (on --backend) only for the tfjs engine; ONNX Runtime never needs it.
  const tfjsBackend = engine === 'tfjs' ? (await initCompute(backend)).report.backend : undefined;
  const { runId, job, config } = jobFromConfigFile(stage, path.resolve(io.cwd, file), project, undefined, { trusted: true });
  // ONNX Runtime resolves its device here, so a device that does not work is said before the run starts.
  io.out(`run ${runId} in ${project.runs.dir(runId)} (${formatTrainingReport(await trainingReport(engine, tfjsBackend ?? backend))})`);
  const result = await runPipeline(project, runId, [job], config, { signal: io.signal, onEvent: progressPrinter(io.out) });
  io.out(`final checkpoint: ${result.finals[stage]}`);
  return 0;
}

export const trainCommands: readonly CliCommand[] = STAGE_NAMES.map(trainCommand);
