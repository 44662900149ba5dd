/**
 * The samples table: what the policy wrote at each iteration, with the reward it got and its KL
 * to the reference, newest iteration first. A row with both a high reward and a high KL (top
 * quarter of each, among the rows shown) is marked: that is what reward hacking looks like.
 * A GRPO run's rows also show each reward function's value (a column per function).
 */
import type { SamplePoint } from '../../src/protocol/engineTraining';

export const SAMPLE_ROWS = 60;

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

const fmt = (v: number | null): string => (v === null ? '–' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3));

function cell(tag: 'td' | 'th', text: string, className?: string): HTMLElement {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

export function renderSamples(container: HTMLElement, runLabel: string | undefined, samples: readonly SamplePoint[]): void {
  const heading = document.createElement('h2');
  heading.textContent = runLabel ? `Samples · ${runLabel}` : 'Samples';
  if (samples.length === 0) {
    const empty = document.createElement('p');
    empty.className = 'muted';
    empty.textContent = runLabel ? 'This run has no sampled completions (policy stages write them every few iterations).' : 'Select a run to see its samples.';
    container.replaceChildren(heading, empty);
    return;
  }
  const rows = [...samples].sort((a, b) => b.iteration - a.iteration || b.time - a.time).slice(0, SAMPLE_ROWS);
  const scoreHigh = quantile(
    rows.flatMap((r) => (r.score === null ? [] : [r.score])),
    0.75,
  );
  const klHigh = quantile(
    rows.flatMap((r) => (r.kl === null ? [] : [r.kl])),
    0.75,
  );
  const table = document.createElement('table');
  table.className = 'samples';
  table.dataset.testid = 'samples-table';
  const functions = [...new Set(rows.flatMap((r) => Object.keys(r.rewards ?? {})))];
  const head = document.createElement('tr');
  head.append(cell('th', 'iter'), cell('th', 'reward', 'num'), ...functions.map((f) => cell('th', f, 'num fn')), cell('th', 'KL', 'num'), cell('th', 'prompt'), cell('th', 'completion'));
  const thead = document.createElement('thead');
  thead.append(head);
  const tbody = document.createElement('tbody');
  for (const r of rows) {
    const tr = document.createElement('tr');
    const suspect = rows.length >= 4 && r.score !== null && r.kl !== null && r.score >= scoreHigh && r.kl >= klHigh;
    if (suspect) {
      tr.className = 'suspect';
      tr.title = 'High reward and high KL to the reference: check that the reward model rewards what you meant.';
    }
    tr.append(
      cell('td', String(r.iteration)),
      cell('td', fmt(r.score), 'num'),
      ...functions.map((f) => cell('td', fmt(r.rewards?.[f] ?? null), 'num fn')),
      cell('td', fmt(r.kl), 'num'),
      cell('td', r.prompt, 'text'),
      cell('td', r.completion, 'text completion'),
    );
    tbody.append(tr);
  }
  table.append(thead, tbody);
  container.replaceChildren(heading, table);
}
