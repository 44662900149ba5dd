/**
 * Open projects, one per workspace folder, kept for the engine's lifetime: opening a project
 * takes its lock and checks every log, so it is done once; the stores re-read their files on
 * every call, so a cached Project still sees what the CLI or another window wrote.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../core/errors';
import { Project, projectPaths } from '../../core/store/project';

const open = new Map<string, Promise<Project>>();

/** The workspace path from a request, checked: absolute, an existing folder. */
export function workspaceOf(workspace: unknown): string {
  if (typeof workspace !== 'string' || workspace === '' || !path.isAbsolute(workspace)) {
    throw new UserError(`The workspace folder must be an absolute path, got ${JSON.stringify(workspace)}.`);
  }
  return path.resolve(workspace);
}

export function hasProject(workspace: string): boolean {
  return fs.existsSync(projectPaths(workspace).projectJson);
}

/** The project of `workspace`, opened once; `labeler` (the setting) wins over project.json and git. */
export function openProject(workspace: string, labeler?: string): Promise<Project> {
  const key = workspaceOf(workspace);
  let p = open.get(key);
  if (!p) {
    p = Project.open(key, labeler ? { labeler } : {});
    open.set(key, p);
    // A failed open (no project yet, a bad project.json) is not cached: the user may fix it.
    p.catch(() => open.delete(key));
  }
  return p;
}

/** Forget a cached project (after it was created here, so the next open sees it fresh). */
export function forgetProject(workspace: string): void {
  open.delete(workspaceOf(workspace));
}
