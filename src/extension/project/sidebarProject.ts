/**
 * The sidebar's project section: loaded from the engine (`project.overview`, which reads runs
 * fresh each time) whenever the sidebar refreshes, with the suggested next step. One
 * ProjectSectionSource per activation, created with the sidebar view that reads it and handed
 * to the project features. Reloads are coalesced: one in flight, at most one queued.
 */
import { errorMessage } from '../../protocol/guards';
import * as vscode from 'vscode';
import type { ProjectSection } from '../../protocol/sidebar';
import type { EngineClient } from '../engineClient';
import { nextStep } from './nextStep';
import { hasProjectOnDisk, projectFolder, projectJsonOf, setContextKeys } from './workspace';

/** The project section: one per activation, owned by the extension and read by the sidebar view. */
export class ProjectSectionSource {
  private section: ProjectSection | undefined;
  private inFlight: Promise<void> | undefined;
  private queued = false;

  constructor(private readonly engine: EngineClient) {
    this.prime();
  }

  /** What the sidebar shows now. */
  get current(): ProjectSection | undefined {
    return this.section;
  }

  /** Reload the section (coalesced); resolves when the newest state is loaded. */
  reload(): Promise<void> {
    if (this.inFlight) {
      this.queued = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      do {
        this.queued = false;
        await this.loadOnce();
      } while (this.queued);
    })().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Context keys and a loading section from the disk alone (no engine start at activation). */
  prime(): void {
    const folder = projectFolder();
    this.set(!folder ? { kind: 'noFolder' } : hasProjectOnDisk(folder) ? { kind: 'loading', workspace: folder } : { kind: 'none', workspace: folder });
  }

  private async loadOnce(): Promise<void> {
    const folder = projectFolder();
    if (!folder) return this.set({ kind: 'noFolder' });
    // No engine start for a folder without a project: a stat answers that.
    if (!hasProjectOnDisk(folder)) return this.set({ kind: 'none', workspace: folder });
    // A crashed engine restarts on the user's next action, not on a sidebar refresh.
    if (this.engine.state.kind === 'crashed') return;
    if (this.section?.kind !== 'open') this.set({ kind: 'loading', workspace: folder });
    try {
      const r = await this.engine.request('project.overview', { workspace: folder });
      this.set(r.exists ? { kind: 'open', overview: r.overview, next: nextStep(r.overview) } : { kind: 'none', workspace: folder });
    } catch (err) {
      const message = errorMessage(err);
      this.set({ kind: 'error', workspace: folder, message, ...(message.includes(projectJsonOf(folder)) ? { projectFile: true } : {}) });
    }
  }

  private set(next: ProjectSection): void {
    this.section = next;
    setContextKeys({
      projectOpen: next.kind === 'open' || next.kind === 'loading',
      hasUnranked: next.kind === 'open' && next.overview.unranked > 0,
      hasFolder: next.kind !== 'noFolder',
    });
  }
}

/** Reload whenever the workspace folders or trust change. */
export function watchWorkspace(refresh: () => void): vscode.Disposable[] {
  return [vscode.workspace.onDidChangeWorkspaceFolders(() => refresh()), vscode.workspace.onDidGrantWorkspaceTrust(() => refresh())];
}
