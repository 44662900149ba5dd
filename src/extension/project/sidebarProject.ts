/**
 * The sidebar's project section: loaded from the engine (`project.overview`, which reads runs
 * fresh each time) whenever the sidebar refreshes, with the suggested next step. The sidebar
 * view reads it through `projectSection()`; the project features install the loader at
 * activation (`installProjectSource`). Reloads are coalesced: one in flight, at most one queued.
 */
import { errorMessage } from '../../protocol/guards';
import * as vscode from 'vscode';
import type { ProjectSection } from '../../protocol/sidebar';
import type { EngineClient } from '../engineClient';
import { nextStep } from './nextStep';
import { hasProjectOnDisk, projectFolder, projectJsonOf, setContextKeys } from './workspace';

let engine: EngineClient | undefined;
let section: ProjectSection | undefined;
let inFlight: Promise<void> | undefined;
let queued = false;

export function installProjectSource(client: EngineClient): void {
  engine = client;
}

/** What the sidebar shows now (undefined before the project features are installed). */
export function projectSection(): ProjectSection | undefined {
  return section;
}

/** Reload the section (coalesced); resolves when the newest state is loaded. */
export function reloadProjectSection(): Promise<void> {
  if (inFlight) {
    queued = true;
    return inFlight;
  }
  inFlight = (async () => {
    do {
      queued = false;
      await loadOnce();
    } while (queued);
  })().finally(() => (inFlight = undefined));
  return inFlight;
}

async function loadOnce(): Promise<void> {
  if (!engine) return;
  const folder = projectFolder();
  if (!folder) return setSection({ kind: 'noFolder' });
  // No engine start for a folder without a project: a stat answers that.
  if (!hasProjectOnDisk(folder)) return setSection({ kind: 'none', workspace: folder });
  // A crashed engine restarts on the user's next action, not on a sidebar refresh.
  if (engine.state.kind === 'crashed') return;
  if (section?.kind !== 'open') setSection({ kind: 'loading', workspace: folder });
  try {
    const r = await engine.request('project.overview', { workspace: folder });
    setSection(r.exists ? { kind: 'open', overview: r.overview, next: nextStep(r.overview) } : { kind: 'none', workspace: folder });
  } catch (err) {
    const message = errorMessage(err);
    setSection({ kind: 'error', workspace: folder, message, ...(message.includes(projectJsonOf(folder)) ? { projectFile: true } : {}) });
  }
}

function setSection(next: ProjectSection): void {
  section = next;
  setContextKeys({
    projectOpen: next.kind === 'open' || next.kind === 'loading',
    hasUnranked: next.kind === 'open' && next.overview.unranked > 0,
    hasFolder: next.kind !== 'noFolder',
  });
}

/** Context keys and a loading section from the disk alone (no engine start at activation). */
export function primeProjectSection(): void {
  const folder = projectFolder();
  setSection(!folder ? { kind: 'noFolder' } : hasProjectOnDisk(folder) ? { kind: 'loading', workspace: folder } : { kind: 'none', workspace: folder });
}

/** Reload whenever the workspace folders or trust change. */
export function watchWorkspace(refresh: () => void): vscode.Disposable[] {
  return [vscode.workspace.onDidChangeWorkspaceFolders(() => refresh()), vscode.workspace.onDidGrantWorkspaceTrust(() => refresh())];
}
