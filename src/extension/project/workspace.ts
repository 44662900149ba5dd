/**
 * Which workspace folder holds the project (the first with `.rlhf/project.json`, else the first
 * folder), workspace trust, and the context keys the commands' when clauses use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

export function projectFolder(): string | undefined {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  return folders.find(hasProjectOnDisk) ?? folders[0];
}

/** The project's settings file in a workspace folder. */
export const projectJsonOf = (folder: string): string => path.join(folder, '.rlhf', 'project.json');

/** A cheap check on the host (a stat), so the engine is not started for a folder without a project. */
export function hasProjectOnDisk(folder: string): boolean {
  return fs.existsSync(projectJsonOf(folder));
}

export const UNTRUSTED_MESSAGE =
  'This workspace is not trusted, so RLHF Workbench does not train, sample or load models here. Trust the workspace (Manage Workspace Trust) to use them; rankings already stored can still be viewed.';

/** False (and says why) in an untrusted workspace; use before training, sampling or loading a model. */
export function requireTrust(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(UNTRUSTED_MESSAGE, 'Manage Workspace Trust').then((choice) => {
    if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  return false;
}

/** The workspace with a project, or an error message that says what to do; undefined after telling the user. */
export function requireProject(): string | undefined {
  const folder = projectFolder();
  if (!folder) {
    void vscode.window.showErrorMessage('RLHF: open a folder first (File > Open Folder), or run RLHF: Open Demo Project.');
    return undefined;
  }
  if (!hasProjectOnDisk(folder)) {
    void vscode.window.showErrorMessage(`RLHF: ${folder} has no RLHF project (.rlhf/). Run RLHF: Create or Open Project, or RLHF: Open Demo Project.`, 'Create Project').then((c) => {
      if (c) void vscode.commands.executeCommand('rlhf.createProject');
    });
    return undefined;
  }
  return folder;
}

export function setContextKeys(keys: { projectOpen: boolean; hasUnranked: boolean; hasFolder: boolean }): void {
  void vscode.commands.executeCommand('setContext', 'rlhf.projectOpen', keys.projectOpen);
  void vscode.commands.executeCommand('setContext', 'rlhf.hasUnranked', keys.hasUnranked);
  void vscode.commands.executeCommand('setContext', 'rlhf.hasFolder', keys.hasFolder);
}
