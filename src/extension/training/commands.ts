/**
 * The run-control commands: train SFT / reward model / policy (PPO, RLOO, DPO) from a preset or a
 * JSON config file, run the demo pipeline, stop, resume, show the curves. Each accepts an
 * optional argument (the sidebar passes run ids; tests pass preset names) and otherwise asks
 * with a quick pick. Arguments come from anywhere a command can be run from: validated here.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isRunId } from '../../protocol/curves';
import type { PresetInfo, RunInfo } from '../../protocol/engineTraining';
import { isPolicyStage, POLICY_STAGES, STAGE_INFO } from '../../protocol/stages';
import type { RunControlStage } from '../../protocol/stages';
import type { FeatureDeps } from '../features';
import { CurvesPanel } from './curvesPanel';
import { formatStats } from '../eventLoop';
import type { RunController } from './runController';
import { projectFolder, requireProject, requireTrust } from '../project/workspace';

/** A preset name, or an absolute/relative path of a .json config file. */
type Choice = { readonly preset: string } | { readonly configFile: string };

const workspaceFolder = (): string | undefined => projectFolder();

/**
 * The run-control picks stay open when focus moves: the curves panel's page, (re)loading beside
 * them, can take the focus, and a pick the user just opened would vanish with it.
 */
const PICK = { ignoreFocusOut: true } as const;

async function presets(deps: FeatureDeps, kind: RunControlStage | 'demo'): Promise<PresetInfo[]> {
  const workspace = workspaceFolder();
  return (await deps.engine.request('training.presets', workspace ? { workspace } : {})).presets[kind];
}

/** Reads a command argument: a preset name or a config path (.json); anything else is ignored. */
function choiceFromArg(arg: unknown): Choice | undefined {
  if (typeof arg !== 'string' || arg.length === 0 || arg.length > 4096) return undefined;
  if (arg.endsWith('.json')) return { configFile: path.resolve(workspaceFolder() ?? '.', arg) };
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(arg) ? { preset: arg } : undefined;
}

async function pickConfig(deps: FeatureDeps, stage: RunControlStage): Promise<Choice | undefined> {
  type Item = vscode.QuickPickItem & { choice?: Choice; browse?: true };
  const items: Item[] = (await presets(deps, stage)).map((p) => ({
    label: `${stage}: ${p.name}`,
    description: p.edited ? `preset · your edited .rlhf/configs/${stage}-${p.name}.json, run as saved` : 'preset',
    detail: p.description,
    choice: { preset: p.name },
  }));
  const folder = workspaceFolder();
  if (folder) {
    const files = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, `.rlhf/configs/${stage}*.json`), undefined, 50);
    for (const f of files) items.push({ label: path.basename(f.fsPath), description: 'config file', detail: f.fsPath, choice: { configFile: f.fsPath } });
  }
  items.push({ label: 'Choose a config file…', description: `JSON, validated by the ${stage} schema`, browse: true });
  const picked = await vscode.window.showQuickPick(items, {
    ...PICK,
    title: `RLHF: train ${STAGE_INFO[stage].title}`,
    placeHolder: 'A preset (written to .rlhf/configs/ so you can edit it; an edited file is never overwritten) or a config file',
    matchOnDetail: true,
  });
  if (!picked) return undefined;
  if (picked.choice) return picked.choice;
  const uri = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { 'JSON config': ['json'] },
    ...(folder ? { defaultUri: vscode.Uri.file(path.join(folder, '.rlhf', 'configs')) } : {}),
  });
  return uri?.[0] ? { configFile: uri[0].fsPath } : undefined;
}

async function listRuns(deps: FeatureDeps): Promise<RunInfo[]> {
  const workspace = workspaceFolder();
  return workspace ? (await deps.engine.request('training.runs', { workspace })).runs : [];
}

async function pickRun(deps: FeatureDeps, title: string, filter: (r: RunInfo) => boolean): Promise<string | undefined> {
  const runs = (await listRuns(deps)).filter(filter).reverse();
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(`RLHF: no run to pick for "${title}".`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.id, description: `${r.stage} · ${r.state} · step ${r.step}`, ...(r.message ? { detail: r.message } : {}) })),
    { ...PICK, title: `RLHF: ${title}` },
  );
  return picked?.label;
}

export function registerRunCommands(deps: FeatureDeps, runs: RunController): vscode.Disposable[] {
  const { eventLoop } = deps;
  const train = async (stage: RunControlStage, arg: unknown): Promise<void> => {
    if (!requireProject() || !requireTrust()) return;
    const choice = choiceFromArg(arg) ?? (await pickConfig(deps, stage));
    if (!choice) return;
    const label = 'preset' in choice ? `${STAGE_INFO[stage].title} (${choice.preset})` : `${STAGE_INFO[stage].title} (${path.basename(choice.configFile)})`;
    void runs.start({ kind: stage, ...choice }, label);
  };
  return [
    vscode.commands.registerCommand('rlhf.trainSft', (arg?: unknown) => train('sft', arg)),
    vscode.commands.registerCommand('rlhf.trainReward', (arg?: unknown) => train('reward', arg)),
    vscode.commands.registerCommand('rlhf.trainPolicy', async (algorithm?: unknown, arg?: unknown) => {
      const items = POLICY_STAGES.map((s) => ({ label: STAGE_INFO[s].title, description: STAGE_INFO[s].policy, stage: s }));
      const stage = isPolicyStage(algorithm) ? algorithm : (await vscode.window.showQuickPick(items, { ...PICK, title: 'RLHF: train the policy with' }))?.stage;
      if (stage) await train(stage, arg);
    }),
    vscode.commands.registerCommand('rlhf.runDemo', async (arg?: unknown) => {
      // The demo sets up its own project in the folder: only trust is needed.
      if (!requireTrust()) return;
      let preset = typeof arg === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(arg) ? arg : undefined;
      if (!preset) {
        const items = (await presets(deps, 'demo')).map((p) => ({ label: p.name, detail: p.description }));
        preset = (await vscode.window.showQuickPick(items, { ...PICK, title: 'RLHF: run the demo pipeline (SFT → simulated ranking → reward model → PPO)', matchOnDetail: true }))?.label;
      }
      if (preset) void runs.start({ kind: 'demo', preset }, `demo pipeline (${preset})`);
    }),
    vscode.commands.registerCommand('rlhf.stopRun', (arg?: unknown) => {
      const runId = isRunId(arg) ? arg : undefined;
      if (!runs.stop(runId)) void vscode.window.showInformationMessage(runId ? `RLHF: run ${runId} is not training.` : 'RLHF: no run is training.');
    }),
    vscode.commands.registerCommand('rlhf.resumeRun', async (arg?: unknown) => {
      const runId = isRunId(arg) ? arg : await pickRun(deps, 'resume a run', (r) => r.resumable);
      if (runId) void runs.start({ resume: runId }, `resume ${runId}`);
    }),
    vscode.commands.registerCommand('rlhf.showCurves', (arg?: unknown) => CurvesPanel.show(deps, runs, isRunId(arg) ? arg : undefined)),
    vscode.commands.registerCommand('rlhf.showEventLoopDelay', () => {
      const stats = eventLoop.stats();
      void vscode.window.showInformationMessage(`RLHF: ${formatStats(stats)}`);
      deps.log.info(formatStats(stats, eventLoop.stalls()));
      return stats;
    }),
  ];
}
