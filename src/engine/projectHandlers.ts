/**
 * Handlers for the project requests declared in src/protocol/engineProject.ts: their params
 * (checked in params.ts) go to the store, the sampler cache and the exports.
 */
import { importPrompts } from '../core/store/importPrompts';
import type { FilePrompt } from '../core/store/importPrompts';
import { promptFit } from './project/promptFit';
import { Project } from '../core/store/project';
import type { ProjectRequests } from '../protocol/engineProject';
import type { EngineOptions, HandlersFor } from './handlers';
import { exportModel, exportPrefs } from './project/exports';
import { generateForRanking } from './project/generate';
import { completeInline, recordInline } from './project/inline';
import { projectOverview } from './project/overview';
import { forgetProject, hasProject, openProject as openProjectAs, workspaceOf } from './project/projects';
import { nextToRank } from './project/queue';

/**
 * Which imported prompts are longer than the current policy's context leaves room for (they will
 * be continued from their end); a policy that cannot be read skips the check (import still works).
 */
function tooLong(project: Project, prompts: readonly FilePrompt[]): { tooLong?: { count: number; room: number; nPositions: number; first: string } } {
  let fit;
  try {
    fit = promptFit(project);
  } catch {
    return {};
  }
  if (!fit) return {};
  const long = prompts.filter((p) => fit.length(p) > fit.room);
  return long.length ? { tooLong: { count: long.length, room: fit.room, nPositions: fit.nPositions, first: (long[0] as FilePrompt).where } } : {};
}

export function projectHandlers(options: EngineOptions): HandlersFor<ProjectRequests> {
  const openProject = (workspace: string): Promise<Project> => openProjectAs(workspace, options.labeler);
  return {
    async 'project.overview'(p) {
      const ws = workspaceOf(p.workspace);
      if (!hasProject(ws)) return { exists: false };
      return { exists: true, overview: projectOverview(await openProject(ws)) };
    },
    async 'project.create'(p) {
      const ws = workspaceOf(p.workspace);
      forgetProject(ws);
      const created = await Project.create(ws, { ...(p.name !== undefined ? { name: p.name } : {}), ...(p.demo ? { guidelines: p.demo.guidelines } : {}) });
      if (p.demo) {
        const model = workspaceOf(p.demo.model);
        await created.updateMeta((m) => ({ ...m, models: { ...m.models, base: model } }));
        await importPrompts(created, workspaceOf(p.demo.promptsFile));
      }
      return projectOverview(await openProject(ws));
    },
    async 'project.importPrompts'(p) {
      const project = await openProject(workspaceOf(p.workspace));
      const r = await importPrompts(project, workspaceOf(p.file), p.format);
      return { added: r.added, duplicates: r.duplicates, total: project.prompts.list().length, ...tooLong(project, r.prompts) };
    },
    async 'project.generate'(p, ctx) {
      return generateForRanking(await openProject(workspaceOf(p.workspace)), p, ctx.signal, ctx.progress);
    },
    async 'ranking.next'(p) {
      return nextToRank(await openProject(workspaceOf(p.workspace)), p.batchId);
    },
    async 'ranking.submit'(p) {
      const project = await openProject(workspaceOf(p.workspace));
      const event = await project.rankings.submit({
        batchId: p.batchId,
        completionIds: p.completionIds,
        verdict: p.verdict,
        ...(p.ranks ? { ranks: p.ranks } : {}),
        ...(p.note !== undefined ? { note: p.note } : {}),
      });
      return { eventId: event.id };
    },
    async 'ranking.undo'(p) {
      const project = await openProject(workspaceOf(p.workspace));
      const undone = await project.rankings.undo(p.eventId);
      if (!undone) return {};
      const target = project.rankings.events().find((e) => e.event.id === undone.target)?.event;
      return { undone: undone.target, ...(target?.type === 'rank' ? { batchId: target.batchId } : {}) };
    },
    async 'inline.complete'(p, ctx) {
      return completeInline(await openProject(workspaceOf(p.workspace)), p.file, p.text, p.n ?? 2, p.maxNewTokens ?? 16, ctx.signal);
    },
    async 'inline.record'(p) {
      return recordInline(await openProject(workspaceOf(p.workspace)), p.id, p.accepted);
    },
    async 'project.exportPreferences'(p) {
      return exportPrefs(await openProject(workspaceOf(p.workspace)), p);
    },
    async 'project.exportModel'(p) {
      return exportModel(await openProject(workspaceOf(p.workspace)), p);
    },
  };
}
