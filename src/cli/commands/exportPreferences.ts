import * as path from 'node:path';
import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { exportPreferences } from '../../core/store/interchange';
import { trainingSources } from '../../core/store/pairs';
import { PROJECT_HELP, PROJECT_OPTION, openProject } from './projectFlag';
import { preferenceFormat } from './importPreferences';

export const exportPreferencesCommand: CliCommand = {
  name: ['export', 'preferences'],
  summary: 'Write the training pairs as TRL or HH-RLHF JSONL, reporting what the format cannot hold.',
  usage: '--format trl|hh --out FILE [--conversational] [--include-implicit] [--project DIR]',
  help: [
    '  --format            trl: {prompt, chosen, rejected}; hh: {chosen, rejected} transcripts',
    '  --out FILE          written atomically (an existing file is replaced only when the new one is complete)',
    '  --conversational    TRL only: prompt/chosen/rejected as chat messages',
    '  --include-implicit  also export implicit preferences (inline completions accepted/rejected)',
    PROJECT_HELP,
  ].join('\n'),
  options: { ...PROJECT_OPTION, format: { type: 'string' }, out: { type: 'string' }, conversational: { type: 'boolean' }, 'include-implicit': { type: 'boolean' } },
  async run(flags, _positionals, io) {
    const format = preferenceFormat(flags);
    const out = stringFlag(flags, 'out');
    if (out === undefined) throw new UsageError('--out FILE is required.');
    if (flags.conversational && format !== 'trl') throw new UsageError('--conversational applies to --format trl only.');
    const project = await openProject(flags, io);
    const sources = trainingSources(project.meta);
    if (flags['include-implicit'] && !sources.includes('implicit')) sources.push('implicit');
    const r = exportPreferences(project, path.resolve(io.cwd, out), { format, conversational: flags.conversational === true, filter: { sources } });
    io.out(`Wrote ${r.rows} pairs to ${path.resolve(io.cwd, out)} (${format}${flags.conversational ? ', conversational' : ''}).`);
    for (const n of r.notHeld) io.err(`not kept: ${n.count} × ${n.message}`);
    return 0;
  },
};
