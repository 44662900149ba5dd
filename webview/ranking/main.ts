/**
 * The ranking panel app: one prompt and its K completions at a time, ranked by keyboard or by
 * dragging. A chat prompt is shown as one conversation (a role label per message, the system
 * message dimmed) and its completions as the assistant's replies, without the prompt's tail. Renders the host's full state (bootstrap, then every `didChangeState`); keeps only
 * its drafts (ranks being assigned, with an undo history) and persists them with setState, so a
 * failed save or a reloaded panel keeps the ranking.
 *
 * Keys: 1..K rank the focused completion (focus moves on), T ties it with the rank given last,
 * S skip, B all bad, arrows move focus, Alt+arrows move the completion, E expands it,
 * Ctrl/Cmd+Z undoes, Enter submits and loads the next prompt (Enter and Space on a focused
 * button or the guidelines toggle activate that instead).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import type { ChatRole } from '../../src/protocol/chat';
import type { RankingCommand, RankingItem, RankingState } from '../../src/protocol/ranking';
import { isRankingNotification } from '../../src/protocol/ranking';
import { readBootstrap, vscodeApi } from '../shared/vscodeApi';
import type { Draft } from './draft';
import { assign, isComplete, newDraft, reorder, tie, toggleVerdict, toSubmission, withNote } from './draft';
import type { Piece } from './diff';
import { wordDiff } from './diff';
import { el } from '../shared/dom';
import { renderMarkdown } from './markdown';

interface PageState {
  /** Drafts by batch id: the one being ranked, and any whose save failed. */
  readonly drafts: Record<string, Draft>;
  /**
   * Undo steps by batch id (oldest first). Kept after a submit, so when an undone submit brings
   * its draft back, Ctrl/Cmd+Z steps back through how it was made.
   */
  readonly histories: Record<string, readonly Draft[]>;
  /** What was submitted per batch, restored when a submit is undone. */
  readonly submitted: Record<string, Draft>;
  /** Mark the words of each completion that no other completion has (off until turned on). */
  readonly highlightDifferences: boolean;
  /** The guidelines are open: the user's choice, kept across prompts and reloads. */
  readonly guidelinesOpen: boolean;
}

const api = vscodeApi<RankingCommand, PageState>();
let page: PageState = restorePage(api.getState());
let state: RankingState = readBootstrap<RankingState>();
let focus = 0;
const expanded = new Set<number>();
/** Highlighted pieces by completion index, for the batch shown (the diffs are worked out once). */
const differences = new Map<number, Piece[]>();
/** Collapse completions longer than this (characters or lines). */
const LONG_CHARS = 400;
const LONG_LINES = 6;
/** How much of the prompt's end is shown before each completion, so a continuation reads in context. */
const CONTEXT_CHARS = 80;
/** How a chat prompt's roles are labelled. */
const ROLE_LABELS: Record<ChatRole, string> = { system: 'System', user: 'User', assistant: 'Assistant' };
/** Undo steps kept per batch. */
const MAX_HISTORY = 50;
/** Elements that Enter and Space activate themselves: they never submit. */
const ACTIVATABLE = 'button, summary, vscode-button';

/** The persisted state, from an older version too (fields it lacks take their defaults). */
function restorePage(saved: Partial<PageState> | undefined): PageState {
  return {
    drafts: saved?.drafts ?? {},
    histories: saved?.histories ?? {},
    submitted: saved?.submitted ?? {},
    highlightDifferences: saved?.highlightDifferences ?? false,
    guidelinesOpen: saved?.guidelinesOpen ?? false,
  };
}

function persist(next: Partial<PageState>): void {
  page = { ...page, ...next };
  // Keep the persisted state small: drafts of the last few batches.
  const trim = <T>(r: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(r).slice(-20));
  api.setState({ ...page, drafts: trim(page.drafts), histories: trim(page.histories), submitted: trim(page.submitted) });
}

function currentDraft(): Draft | undefined {
  const item = state.item;
  if (!item) return undefined;
  const d = page.drafts[item.batchId];
  if (d && d.ranks.length === item.completions.length) return d;
  const fresh = newDraft(item.batchId, item.completions.length);
  persist({ drafts: { ...page.drafts, [item.batchId]: fresh } });
  return fresh;
}

function change(next: Draft): void {
  const d = currentDraft();
  if (!d || next === d) return;
  const history = [...(page.histories[d.batchId] ?? []), d].slice(-MAX_HISTORY);
  persist({ drafts: { ...page.drafts, [d.batchId]: next }, histories: { ...page.histories, [d.batchId]: history } });
  render();
}

function submit(): void {
  const item = state.item;
  const d = currentDraft();
  if (!item || !d || state.save.state === 'saving' || !isComplete(d)) return;
  persist({ submitted: { ...page.submitted, [item.batchId]: d } });
  api.postMessage({
    type: 'submit',
    batchId: item.batchId,
    ...toSubmission(
      d,
      item.completions.map((c) => c.id),
    ),
  });
}

function undo(): void {
  const d = currentDraft();
  const history = d ? (page.histories[d.batchId] ?? []) : [];
  const previous = history[history.length - 1];
  if (d && previous) {
    persist({ drafts: { ...page.drafts, [d.batchId]: previous }, histories: { ...page.histories, [d.batchId]: history.slice(0, -1) } });
    render();
    return;
  }
  if (state.lastSubmitted && state.save.state !== 'saving') api.postMessage({ type: 'undoSubmit', eventId: state.lastSubmitted.eventId });
}

function onKey(e: KeyboardEvent): void {
  const target = e.target as HTMLElement | null;
  if (target && (target.tagName === 'TEXTAREA' || target.tagName === 'INPUT')) {
    if (e.key === 'Escape') target.blur();
    return;
  }
  if ((e.key === 'Enter' || e.key === ' ') && target?.closest(ACTIVATABLE)) return;
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
    e.preventDefault();
    undo();
    return;
  }
  if (e.ctrlKey || e.metaKey) return;
  const item = state.item;
  const d = currentDraft();
  if (!item || !d || state.status !== 'ready') return;
  const k = item.completions.length;
  const index = d.order[focus] ?? 0;
  const key = e.key.toLowerCase();
  if (/^[1-9]$/.test(e.key) && Number(e.key) <= k) {
    change(assign(d, index, Number(e.key)));
    moveFocus(focus + 1);
  } else if (key === 't') {
    change(tie(d, index));
    if (d.lastRank !== null) moveFocus(focus + 1);
  } else if (key === 's') change(toggleVerdict(d, 'skip'));
  else if (key === 'b') change(toggleVerdict(d, 'allBad'));
  else if (key === 'e') {
    if (expanded.has(index)) expanded.delete(index);
    else expanded.add(index);
    render();
  } else if (e.key === 'ArrowDown' || e.key === 'ArrowRight' || e.key === 'ArrowUp' || e.key === 'ArrowLeft') {
    const step = e.key === 'ArrowDown' || e.key === 'ArrowRight' ? 1 : -1;
    if (e.altKey) {
      const to = Math.min(k - 1, Math.max(0, focus + step));
      change(reorder(d, focus, to));
      moveFocus(to);
    } else moveFocus(focus + step);
  } else if (e.key === 'Enter') submit();
  else return;
  e.preventDefault();
}

function moveFocus(position: number): void {
  const k = state.item?.completions.length ?? 0;
  focus = Math.min(Math.max(0, position), Math.max(0, k - 1));
  render();
}

function saveLine(): HTMLElement {
  const s = state.save;
  const item = state.item;
  if (s.state === 'saving') return el('span', { 'data-testid': 'save-state', class: 'save saving', role: 'status' }, 'Saving…');
  if (s.state === 'saved') return el('span', { 'data-testid': 'save-state', class: 'save saved', role: 'status' }, 'Saved');
  if (s.state === 'failed' && item && s.batchId === item.batchId) {
    const retry = el('vscode-button', { 'data-testid': 'retry', secondary: '' }, 'Retry');
    retry.addEventListener('click', submit);
    // The message and the button side by side: a long message wraps in its own box, never around the button.
    return el('span', { 'data-testid': 'save-state', class: 'save failed', role: 'alert' }, el('span', { class: 'save-message' }, `Not saved: ${s.error}`), retry);
  }
  return el('span', { 'data-testid': 'save-state', class: 'save' }, '');
}

/** This panel's submissions: "Ranked 7 · all bad 1 · skipped 1" (skips never count as ranked); none yet: nothing. */
function tally(): HTMLElement | string {
  const t = state.tally;
  if (!t || t.ranked + t.allBad + t.skipped === 0) return '';
  const parts = [`Ranked ${t.ranked}`, ...(t.allBad ? [`all bad ${t.allBad}`] : []), ...(t.skipped ? [`skipped ${t.skipped}`] : [])];
  return el('span', { 'data-testid': 'tally', class: 'tally', title: 'Submitted in this panel since it opened' }, parts.join(' · '));
}

function header(): HTMLElement {
  const { done, total } = state.progress;
  const n = state.item ? Math.min(done + 1, total) : done;
  return el(
    'header',
    {},
    el('span', { 'data-testid': 'progress', class: 'progress' }, `${n} of ${total}`),
    tally(),
    el('span', { class: 'policy', 'data-testid': 'policy', title: state.policy ?? '' }, state.policy ? `Policy: ${state.policy}` : 'No policy model'),
    saveLine(),
  );
}

function guidelines(): HTMLElement | string {
  if (state.guidelines.trim() === '') return '';
  const open: Record<string, string> = page.guidelinesOpen ? { open: '' } : {};
  const details = el(
    'details',
    { 'data-testid': 'guidelines', class: 'guidelines', ...open },
    el('summary', {}, 'Guidelines'),
    el('div', { class: 'guidelines-text' }, renderMarkdown(state.guidelines)),
  ) as HTMLDetailsElement;
  details.addEventListener('toggle', () => {
    if (details.open !== page.guidelinesOpen) persist({ guidelinesOpen: details.open });
  });
  return details;
}

/** After Rank Completions for Selection: the selection is done, and what follows is the project's queue. */
function selectionNotice(): HTMLElement | string {
  if (state.selection !== 'ranked' || (state.status !== 'ready' && state.status !== 'empty')) return '';
  const text = state.status === 'ready' ? 'Selection ranked — next: queued prompts from the project.' : 'Selection ranked.';
  return el('p', { 'data-testid': 'selection-notice', class: 'notice', role: 'status' }, text);
}

/** The end of the prompt, dimmed before a completion: the last CONTEXT_CHARS, from a word start when one is near. */
function promptTail(prompt: string): string {
  if (prompt.length <= CONTEXT_CHARS) return prompt;
  const tail = prompt.slice(-CONTEXT_CHARS);
  const space = tail.search(/\s/);
  return `…${space >= 0 && space < CONTEXT_CHARS / 4 ? tail.slice(space) : tail}`;
}

/** The prompt: its text, or a chat prompt's messages as one conversation (role labels; the system message dimmed). */
function promptView(item: RankingItem): HTMLElement {
  if (!item.messages) return el('div', { class: 'prompt-text', 'data-testid': 'prompt' }, item.prompt);
  return el(
    'div',
    { class: 'prompt-text conversation', 'data-testid': 'prompt', 'data-kind': 'chat' },
    ...item.messages.map((m) =>
      el(
        'div',
        { class: `turn ${m.role}`, 'data-testid': 'turn', 'data-role': m.role },
        el('span', { class: 'role', 'data-testid': 'role' }, ROLE_LABELS[m.role] ?? m.role),
        el('div', { class: 'content' }, m.content),
      ),
    ),
  );
}

/** The words of completion `index` that none of the other, different completions has. */
function highlighted(item: RankingItem, index: number): Piece[] {
  const own = item.completions[index]!.text;
  let pieces = differences.get(index);
  if (!pieces) {
    pieces = wordDiff(
      own,
      [...new Set(item.completions.map((c) => c.text))].filter((t) => t !== own),
    );
    differences.set(index, pieces);
  }
  return pieces;
}

/** The display position of another completion with the very same text, if there is one. */
function sameAs(item: RankingItem, d: Draft, position: number): number | undefined {
  const own = item.completions[d.order[position] as number]!.text;
  const other = d.order.findIndex((i, p) => p !== position && item.completions[i]!.text === own);
  return other >= 0 ? other : undefined;
}

function completionCard(item: RankingItem, d: Draft, position: number): HTMLElement {
  const index = d.order[position] as number;
  const c = item.completions[index]!;
  const rank = d.verdict === 'ranked' ? d.ranks[index] : null;
  const long = c.text.length > LONG_CHARS || c.text.split('\n').length > LONG_LINES;
  // A continuation reads on from the prompt's end; a chat reply stands on its own.
  const context = item.messages ? '' : el('span', { class: 'context', 'data-testid': 'context', 'aria-hidden': 'true' }, promptTail(item.prompt));
  const text = el('div', { class: `text${long && !expanded.has(index) ? ' collapsed' : ''}`, 'data-testid': 'completion-text' }, context);
  if (page.highlightDifferences) {
    for (const p of highlighted(item, index)) text.append(p.changed ? el('mark', {}, p.text) : p.text);
  } else text.append(c.text);
  if (c.text === '') text.append(el('em', { class: 'muted' }, '(empty completion)'));
  const same = sameAs(item, d, position);
  const sameBadge = same === undefined ? '' : el('vscode-badge', { 'data-testid': 'same-as', title: 'Identical text: give both the same rank for a tie' }, `same as #${same + 1}`);
  const handle = el('span', { class: 'handle', draggable: 'true', 'data-testid': 'drag-handle', title: 'Drag to reorder (ranks follow the order)', 'aria-hidden': 'true' }, '⋮⋮');
  const card = el(
    'li',
    {
      class: `completion${position === focus ? ' focused' : ''}${rank ? ' ranked' : ''}`,
      tabindex: position === focus ? '0' : '-1',
      'data-testid': 'completion',
      'data-index': String(index),
      'data-rank': rank ? String(rank) : '',
      'aria-label': `Completion ${position + 1}${rank ? `, rank ${rank}` : ', unranked'}`,
    },
    handle,
    el('span', { class: 'rank', 'data-testid': 'rank' }, rank ? String(rank) : '–'),
    el(
      'div',
      { class: 'body' },
      text,
      el(
        'div',
        { class: 'meta muted' },
        el('span', { 'data-testid': 'position' }, `#${position + 1}`),
        sameBadge,
        c.temperature !== undefined ? `T=${c.temperature}` : '',
        long ? expandButton(index) : '',
      ),
    ),
  );
  card.addEventListener('click', () => {
    if (focus !== position) moveFocus(position);
  });
  handle.addEventListener('dragstart', (e) => {
    e.dataTransfer?.setData('text/plain', String(position));
    if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
  });
  card.addEventListener('dragover', (e) => e.preventDefault());
  card.addEventListener('drop', (e) => {
    e.preventDefault();
    const from = Number(e.dataTransfer?.getData('text/plain'));
    if (Number.isInteger(from)) {
      change(reorder(d, from, position));
      moveFocus(position);
    }
  });
  return card;
}

function expandButton(index: number): HTMLElement {
  const b = el('button', { class: 'link', 'data-testid': 'expand', type: 'button' }, expanded.has(index) ? 'Show less' : 'Show more');
  b.addEventListener('click', (e) => {
    e.stopPropagation();
    if (expanded.has(index)) expanded.delete(index);
    else expanded.add(index);
    render();
  });
  return b;
}

function rankingView(item: RankingItem, d: Draft): HTMLElement[] {
  const list = el('ol', { class: 'completions', 'data-testid': 'completions' }, ...d.order.map((_, p) => completionCard(item, d, p)));
  const verdict = d.verdict === 'skip' ? 'Skipped' : d.verdict === 'allBad' ? 'All bad' : isComplete(d) ? 'Ranked' : `${d.ranks.filter((r) => r !== null).length} of ${d.ranks.length} ranked`;
  const note = el('textarea', { 'data-testid': 'note', rows: '2', placeholder: 'Note (optional)', maxlength: '10000' }) as HTMLTextAreaElement;
  note.value = d.note;
  note.addEventListener('change', () => change(withNote(currentDraft() ?? d, note.value)));
  const diffToggle = el(
    'label',
    { class: 'diff-toggle' },
    el('input', { type: 'checkbox', 'data-testid': 'diff-toggle', ...(page.highlightDifferences ? { checked: '' } : {}) }),
    ' Highlight differences',
  );
  diffToggle.querySelector('input')?.addEventListener('change', (e) => {
    persist({ highlightDifferences: (e.target as HTMLInputElement).checked });
    render();
  });
  const submitButton = el('vscode-button', { 'data-testid': 'submit', ...(isComplete(d) && state.save.state !== 'saving' ? {} : { disabled: '' }) }, 'Submit (Enter)');
  submitButton.addEventListener('click', submit);
  const skip = el('vscode-button', { secondary: '', 'data-testid': 'skip' }, 'Skip (S)');
  skip.addEventListener('click', () => change(toggleVerdict(d, 'skip')));
  const bad = el('vscode-button', { secondary: '', 'data-testid': 'all-bad' }, 'All bad (B)');
  bad.addEventListener('click', () => change(toggleVerdict(d, 'allBad')));
  return [
    el(
      'section',
      { class: 'prompt', 'aria-label': 'Prompt' },
      el('h2', { 'data-testid': 'prompt-heading' }, state.selection === 'current' ? 'Prompt: your selection' : 'Prompt'),
      promptView(item),
      el('div', { class: 'muted sampled-by', 'data-testid': 'sampled-by', title: item.model }, `Sampled by ${item.model}`),
    ),
    el('div', { class: 'row' }, el('h2', {}, `Completions (${item.completions.length})`), diffToggle),
    list,
    el('div', { class: 'row' }, el('span', { 'data-testid': 'verdict', class: `verdict ${d.verdict}` }, verdict)),
    note,
    el('div', { class: 'buttons' }, submitButton, skip, bad),
    el('p', { class: 'muted keys' }, 'Keys: 1–9 rank · T tie · S skip · B all bad · ↑↓ focus · Alt+↑↓ move · E expand · Ctrl/Cmd+Z undo · Enter submit'),
  ];
}

function render(): void {
  const app = document.getElementById('app');
  if (!app) return;
  const children: (Node | string)[] = [header(), selectionNotice(), guidelines()];
  if (state.status === 'ready' && state.item) {
    const d = currentDraft() as Draft;
    children.push(...rankingView(state.item, d));
  } else if (state.status === 'loading') {
    children.push(el('p', { 'data-testid': 'loading', class: 'loading', role: 'status' }, state.message ?? 'Loading…'));
  } else if (state.status === 'empty') {
    const gen = el('vscode-button', { 'data-testid': 'generate' }, 'Generate Completions');
    gen.addEventListener('click', () => api.postMessage({ type: 'generate' }));
    children.push(el('p', { 'data-testid': 'empty' }, state.message ?? 'Nothing left to rank.'), gen);
  } else {
    children.push(el('p', { 'data-testid': 'error', class: 'error', role: 'alert' }, state.message ?? 'Something went wrong.'));
  }
  const hadFocus = document.activeElement?.tagName === 'TEXTAREA' ? null : true;
  app.replaceChildren(...children);
  if (hadFocus) (app.querySelector('li.completion.focused') as HTMLElement | null)?.focus({ preventScroll: false });
}

function onState(next: RankingState): void {
  const previous = state.item?.batchId;
  state = next;
  if (next.item?.batchId !== previous) {
    focus = 0;
    expanded.clear();
    differences.clear();
    const item = next.item;
    // A submit that was undone comes back with the ranking it had.
    const restored = item ? page.submitted[item.batchId] : undefined;
    if (item && restored && !next.lastSubmitted) persist({ drafts: { ...page.drafts, [item.batchId]: restored } });
  }
  render();
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (isRankingNotification(event.data)) onState(event.data.state);
});
document.addEventListener('keydown', onKey);

render();
api.postMessage({ type: 'ready' });
