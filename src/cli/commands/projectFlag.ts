/** What the store commands share: the --project flag and opening the project with its repairs reported. */
import * as path from 'node:path';
import type { CliIo, FlagValues } from '../command';
import { stringFlag } from '../command';
import { formatRepair } from '../../core/store/log';
import { Project } from '../../core/store/project';

export const PROJECT_OPTION = { project: { type: 'string' } } as const;
export const PROJECT_HELP = '  --project DIR  the workspace folder holding .rlhf/ (default: the current folder)';

export function projectDir(flags: FlagValues, io: CliIo): string {
  return path.resolve(io.cwd, stringFlag(flags, 'project') ?? '.');
}

/** Opens the project; damaged log tails moved aside on open are reported on stderr. */
export async function openProject(flags: FlagValues, io: CliIo, labeler?: string): Promise<Project> {
  const project = await Project.open(projectDir(flags, io), labeler !== undefined ? { labeler } : {});
  for (const r of project.repairs) io.err(`warning: ${formatRepair(r)}`);
  return project;
}
