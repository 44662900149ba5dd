import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { Project } from '../../core/store/project';
import { PROJECT_HELP, PROJECT_OPTION } from './projectFlag';

export const initCommand: CliCommand = {
  name: ['init'],
  summary: 'Create an RLHF project (.rlhf/) in a folder.',
  usage: '[DIR] [--project DIR] [--name NAME]',
  help: `  DIR            the folder to create it in, created if missing (same as --project)\n${PROJECT_HELP}\n  --name NAME    a display name stored in project.json`,
  options: { ...PROJECT_OPTION, name: { type: 'string' } },
  positionals: true,
  async run(flags, positionals, io) {
    if (positionals.length > 1) throw new UsageError(`expected at most one folder, got ${positionals.length}.`);
    const flag = stringFlag(flags, 'project');
    if (positionals[0] !== undefined && flag !== undefined && path.resolve(io.cwd, positionals[0]) !== path.resolve(io.cwd, flag)) {
      throw new UsageError('give the folder either as DIR or as --project, not two different ones.');
    }
    const dir = path.resolve(io.cwd, positionals[0] ?? flag ?? '.');
    const name = stringFlag(flags, 'name');
    // Like `git init DIR`: a folder that does not exist yet is created (a file in the way is still refused).
    if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true });
    const project = await Project.create(dir, name !== undefined ? { name } : {});
    io.out(`Created ${project.paths.dir} (schema version ${project.meta.schemaVersion}). Next: rlhf import prompts FILE --project ${dir}`);
    return 0;
  },
};
