/**
 * The human ranking queue: batches this labeler has not ranked (as a human), oldest first,
 * without the batches inline completions stored (they carry implicit preferences and are not
 * for ranking by hand).
 */
import type { Project } from '../../core/store/project';
import type { BatchRecord, PromptRecord } from '../../core/store/schemas';
import type { RankingItem, RankingQueue } from '../../protocol/engineProject';
import { UserError } from '../../core/errors';
import { projectModels } from './policy';

export function implicitBatchIds(project: Project): Set<string> {
  return new Set(project.rankings.current({ sources: ['implicit'] }).map((c) => c.event.batchId));
}

export function rankingQueue(project: Project): { prompt: PromptRecord; batch: BatchRecord }[] {
  const implicit = implicitBatchIds(project);
  return project.rankings.pending().filter((q) => !implicit.has(q.batch.id) && q.prompt.source !== 'inline');
}

export function nextToRank(project: Project, batchId?: string): RankingQueue {
  const queue = rankingQueue(project);
  const implicit = implicitBatchIds(project);
  const total = project.completions.list().filter((b) => !implicit.has(b.id)).length;
  let entry = queue[0];
  if (batchId !== undefined) {
    const batch = project.completions.byId().get(batchId);
    const prompt = batch ? project.prompts.get(batch.promptId) : undefined;
    if (!batch || !prompt) throw new UserError(`Batch ${batchId} is not in ${project.paths.completions}.`);
    entry = { batch, prompt };
  }
  const policy = projectModels(project).policy;
  return {
    ...(entry ? { item: toItem(entry.prompt, entry.batch) } : {}),
    done: total - queue.length,
    total,
    guidelines: project.meta.guidelines,
    ...(policy ? { policy } : {}),
  };
}

function toItem(prompt: PromptRecord, batch: BatchRecord): RankingItem {
  return {
    batchId: batch.id,
    promptId: prompt.id,
    prompt: prompt.text,
    ...(prompt.messages ? { messages: prompt.messages } : {}),
    completions: batch.completions.map((c) => ({
      id: c.id,
      text: c.text,
      ...((c.sampling?.temperature ?? batch.sampling?.temperature) !== undefined ? { temperature: (c.sampling?.temperature ?? batch.sampling?.temperature) as number } : {}),
    })),
    model: batch.model.checkpoint ? `${batch.model.path} (${batch.model.checkpoint})` : batch.model.path,
  };
}
