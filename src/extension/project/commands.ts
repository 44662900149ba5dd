/**
 * The project commands (category RLHF): create/open a project, the demo project, import prompts,
 * generate completions, start ranking, rank the selection, export preferences and the model.
 * Long work runs in the engine behind a cancellable progress notification.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FeatureDeps } from '../features';
import { withEngineProgress } from './engineProgress';
import { RankingPanel } from './rankingPanel';
import { hasProjectOnDisk, projectFolder, projectJsonOf, requireProject, requireTrust } from './workspace';

const DEMO_GUIDELINES = [
  'Demo project: continuations of sentences from Moby-Dick, written by a tiny model.',
  '',
  '- Rank 1 is best. Prefer continuations that read as fluent English and fit the prompt.',
  '- Prefer a positive, vivid tone over a grim one (the demo’s simulated labeler scores sentiment).',
  '- Use T for a tie, S to skip a prompt you cannot judge, B when every completion is unusable.',
].join('\n');

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/**
 * The format of a prompts file: undefined when its extension tells (.txt, .jsonl, .csv); else
 * the user picks one (null when they cancel).
 */
async function promptFormat(file: string): Promise<'txt' | 'jsonl' | 'csv' | undefined | null> {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (ext === 'txt' || ext === 'text' || ext === 'jsonl' || ext === 'csv') return undefined;
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'Text', description: 'one prompt per line', value: 'txt' as const },
      { label: 'JSON Lines', description: 'a string, or an object with "prompt" or "text", per line', value: 'jsonl' as const },
      { label: 'CSV', description: 'a header row with a "prompt" or "text" column', value: 'csv' as const },
    ],
    { title: `RLHF: what format is ${path.basename(file)}?` },
  );
  return picked ? picked.value : null;
}

export function registerProjectCommands(deps: FeatureDeps): vscode.Disposable[] {
  const { engine, log } = deps;
  const refresh = (): void => deps.refreshSidebar();
  const focusSidebar = (): Thenable<unknown> => vscode.commands.executeCommand('rlhf.sidebar.focus');

  /** Ask for a folder when none is open; create the project there and open it. */
  const createInNewFolder = async (demo: boolean): Promise<void> => {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: demo ? 'Create Demo Project Here' : 'Create Project Here',
      title: 'RLHF: choose a folder for the project',
    });
    const folder = picked?.[0]?.fsPath;
    if (!folder) return;
    if (!hasProjectOnDisk(folder)) {
      const created = await create(folder, demo);
      if (!created) return;
    }
    await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(folder));
  };

  const create = async (folder: string, demo: boolean): Promise<boolean> => {
    const ext = deps.context.extensionPath;
    const r = await withEngineProgress(demo ? 'creating the demo project' : 'creating the project', log, (signal, onProgress) =>
      engine.request(
        'project.create',
        {
          workspace: folder,
          name: demo ? 'RLHF demo' : path.basename(folder),
          ...(demo ? { demo: { model: path.join(ext, 'models', 'tiny-default'), promptsFile: path.join(ext, 'assets', 'demo', 'prompts.txt'), guidelines: DEMO_GUIDELINES } } : {}),
        },
        { signal, onProgress },
      ),
    );
    if (!r) return false;
    log.info(`Created the RLHF project in ${r.workspace} (${r.prompts} prompts).`);
    refresh();
    void focusSidebar();
    void vscode.window
      .showInformationMessage(
        demo
          ? `RLHF: demo project created in ${folder} with ${r.prompts} prompts and the tiny default model. Next: generate completions and rank them.`
          : `RLHF: project created in ${folder}. Next: import prompts.`,
        demo ? 'Generate Completions' : 'Import Prompts',
      )
      .then((c) => c && vscode.commands.executeCommand(demo ? 'rlhf.generateCompletions' : 'rlhf.importPrompts'));
    return true;
  };

  const openProject = async (demo: boolean): Promise<void> => {
    const folder = projectFolder();
    if (!folder) return createInNewFolder(demo);
    if (hasProjectOnDisk(folder)) {
      refresh();
      await focusSidebar();
      void vscode.window.showInformationMessage(`RLHF: ${folder} already holds a project; it is open in the RLHF Workbench sidebar.`);
      return;
    }
    await create(folder, demo);
  };

  const generate = async (): Promise<void> => {
    const workspace = requireProject();
    if (!workspace || !requireTrust()) return;
    const r = await withEngineProgress('generating completions', log, (signal, onProgress) => engine.request('project.generate', { workspace }, { signal, onProgress }));
    refresh();
    if (!r) return;
    log.info(`Generated ${r.batchIds.length} batches (${r.tokens} tokens in ${r.seconds.toFixed(1)} s, ${r.provider}) from ${r.model}.`);
    const cut = r.promptsCut > 0 ? ` ${plural(r.promptsCut, 'prompt')} did not fit the model's context: completions continue ${r.promptsCut === 1 ? 'its' : 'their'} last ${r.promptRoom} tokens.` : '';
    if (cut) log.warn(cut.trim());
    const open = RankingPanel.open;
    if (open) return open.load();
    const choice = await vscode.window.showInformationMessage(
      `RLHF: ${plural(r.batchIds.length, 'prompt')} ${r.batchIds.length === 1 ? 'has' : 'have'} new completions to rank.${cut}`,
      'Start Ranking',
    );
    if (choice) await vscode.commands.executeCommand('rlhf.startRanking');
  };

  const importPrompts = async (): Promise<void> => {
    const workspace = requireProject();
    if (!workspace) return;
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: { Prompts: ['txt', 'jsonl', 'csv'], 'All files': ['*'] },
      title: 'RLHF: import prompts (one per line, JSONL with "prompt", or CSV with a prompt column)',
      defaultUri: vscode.Uri.file(workspace),
    });
    const file = picked?.[0]?.fsPath;
    if (!file) return;
    const format = await promptFormat(file);
    if (format === null) return;
    const r = await withEngineProgress('importing prompts', log, (signal) => engine.request('project.importPrompts', { workspace, file, ...(format ? { format } : {}) }, { signal }));
    refresh();
    if (!r) return;
    const summary = `RLHF: imported ${plural(r.added, 'prompt')} from ${path.basename(file)} (${r.duplicates} already there; ${r.total} in all).`;
    if (r.tooLong) {
      const t = r.tooLong;
      void vscode.window.showWarningMessage(
        `${summary} ${plural(t.count, 'prompt')} ${t.count === 1 ? 'is' : 'are'} longer than the ${t.room} tokens the model's context (${t.nPositions}) leaves beside a completion (first: ${path.basename(t.first)}): ` +
          'the model will see only the end of each, and training keeps only their ends too.',
      );
    } else if (r.added === 0) void vscode.window.showInformationMessage(`${summary}${r.duplicates === 0 ? ' The file holds no prompts.' : ''}`);
    else void vscode.window.showInformationMessage(summary);
  };

  const rankSelection = async (): Promise<void> => {
    const editor = vscode.window.activeTextEditor;
    const text = editor?.document.getText(editor.selection) ?? '';
    if (text.trim() === '') {
      void vscode.window.showErrorMessage('RLHF: select the text to use as the prompt first.');
      return;
    }
    const workspace = requireProject();
    if (!workspace || !requireTrust()) return;
    const panel = RankingPanel.show(deps, workspace, { column: vscode.ViewColumn.Beside, loading: 'Sampling completions for the selection…' });
    await panel.rankText(text);
  };

  const exportPreferences = async (): Promise<void> => {
    const workspace = requireProject();
    if (!workspace) return;
    const format = await vscode.window.showQuickPick(
      [
        { label: 'TRL', description: '{prompt, chosen, rejected} JSONL', value: 'trl' as const },
        { label: 'HH-RLHF', description: '{chosen, rejected} transcripts', value: 'hh' as const },
      ],
      { title: 'RLHF: export preferences as' },
    );
    if (!format) return;
    const out = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(workspace, `preferences-${format.value}.jsonl`)), filters: { 'JSON Lines': ['jsonl'] } });
    if (!out) return;
    const r = await withEngineProgress('exporting preferences', log, (signal) => engine.request('project.exportPreferences', { workspace, format: format.value, out: out.fsPath }, { signal }));
    if (!r) return;
    for (const n of r.notHeld) log.warn(`Export: not kept: ${n}`);
    void vscode.window.showInformationMessage(`RLHF: wrote ${r.rows} preference pairs to ${r.out}${r.notHeld.length ? ` (${r.notHeld.length} kinds of data not kept; see the output)` : ''}.`);
  };

  const exportModel = async (): Promise<void> => {
    const workspace = requireProject();
    if (!workspace || !requireTrust()) return;
    const format = await vscode.window.showQuickPick(
      [
        { label: 'Hugging Face folder', description: 'config.json, model.safetensors, tokenizer.json', value: 'hf' as const },
        { label: 'ONNX', description: 'model.onnx with KV cache, plus tokenizer and config', value: 'onnx' as const },
      ],
      { title: 'RLHF: export the current policy as' },
    );
    if (!format) return;
    const out = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(workspace, format.value === 'hf' ? 'policy-hf' : 'policy-onnx')),
      title: 'RLHF: folder to create for the export',
      saveLabel: 'Export Here',
    });
    if (!out) return;
    const r = await withEngineProgress('exporting the model', log, (signal) => engine.request('project.exportModel', { workspace, format: format.value, out: out.fsPath }, { signal }));
    if (r) void vscode.window.showInformationMessage(`RLHF: exported ${r.model} to ${r.out} (${r.files.join(', ')}).`);
  };

  const startRanking = (): void => {
    const workspace = requireProject();
    if (workspace) RankingPanel.show(deps, workspace);
  };

  return [
    vscode.commands.registerCommand('rlhf.createProject', () => openProject(false)),
    vscode.commands.registerCommand('rlhf.openDemoProject', () => openProject(true)),
    vscode.commands.registerCommand('rlhf.importPrompts', importPrompts),
    vscode.commands.registerCommand('rlhf.generateCompletions', generate),
    vscode.commands.registerCommand('rlhf.startRanking', startRanking),
    vscode.commands.registerCommand('rlhf.rankSelection', rankSelection),
    vscode.commands.registerCommand('rlhf.exportPreferences', exportPreferences),
    vscode.commands.registerCommand('rlhf.exportModel', exportModel),
    vscode.commands.registerCommand('rlhf.openProjectFile', async () => {
      const folder = projectFolder();
      if (!folder || !hasProjectOnDisk(folder)) return requireProject();
      await vscode.window.showTextDocument(vscode.Uri.file(projectJsonOf(folder)));
    }),
  ];
}
