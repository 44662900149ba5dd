import * as path from 'node:path';
import type { CliCommand } from '../command';
import { stringFlag } from '../command';
import { Project } from '../../core/store/project';

/** One run as `rlhf runs --json` prints it. */
export interface RunListing {
  readonly id: string;
  readonly stages: string[];
  readonly state: string;
  /** The stage of the newest checkpoint, and its step within that stage. */
  readonly stage: string;
  readonly step: number;
  /** Latest recorded checkpoint folder per stage (absolute). */
  readonly checkpoints: Record<string, string>;
  readonly message?: string;
  readonly createdAt: string;
}

export const runsCommand: CliCommand = {
  name: ['runs'],
  summary: "List the project's training runs: stages, state, step and latest checkpoints.",
  usage: '[--json] [--project DIR]',
  help: '  --json          one JSON array: id, stages, state, stage and step of the newest checkpoint, checkpoints {stage: latest path}, message\n  --project DIR   the workspace holding .rlhf/ (default: the current folder)',
  options: { json: { type: 'boolean' }, project: { type: 'string' } },
  async run(flags, _p, io) {
    const project = await Project.open(path.resolve(io.cwd, stringFlag(flags, 'project') ?? '.'));
    const listings: RunListing[] = project.runs.list().map((summary) => {
      const record = project.runs.get(summary.id);
      const checkpoints: Record<string, string> = {};
      for (const c of record.checkpoints) checkpoints[c.stage] = path.resolve(project.runs.dir(record.id), c.path);
      return {
        id: record.id,
        stages: record.stage.split('+'),
        state: record.state,
        stage: record.checkpoints[record.checkpoints.length - 1]?.stage ?? record.stage.split('+')[0] ?? record.stage,
        step: record.step,
        checkpoints,
        ...(record.message ? { message: record.message } : {}),
        createdAt: record.createdAt,
      };
    });
    if (flags.json) {
      io.out(JSON.stringify(listings, null, 2));
      return 0;
    }
    if (listings.length === 0) {
      io.out(`No runs in ${project.paths.runs}.`);
      return 0;
    }
    for (const r of listings) {
      io.out(`${r.id}  ${r.stages.join('+')}  ${r.state}  at ${r.stage} step ${r.step}${r.message ? `  (${r.message})` : ''}`);
      for (const [stage, dir] of Object.entries(r.checkpoints)) io.out(`    ${stage}: ${dir}`);
    }
    return 0;
  },
};
