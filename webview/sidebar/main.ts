/**
 * The Workbench sidebar app. Renders the full state it is given (bootstrap, then every
 * `didChangeState`); sends commands for the buttons. It never keeps deltas of its own.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import type { SidebarCommand, SidebarState } from '../../src/protocol/sidebar';
import { isSidebarNotification } from '../../src/protocol/sidebar';
import { formatTrainingReport } from '../../src/protocol/backend';
import { readBootstrap, vscodeApi } from '../shared/vscodeApi';
import { el } from '../shared/dom';
import { projectSectionView } from './project';

const api = vscodeApi<SidebarCommand, SidebarState>();

function engineSection(state: SidebarState): HTMLElement {
  const e = state.engine;
  const section = el('section', { class: 'engine', 'aria-label': 'Engine' }, el('h2', {}, 'Engine'));
  const badge = el('vscode-badge', { 'data-testid': 'engine-state' }, e.state);
  section.append(el('div', { class: 'row' }, 'State: ', badge, 'pid' in e && e.pid ? ` pid ${e.pid}` : ''));
  if (e.state === 'running' && e.report) {
    const r = e.report;
    const dl = el('dl', { 'data-testid': 'backend-report' });
    const item = (k: string, v: string, id: string): void => {
      dl.append(el('dt', {}, k), el('dd', { 'data-testid': id }, v));
    };
    // The tfjs rows only when the engine runs on tfjs (it is not loaded otherwise).
    if (r.backend) {
      item('Backend', `${r.backend} (${r.backendPackage})`, 'backend');
      item('tfjs', r.tfjsVersion ?? '', 'tfjs-version');
    }
    item('ONNX Runtime', `${r.ortVersion}: ${r.ortProviders.join(', ') || 'no provider'}`, 'ort');
    if (r.training) item('Training', formatTrainingReport(r.training), 'training');
    item('Node', `${r.node} ${r.platform}`, 'node');
    section.append(dl);
  } else if (e.state === 'crashed') {
    section.append(el('p', { class: 'error', role: 'alert', 'data-testid': 'engine-crash' }, e.reason));
  } else if (e.state === 'stopped') {
    section.append(el('p', { class: 'muted' }, 'The engine starts on first use.'));
  }
  // Secondary: the project's buttons (Create Project, the next step) are the primary actions.
  const status = el('vscode-button', { secondary: '', 'data-testid': 'show-status' }, 'Show Engine Status');
  status.addEventListener('click', () => api.postMessage({ type: 'showEngineStatus' }));
  const restart = el('vscode-button', { secondary: '', 'data-testid': 'restart' }, 'Restart Engine');
  restart.addEventListener('click', () => api.postMessage({ type: 'restartEngine' }));
  section.append(el('div', { class: 'buttons' }, status, restart));
  return section;
}

function render(state: SidebarState): void {
  const app = document.getElementById('app');
  if (!app) return;
  const children: Node[] = [];
  const project = projectSectionView(state, el, (c) => api.postMessage(c));
  if (project) children.push(project, el('vscode-divider'));
  children.push(engineSection(state));
  if (state.lastError && state.engine.state !== 'crashed') {
    children.push(el('p', { class: 'error', role: 'alert', 'data-testid': 'last-error' }, state.lastError));
  }
  // For tests and support, not for users: kept in the page, not shown.
  children.push(el('p', { hidden: '', 'data-testid': 'activation' }, `Activated in ${state.activationMs.toFixed(1)} ms`));
  app.replaceChildren(...children);
  api.setState(state);
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (isSidebarNotification(event.data)) render(event.data.state);
});

// The bootstrap is the host's fresh full state; setState only serves the host's own restore.
render(readBootstrap<SidebarState>());
api.postMessage({ type: 'ready' });
