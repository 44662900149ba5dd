/**
 * Every engine request's params, validated one way: a zod schema per method, checked before
 * its handler runs (createHandlers in handlers.ts). Params come from the extension host, but
 * the engine checks them anyway: a bad value is a UserError naming the request and the field.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { UserError } from '../core/errors';
import { BACKEND_PREFERENCES } from '../protocol/backend';
import type { EngineMethod, ParamsOf } from '../protocol/engine';
import { RUN_KINDS } from '../protocol/engineTraining';
import { SAFE_ID } from '../protocol/guards';

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => path.isAbsolute(p), 'must be an absolute folder path');
const filePath = z.string().min(1).max(4096);
const id = z.string().min(1).max(200);
const runId = z.string().regex(SAFE_ID, 'must be a run id');
const workspace = absolutePath;

const PARAMS: { readonly [M in EngineMethod]: z.ZodType<ParamsOf<M>> } = {
  status: z.strictObject({ backend: z.enum(BACKEND_PREFERENCES, { error: (i) => `Unknown backend '${String(i.input)}': use ${BACKEND_PREFERENCES.join(', ')}` }).optional() }),
  wait: z.strictObject({ ms: z.number().min(0).max(3_600_000) }),
  'model.download': z.strictObject({ repo: z.string().min(1).max(200), revision: z.string().min(1).max(200).optional() }),
  'model.useFolder': z.strictObject({ dir: absolutePath, workspace: workspace.optional() }),

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

  'training.start': z.strictObject({
    workspace,
    kind: z.enum(RUN_KINDS).optional(),
    configFile: absolutePath.optional(),
    preset: z.string().regex(SAFE_ID, 'must be a preset name').optional(),
    resume: runId.optional(),
    trusted: z.boolean().optional(),
  }),
  'training.runs': z.strictObject({ workspace }),
  'training.metrics': z.strictObject({ workspace, runId }),
  'training.samples': z.strictObject({ workspace, runId, limit: z.int().min(1).max(5000).optional() }),
  'training.presets': z.strictObject({ workspace: workspace.optional() }),
};

/** The params of `method`, checked; a UserError names the request and the field otherwise. */
export function checkParams<M extends EngineMethod>(method: M, params: unknown): ParamsOf<M> {
  const parsed = (PARAMS[method] as z.ZodType<ParamsOf<M>>).safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`${method}: '${issue?.path.join('.') || '(params)'}' ${issue?.message ?? 'is not valid'}.`);
  }
  return parsed.data;
}
