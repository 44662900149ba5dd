/**
 * Where inline completions may run, whatever the user's file patterns say: only files inside
 * the project's workspace folder, never the project's own data (.rlhf/), editor or git state
 * (.vscode/, .git/), or settings files. The extension host checks it before asking for a
 * suggestion and the engine again before storing one, so text from anywhere else is never
 * written to the project.
 */
import * as path from 'node:path';

const PRIVATE_FOLDERS = new Set(['.rlhf', '.vscode', '.git']);

/** Why inline completions may not run in `file` (undefined: they may). */
export function inlineRefusal(file: string, workspace: string): string | undefined {
  const rel = path.relative(path.resolve(workspace), path.resolve(file));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return `${file} is outside the workspace folder ${workspace}`;
  const first = rel.split(path.sep)[0] as string;
  if (PRIVATE_FOLDERS.has(first)) return `${file} is in ${first}/`;
  const base = path.basename(file).toLowerCase();
  if (base === 'settings.json' || base.endsWith('.code-workspace')) return `${file} is a settings file`;
  return undefined;
}
