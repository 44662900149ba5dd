import type { CliCommand } from '../command';
import { projectStats } from '../../core/store/stats';
import type { ProjectStats } from '../../core/store/stats';
import { PROJECT_HELP, PROJECT_OPTION, openProject } from './projectFlag';

const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));

export function formatStats(s: ProjectStats): string {
  const lines = [
    `prompts:      ${s.prompts}`,
    `completions:  ${s.completions} in ${s.batches} batches`,
    `rankings:     ${s.rankings} (${s.verdicts.ranked} ranked, ${s.verdicts.skip} skipped, ${s.verdicts.allBad} all-bad; ${s.events} events)`,
    `pairs:        ${s.pairs}`,
    `labelers:     ${s.labelers.length}`,
    ...s.labelers.map((l) => `  ${l.labeler} [${l.sources.join(', ')}]: ${l.ranked} ranked, ${l.skip} skipped, ${l.allBad} all-bad`),
    `agreement:    ${s.agreement.units} shared pairs on ${s.agreement.sharedPrompts} prompts; pairwise ${fmt(s.agreement.pairwiseAgreement)}, Krippendorff's alpha ${fmt(s.agreement.krippendorffAlpha)}`,
    ...s.agreement.byLabelerPair.map((p) => `  ${p.a} vs ${p.b}: ${p.units} pairs, agreement ${fmt(p.agreement)}, Cohen's kappa ${fmt(p.cohenKappa)}`),
  ];
  return lines.join('\n');
}

export const statsCommand: CliCommand = {
  name: ['stats'],
  summary: 'Count prompts, completions, rankings, training pairs, labelers, and labeler agreement.',
  usage: '[--json] [--project DIR]',
  help: `  --json         print a JSON object: prompts, batches, completions, rankings, verdicts, events, pairs,\n                 labelers, agreement, perPrompt, repairs\n${PROJECT_HELP}`,
  options: { ...PROJECT_OPTION, json: { type: 'boolean' } },
  async run(flags, _positionals, io) {
    const project = await openProject(flags, io);
    const stats = projectStats(project);
    io.out(flags.json ? JSON.stringify(stats, null, 2) : formatStats(stats));
    return 0;
  },
};
