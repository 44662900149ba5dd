/**
 * Extension entry point. Activation is cheap: no tfjs or onnxruntime here; heavy work happens in
 * the forked engine process, started on first need.
 */
import { errorMessage } from '../protocol/guards';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BACKEND_PREFERENCES, ORT_DEVICES, formatTrainingReport, isBackendPreference, isOrtDevice } from '../protocol/backend';
import type { BackendReport } from '../protocol/backend';
import type { LiveRun } from '../protocol/curves';
import type { EngineView, SidebarState } from '../protocol/sidebar';
import { EngineClient, EngineRequestError } from './engineClient';
import type { EngineState } from './engineClient';
import { EventLoopMonitor } from './eventLoop';
import { SIDEBAR_VIEW_ID, SidebarViewProvider } from './sidebarView';
import { ProjectSectionSource } from './project/sidebarProject';
import { registerProjectFeatures } from './projectFeatures';
import { registerTrainingFeatures } from './trainingFeatures';

/** What the extension exports to other extensions and to its own e2e tests. */
export interface RlhfWorkbenchApi {
  readonly activationMs: number;
  readonly enginePid: () => number | undefined;
}

export function activate(context: vscode.ExtensionContext): RlhfWorkbenchApi {
  const activateStarted = performance.now();
  const log = vscode.window.createOutputChannel('RLHF Workbench', { log: true });
  const eventLoop = new EventLoopMonitor();
  const engine = new EngineClient({
    enginePath: path.join(context.extensionPath, 'dist', 'engine.js'),
    engineArgs: () => {
      const labeler = vscode.workspace.getConfiguration('rlhf').get<string>('labeler', '').trim();
      const backend = backendSetting();
      // An explicit tfjs backend trains on tfjs; auto trains on ONNX Runtime, on rlhf.engine.device.
      return [
        `--backend=${backend}`,
        `--engine=${backend === 'auto' ? 'ort' : 'tfjs'}`,
        `--device=${deviceSetting()}`,
        `--reserved-cores=${reservedCoresSetting()}`,
        ...(labeler ? [`--labeler=${labeler}`] : []),
      ];
    },
    // Inside Electron, fork() must run the binary as plain Node.
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    track: (what, fn) => eventLoop.track(what, fn),
  });
  let report: BackendReport | undefined;
  let lastError: string | undefined;
  let activationMs = 0;

  const engineView = (s: EngineState): EngineView => {
    switch (s.kind) {
      case 'stopped':
        return { state: 'stopped' };
      case 'starting':
        return { state: 'starting', ...(s.pid === undefined ? {} : { pid: s.pid }) };
      case 'running':
        return { state: 'running', ...(s.pid === undefined ? {} : { pid: s.pid }), ...(report ? { report } : {}) };
      case 'crashed':
        return { state: 'crashed', reason: s.reason };
    }
  };
  // The live run (set once the training features are up): its step in the run rows is the
  // metrics stream's, as in the status bar and the curves, not run.json's (moved at checkpoints).
  let liveRun: () => LiveRun | undefined = () => undefined;
  const state = (): SidebarState => {
    const live = liveRun();
    return { engine: engineView(engine.state), activationMs, ...(lastError ? { lastError } : {}), ...(live ? { live } : {}) };
  };

  const showEngineStatus = async (): Promise<void> => {
    await vscode.commands.executeCommand(`${SIDEBAR_VIEW_ID}.focus`);
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'RLHF: starting the engine', cancellable: true }, async (_progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      try {
        report = await engine.request('status', {}, { signal: controller.signal });
        lastError = undefined;
        // The tfjs backend is there only when the engine runs on tfjs (an explicit rlhf.engine.backend).
        const training = report.training ? `; training: ${formatTrainingReport(report.training)}` : '';
        log.info(`Engine ready: ${report.backend ? `${report.backend} (${report.backendPackage}), ` : ''}ORT providers ${report.ortProviders.join(', ')}${training}`);
        sidebar.refresh();
        void vscode.window.showInformationMessage(
          `RLHF engine: ${report.backend ? `${report.backend} backend, tfjs ${report.tfjsVersion}, ` : ''}ONNX Runtime ${report.ortVersion} (${report.ortProviders.join(', ')})${training}.`,
        );
      } catch (err) {
        if (err instanceof EngineRequestError && err.cancelled) return;
        lastError = errorMessage(err);
        sidebar.refresh();
        void vscode.window.showErrorMessage(`RLHF: ${lastError}`);
      }
    });
  };

  const restartEngine = async (): Promise<void> => {
    report = undefined;
    await engine.restart();
    await showEngineStatus();
  };

  const projectSection = new ProjectSectionSource(engine);
  const sidebar = new SidebarViewProvider(context.extensionUri, state, { showEngineStatus, restartEngine }, log, eventLoop, projectSection);

  context.subscriptions.push(
    log,
    eventLoop,
    sidebar,
    vscode.window.registerWebviewViewProvider(SIDEBAR_VIEW_ID, sidebar),
    vscode.commands.registerCommand('rlhf.showEngineStatus', showEngineStatus),
    vscode.commands.registerCommand('rlhf.restartEngine', restartEngine),
    engine.onDidChangeState((s) => {
      if (s.kind !== 'running') report = s.kind === 'starting' ? undefined : report;
      if (s.kind === 'crashed') {
        report = undefined;
        lastError = s.reason;
        log.error(s.reason);
        void vscode.window.showErrorMessage(s.reason, 'Restart Engine').then((choice) => {
          if (choice) void vscode.commands.executeCommand('rlhf.restartEngine');
        });
      }
      sidebar.refresh();
    }),
    engine.onLog((l) => log[l.level](`[engine] ${l.message}`)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      for (const key of ['rlhf.engine.backend', 'rlhf.engine.device', 'rlhf.engine.reservedCores', 'rlhf.labeler']) {
        if (!e.affectsConfiguration(key)) continue;
        log.info(`${key} changed: it applies when the engine next starts.`);
        if (engine.state.kind === 'running') {
          void vscode.window.showInformationMessage(`RLHF: ${key} applies when the engine next starts.`, 'Restart Engine').then((c) => c && vscode.commands.executeCommand('rlhf.restartEngine'));
        }
      }
    }),
    { dispose: () => engine.dispose() },
  );

  const deps = { context, engine, log, eventLoop, projectSection, refreshSidebar: () => sidebar.refresh() };
  registerProjectFeatures(deps);
  const runs = registerTrainingFeatures(deps);
  liveRun = () => runs.live;
  context.subscriptions.push(runs.onDidChangeLive(() => sidebar.postSoon()));

  activationMs = performance.now() - activateStarted;
  log.info(`Activated in ${activationMs.toFixed(1)} ms.`);
  return { activationMs, enginePid: () => engine.pid };
}

/** rlhf.engine.backend; a value it does not know runs as auto, and the user is told so (once per value). */
let warnedBackend: unknown;
function backendSetting(): string {
  const value = vscode.workspace.getConfiguration('rlhf').get<unknown>('engine.backend', 'auto');
  if (isBackendPreference(value)) return value;
  if (warnedBackend !== value) {
    warnedBackend = value;
    void vscode.window
      .showWarningMessage(`RLHF: the setting rlhf.engine.backend is ${JSON.stringify(value)}, which is not one of ${BACKEND_PREFERENCES.join(', ')}; the engine uses auto.`, 'Open Settings')
      .then((c) => c && vscode.commands.executeCommand('workbench.action.openSettings', 'rlhf.engine.backend'));
  }
  return 'auto';
}

/** rlhf.engine.device; a value it does not know runs as auto, and the user is told so (once per value). */
let warnedDevice: unknown;
function deviceSetting(): string {
  const value = vscode.workspace.getConfiguration('rlhf').get<unknown>('engine.device', 'auto');
  if (isOrtDevice(value)) return value;
  if (warnedDevice !== value) {
    warnedDevice = value;
    void vscode.window
      .showWarningMessage(`RLHF: the setting rlhf.engine.device is ${JSON.stringify(value)}, which is not one of ${ORT_DEVICES.join(', ')}; the engine uses auto.`, 'Open Settings')
      .then((c) => c && vscode.commands.executeCommand('workbench.action.openSettings', 'rlhf.engine.device'));
  }
  return 'auto';
}

/** rlhf.engine.reservedCores: a whole number ≥ 0 (anything else counts as 0). */
function reservedCoresSetting(): number {
  const value = vscode.workspace.getConfiguration('rlhf').get<unknown>('engine.reservedCores', 0);
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

export function deactivate(): void {
  // The engine is disposed through context.subscriptions.
}
