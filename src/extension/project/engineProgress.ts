/**
 * Long engine work behind a cancellable progress notification: the engine's progress messages
 * show in it, Cancel aborts the request (the engine stops within a step), and a failure is shown
 * with the engine's message. Returns undefined when cancelled or failed.
 */
import { errorMessage } from '../../protocol/guards';
import * as vscode from 'vscode';
import { EngineRequestError } from '../engineClient';
import type { EngineNotifications } from '../../protocol/engine';

export type ProgressFn = (p: EngineNotifications['progress']) => void;

export async function withEngineProgress<T>(title: string, log: vscode.LogOutputChannel, work: (signal: AbortSignal, onProgress: ProgressFn) => Promise<T>): Promise<T | undefined> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `RLHF: ${title}`, cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort());
    let last = 0;
    try {
      return await work(controller.signal, (p) => {
        const fraction = p.fraction === undefined ? undefined : Math.min(1, Math.max(0, p.fraction));
        const increment = fraction === undefined ? undefined : Math.max(0, fraction - last) * 100;
        if (fraction !== undefined) last = Math.max(last, fraction);
        progress.report({ message: p.message, ...(increment ? { increment } : {}) });
      });
    } catch (err) {
      if (err instanceof EngineRequestError && err.cancelled) {
        log.info(`${title}: cancelled.`);
        return undefined;
      }
      const message = errorMessage(err);
      log.error(`${title}: ${message}`);
      void vscode.window.showErrorMessage(`RLHF: ${title} failed: ${message}`);
      return undefined;
    } finally {
      sub.dispose();
    }
  });
}
