/**
 * The small part of Markdown that labeling guidelines use: headings, bullet and numbered lists,
 * paragraphs, **bold**, *italic* and `code`. Built as DOM nodes (text is never parsed as HTML),
 * so guidelines from project.json cannot inject markup or script.
 */
import { el } from '../shared/dom';

export function renderMarkdown(source: string): HTMLElement {
  const root = el('div', { class: 'markdown' });
  let list: HTMLElement | undefined;
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length) root.append(el('p', {}, ...inline(paragraph.join(' '))));
    paragraph = [];
  };
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trimEnd();
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const bullet = /^\s*(?:[-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (bullet) {
      flush();
      if (!list) root.append((list = el(/^\s*\d/.test(line) ? 'ol' : 'ul')));
      list.append(el('li', {}, ...inline(bullet[1] as string)));
      continue;
    }
    list = undefined;
    if (heading) {
      flush();
      root.append(el(`h${Math.min(6, (heading[1] as string).length + 2)}`, {}, ...inline(heading[2] as string)));
    } else if (line.trim() === '') flush();
    else paragraph.push(line.trim());
  }
  flush();
  return root;
}

function inline(text: string): (Node | string)[] {
  const out: (Node | string)[] = [];
  const pattern = /(\*\*[^*]+\*\*|`[^`]+`|\*[^*]+\*|_[^_]+_)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const token = m[0];
    out.push(text.slice(last, m.index));
    if (token.startsWith('**')) out.push(el('strong', {}, token.slice(2, -2)));
    else if (token.startsWith('`')) out.push(el('code', {}, token.slice(1, -1)));
    else out.push(el('em', {}, token.slice(1, -1)));
    last = (m.index ?? 0) + token.length;
  }
  out.push(text.slice(last));
  return out.filter((s) => s !== '');
}
