/**
 * Handlers for the project requests declared in src/protocol/engineProject.ts. Params come from
 * the extension host; they are checked here anyway (a bad value gets a UserError naming the
 * request and field), then handed to the store, the sampler cache and the exports.
 */
import { z } from 'zod';
import { UserError } from '../core/errors';
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
  const long = prompts.filter((p) => fit.length(p.text) > fit.room);
  return long.length ? { tooLong: { count: long.length, room: fit.room, nPositions: fit.nPositions, first: (long[0] as FilePrompt).where } } : {};
}

const workspace = z.string().min(1).max(4096);
const id = z.string().min(1).max(200);
const filePath = z.string().min(1).max(4096);

const schemas = {
  'project.overview': z.strictObject({ workspace }),
  'project.create': z.strictObject({
    workspace,
    name: z.string().max(200).optional(),
    demo: z.strictObject({ model: filePath, promptsFile: filePath, guidelines: z.string().max(100_000) }).optional(),
  }),
  'project.importPrompts': z.strictObject({ workspace, file: filePath, format: z.enum(['txt', 'jsonl', 'csv']).optional() }),
  'project.generate': z.strictObject({
    workspace,
    promptIds: z.array(id).max(1000).optional(),
    promptText: z.string().min(1).max(100_000).optional(),
    limit: z.int().min(1).max(1000).optional(),
    k: z.int().min(2).max(16).optional(),
    maxNewTokens: z.int().min(1).max(1024).optional(),
  }),
  'ranking.next': z.strictObject({ workspace, batchId: id.optional() }),
  'ranking.submit': z.strictObject({
    workspace,
    batchId: id,
    verdict: z.enum(['ranked', 'skip', 'allBad']),
    completionIds: z.array(id).min(2).max(64),
    ranks: z.array(z.int().min(1).max(64)).max(64).optional(),
    note: z.string().max(10_000).optional(),
  }),
  'ranking.undo': z.strictObject({ workspace, eventId: id.optional() }),
  'inline.complete': z.strictObject({ workspace, file: filePath, text: z.string().max(1_000_000), n: z.int().optional(), maxNewTokens: z.int().optional() }),
  'inline.record': z.strictObject({ workspace, id, accepted: z.int().min(0).nullable() }),
  'project.exportPreferences': z.strictObject({ workspace, format: z.enum(['trl', 'hh']), out: filePath, includeImplicit: z.boolean().optional() }),
  'project.exportModel': z.strictObject({ workspace, format: z.enum(['hf', 'onnx']), out: filePath }),
} satisfies { [M in keyof ProjectRequests]: z.ZodType<ProjectRequests[M]['params']> };

function check<M extends keyof ProjectRequests>(method: M, params: unknown): ProjectRequests[M]['params'] {
  const parsed = (schemas[method] as z.ZodType<ProjectRequests[M]['params']>).safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`${method}: '${issue?.path.join('.') || '(params)'}': ${issue?.message}.`);
  }
  return parsed.data;
}

export function projectHandlers(options: EngineOptions): HandlersFor<ProjectRequests> {
  const openProject = (workspace: string): Promise<Project> => openProjectAs(workspace, options.labeler);
  return {
    async 'project.overview'(raw) {
      const p = check('project.overview', raw);
      const ws = workspaceOf(p.workspace);
      if (!hasProject(ws)) return { exists: false };
      return { exists: true, overview: projectOverview(await openProject(ws)) };
    },
    async 'project.create'(raw) {
      const p = check('project.create', raw);
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
    async 'project.importPrompts'(raw) {
      const p = check('project.importPrompts', raw);
      const project = await openProject(workspaceOf(p.workspace));
      const r = await importPrompts(project, workspaceOf(p.file), p.format);
      return { added: r.added, duplicates: r.duplicates, total: project.prompts.list().length, ...tooLong(project, r.prompts) };
    },
    async 'project.generate'(raw, ctx) {
      const p = check('project.generate', raw);
      return generateForRanking(await openProject(workspaceOf(p.workspace)), p, ctx.signal, ctx.progress);
    },
    async 'ranking.next'(raw) {
      const p = check('ranking.next', raw);
      return nextToRank(await openProject(workspaceOf(p.workspace)), p.batchId);
    },
    async 'ranking.submit'(raw) {
      const p = check('ranking.submit', raw);
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
    async 'ranking.undo'(raw) {
      const p = check('ranking.undo', raw);
      const project = await openProject(workspaceOf(p.workspace));
      const undone = await project.rankings.undo(p.eventId);
      if (!undone) return {};
      const target = project.rankings.events().find((e) => e.event.id === undone.target)?.event;
      return { undone: undone.target, ...(target?.type === 'rank' ? { batchId: target.batchId } : {}) };
    },
    async 'inline.complete'(raw, ctx) {
      const p = check('inline.complete', raw);
      return completeInline(await openProject(workspaceOf(p.workspace)), p.file, p.text, p.n ?? 2, p.maxNewTokens ?? 16, ctx.signal);
    },
    async 'inline.record'(raw) {
      const p = check('inline.record', raw);
      return recordInline(await openProject(workspaceOf(p.workspace)), p.id, p.accepted);
    },
    async 'project.exportPreferences'(raw) {
      const p = check('project.exportPreferences', raw);
      return exportPrefs(await openProject(workspaceOf(p.workspace)), p);
    },
    async 'project.exportModel'(raw) {
      const p = check('project.exportModel', raw);
      return exportModel(await openProject(workspaceOf(p.workspace)), p);
    },
  };
}
