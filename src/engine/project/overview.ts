/** The project at a glance, for the sidebar: models, counts, labelers, runs. */
import { projectStats } from '../../core/store/stats';
import type { Project } from '../../core/store/project';
import type { ProjectOverview } from '../../protocol/engineProject';
import { finishedTimes, projectModels } from './policy';
import { implicitBatchIds, rankingQueue } from './queue';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseModelConfig } from '../../core/model/architecture';
import { parameterCount } from '../../core/model/modelConfig';
import type { ModelView } from '../../protocol/engineProject';

/** Each model with its class and size from its config.json (a folder that cannot be read shows none). */
function withArchitectures(models: ProjectOverview['models']): ProjectOverview['models'] {
  const described = (m: ModelView | undefined): ModelView | undefined => {
    if (!m) return undefined;
    const configFile = path.join(m.path, 'config.json');
    try {
      const raw = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
      const read = parseModelConfig(raw, configFile);
      return { ...m, architecture: read.architecture, parameters: parameterCount(read.config) };
    } catch {
      return m;
    }
  };
  const out: { -readonly [K in keyof ProjectOverview['models']]: ModelView } = {};
  for (const key of ['base', 'sft', 'reward', 'policy'] as const) {
    const m = described(models[key]);
    if (m) out[key] = m;
  }
  return out;
}

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
    models: withArchitectures(projectModels(project)),
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
