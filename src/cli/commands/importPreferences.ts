import * as path from 'node:path';
import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { importPreferences } from '../../core/store/interchange';
import type { PreferenceFormat } from '../../core/store/interchange';
import { PROJECT_HELP, PROJECT_OPTION, openProject } from './projectFlag';

export function preferenceFormat(flags: Parameters<typeof stringFlag>[0]): PreferenceFormat {
  const format = stringFlag(flags, 'format');
  if (format !== 'trl' && format !== 'hh') throw new UsageError(`--format must be trl or hh${format === undefined ? '' : `, got '${format}'`}.`);
  return format;
}

export const importPreferencesCommand: CliCommand = {
  name: ['import', 'preferences'],
  summary: 'Add preference pairs from a TRL (standard or conversational) or HH-RLHF JSONL file.',
  usage: 'FILE --format trl|hh [--labeler NAME] [--project DIR]',
  help: [
    '  --format       trl: {prompt, chosen, rejected} (strings or messages); hh: {chosen, rejected} transcripts',
    "  --labeler      who the labels are from (default: 'imported:<file name>'); stored with source 'imported'",
    PROJECT_HELP,
    '',
    'Rows the project cannot hold (multi-turn, system prompts, implicit prompts) are skipped and listed.',
  ].join('\n'),
  options: { ...PROJECT_OPTION, format: { type: 'string' }, labeler: { type: 'string' } },
  positionals: true,
  async run(flags, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('expected one FILE.');
    const format = preferenceFormat(flags);
    const labeler = stringFlag(flags, 'labeler');
    const project = await openProject(flags, io);
    const file = path.resolve(io.cwd, positionals[0] as string);
    const r = await importPreferences(project, file, { format, ...(labeler !== undefined ? { labeler } : {}) });
    io.out(`Read ${r.rows} rows: ${r.pairs} pairs as '${r.labeler}' (${r.added.prompts} new prompts, ${r.added.batches} new batches, ${r.added.rankings} new rankings), ${r.skipped.length} skipped.`);
    for (const s of r.skipped.slice(0, 20)) io.err(`skipped ${file}:${s.line}: ${s.reason}`);
    if (r.skipped.length > 20) io.err(`… and ${r.skipped.length - 20} more skipped rows.`);
    for (const n of r.notHeld) io.err(`not kept: ${n.count} × ${n.message}`);
    return 0;
  },
};
