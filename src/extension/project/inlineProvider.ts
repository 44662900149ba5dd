/**
 * The opt-in inline completion provider (setting rlhf.inlineCompletions.enabled, default off):
 * the policy's continuations of the text before the cursor as ghost text, sampled in the engine
 * (debounced, cancellable, cached sampler). It runs only in the files the user chose
 * (rlhf.inlineCompletions.files, glob patterns in the project's workspace folder), never outside
 * that folder, in .rlhf/, .vscode/, .git/ or a settings file (inlineRefusal, checked again by the
 * engine). What became of a suggestion that was shown is recorded as an implicit preference:
 * accepted (its command runs) or shown and not accepted (the next request comes for another
 * place without an accept); only then are the text before the cursor and the suggestions stored.
 * The store keeps them apart from explicit rankings; training leaves them out unless project.json
 * settings.includeImplicit is on.
 */
import { errorMessage } from '../../protocol/guards';
import * as vscode from 'vscode';
import type { FeatureDeps } from '../features';
import { inlineRefusal } from '../../protocol/inlineScope';
import { hasProjectOnDisk, projectFolder } from './workspace';

const ACCEPT_COMMAND = 'rlhf.inlineCompletionAccepted';
const DEBOUNCE_MS = 300;
/** Characters before the cursor sent as the prompt (the engine keeps what fits the model). */
const PREFIX_CHARS = 2000;
/** rlhf.inlineCompletions.files when unset (also package.json's default). */
const DEFAULT_FILES = ['**/*.md', '**/*.txt'];

/** True when the user's patterns take `document` and it is a workspace file inline completions may read. */
function inScope(document: vscode.TextDocument, workspace: string): boolean {
  if (document.uri.scheme !== 'file' || inlineRefusal(document.uri.fsPath, workspace)) return false;
  const patterns = vscode.workspace.getConfiguration('rlhf').get<unknown>('inlineCompletions.files', DEFAULT_FILES);
  const list = Array.isArray(patterns) ? patterns.filter((p): p is string => typeof p === 'string' && p.trim() !== '') : DEFAULT_FILES;
  return list.some((pattern) => vscode.languages.match({ scheme: 'file', pattern: new vscode.RelativePattern(workspace, pattern) }, document) > 0);
}

interface Shown {
  readonly workspace: string;
  readonly id: string;
  readonly uri: string;
  readonly offset: number;
}

export function registerInlineCompletions(deps: FeatureDeps): vscode.Disposable[] {
  let shown: Shown | undefined;
  let warned = false;

  const record = (s: Shown, accepted: number | null): void => {
    deps.engine.request('inline.record', { workspace: s.workspace, id: s.id, accepted }).then(
      () => deps.refreshSidebar(),
      (err: unknown) => deps.log.warn(`Inline completion outcome not recorded: ${errorMessage(err)}`),
    );
  };

  const provider: vscode.InlineCompletionItemProvider = {
    async provideInlineCompletionItems(document, position, _context, token) {
      if (!vscode.workspace.getConfiguration('rlhf').get<boolean>('inlineCompletions.enabled', false)) return undefined;
      if (!vscode.workspace.isTrusted) return undefined;
      const workspace = projectFolder();
      if (!workspace || !hasProjectOnDisk(workspace) || !inScope(document, workspace)) return undefined;
      const offset = document.offsetAt(position);
      // The previous suggestion was shown and the user moved on without accepting it.
      if (shown && (shown.uri !== document.uri.toString() || shown.offset !== offset)) {
        record(shown, null);
        shown = undefined;
      }
      await new Promise((r) => setTimeout(r, DEBOUNCE_MS));
      if (token.isCancellationRequested) return undefined;
      const controller = new AbortController();
      const sub = token.onCancellationRequested(() => controller.abort());
      try {
        const text = document.getText(new vscode.Range(document.positionAt(Math.max(0, offset - PREFIX_CHARS)), position));
        if (text.trim() === '') return undefined;
        const r = await deps.engine.request('inline.complete', { workspace, file: document.uri.fsPath, text }, { signal: controller.signal });
        if (token.isCancellationRequested) return undefined;
        const items = r.completions
          .map((c, i) => ({ c, i }))
          .filter(({ c }) => c.trim() !== '')
          .map(({ c, i }) => {
            const item = new vscode.InlineCompletionItem(c, new vscode.Range(position, position));
            item.command = { command: ACCEPT_COMMAND, title: 'Record accepted completion', arguments: [r.id, i] };
            return item;
          });
        // Nothing to show is nothing to record: the engine drops unresolved suggestions.
        if (items.length > 0) shown = { workspace, id: r.id, uri: document.uri.toString(), offset };
        return items;
      } catch (err) {
        if (!controller.signal.aborted && !warned) {
          warned = true;
          deps.log.warn(`Inline completions: ${errorMessage(err)}`);
        }
        return undefined;
      } finally {
        sub.dispose();
      }
    },
  };

  return [
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
    vscode.commands.registerCommand(ACCEPT_COMMAND, (id: unknown, index: unknown) => {
      if (!shown || shown.id !== id || typeof index !== 'number') return;
      record(shown, index);
      shown = undefined;
    }),
  ];
}
