/**
 * Counts for the sidebar and `rlhf stats`: prompts, completions, rankings, training pairs,
 * labelers, agreement, and the same per prompt.
 */
import type { AgreementReport } from './agreement';
import { agreement } from './agreement';
import type { Repair } from './log';
import { derivePairs } from './pairs';
import type { Project } from './project';
import type { LabelSource } from './schemas';

export interface VerdictCounts {
  ranked: number;
  skip: number;
  allBad: number;
}

export interface LabelerStats extends VerdictCounts {
  readonly labeler: string;
  readonly sources: LabelSource[];
  /** Events written, including edits and undos. */
  readonly events: number;
}

export interface PromptStats {
  readonly promptId: string;
  readonly batches: number;
  readonly completions: number;
  /** Rankings in force (any verdict, any labeler). */
  readonly rankings: number;
  readonly pairs: number;
}

export interface ProjectStats {
  readonly prompts: number;
  readonly batches: number;
  readonly completions: number;
  /** Rankings in force, over all labelers and sources. */
  readonly rankings: number;
  readonly verdicts: VerdictCounts;
  readonly events: number;
  /** Training pairs from the project's training sources (implicit only when enabled). */
  readonly pairs: number;
  readonly labelers: LabelerStats[];
  readonly agreement: AgreementReport;
  readonly perPrompt: PromptStats[];
  /** Damaged log tails moved aside when the project was opened. */
  readonly repairs: readonly Repair[];
}

export function projectStats(project: Project): ProjectStats {
  const prompts = project.prompts.list();
  const batches = project.completions.list();
  const events = project.rankings.events();
  const current = project.rankings.current();
  const pairs = derivePairs(project);
  const verdicts: VerdictCounts = { ranked: 0, skip: 0, allBad: 0 };
  const byLabeler = new Map<string, LabelerStats>();
  for (const { event } of events) {
    let s = byLabeler.get(event.labeler);
    if (!s) byLabeler.set(event.labeler, (s = { labeler: event.labeler, sources: [], events: 0, ranked: 0, skip: 0, allBad: 0 }));
    (s as { events: number }).events++;
    if (!s.sources.includes(event.source)) s.sources.push(event.source);
  }
  for (const { event } of current) {
    verdicts[event.verdict]++;
    const s = byLabeler.get(event.labeler);
    if (s) s[event.verdict]++;
  }
  const perPrompt = new Map<string, { promptId: string; batches: number; completions: number; rankings: number; pairs: number }>(
    prompts.map((p) => [p.id, { promptId: p.id, batches: 0, completions: 0, rankings: 0, pairs: 0 }]),
  );
  for (const b of batches) {
    const s = perPrompt.get(b.promptId);
    if (s) {
      s.batches++;
      s.completions += b.completions.length;
    }
  }
  for (const { event } of current) {
    const s = perPrompt.get(event.promptId);
    if (s) s.rankings++;
  }
  for (const p of pairs) {
    const s = perPrompt.get(p.promptId);
    if (s) s.pairs++;
  }
  return {
    prompts: prompts.length,
    batches: batches.length,
    completions: batches.reduce((n, b) => n + b.completions.length, 0),
    rankings: current.length,
    verdicts,
    events: events.length,
    pairs: pairs.length,
    labelers: [...byLabeler.values()].sort((a, b) => a.labeler.localeCompare(b.labeler)),
    agreement: agreement(current.filter((c) => c.event.source !== 'implicit')),
    perPrompt: [...perPrompt.values()],
    repairs: project.repairs,
  };
}
