/** Exports through the engine: preferences (TRL / HH-RLHF JSONL) and the current policy (HF folder, ONNX). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../core/errors';
import { loadCheckpoint } from '../../core/model/checkpoint';
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
  const ckpt = loadCheckpoint(policy.path);
  if (params.format === 'onnx') {
    const report = exportOnnx(ckpt, out);
    return { out: report.outDir, files: [...report.files], model: policy.path };
  }
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0)) {
    throw new UserError(`${out}: exists and is not empty. Choose a new or empty folder for the Hugging Face export.`);
  }
  // The checkpoint folder already is a Hugging Face folder; copy its model files only (no
  // optimizer or trainer state).
  const files = fs.readdirSync(policy.path).filter((f) => /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map)\.json$|\.safetensors$|^README\.md$/.test(f));
  fs.mkdirSync(out, { recursive: true });
  for (const f of files) fs.copyFileSync(path.join(policy.path, f), path.join(out, f));
  return { out, files, model: policy.path };
}

function absolute(p: string, what: string): string {
  if (!path.isAbsolute(p)) throw new UserError(`${what} must be an absolute path, got '${p}'.`);
  return p;
}
