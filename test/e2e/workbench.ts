/**
 * Helpers that drive the VS Code workbench page like a user: the command palette, webview
 * frames (iframes inside iframes, found by their content), notifications and screenshots.
 * Selectors are VS Code 1.100's workbench DOM.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';

export interface Notification {
  readonly message: string;
  /** Labels of the notification's buttons, e.g. ['Restart Engine']. */
  readonly buttons: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class PageHelpers {
  constructor(
    readonly page: Page,
    private readonly artifacts: string,
    private readonly prefix: string,
  ) {}

  /**
   * Run a command by its palette title (e.g. 'RLHF: Show Engine Status'): F1, type, pick.
   * Retries until `timeoutMs`, because extension commands join the palette a few seconds
   * after the workbench appears.
   */
  async runCommand(title: string, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    for (let attempt = 0; ; attempt++) {
      try {
        // Webviews forward keybindings to the workbench; the alternate key is a second chance.
        await this.page.keyboard.press(attempt % 2 === 0 ? 'F1' : 'Control+Shift+P');
        await input.waitFor({ state: 'visible', timeout: 5_000 });
        await input.fill(`>${title}`);
        const row = widget.locator('.monaco-list-row', { hasText: title }).first();
        await row.waitFor({ state: 'visible', timeout: 3_000 });
        await row.click();
        await input.waitFor({ state: 'hidden', timeout: 10_000 });
        return;
      } catch (err) {
        await this.page.keyboard.press('Escape');
        if (Date.now() > until) throw new Error(`The command palette never offered '${title}' (${err instanceof Error ? err.message : String(err)}).`, { cause: err });
        await sleep(1_000);
      }
    }
  }

  /**
   * The webview frame that holds `selector` (or for which `predicate` is true). VS Code puts
   * each webview in an iframe inside an iframe, so frames are searched by content, not name.
   */
  async webviewFrame(find: string | ((frame: Frame) => Promise<boolean>), timeoutMs = 60_000): Promise<Frame> {
    const matches = typeof find === 'string' ? async (f: Frame) => (await f.locator(find).count()) > 0 : find;
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      for (const frame of this.page.frames()) {
        if (frame === this.page.mainFrame() || frame.isDetached()) continue;
        // A frame can detach mid-check when a view re-renders: treat it as not matching.
        if (await matches(frame).catch(() => false)) return frame;
      }
      await sleep(250);
    }
    throw new Error(`No webview frame matched ${typeof find === 'string' ? `'${find}'` : 'the predicate'} within ${timeoutMs} ms.`);
  }

  /** Messages and buttons of the notification toasts on screen now. */
  async toasts(): Promise<Notification[]> {
    return readNotifications(this.page, '.notifications-toasts .notification-list-item');
  }

  /**
   * Wait for a notification whose message matches `pattern`. Looks at the toasts first; a
   * notification may go straight to the bell, so it then opens the notification center too.
   */
  async waitForNotification(pattern: RegExp, timeoutMs = 30_000): Promise<Notification> {
    const until = Date.now() + timeoutMs;
    let openedCenter = false;
    while (Date.now() < until) {
      const found = (await this.toasts()).find((n) => pattern.test(n.message));
      if (found) return found;
      if (openedCenter) {
        const inCenter = (await readNotifications(this.page, '.notifications-center .notification-list-item')).find((n) => pattern.test(n.message));
        if (inCenter) return inCenter;
      } else if (Date.now() > until - timeoutMs / 2) {
        await this.runCommand('Notifications: Show Notifications', 15_000);
        openedCenter = true;
      }
      await sleep(250);
    }
    throw new Error(`No notification matched ${pattern} within ${timeoutMs} ms.`);
  }

  /**
   * VS Code's own activation time for an extension (ms), read from Developer: Show Running
   * Extensions; undefined when the row shows none. Opens that editor.
   */
  async activationTimeMs(displayName: string, timeoutMs = 30_000): Promise<number | undefined> {
    await this.runCommand('Developer: Show Running Extensions');
    const row = this.page.locator('.runtime-extensions-editor .monaco-list-row', { hasText: displayName }).first();
    await row.waitFor({ state: 'visible', timeout: timeoutMs });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const ms = /Activation: (\d+)ms/.exec((await row.textContent()) ?? '')?.[1];
      if (ms !== undefined) return Number(ms);
      await sleep(250);
    }
    return undefined;
  }

  /** Save a screenshot of the whole page as .artifacts/e2e/<session>-<name>.png; returns the path. */
  async screenshot(name: string): Promise<string> {
    mkdirSync(this.artifacts, { recursive: true });
    const path = join(this.artifacts, `${this.prefix}-${name}.png`);
    await this.page.screenshot({ path });
    return path;
  }
}

async function readNotifications(page: Page, itemSelector: string): Promise<Notification[]> {
  const items = page.locator(itemSelector);
  const out: Notification[] = [];
  for (const item of await items.all()) {
    const message =
      (await item
        .locator('.notification-list-item-message')
        .textContent()
        .catch(() => null)) ?? '';
    const buttons = await item
      .locator('.notification-list-item-buttons-container .monaco-button')
      .allTextContents()
      .catch(() => []);
    out.push({ message: message.trim(), buttons: buttons.map((b) => b.trim()).filter((b) => b !== '') });
  }
  return out;
}
