/**
 * The sidebar's project section: the welcome state (no project: create one or open the demo),
 * or the project at a glance (models, counts, labelers, runs), the suggested next step and a
 * button per stage. Buttons post `runCommand` with an allowlisted command id.
 */
import type { LiveRun } from '../../src/protocol/curves';
import type { NextStep, ProjectOverview, ProjectSection, SidebarCommand, SidebarCommandId, SidebarState } from '../../src/protocol/sidebar';

type El = (tag: string, attrs?: Record<string, string>, ...children: (Node | string)[]) => HTMLElement;

/** Commands that train, sample or load a model: disabled in an untrusted workspace. */
const NEEDS_TRUST: ReadonlySet<SidebarCommandId> = new Set(['rlhf.generateCompletions', 'rlhf.trainSft', 'rlhf.trainReward', 'rlhf.trainPolicy', 'rlhf.runDemo', 'rlhf.resumeRun', 'rlhf.exportModel']);

export function projectSectionView(state: SidebarState, el: El, post: (c: SidebarCommand) => void): HTMLElement | undefined {
  const p = state.project;
  if (!p) return undefined;
  const trusted = state.trusted !== false;
  const button = (label: string, command: SidebarCommandId, testid: string, opts: { secondary?: boolean; runId?: string } = {}): HTMLElement => {
    const disabled = !trusted && NEEDS_TRUST.has(command);
    const b = el('vscode-button', { 'data-testid': testid, ...(opts.secondary ? { secondary: '' } : {}), ...(disabled ? { disabled: '', title: 'Not in an untrusted workspace' } : {}) }, label);
    b.addEventListener('click', () => {
      if (!disabled) post({ type: 'runCommand', command, ...(opts.runId ? { runId: opts.runId } : {}) });
    });
    return b;
  };
  const section = el('section', { class: 'project', 'aria-label': 'Project', 'data-testid': 'project' }, el('h2', {}, 'Project'));
  if (!trusted) {
    section.append(
      el(
        'p',
        { class: 'warning', role: 'note', 'data-testid': 'untrusted' },
        'Restricted mode: this workspace is not trusted, so no training, sampling or model loading. Rankings can still be viewed and made.',
      ),
    );
  }
  section.append(...body(p, el, button, state.live));
  return section;
}

function body(
  p: ProjectSection,
  el: El,
  button: (label: string, command: SidebarCommandId, testid: string, opts?: { secondary?: boolean; runId?: string }) => HTMLElement,
  live: LiveRun | undefined,
): (Node | string)[] {
  switch (p.kind) {
    case 'noFolder':
    case 'none':
      return [
        el(
          'p',
          { 'data-testid': 'welcome' },
          p.kind === 'noFolder'
            ? 'No folder is open. Create an RLHF project in a folder, or start with the demo project (a tiny model and Moby-Dick prompts).'
            : `No RLHF project in ${p.workspace}. Create one here, or set up the demo project.`,
        ),
        el('div', { class: 'buttons' }, button('Create Project', 'rlhf.createProject', 'create-project'), button('Open Demo Project', 'rlhf.openDemoProject', 'open-demo', { secondary: true })),
      ];
    case 'loading':
      return [el('p', { class: 'muted', 'data-testid': 'project-loading' }, `Loading the project in ${p.workspace}…`)];
    case 'error':
      return [
        el('p', { class: 'error', role: 'alert', 'data-testid': 'project-error' }, p.message),
        ...(p.projectFile ? [el('div', { class: 'buttons' }, button('Open project.json', 'rlhf.openProjectFile', 'open-project-file'))] : []),
      ];
    case 'open':
      return openProject(p.overview, p.next, el, button, live);
  }
}

function openProject(
  o: ProjectOverview,
  next: NextStep,
  el: El,
  button: (label: string, command: SidebarCommandId, testid: string, opts?: { secondary?: boolean; runId?: string }) => HTMLElement,
  live: LiveRun | undefined,
): (Node | string)[] {
  const dl = el('dl', { 'data-testid': 'project-overview' });
  const item = (k: string, v: string | (Node | string)[], id: string, title = ''): void => {
    dl.append(el('dt', {}, k), el('dd', { 'data-testid': id, ...(title ? { title } : {}) }, ...(typeof v === 'string' ? [v] : v)));
  };
  // Names, with the full path on hover; the architecture and size after, when config.json says them.
  const model = (m: ProjectOverview['models']['base'], id: string): string | (Node | string)[] => {
    if (!m) return '—';
    const name = `${modelName(m.path)} (${m.from})`;
    const about = [m.architecture, m.parameters === undefined ? undefined : formatParameters(m.parameters)].filter((s) => s !== undefined);
    return about.length ? [name, el('span', { class: 'muted', 'data-testid': `${id}-about` }, ` · ${about.join(' · ')}`)] : name;
  };
  item('Project', o.name ?? shortPath(o.workspace), 'project-name', o.workspace);
  item('Base', model(o.models.base, 'model-base'), 'model-base', o.models.base?.path);
  item('SFT', model(o.models.sft, 'model-sft'), 'model-sft', o.models.sft?.path);
  item('Reward', model(o.models.reward, 'model-reward'), 'model-reward', o.models.reward?.path);
  item('Policy', model(o.models.policy, 'model-policy'), 'model-policy', o.models.policy?.path);
  item('Prompts', String(o.prompts), 'count-prompts');
  item('Ranked', o.skipped ? `${o.ranked} (${o.skipped} skipped)` : String(o.ranked), 'count-ranked');
  item('Unranked', String(o.unranked), 'count-unranked');
  item('Pairs', String(o.pairs), 'count-pairs');
  item('Implicit', `${o.implicit}${o.includeImplicit ? ' (used in training)' : ' (not used in training)'}`, 'count-implicit');
  item('Labelers', o.labelers.length ? o.labelers.join(', ') : o.labeler, 'labelers');
  const out: (Node | string)[] = [dl];
  if (o.repairs.length) out.push(el('p', { class: 'warning', role: 'alert', 'data-testid': 'repairs' }, `Damaged log tails were moved aside: ${o.repairs.join('; ')}`));
  out.push(
    el(
      'div',
      { class: 'next', 'data-testid': 'next-step' },
      el('strong', {}, 'Next: '),
      `${next.reason} `,
      button(next.label, next.command, 'next-step-button'),
      ...(next.alternative ? [' ', button(next.alternative.label, next.alternative.command, 'next-step-alternative', { secondary: true })] : []),
    ),
    el('h2', {}, 'Stages'),
    el(
      'div',
      { class: 'buttons stages' },
      button('Import Prompts', 'rlhf.importPrompts', 'stage-import', { secondary: true }),
      button('Generate', 'rlhf.generateCompletions', 'stage-generate', { secondary: true }),
      button('Rank', 'rlhf.startRanking', 'stage-rank', { secondary: true }),
      button('Train SFT', 'rlhf.trainSft', 'stage-sft', { secondary: true }),
      button('Train Reward', 'rlhf.trainReward', 'stage-reward', { secondary: true }),
      button('Train Policy', 'rlhf.trainPolicy', 'stage-policy', { secondary: true }),
      button('Export Preferences', 'rlhf.exportPreferences', 'stage-export-prefs', { secondary: true }),
      button('Export Model', 'rlhf.exportModel', 'stage-export-model', { secondary: true }),
    ),
    el('h2', {}, `Runs (${o.runs.length})`),
  );
  if (o.runs.length === 0) out.push(el('p', { class: 'muted', 'data-testid': 'no-runs' }, 'No training runs yet.'));
  else {
    const list = el('ul', { class: 'runs', 'data-testid': 'runs' });
    for (const r of [...o.runs].reverse()) {
      const actions = el('span', { class: 'run-actions' }, button('Curves', 'rlhf.showCurves', 'run-curves', { secondary: true, runId: r.id }));
      if (r.state === 'running') actions.append(button('Stop', 'rlhf.stopRun', 'run-stop', { secondary: true, runId: r.id }));
      if (r.state === 'failed' || r.state === 'cancelled') actions.append(button('Resume', 'rlhf.resumeRun', 'run-resume', { secondary: true, runId: r.id }));
      const step = live?.runId === r.id ? `${live.stage} · step ${live.step}` : `${r.stage} · step ${r.step}`;
      list.append(
        el(
          'li',
          { 'data-testid': 'run', 'data-run-id': r.id, 'data-state': r.state },
          el('span', { class: `run-state ${r.state}` }, r.state === 'cancelled' ? 'stopped' : r.state),
          ' ',
          el('span', { 'data-testid': 'run-step' }, step),
          ' ',
          el('span', { class: 'muted', title: r.id }, r.id),
          actions,
        ),
      );
    }
    out.push(list);
  }
  return out;
}

/** A model folder's name: the stage of a run's checkpoint (…/checkpoints/<stage>/final), else the folder's name. */
/** A parameter count as model cards write it: 494 M, 1.2 B, 85 K. */
function formatParameters(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} B`;
  if (n >= 1e6) return `${Math.round(n / 1e6)} M`;
  return `${Math.round(n / 1e3)} K`;
}

function modelName(p: string): string {
  const parts = p.split(/[\\/]/).filter((s) => s !== '');
  const at = parts.lastIndexOf('checkpoints');
  if (at >= 0 && parts.length === at + 3) return parts[at + 2] === 'final' ? (parts[at + 1] as string) : `${parts[at + 1]} ${parts[at + 2]}`;
  return parts[parts.length - 1] ?? p;
}

function shortPath(p: string): string {
  const parts = p.split(/[\\/]/).filter((s) => s !== '');
  return parts.length <= 2 ? p : `…/${parts.slice(-2).join('/')}`;
}
