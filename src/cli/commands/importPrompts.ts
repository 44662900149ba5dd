import * as path from 'node:path';
import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { importPrompts } from '../../core/store/importPrompts';
import { PROJECT_HELP, PROJECT_OPTION, openProject } from './projectFlag';

export const importPromptsCommand: CliCommand = {
  name: ['import', 'prompts'],
  summary: 'Add prompts from a .txt (one per line), .jsonl or .csv file; existing prompts are not added twice.',
  usage: 'FILE [--format txt|jsonl|csv] [--project DIR]',
  help: `  --format       default: from the file extension\n${PROJECT_HELP}`,
  options: { ...PROJECT_OPTION, format: { type: 'string' } },
  positionals: true,
  async run(flags, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('expected one FILE.');
    const format = stringFlag(flags, 'format');
    if (format !== undefined && !['txt', 'jsonl', 'csv'].includes(format)) throw new UsageError(`--format must be one of txt, jsonl, csv; got '${format}'.`);
    const project = await openProject(flags, io);
    const r = await importPrompts(project, path.resolve(io.cwd, positionals[0] as string), format);
    io.out(`Read ${r.read} prompts (${r.format}): ${r.added} added, ${r.duplicates} already present.`);
    return 0;
  },
};
