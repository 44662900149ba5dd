/** The project at a glance, for the sidebar: models, counts, labelers, runs. */
import { projectStats } from '../../core/store/stats';
import type { Project } from '../../core/store/project';
import type { ProjectOverview } from '../../protocol/engineProject';
import { finishedTimes, projectModels } from './policy';
import { implicitBatchIds, rankingQueue } from './queue';

export function projectOverview(project: Project): ProjectOverview {
  const stats = projectStats(project);
  const implicit = implicitBatchIds(project);
  const humanDone = project.rankings.currentFor(project.labeler, 'human');
  const meta = project.meta;
  const finished = finishedTimes(project);
  const since = finished.reward;
  const rankedSinceReward = since === undefined ? 0 : [...humanDone.values()].filter((c) => c.event.verdict === 'ranked' && c.event.time > since && !implicit.has(c.event.batchId)).length;
  return {
    workspace: project.paths.workspace,
    ...(meta.name !== undefined ? { name: meta.name } : {}),
    models: projectModels(project),
    prompts: stats.prompts,
    batches: stats.batches - implicit.size,
    ranked: [...humanDone.values()].filter((c) => c.event.verdict !== 'skip' && !implicit.has(c.event.batchId)).length,
    skipped: [...humanDone.values()].filter((c) => c.event.verdict === 'skip' && !implicit.has(c.event.batchId)).length,
    unranked: rankingQueue(project).length,
    pairs: stats.pairs,
    implicit: implicit.size,
    includeImplicit: meta.settings.includeImplicit,
    labeler: project.labeler,
    labelers: stats.labelers.map((l) => l.labeler),
    loop: { ...(finished.reward ? { rewardAt: finished.reward } : {}), ...(finished.policy ? { policyAt: finished.policy } : {}), rankedSinceReward },
    runs: project.runs.list().map((r) => ({ id: r.id, stage: r.stage, state: r.state, step: r.step, updatedAt: r.updatedAt })),
    repairs: stats.repairs.map((r) => `${r.file}:${r.line}: ${r.reason} (moved to ${r.movedTo})`),
  };
}
