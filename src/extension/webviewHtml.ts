/**
 * The HTML shell of every webview: a strict CSP (`default-src 'none'`, scripts and styles by
 * nonce or from the webview's own resource origin), the app's bundle, and the full initial
 * state as JSON. No `vscode` import, so the webview tests serve the same page.
 */
import { randomBytes } from 'node:crypto';

export interface WebviewPage {
  readonly title: string;
  /** `webview.cspSource` in VS Code; the test server's origin in Chromium tests. */
  readonly cspSource: string;
  readonly scriptUri: string;
  readonly styleUri: string;
  readonly bootstrap: unknown;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function renderWebviewHtml(page: WebviewPage, nonce: string = makeNonce()): string {
  const csp = ["default-src 'none'", `img-src ${page.cspSource} data:`, `font-src ${page.cspSource}`, `style-src ${page.cspSource} 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`].join('; ');
  // JSON inside a <script type="application/json"> block: escape '<' so no string can close it.
  const state = JSON.stringify(page.bootstrap).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(page.title)}</title>
<link rel="stylesheet" href="${escapeHtml(page.styleUri)}" nonce="${nonce}">
</head>
<body>
<div id="app"></div>
<script id="bootstrap" type="application/json" nonce="${nonce}">${state}</script>
<script src="${escapeHtml(page.scriptUri)}" nonce="${nonce}"></script>
</body>
</html>`;
}
