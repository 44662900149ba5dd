/** Exports through the engine: preferences (TRL / HH-RLHF JSONL) and the current policy (HF folder, ONNX). */
import * as path from 'node:path';
import { UserError } from '../../core/errors';
import { loadCheckpoint } from '../../core/model/checkpoint';
import { exportHfFolder } from '../../core/model/exportHf';
import { exportOnnx } from '../../core/onnx/export';
import { exportPreferences } from '../../core/store/interchange';
import { trainingSources } from '../../core/store/pairs';
import type { Project } from '../../core/store/project';
import type { ProjectRequests } from '../../protocol/engineProject';
import { currentPolicy } from './policy';

type Req<M extends keyof ProjectRequests> = ProjectRequests[M];

export function exportPrefs(project: Project, params: Req<'project.exportPreferences'>['params']): Req<'project.exportPreferences'>['result'] {
  const out = absolute(params.out, 'the preferences file');
  const sources = trainingSources(project.meta);
  if (params.includeImplicit && !sources.includes('implicit')) sources.push('implicit');
  const r = exportPreferences(project, out, { format: params.format, conversational: false, filter: { sources } });
  return { rows: r.rows, out, notHeld: r.notHeld.map((n) => `${n.count} × ${n.message}`) };
}

export function exportModel(project: Project, params: Req<'project.exportModel'>['params']): Req<'project.exportModel'>['result'] {
  const out = absolute(params.out, 'the export folder');
  const policy = currentPolicy(project);
  if (params.format === 'onnx') {
    const report = exportOnnx(loadCheckpoint(policy.path), out);
    return { out: report.outDir, files: [...report.files], model: policy.path };
  }
  // A full checkpoint is copied (model files only); a LoRA adapter is merged into its base
  // (a relative base path is relative to the workspace, as project.json's model paths are).
  const report = exportHfFolder(policy.path, out, { cwd: project.paths.workspace });
  return { out, files: report.files, model: policy.path };
}

function absolute(p: string, what: string): string {
  if (!path.isAbsolute(p)) throw new UserError(`${what} must be an absolute path, got '${p}'.`);
  return p;
}
