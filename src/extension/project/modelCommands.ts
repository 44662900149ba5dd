/**
 * Getting a model: "RLHF: Download Model…" pulls ORG/NAME[@revision] from the Hugging Face Hub
 * (HF_ENDPOINT, HF_TOKEN, HF_HOME as the engine's environment has them) into the HF cache, in the
 * engine process behind a cancellable progress notification; "RLHF: Use a Model Folder…" picks a
 * model folder on disk. Using a model sets the project's base model (models.base in
 * .rlhf/project.json); without a project it only describes the folder.
 */
import * as vscode from 'vscode';
import type { ModelFolderView } from '../../protocol/engine';
import type { FeatureDeps } from '../features';
import { withEngineProgress } from './engineProgress';
import { hasProjectOnDisk, projectFolder, requireTrust } from './workspace';

const REPO_SPEC = /^(?:[A-Za-z0-9][A-Za-z0-9._-]*\/)?[A-Za-z0-9][A-Za-z0-9._-]*(?:@[^\s@]+)?$/;
const mib = (n: number): string => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

function describe(info: ModelFolderView): string {
  const arch = info.architectures[0] ?? info.modelType ?? 'unknown architecture';
  return `${arch}${info.modelType && info.architectures.length ? ` (${info.modelType})` : ''}, ${mib(info.sizeBytes)} in ${info.files} files`;
}

export function registerModelCommands(deps: FeatureDeps): vscode.Disposable[] {
  const { engine, log } = deps;

  /** Describe `dir`; set it as the project's base model when there is a project (after a warning if it cannot be trained here). */
  const useFolder = async (dir: string): Promise<void> => {
    const info = await withEngineProgress('reading the model folder', log, (signal) => engine.request('model.useFolder', { dir }, { signal }));
    if (!info) return;
    const workspace = projectFolder();
    if (!workspace || !hasProjectOnDisk(workspace)) {
      void vscode.window.showInformationMessage(`RLHF: ${dir}: ${describe(info)}.${info.problem ? ` Not usable here yet: ${info.problem}` : ''} Open or create a project to make it the base model.`);
      return;
    }
    if (!info.supported) {
      const choice = await vscode.window.showWarningMessage(
        `RLHF: ${describe(info)}. The workbench cannot train it yet: ${info.problem} Set it as the base model anyway?`,
        { modal: true },
        'Set as Base Model',
      );
      if (!choice) return;
    }
    const set = await withEngineProgress('setting the base model', log, (signal) => engine.request('model.useFolder', { dir, workspace }, { signal }));
    if (!set) return;
    log.info(`Base model: ${dir} (${describe(set)}).`);
    deps.refreshSidebar();
    void vscode.window.showInformationMessage(`RLHF: the project's base model is now ${dir} (${describe(set)}).`);
  };

  const downloadModel = async (): Promise<void> => {
    if (!requireTrust()) return;
    const spec = await vscode.window.showInputBox({
      title: 'RLHF: download a model from the Hugging Face Hub',
      prompt: 'ORG/NAME, optionally @revision (branch, tag or commit). Uses HF_ENDPOINT, HF_TOKEN and HF_HOME from the environment.',
      placeHolder: 'openai-community/gpt2',
      ignoreFocusOut: true,
      validateInput: (v) => (REPO_SPEC.test(v.trim()) ? undefined : 'Write the model as ORG/NAME or ORG/NAME@revision, as on its Hub page.'),
    });
    if (!spec) return;
    const at = spec.trim().indexOf('@');
    const repo = at < 0 ? spec.trim() : spec.trim().slice(0, at);
    const revision = at < 0 ? undefined : spec.trim().slice(at + 1);
    const r = await withEngineProgress(`downloading ${spec.trim()}`, log, (signal, onProgress) =>
      engine.request('model.download', { repo, ...(revision ? { revision } : {}) }, { signal, onProgress }),
    );
    if (!r) return;
    const resumed = r.files.filter((f) => f.status === 'resumed').length;
    log.info(
      `Downloaded ${r.repo}@${r.revision} (${r.commit}) from ${r.endpoint} to ${r.snapshot}: ${mib(r.downloadedBytes)} fetched of ${mib(r.totalBytes)}${resumed ? `, ${resumed} resumed` : ''}.`,
    );
    const choice = await vscode.window.showInformationMessage(
      r.offline
        ? `RLHF: ${r.endpoint} could not be reached; ${r.repo}@${r.revision} is in the cache at ${r.snapshot}.`
        : `RLHF: ${r.repo}@${r.revision} is in ${r.snapshot} (${mib(r.totalBytes)}, ${mib(r.downloadedBytes)} fetched).`,
      'Use this model',
    );
    if (choice) await useFolder(r.snapshot);
  };

  const pickFolder = async (): Promise<void> => {
    if (!requireTrust()) return;
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: 'Use This Model',
      title: 'RLHF: choose a model folder (config.json, model.safetensors, tokenizer.json)',
    });
    const dir = picked?.[0]?.fsPath;
    if (dir) await useFolder(dir);
  };

  return [vscode.commands.registerCommand('rlhf.downloadModel', downloadModel), vscode.commands.registerCommand('rlhf.useModelFolder', pickFolder)];
}
